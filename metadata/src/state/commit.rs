//! Segment commits ([`Command::CommitSegments`](crate::types::Command::CommitSegments)):
//! every chunk of an uploaded segment gets its offsets, its partition's index an entry,
//! and its producer request (if any) is admitted once.
//!
//! Invariants (besides those of [`crate::state`]): a segment's chunks are committed in
//! footer order; the chunks of one producer request are admitted together, when the first
//! of them is seen; an object none of whose chunks was appended is recorded as garbage.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::MetadataState;
use super::producers::Admission;
use crate::types::{ChunkCommit, ChunkOutcome, ProducerBatch, SegmentCommit, SegmentCommitResult};

/// The decisions taken on the producer requests seen so far in one segment.
type Admissions = BTreeMap<ProducerBatch, Admission>;

impl MetadataState {
    /// Commits segments in order; see the module invariants.
    pub(super) fn commit_segments(
        &mut self,
        segments: &[SegmentCommit],
    ) -> Vec<SegmentCommitResult> {
        segments
            .iter()
            .map(|segment| self.commit_once(segment))
            .collect()
    }

    /// Commits `segment`, or returns its original result if its object was committed
    /// before.
    fn commit_once(&mut self, segment: &SegmentCommit) -> SegmentCommitResult {
        if let Some(previous) = self.segments.get(&segment.object) {
            return previous.clone();
        }
        let result = self.commit_segment(segment);
        // An object none of whose chunks was appended (all duplicates or refused)
        // is referenced by no index entry: garbage from the start.
        if !result
            .chunks
            .iter()
            .any(|outcome| matches!(outcome, ChunkOutcome::Committed { .. }))
        {
            self.orphans.insert(segment.object.clone(), 0);
        }
        self.segments.insert(segment.object.clone(), result.clone());
        result
    }

    /// Commits one segment that was never committed before, chunk by chunk.
    fn commit_segment(&mut self, segment: &SegmentCommit) -> SegmentCommitResult {
        let object: Arc<str> = Arc::from(segment.object.as_str());
        let mut admissions = Admissions::new();
        let chunks = segment
            .chunks
            .iter()
            .map(|chunk| self.commit_chunk(&object, chunk, &mut admissions))
            .collect();
        SegmentCommitResult {
            object: segment.object.clone(),
            chunks,
        }
    }

    /// Commits one chunk stored in `object`: a chunk of a new producer request (or of
    /// none) is appended to its partition, a duplicate answered with its original offsets,
    /// a refused one dropped.
    fn commit_chunk(
        &mut self,
        object: &Arc<str>,
        chunk: &ChunkCommit,
        admissions: &mut Admissions,
    ) -> ChunkOutcome {
        if let Some(answer) = self.answer_unappended(chunk, admissions) {
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
        admissions: &mut Admissions,
    ) -> Option<ChunkOutcome> {
        let batch = chunk.producer.as_ref()?;
        let admission = *admissions
            .entry(*batch)
            .or_insert_with(|| self.producers.admit(batch));
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
        Ok(partition.append(object, chunk))
    }
}
