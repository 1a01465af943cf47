//! Idempotent producer state: per producer id, its current epoch, the next sequence it
//! may send, and the outcomes of its most recent requests, so a retried request (on any
//! broker) gets its original offsets back instead of being written twice.
//!
//! Invariants: ids are issued from `next_producer_id` (starting at 1) and never reused; an
//! epoch only grows; within an epoch, requests are accepted in sequence order with no gap
//! (`next_sequence`); a request already accepted is answered from `recent` (the last
//! [`RECENT_REQUESTS`]) and never appended again; a request older than that window or from
//! an older epoch is refused, never appended. An id unused (no request admitted, no epoch
//! bumped) for longer than the idle time of a [`Command::ExpireProducers`](crate::types::Command::ExpireProducers)
//! is removed by it; its idle time starts at the first commit that admits one of its
//! requests, or else at the first expiry that sees it. A random id may be issued again
//! after its expiry (a 1 in 2^63 draw); the sequential ids of older entries never are.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::types::{ChunkOutcome, CommandError, ProducerBatch, ProducerView};

/// Requests per producer whose offsets are kept for answering retries (Kafka keeps 5
/// batches per partition; a request here may span partitions, so keep more).
pub(crate) const RECENT_REQUESTS: usize = 64;

/// One accepted request: where each of its chunks landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AcceptedRequest {
    /// The request's sequence number.
    sequence: u64,
    /// `(topic_id, partition, base_offset)` of each committed chunk.
    chunks: Vec<(u64, u32, u64)>,
    /// The request's content digest, if its commit carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<u64>,
}

impl AcceptedRequest {
    /// How to answer `batch`, which reuses this request's sequence: a duplicate, unless both
    /// carry a content digest and the digests differ (another request under a used tag).
    fn retried_by(&self, batch: &ProducerBatch) -> Admission {
        match (self.digest, batch.digest) {
            (Some(original), Some(retry)) if original != retry => {
                Admission::Refuse(ChunkOutcome::IdempotencyMismatch)
            }
            _ => Admission::Duplicate,
        }
    }
}

/// One producer id's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProducerState {
    /// Current epoch; requests carrying an older one are fenced.
    epoch: u32,
    /// The sequence the next new request must carry.
    next_sequence: u64,
    /// The most recent accepted requests of this epoch, oldest first.
    recent: VecDeque<AcceptedRequest>,
    /// The principal the id was issued to (`None`: issued without authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// The proposal time of the last commit that admitted one of its requests, or of the
    /// first expiry after it was issued or bumped; `None` until either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_ms: Option<i64>,
}

/// What to do with the chunks of one producer request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A new request: commit its chunks and report them with [`Producers::record`].
    Accept,
    /// Seen before: answer from [`Producers::original`], append nothing.
    Duplicate,
    /// Refused with this outcome; append nothing.
    Refuse(ChunkOutcome),
}

/// All idempotent producers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Producers {
    /// State by producer id.
    /// A persistent map: a clone of the state shares it.
    by_id: imbl::OrdMap<u64, ProducerState>,
    /// The id the next new producer gets.
    next_producer_id: u64,
}

impl Default for Producers {
    fn default() -> Self {
        Producers {
            by_id: imbl::OrdMap::new(),
            next_producer_id: 1,
        }
    }
}

impl Producers {
    /// Issues a new id (`id` is `None`: `new_id`, or the next sequential one) to `owner`,
    /// or bumps the epoch of `id` for its owner.
    pub(crate) fn init(
        &mut self,
        id: Option<u64>,
        new_id: Option<u64>,
        owner: Option<&str>,
    ) -> Result<ProducerView, CommandError> {
        match id {
            Some(id) => self.bump(id, owner),
            None => self.issue(new_id, owner),
        }
    }

    /// A new epoch of `id`, whose sequences restart; refused for an unknown id and for an
    /// owned id asked by anyone else.
    fn bump(&mut self, id: u64, owner: Option<&str>) -> Result<ProducerView, CommandError> {
        let state = self
            .by_id
            .get_mut(&id)
            .ok_or(CommandError::ProducerNotFound(id))?;
        if state.owner.as_deref().is_some_and(|o| Some(o) != owner) {
            return Err(CommandError::ProducerNotOwned(id));
        }
        state.epoch = state.epoch.saturating_add(1);
        state.next_sequence = 0;
        state.recent.clear();
        state.last_used_ms = None;
        Ok(ProducerView {
            producer_id: id,
            epoch: state.epoch,
        })
    }

