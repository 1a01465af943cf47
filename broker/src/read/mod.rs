//! The read path: index lookup, tiered chunk reads, decoding, long-poll at the end of the
//! log ([`Fetcher`]), and why a fetch fails ([`ReadError`]).

mod error;
mod fetcher;

pub(crate) use error::ReadError;
pub(crate) use fetcher::{FetchLimits, Fetched, Fetcher, Position};
