//! How a run of segment commits is cut into proposals, each of which becomes one Raft
//! entry: at most [`MAX_PROPOSAL_SEGMENTS`] segments, [`MAX_CHUNKS_PER_COMMAND`] chunks and
//! [`MAX_PROPOSAL_BYTES`] bytes of serialized commits, in the order given. The broker's
//! committer, the metadata client and the metadata node's group commit all cut with it, so
//! no entry grows past what one AppendEntries RPC carries in time.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::limits::{MAX_CHUNKS_PER_COMMAND, MAX_PROPOSAL_BYTES, MAX_PROPOSAL_SEGMENTS};
use crate::types::SegmentCommit;

/// The size of one proposal being filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProposalSize {
    /// Segments in it.
    pub segments: usize,
    /// Chunks over its segments.
    pub chunks: usize,
    /// Bytes of its serialized segment commits.
    pub bytes: usize,
}

impl ProposalSize {
    /// The size of `segment` alone.
    pub fn of(segment: &SegmentCommit) -> Self {
        ProposalSize {
            segments: 1,
            chunks: segment.chunks.len(),
            bytes: segment.encoded_len(),
        }
    }

    /// The size of `segments` together.
    pub fn of_all(segments: &[SegmentCommit]) -> Self {
        segments
            .iter()
            .fold(ProposalSize::default(), |total, s| total.plus(Self::of(s)))
    }

    /// This size with `other` added.
    pub fn plus(self, other: ProposalSize) -> Self {
        ProposalSize {
            segments: self.segments + other.segments,
            chunks: self.chunks + other.chunks,
            bytes: self.bytes + other.bytes,
        }
    }

    /// Whether `other` may join a proposal of this size: it may always start an empty one
    /// (a segment bigger than the limits is proposed alone), else the sum must stay within
    /// every limit.
    pub fn admits(self, other: ProposalSize) -> bool {
        let sum = self.plus(other);
        self.segments == 0
            || (sum.segments <= MAX_PROPOSAL_SEGMENTS
                && sum.chunks <= MAX_CHUNKS_PER_COMMAND
                && sum.bytes <= MAX_PROPOSAL_BYTES)
    }
}

/// Counters of one metadata node's segment-commit proposals, shown on its `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct ProposalStats {
    /// `CommitSegments` entries this node proposed.
    pub(crate) proposals: AtomicU64,
    /// Segments in them.
    pub(crate) segments: AtomicU64,
    /// Bytes of serialized segment commits in them.
    pub(crate) bytes: AtomicU64,
    /// Segments answered from the applied state instead of proposed again.
    pub(crate) answered_from_state: AtomicU64,
}

impl ProposalStats {
    /// Counts one proposal of `size`.
    pub(crate) fn proposed(&self, size: ProposalSize) {
        self.proposals.fetch_add(1, Ordering::Relaxed);
        self.segments
            .fetch_add(size.segments as u64, Ordering::Relaxed);
        self.bytes.fetch_add(size.bytes as u64, Ordering::Relaxed);
    }

    /// Counts `count` segments answered from the applied state.
    pub(crate) fn answered(&self, count: usize) {
        self.answered_from_state
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    /// The counters as (name, help, value), for the Prometheus text.
    pub(crate) fn counters(&self) -> [(&'static str, &'static str, u64); 4] {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        [
            (
                "silt_metadata_commit_proposals_total",
                "Segment-commit Raft entries this node proposed",
                get(&self.proposals),
            ),
            (
                "silt_metadata_commit_proposed_segments_total",
                "Segments in the segment-commit entries this node proposed",
                get(&self.segments),
            ),
            (
                "silt_metadata_commit_proposed_bytes_total",
                "Bytes of serialized segment commits in the entries this node proposed",
                get(&self.bytes),
            ),
            (
                "silt_metadata_commit_answered_from_state_total",
                "Segments answered from the applied state instead of proposed again",
                get(&self.answered_from_state),
            ),
        ]
    }
}

/// Splits `items`, in order, into runs that each fit one proposal; `commit` gives each
/// item's segment commit.
pub fn proposal_runs<T>(items: Vec<T>, commit: impl Fn(&T) -> &SegmentCommit) -> Vec<Vec<T>> {
    let mut runs: Vec<Vec<T>> = Vec::new();
    let mut size = ProposalSize::default();
    for item in items {
        let next = ProposalSize::of(commit(&item));
        if !size.admits(next) || runs.is_empty() {
            runs.push(Vec::new());
            size = ProposalSize::default();
        }
        size = size.plus(next);
        if let Some(run) = runs.last_mut() {
            run.push(item);
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChunkCommit;

    fn segment(chunks: usize) -> SegmentCommit {
        let chunk = ChunkCommit {
            topic_id: 1,
            partition: 0,
            position: 0,
            length: 1,
            record_count: 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
            producer: None,
        };
        SegmentCommit {
            object: "s".to_owned(),
            size: 1,
            sealed_at_ms: None,
            offset_commits: Vec::new(),
            chunks: vec![chunk; chunks],
        }
    }

    fn chunk_counts(runs: &[Vec<SegmentCommit>]) -> Vec<Vec<usize>> {
        runs.iter()
            .map(|run| run.iter().map(|s| s.chunks.len()).collect())
            .collect()
    }

    #[test]
    fn runs_stay_within_the_segment_limit_in_order() {
        assert!(proposal_runs(Vec::new(), |s: &SegmentCommit| s).is_empty());
        let many = vec![segment(1); MAX_PROPOSAL_SEGMENTS + 1];
        let sizes: Vec<usize> = proposal_runs(many, |s| s).iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_PROPOSAL_SEGMENTS, 1]);
    }

    #[test]
    fn runs_stay_within_the_byte_limit_and_a_huge_segment_goes_alone() {
        let per_segment = segment(100).encoded_len();
        let fit = MAX_PROPOSAL_BYTES / per_segment;
        let runs = proposal_runs(vec![segment(100); fit + 1], |s| s);
        let sizes: Vec<usize> = runs.iter().map(Vec::len).collect();
        assert_eq!(sizes, [fit, 1]);
        for run in &runs {
            assert!(ProposalSize::of_all(run).bytes <= MAX_PROPOSAL_BYTES);
        }
        let per_chunk = segment(2).encoded_len() - segment(1).encoded_len();
        let huge = MAX_PROPOSAL_BYTES / per_chunk + 1;
        let runs = proposal_runs(vec![segment(1), segment(huge), segment(2)], |s| s);
        assert_eq!(chunk_counts(&runs), [vec![1], vec![huge], vec![2]]);
    }

    #[test]
    fn runs_stay_within_the_chunk_limit() {
        let half = MAX_CHUNKS_PER_COMMAND / 2;
        let sizes = ProposalSize {
            segments: 1,
            chunks: half,
            bytes: 0,
        };
        assert!(sizes.admits(sizes));
        assert!(!sizes.admits(ProposalSize {
            chunks: half + 1,
            ..sizes
        }));
        assert!(ProposalSize::default().admits(ProposalSize {
            chunks: MAX_CHUNKS_PER_COMMAND + 1,
            ..sizes
        }));
    }
}
