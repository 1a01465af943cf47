//! The read path: index lookup, tiered chunk reads, decoding, long-poll at the end of the
//! log ([`Fetcher`]), the per-partition wake-ups of long-polls ([`Wakeups`]), and why a
//! fetch fails ([`ReadError`]).

mod error;
mod fetcher;
mod wakeups;

pub(crate) use error::ReadError;
pub(crate) use fetcher::{FetchLimits, Fetched, Fetcher, Position};
pub(crate) use wakeups::{Wakeups, spawn_feed};
