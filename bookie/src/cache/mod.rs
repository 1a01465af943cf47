//! The tiered read path for chunk bytes.
//!
//! * [`memory`]: [`ChunkCache`], a byte-bounded LRU of chunk bytes (the hot tier; the
//!   broker inserts the chunks of segments it just uploaded, for tailing readers).
//! * [`reader`]: [`ChunkReader`], memory → local spool → ranged GET.
//!
//! Invariant: tiers hand back raw chunk bytes; the caller verifies them with
//! [`crate::batch::decode_batch`], so a corrupt cached copy is still an error, never data.

pub mod memory;
pub mod reader;

pub use memory::{ChunkCache, ChunkCacheStats};
pub use reader::{CacheStatsSnapshot, ChunkReader};
