//! Segment bytes held in memory between upload and commit.
//!
//! Once a segment is in the bucket, its bytes serve one purpose: feeding the hot cache
//! with its committed chunks. While commits stall (a metadata outage, a slow leader),
//! uploads go on until the spool budget is spent, so keeping every uploaded segment would
//! let memory grow towards that budget (1 GiB by default) on top of the caches. A segment
//! is therefore kept only while the bytes held fit the hot cache's capacity: more could
//! not be cached anyway. A segment past that is committed from its chunk list alone, and
//! its chunks are read from the disk cache or the bucket when fetched. The spool copy
//! stays on disk either way (counted against `wal.max_spool_bytes`) until the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use prometheus_client::metrics::gauge::Gauge;

/// The account of uploaded segment bytes held in memory, bounded by `limit`.
#[derive(Debug)]
pub(crate) struct HeldBytes {
    used: AtomicU64,
    limit: u64,
    /// `silt_uploaded_bytes_in_memory`.
    gauge: Gauge,
}

/// One uploaded segment's bytes, counted in its [`HeldBytes`] until dropped.
#[derive(Debug)]
pub(super) struct Held {
    bytes: Bytes,
    account: Arc<HeldBytes>,
}

impl HeldBytes {
    /// An empty account that holds at most `limit` bytes, reported on `gauge`.
    pub(crate) fn new(limit: u64, gauge: Gauge) -> Arc<HeldBytes> {
        Arc::new(HeldBytes {
            used: AtomicU64::new(0),
            limit,
            gauge,
        })
    }

    /// Keeps `bytes` if they fit under the limit; `None` (and they are dropped) if not.
    pub(super) fn try_hold(self: &Arc<Self>, bytes: Bytes) -> Option<Held> {
        let len = bytes.len() as u64;
        let fits = |used: u64| used.checked_add(len).filter(|total| *total <= self.limit);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, fits)
            .ok()?;
        self.gauge.inc_by(gauge_value(len));
        Some(Held {
            bytes,
            account: self.clone(),
        })
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

impl Held {
    /// The segment's bytes.
    pub(super) fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let len = self.bytes.len() as u64;
        self.account.used.fetch_sub(len, Ordering::AcqRel);
        self.account.gauge.dec_by(gauge_value(len));
    }
}

/// A byte count as a gauge value (saturating; a segment is far below `i64::MAX`).
fn gauge_value(len: u64) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_the_limit_and_releases_on_drop() {
        let gauge = Gauge::default();
        let account = HeldBytes::new(10, gauge.clone());
        let first = account.try_hold(Bytes::from(vec![0; 6])).unwrap();
        assert!(account.try_hold(Bytes::from(vec![0; 5])).is_none());
        let second = account.try_hold(Bytes::from(vec![0; 4])).unwrap();
        assert_eq!((account.used(), gauge.get()), (10, 10));
        drop(first);
        assert_eq!((account.used(), gauge.get()), (4, 4));
        drop(second);
        assert_eq!((account.used(), gauge.get()), (0, 0));
    }
}
