//! The tiered read path for chunk bytes.
//!
//! * [`memory`]: [`ChunkCache`], a byte-bounded LRU of chunk bytes (the hot tier; the
//!   broker inserts the chunks of segments it just uploaded, for tailing readers).
//! * [`disk`]: [`DiskCache`], chunk bytes on local disk (foyer), kept across restarts.
//! * [`reader`]: [`ChunkReader`], memory → local spool → disk cache → ranged GET, with
//!   coalesced reads below memory and bounded background prefetch.
//! * `coalesce`: the single-flight map behind the reader.
//!
//! Invariant: tiers hand back raw chunk bytes; the caller verifies them with
//! [`crate::batch::decode_batch`], so a corrupt cached copy is still an error, never data.
//! Only chunks whose length and checksum verify enter the memory and disk tiers.

mod coalesce;
pub mod disk;
pub mod memory;
pub mod reader;

pub use disk::DiskCache;
pub use memory::{ChunkCache, ChunkCacheStats};
pub use reader::{CacheStatsSnapshot, ChunkReader, DEFAULT_MAX_PREFETCH};
