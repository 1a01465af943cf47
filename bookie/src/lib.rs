//! `silt-bookie`: silt's storage engine.
//!
//! It owns everything between "a broker has records in memory" and "bytes in object
//! storage, read back with their checksums verified":
//!
//! * [`record`] and [`batch`]: record encoding and the CRC32C-framed batch (one chunk);
//! * [`segment`]: the level-0 segment object (chunks, footer, trailer), see `FORMAT.md`;
//! * [`wal`]: the disk side of the write-ahead cache (sealed segment spool) and the
//!   adaptive seal policy;
//! * [`upload`]: put-if-absent upload of a sealed segment;
//! * [`cache`]: the tiered read path (memory, local spool, ranged GET);
//! * [`store`]: object-store wiring, instrumentation and object names;
//! * [`clock`]: the only source of wall-clock time.
//!
//! Invariant kept crate-wide: no byte read back from disk or object storage reaches a
//! caller without passing a checksum; corruption is an [`Error::Corrupt`], never wrong data.

pub mod batch;
pub mod cache;
pub mod clock;
pub mod error;
pub mod random;
pub mod record;
pub mod segment;
pub mod store;
pub mod upload;
pub mod wal;

#[cfg(test)]
pub(crate) mod testing;

pub use error::{Error, Result};
