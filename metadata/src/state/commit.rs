//! Segment commits ([`Command::CommitSegments`](crate::types::Command::CommitSegments)):
//! every chunk of an uploaded segment gets its offsets, its partition's index an entry,
//! and its producer request (if any) is admitted once.
//!
//! Invariants (besides those of [`crate::state`]): a segment's chunks are committed in
//! footer order; the chunks of one producer request are admitted together, when the first
//! of them is seen; a segment sealed longer than
//! [`COMMIT_HORIZON_MS`](crate::limits::COMMIT_HORIZON_MS) before the command's proposal
//! time (or before the latest proposal time seen: [`super::segments`]) is refused whole; an object none of whose chunks was appended is recorded
//! as garbage with its seal time, and a committed object is never on the orphan list.
//! An offset commit riding with a producer request ([`RequestOffsetCommit`]) is checked
//! and applied when the request is first admitted in the segment, after checking that
//! every chunk of the request has its partition: so the request's records and its offsets
//! are committed together, or neither (its chunks [`ChunkOutcome::CommitRefused`]); a
//! duplicate or refused request never applies its commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::MetadataState;
use super::producers::Admission;
use crate::types::{
    ChunkCommit, ChunkOutcome, CommandError, CommandResult, ProducerBatch, RefusedCommit,
    RequestOffsetCommit, SegmentCommit, SegmentCommitResult,
};

/// The decisions taken on the producer requests seen so far in one segment.
type Admissions = BTreeMap<ProducerBatch, Admission>;

/// One segment being committed: its chunks and offset commits, the proposal time (0 when
/// unknown, and as given), and the refused commits so far.
struct InFlight<'a> {
    segment: &'a SegmentCommit,
    at_ms: i64,
    proposed_at: Option<i64>,
    admissions: Admissions,
    refused: Vec<RefusedCommit>,
}

impl MetadataState {
    /// Commits segments in order, proposed at `at_ms`; see the module invariants.
    pub(super) fn commit_segments(
        &mut self,
        segments: &[SegmentCommit],
        at_ms: Option<i64>,
    ) -> Vec<SegmentCommitResult> {
        if let Some(at_ms) = at_ms {
            self.segment_expiry.advance(at_ms, &mut self.segments);
        }
        segments
            .iter()
            .map(|segment| self.commit_once(segment, at_ms))
            .collect()
    }

    /// The result `segment`'s object got when it was first committed (or refused), if it
    /// was: what committing it again would return, without changing anything.
    pub(crate) fn previous_commit(&self, segment: &SegmentCommit) -> Option<SegmentCommitResult> {
        self.segments.get(&segment.object).cloned()
    }

    /// Commits `segment`, or returns its original result if its object was committed
    /// before (or refused: that answer is kept too).
    fn commit_once(&mut self, segment: &SegmentCommit, at_ms: Option<i64>) -> SegmentCommitResult {
        if let Some(previous) = self.segments.get(&segment.object) {
            return previous.clone();
        }
        let result = if self.segment_expiry.too_old(segment, at_ms) {
            too_old(segment)
        } else {
            self.commit_segment(segment, at_ms)
        };
        self.track_garbage(segment, &result, at_ms);
        self.segments.insert(segment.object.clone(), result.clone());
        self.segment_expiry.kept(segment);
        result
    }

    /// Keeps the orphan list true after a commit: an object some chunk of which was
    /// appended is referenced, never garbage; one none of whose chunks was (all duplicates
    /// or refused, or past the horizon) is garbage from the start, recorded with its seal
    /// time (else the proposal time; 0 only for entries that carry neither).
    fn track_garbage(
        &mut self,
        segment: &SegmentCommit,
        result: &SegmentCommitResult,
        at_ms: Option<i64>,
    ) {
        let appended = result
            .chunks
            .iter()
            .any(|outcome| matches!(outcome, ChunkOutcome::Committed { .. }));
        if appended {
            self.orphans.remove(&segment.object);
        } else {
            let time = segment.sealed_at_ms.or(at_ms).unwrap_or(0);
            self.orphans.entry(segment.object.clone()).or_insert(time);
        }
    }

    /// Commits one segment that was never committed before, chunk by chunk.
    fn commit_segment(
        &mut self,
        segment: &SegmentCommit,
        at_ms: Option<i64>,
    ) -> SegmentCommitResult {
        let object: Arc<str> = Arc::from(segment.object.as_str());
        let mut flight = InFlight {
            segment,
            at_ms: at_ms.unwrap_or(0),
            proposed_at: at_ms,
            admissions: Admissions::new(),
            refused: Vec::new(),
        };
        let chunks = segment
            .chunks
            .iter()
            .map(|chunk| self.commit_chunk(&object, chunk, &mut flight))
            .collect();
        SegmentCommitResult {
            object: segment.object.clone(),
            chunks,
            refused_commits: flight.refused,
        }
    }

    /// Commits one chunk stored in `object`: a chunk of a new producer request (or of
    /// none) is appended to its partition, a duplicate answered with its original offsets,
    /// a refused one dropped.
    fn commit_chunk(
        &mut self,
        object: &Arc<str>,
        chunk: &ChunkCommit,
        flight: &mut InFlight<'_>,
    ) -> ChunkOutcome {
        if let Some(answer) = self.answer_unappended(chunk, flight) {
            return answer;
        }
        let base_offset = match self.append(object, chunk) {
            Ok(base_offset) => base_offset,
            Err(missing) => return missing,
        };
        if let Some(batch) = &chunk.producer {
            self.producers
                .record(batch, chunk.topic_id, chunk.partition, base_offset);
        }
        ChunkOutcome::Committed { base_offset }
    }

