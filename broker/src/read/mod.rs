//! The read path: index lookup, tiered chunk reads, decoding, long-poll at the end of the log.

pub mod fetcher;

pub use fetcher::{FetchLimits, Fetched, Fetcher};