    /// A new id for `owner`: `new_id` if free, else refused; without one, the next free
    /// sequential id (entries written before ids were random).
    fn issue(
        &mut self,
        new_id: Option<u64>,
        owner: Option<&str>,
    ) -> Result<ProducerView, CommandError> {
        let producer_id = match new_id {
            Some(id) if self.by_id.contains_key(&id) => {
                return Err(CommandError::ProducerIdTaken(id));
            }
            Some(id) => id,
            None => self.next_sequential(),
        };
        let state = ProducerState {
            epoch: 0,
            next_sequence: 0,
            recent: VecDeque::new(),
            owner: owner.map(str::to_owned),
            last_used_ms: None,
        };
        self.by_id.insert(producer_id, state);
        Ok(ProducerView {
            producer_id,
            epoch: 0,
        })
    }

    /// The next sequential id not taken (a random one may have taken it).
    fn next_sequential(&mut self) -> u64 {
        while self.by_id.contains_key(&self.next_producer_id) {
            self.next_producer_id += 1;
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// How many producer ids were issued (none is ever forgotten).
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// How many ids `owner` owns.
    pub(crate) fn owned_by(&self, owner: &str) -> u64 {
        let owns = |state: &&ProducerState| state.owner.as_deref() == Some(owner);
        self.by_id.values().filter(owns).count() as u64
    }

    /// A producer's current identity, if the id was issued.
    pub(crate) fn view(&self, id: u64) -> Option<ProducerView> {
        self.by_id.get(&id).map(|state| ProducerView {
            producer_id: id,
            epoch: state.epoch,
        })
    }

    /// Whether [`Producers::admit`] would accept `batch` as a new request (changing
    /// nothing): the producer's current epoch, its next sequence, not a recent one.
    pub(crate) fn would_accept(&self, batch: &ProducerBatch) -> bool {
        self.by_id.get(&batch.producer_id).is_some_and(|state| {
            batch.epoch == state.epoch
                && batch.sequence == state.next_sequence
                && !state.recent.iter().any(|r| r.sequence == batch.sequence)
        })
    }

    /// Decides on a request the first time one of its chunks is seen in a commit. An
    /// accepted request advances the producer's sequence at once.
    pub(crate) fn admit(&mut self, batch: &ProducerBatch) -> Admission {
        let Some(state) = self.by_id.get_mut(&batch.producer_id) else {
            return Admission::Refuse(ChunkOutcome::UnknownProducer);
        };
        if batch.epoch < state.epoch {
            return Admission::Refuse(ChunkOutcome::ProducerFenced {
                current_epoch: state.epoch,
            });
        }
        if batch.epoch > state.epoch {
            return Admission::Refuse(ChunkOutcome::UnknownProducer);
        }
        if let Some(accepted) = state.recent.iter().find(|r| r.sequence == batch.sequence) {
            return accepted.retried_by(batch);
        }
        if batch.sequence != state.next_sequence {
            return Admission::Refuse(ChunkOutcome::OutOfOrderSequence {
                expected: state.next_sequence,
            });
        }
        state.next_sequence += 1;
        if state.recent.len() == RECENT_REQUESTS {
            state.recent.pop_front();
        }
        state.recent.push_back(AcceptedRequest {
            sequence: batch.sequence,
            chunks: Vec::new(),
            digest: batch.digest,
        });
        Admission::Accept
    }

    /// Notes that producer `id` was used at `at_ms` (a commit admitted one of its
    /// requests); an earlier time never replaces a later one.
    pub(crate) fn touch(&mut self, id: u64, at_ms: i64) {
        if let Some(state) = self.by_id.get_mut(&id) {
            state.last_used_ms = state.last_used_ms.max(Some(at_ms));
        }
    }

    /// Whether [`Producers::expire`] with these times would change anything.
    pub(crate) fn to_sweep(&self, idle_ms: u64, at_ms: i64) -> bool {
        let cutoff = idle_cutoff(idle_ms, at_ms);
        self.by_id
            .values()
            .any(|state| state.last_used_ms.is_none_or(|used| used < cutoff))
    }

    /// Removes every id unused for longer than `idle_ms` before `at_ms`, and starts the
    /// idle time of ids never used at `at_ms`; returns how many were removed. One pass.
    pub(crate) fn expire(&mut self, idle_ms: u64, at_ms: i64) -> u64 {
        let cutoff = idle_cutoff(idle_ms, at_ms);
        let (mut idle, mut unstamped) = (Vec::new(), Vec::new());
        for (id, state) in &self.by_id {
            match state.last_used_ms {
                None => unstamped.push(*id),
                Some(used) if used < cutoff => idle.push(*id),
                Some(_) => {}
            }
        }
        for id in &unstamped {
            self.touch(*id, at_ms);
        }
        for id in &idle {
            self.by_id.remove(id);
        }
        idle.len() as u64
    }

    /// Records where an accepted request's chunk landed.
    pub(crate) fn record(
        &mut self,
        batch: &ProducerBatch,
        topic_id: u64,
        partition: u32,
        base: u64,
    ) {
        let accepted = self
            .by_id
            .get_mut(&batch.producer_id)
            .filter(|state| state.epoch == batch.epoch)
            .and_then(|state| {
                state
                    .recent
                    .iter_mut()
                    .rev()
                    .find(|r| r.sequence == batch.sequence)
            });
        if let Some(accepted) = accepted {
            accepted.chunks.push((topic_id, partition, base));
        }
    }

    /// The outcome of a duplicate chunk: the original base offset of the request's chunk
    /// for the same partition. A retry that lands a partition the original did not write
    /// is not the same request: it is refused as out of order.
    pub(crate) fn original(
        &self,
        batch: &ProducerBatch,
        topic_id: u64,
        partition: u32,
    ) -> ChunkOutcome {
        let Some(state) = self.by_id.get(&batch.producer_id) else {
            return ChunkOutcome::UnknownProducer;
        };
        state
            .recent
            .iter()
            .find(|r| r.sequence == batch.sequence)
            .and_then(|r| {
                r.chunks
                    .iter()
                    .find(|(t, p, _)| (*t, *p) == (topic_id, partition))
            })
            .map_or(
                ChunkOutcome::OutOfOrderSequence {
                    expected: state.next_sequence,
                },
                |(_, _, base)| ChunkOutcome::Duplicate { base_offset: *base },
            )
    }
}

/// The time before which a producer id last used is idle for longer than `idle_ms` at
/// `at_ms`.
fn idle_cutoff(idle_ms: u64, at_ms: i64) -> i64 {
    at_ms.saturating_sub(i64::try_from(idle_ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: u64, epoch: u32, sequence: u64) -> ProducerBatch {
        ProducerBatch {
            producer_id,
            epoch,
            sequence,
            digest: None,
        }
    }

    fn digested(sequence: u64, digest: Option<u64>) -> ProducerBatch {
        ProducerBatch {
            digest,
            ..batch(1, 0, sequence)
        }
    }

    #[test]
    fn a_reused_tag_with_other_content_is_refused_not_answered() {
        let mut producers = Producers::default();
        producers.init(None, None, None).unwrap();
        assert_eq!(producers.admit(&digested(0, Some(7))), Admission::Accept);
        assert_eq!(producers.admit(&digested(0, Some(7))), Admission::Duplicate);
        assert_eq!(
            producers.admit(&digested(0, Some(8))),
            Admission::Refuse(ChunkOutcome::IdempotencyMismatch)
        );
        // An unknown digest on either side (spool recovery, old entries) is a duplicate.
        assert_eq!(producers.admit(&digested(0, None)), Admission::Duplicate);
        assert_eq!(producers.admit(&digested(1, None)), Admission::Accept);
        assert_eq!(producers.admit(&digested(1, Some(9))), Admission::Duplicate);
    }

    #[test]
    fn ids_are_issued_in_order_and_epochs_bump() {
        let mut producers = Producers::default();
        let mut init = |id| {
            producers
                .init(id, None, None)
                .map(|v| (v.producer_id, v.epoch))
        };
        assert_eq!(init(None), Ok((1, 0)));
        assert_eq!(init(None), Ok((2, 0)));
        assert_eq!(init(Some(1)), Ok((1, 1)));
        assert_eq!(init(Some(9)), Err(CommandError::ProducerNotFound(9)));
    }

    #[test]
    fn a_random_id_is_issued_once_and_only_its_owner_bumps_it() {
        let mut producers = Producers::default();
        let issued = producers.init(None, Some(7_777), Some("alice")).unwrap();
        assert_eq!((issued.producer_id, issued.epoch), (7_777, 0));
        assert_eq!(
            producers.init(None, Some(7_777), Some("bob")),
            Err(CommandError::ProducerIdTaken(7_777))
        );
        for stranger in [Some("bob"), None] {
            assert_eq!(
                producers.init(Some(7_777), None, stranger),
                Err(CommandError::ProducerNotOwned(7_777)),
                "{stranger:?} bumped alice's producer"
            );
        }
        let bumped = producers.init(Some(7_777), None, Some("alice")).unwrap();
        assert_eq!(bumped.epoch, 1);
        // An id issued without authentication has no owner: anyone may bump it.
        let open = producers.init(None, None, None).unwrap();
        assert_eq!(
            producers
                .init(Some(open.producer_id), None, Some("bob"))
                .unwrap()
                .epoch,
            1
        );
    }

    #[test]
    fn sequences_are_accepted_in_order_and_retries_are_duplicates() {
        let mut producers = Producers::default();
        producers.init(None, None, None).unwrap();
        assert_eq!(producers.admit(&batch(1, 0, 0)), Admission::Accept);
        producers.record(&batch(1, 0, 0), 5, 2, 40);
        assert_eq!(producers.admit(&batch(1, 0, 0)), Admission::Duplicate);
        assert_eq!(
            producers.original(&batch(1, 0, 0), 5, 2),
            ChunkOutcome::Duplicate { base_offset: 40 }
        );
        assert_eq!(
            producers.original(&batch(1, 0, 0), 5, 3),
            ChunkOutcome::OutOfOrderSequence { expected: 1 }
        );
        assert_eq!(
            producers.admit(&batch(1, 0, 2)),
            Admission::Refuse(ChunkOutcome::OutOfOrderSequence { expected: 1 })
        );
        assert_eq!(producers.admit(&batch(1, 0, 1)), Admission::Accept);
    }

    #[test]
    fn old_epochs_are_fenced_and_unknown_producers_refused() {
        let mut producers = Producers::default();
        producers.init(None, None, None).unwrap();
        assert_eq!(producers.admit(&batch(1, 0, 0)), Admission::Accept);
        producers.init(Some(1), None, None).unwrap();
        assert_eq!(
            producers.admit(&batch(1, 0, 1)),
            Admission::Refuse(ChunkOutcome::ProducerFenced { current_epoch: 1 })
        );
        // The new epoch starts its sequences again.
        assert_eq!(producers.admit(&batch(1, 1, 0)), Admission::Accept);
        assert_eq!(
            producers.admit(&batch(1, 2, 0)),
            Admission::Refuse(ChunkOutcome::UnknownProducer)
        );
        assert_eq!(
            producers.admit(&batch(7, 0, 0)),
            Admission::Refuse(ChunkOutcome::UnknownProducer)
        );
    }

    #[test]
    fn requests_older_than_the_window_are_refused_not_rewritten() {
        let mut producers = Producers::default();
        producers.init(None, None, None).unwrap();
        let total = RECENT_REQUESTS as u64 + 3;
        for sequence in 0..total {
            assert_eq!(producers.admit(&batch(1, 0, sequence)), Admission::Accept);
        }
        assert_eq!(
            producers.admit(&batch(1, 0, 0)),
            Admission::Refuse(ChunkOutcome::OutOfOrderSequence { expected: total })
        );
        assert_eq!(
            producers.admit(&batch(1, 0, total - 1)),
            Admission::Duplicate
        );
    }
}