    /// The answer for a chunk that must not be appended: its request's original offsets
    /// (a duplicate) or a refusal. `None` for a chunk of no request or of a new one.
    fn answer_unappended(
        &mut self,
        chunk: &ChunkCommit,
        flight: &mut InFlight<'_>,
    ) -> Option<ChunkOutcome> {
        let batch = chunk.producer.as_ref()?;
        let admission = match flight.admissions.get(batch) {
            Some(admission) => *admission,
            None => {
                let admission = self.admit_with_commit(batch, flight);
                flight.admissions.insert(*batch, admission);
                self.note_use(batch, admission, flight.proposed_at);
                admission
            }
        };
        match admission {
            Admission::Accept => None,
            Admission::Duplicate => Some(self.producers.original(
                batch,
                chunk.topic_id,
                chunk.partition,
            )),
            Admission::Refuse(outcome) => Some(outcome),
        }
    }

    /// Notes the producer of `batch` as used at the proposal time (if known) when its
    /// request was accepted or answered as a duplicate: it is not idle.
    fn note_use(&mut self, batch: &ProducerBatch, admission: Admission, at_ms: Option<i64>) {
        let used = matches!(admission, Admission::Accept | Admission::Duplicate);
        if let Some(at_ms) = at_ms.filter(|_| used) {
            self.producers.touch(batch.producer_id, at_ms);
        }
    }

    /// Admits the request `batch`, the first time one of its chunks is seen in the segment.
    /// A new request with an offset commit riding along has the commit applied first, and
    /// is admitted only if it was; a refused one leaves the producer's sequence unused.
    fn admit_with_commit(&mut self, batch: &ProducerBatch, flight: &mut InFlight<'_>) -> Admission {
        let mut commits = flight.segment.offset_commits.iter();
        let commit = commits.find(|c| c.is_for(batch));
        let Some(commit) = commit.filter(|_| self.producers.would_accept(batch)) else {
            return self.producers.admit(batch);
        };
        match self.apply_request_commit(batch, commit, flight) {
            Ok(()) => self.producers.admit(batch),
            Err(Some(missing)) => Admission::Refuse(missing),
            Err(None) => Admission::Refuse(ChunkOutcome::CommitRefused),
        }
    }

    /// Applies `commit` if every chunk of its request has its partition and the commit
    /// passes its checks. Refusals: the outcome naming a missing partition, or `None` for
    /// a refused commit (recorded in `flight` with why).
    fn apply_request_commit(
        &mut self,
        batch: &ProducerBatch,
        commit: &RequestOffsetCommit,
        flight: &mut InFlight<'_>,
    ) -> Result<(), Option<ChunkOutcome>> {
        let mut chunks = flight.segment.chunks.iter();
        if let Some(missing) = chunks.find_map(|c| self.missing_partition(c, batch)) {
            return Err(Some(missing));
        }
        let c = &commit.commit;
        let member = (c.member_id.as_deref(), c.generation);
        let result = self.commit_offsets(&c.group, member, &c.offsets, flight.at_ms);
        let CommandResult::Rejected(error) = result else {
            return Ok(());
        };
        flight.refused.push(refused(batch, error));
        Err(None)
    }

    /// The outcome naming the missing topic or partition of `chunk`, if it belongs to the
    /// request `batch` and its partition does not exist.
    fn missing_partition(
        &self,
        chunk: &ChunkCommit,
        batch: &ProducerBatch,
    ) -> Option<ChunkOutcome> {
        if chunk.producer.as_ref() != Some(batch) {
            return None;
        }
        let Some(topic) = self.topics.get_by_id(chunk.topic_id) else {
            return Some(ChunkOutcome::TopicNotFound);
        };
        topic
            .partition(chunk.partition)
            .is_none()
            .then_some(ChunkOutcome::PartitionNotFound)
    }

    /// Appends `chunk` to its partition's index and returns its base offset, or the
    /// outcome naming the missing topic or partition.
    fn append(&mut self, object: &Arc<str>, chunk: &ChunkCommit) -> Result<u64, ChunkOutcome> {
        let topic = self
            .topics
            .get_by_id_mut(chunk.topic_id)
            .ok_or(ChunkOutcome::TopicNotFound)?;
        let partition = topic
            .partition_mut(chunk.partition)
            .ok_or(ChunkOutcome::PartitionNotFound)?;
        let base_offset = partition.append(object, chunk);
        if chunk.record_count > 0 {
            self.hold(object);
        }
        Ok(base_offset)
    }
}

/// The refusal of the offset commit of the request `batch`.
fn refused(batch: &ProducerBatch, error: CommandError) -> RefusedCommit {
    RefusedCommit {
        producer_id: batch.producer_id,
        epoch: batch.epoch,
        sequence: batch.sequence,
        error,
    }
}

/// The result of a segment refused for its age: every chunk [`ChunkOutcome::TooOld`].
fn too_old(segment: &SegmentCommit) -> SegmentCommitResult {
    SegmentCommitResult {
        object: segment.object.clone(),
        chunks: vec![ChunkOutcome::TooOld; segment.chunks.len()],
        refused_commits: Vec::new(),
    }
}
