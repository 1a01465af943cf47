//! The expiry of the segment record: which committed objects' results
//! ([`MetadataState`](super::MetadataState)'s `segments`, the idempotency answer of a
//! retried commit) may be forgotten, and the horizon before which a segment is refused.
//!
//! A segment sealed before the horizon ([`commit_horizon_ms`] before the latest proposal
//! time the state has seen) is refused whatever it is, so its result is no longer needed to
//! answer a retry: the retry is refused for its age instead. The horizon only advances, so
//! a retry proposed by a node whose clock is behind is refused too, never committed twice.
//!
//! Invariants: every kept result of a segment with a seal time is queued by that time
//! (once `requeued` is set); an entry is dropped only once its seal time is before the
//! horizon; times come from commands, never from a clock.

use serde::{Deserialize, Serialize};

use crate::limits::commit_horizon_ms;
use crate::types::{SegmentCommit, SegmentCommitResult};

/// The commit results kept, by object name (a persistent map: a clone of the state shares
/// it).
pub(crate) type SegmentResults = imbl::OrdMap<String, SegmentCommitResult>;

/// The expiry queue of the segment record and its horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentExpiry {
    /// `(seal time, object)` of every kept result whose segment carried a seal time,
    /// oldest first. Segments without one (older brokers) are kept for good: a retry of
    /// them could not be refused for its age.
    queue: imbl::OrdSet<(i64, String)>,
    /// Segments sealed before this time are refused; `None` until a commit carried a
    /// proposal time.
    horizon_ms: Option<i64>,
    /// Whether results kept before expiry existed (loaded from an older snapshot, with no
    /// queue) have been queued; they are queued at the first proposal time seen.
    requeued: bool,
}

impl Default for SegmentExpiry {
    fn default() -> Self {
        Self {
            queue: imbl::OrdSet::new(),
            horizon_ms: None,
            requeued: true,
        }
    }
}

impl SegmentExpiry {
    /// The expiry of a state loaded from a snapshot written before expiry existed: its
    /// results are queued at the first commit's proposal time.
    pub(crate) fn unqueued() -> Self {
        Self {
            requeued: false,
            ..Self::default()
        }
    }

    /// Advances the horizon to `at_ms` minus [`commit_horizon_ms`] (never back) and drops
    /// from `results` every queued one sealed before it.
    pub(crate) fn advance(&mut self, at_ms: i64, results: &mut SegmentResults) {
        if !self.requeued {
            self.requeue(at_ms, results);
        }
        let horizon = at_ms.saturating_sub(commit_horizon_ms());
        if self.horizon_ms.is_some_and(|current| current >= horizon) {
            return;
        }
        self.horizon_ms = Some(horizon);
        while let Some(first) = self.queue.get_min()
            && first.0 < horizon
        {
            if let Some((_, object)) = self.queue.remove_min() {
                results.remove(&object);
            }
        }
    }

    /// Queues every result loaded without a seal time at `at_ms` (by then at least as
    /// late as their commits), so they expire a horizon later.
    fn requeue(&mut self, at_ms: i64, results: &SegmentResults) {
        self.queue
            .extend(results.keys().map(|object| (at_ms, object.clone())));
        self.requeued = true;
    }

    /// Whether `segment` was sealed before the horizon, or longer than
    /// [`commit_horizon_ms`] before `at_ms`: refused for its age. Never when its seal time
    /// is unknown (older brokers).
    pub(crate) fn too_old(&self, segment: &SegmentCommit, at_ms: Option<i64>) -> bool {
        let Some(sealed) = segment.sealed_at_ms else {
            return false;
        };
        let by_proposal = at_ms.map(|at| at.saturating_sub(commit_horizon_ms()));
        self.horizon_ms.max(by_proposal).is_some_and(|h| sealed < h)
    }

    /// Queues the result just kept for `segment` by its seal time, if it has one.
    pub(crate) fn kept(&mut self, segment: &SegmentCommit) {
        if let Some(sealed) = segment.sealed_at_ms {
            self.queue.insert((sealed, segment.object.clone()));
        }
    }
}
