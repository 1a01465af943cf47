//! [`ChangeRing`]: the bounded, in-memory memory of recent partition changes behind the
//! change feed (`GET /meta/v1/watch?changes=true`,
//! [`MetadataClient::watch_changes`](crate::MetadataClient::watch_changes)).
//!
//! The state machine records, as it applies each entry, the partitions the entry changed
//! with their new high watermarks (a topic delete changes all of its partitions). The ring
//! keeps the last [`CHANGE_RING_CAPACITY`] changes; it is not replicated and not in
//! snapshots. Asked for the changes after an index it no longer covers (older than the
//! oldest it kept, or from before this node started or installed a snapshot), it answers
//! [`ChangeFeed::Reset`], and the caller re-reads everything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::types::{ChangeFeed, PartitionChange};

/// Most changes the ring keeps.
pub(crate) const CHANGE_RING_CAPACITY: usize = 4096;

/// The last changes, in log order, and the range of indexes they cover completely.
#[derive(Debug)]
pub(crate) struct ChangeRing {
    /// Most changes kept.
    capacity: usize,
    /// Every change of an entry after this index is kept (none at or before it may be).
    floor: u64,
    /// The last index recorded.
    applied: u64,
    /// The changes of the entries after `floor`, in log order.
    changes: VecDeque<PartitionChange>,
}

impl ChangeRing {
    /// An empty ring of [`CHANGE_RING_CAPACITY`] that knows nothing up to `applied`.
    pub(crate) fn new(applied: u64) -> Self {
        Self::with_capacity(applied, CHANGE_RING_CAPACITY)
    }

    /// An empty ring of `capacity` that knows nothing up to `applied`.
    fn with_capacity(applied: u64, capacity: usize) -> Self {
        ChangeRing {
            capacity,
            floor: applied,
            applied,
            changes: VecDeque::new(),
        }
    }

    /// Records entry `index` as applied, with the changes it made (possibly none).
    pub(crate) fn record(&mut self, index: u64, changes: Vec<PartitionChange>) {
        self.applied = self.applied.max(index);
        if changes.len() > self.capacity {
            self.restart_at(index);
            return;
        }
        self.changes.extend(changes);
        while self.changes.len() > self.capacity {
            self.forget_oldest();
        }
    }

    /// Forgets everything up to `applied` (a snapshot replaced the state).
    pub(crate) fn restart_at(&mut self, applied: u64) {
        self.changes.clear();
        self.floor = applied;
        self.applied = applied;
    }

    /// Drops the oldest change; its entry is no longer covered completely.
    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.changes.pop_front() {
            self.floor = self.floor.max(oldest.index);
        }
    }

    /// The changes of the entries after `after`, or a reset if the ring no longer covers
    /// them all.
    pub(crate) fn since(&self, after: u64) -> ChangeFeed {
        let applied = self.applied;
        if after < self.floor {
            return ChangeFeed::Reset { applied };
        }
        let first = self.changes.partition_point(|change| change.index <= after);
        let changes = self.changes.range(first..).copied().collect();
        ChangeFeed::Changes { applied, changes }
    }
}

/// The ring, shared by the state machine (the writer) and the watch's readers.
#[derive(Debug, Clone)]
pub(crate) struct SharedChanges(Arc<Mutex<ChangeRing>>);

impl SharedChanges {
    /// A shared [`ChangeRing::new`].
    pub(crate) fn new(applied: u64) -> Self {
        SharedChanges(Arc::new(Mutex::new(ChangeRing::new(applied))))
    }

    /// Locks the ring (a poisoned lock is still used: every step under it is panic-free).
    pub(crate) fn lock(&self) -> MutexGuard<'_, ChangeRing> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(index: u64, partition: u32, high_watermark: u64) -> PartitionChange {
        PartitionChange {
            index,
            topic_id: 1,
            partition,
            high_watermark,
            deleted: false,
        }
    }

    fn listed(feed: ChangeFeed) -> Vec<(u64, u32)> {
        match feed {
            ChangeFeed::Changes { changes, .. } => {
                changes.iter().map(|c| (c.index, c.partition)).collect()
            }
            ChangeFeed::Reset { applied } => panic!("reset at {applied}"),
        }
    }

    #[test]
    fn lists_the_changes_after_an_index_in_log_order() {
        let mut ring = ChangeRing::new(0);
        ring.record(1, vec![change(1, 0, 3)]);
        ring.record(2, Vec::new());
        ring.record(3, vec![change(3, 1, 1), change(3, 0, 4)]);
        assert_eq!(listed(ring.since(0)), [(1, 0), (3, 1), (3, 0)]);
        assert_eq!(listed(ring.since(1)), [(3, 1), (3, 0)]);
        assert_eq!(listed(ring.since(3)), []);
        assert_eq!(ring.since(3).applied(), 3);
        assert_eq!(
            listed(ring.since(9)),
            [],
            "past the applied index: nothing yet"
        );
    }

    #[test]
    fn an_index_older_than_the_ring_gets_a_reset_and_the_ring_stays_bounded() {
        let mut ring = ChangeRing::with_capacity(0, 4);
        for index in 1..=10 {
            ring.record(index, vec![change(index, 0, index)]);
            assert!(ring.changes.len() <= 4);
        }
        assert_eq!(ring.since(5), ChangeFeed::Reset { applied: 10 });
        assert_eq!(listed(ring.since(6)), [(7, 0), (8, 0), (9, 0), (10, 0)]);
    }

    #[test]
    fn an_entry_partly_forgotten_is_not_listed_half() {
        let mut ring = ChangeRing::with_capacity(0, 3);
        ring.record(1, vec![change(1, 0, 1), change(1, 1, 1)]);
        ring.record(2, vec![change(2, 0, 2), change(2, 1, 2)]);
        assert_eq!(ring.since(0), ChangeFeed::Reset { applied: 2 });
        assert_eq!(listed(ring.since(1)), [(2, 0), (2, 1)]);
        ring.record(3, vec![change(3, 0, 1); 4]);
        assert_eq!(ring.since(2), ChangeFeed::Reset { applied: 3 });
        assert_eq!(listed(ring.since(3)), []);
    }

    #[test]
    fn a_restarted_ring_resets_anyone_behind_it() {
        let mut ring = ChangeRing::new(7);
        assert_eq!(ring.since(6), ChangeFeed::Reset { applied: 7 });
        assert_eq!(listed(ring.since(7)), []);
        ring.record(8, vec![change(8, 0, 1)]);
        ring.restart_at(20);
        assert_eq!(ring.since(8), ChangeFeed::Reset { applied: 20 });
        assert_eq!(listed(ring.since(20)), []);
    }
}
