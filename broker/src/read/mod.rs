//! The read path: index lookup, tiered chunk reads, decoding, long-poll at the end of the
//! log ([`Fetcher`]), offsets by time ([`time_lookup`]), the per-partition wake-ups of long-polls ([`Wakeups`]), and why a
//! fetch fails ([`ReadError`]).

mod error;
mod fetcher;
mod time_lookup;
mod wakeups;

pub(crate) use error::ReadError;
pub(crate) use fetcher::{FetchLimits, Fetched, Fetcher, Position};
pub(crate) use time_lookup::{Bound, OffsetFound};
pub(crate) use wakeups::{Wakeups, spawn_feed};
