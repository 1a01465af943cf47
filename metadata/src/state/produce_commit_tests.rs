//! Unit tests of offset commits riding with produce requests in a segment commit: the
//! request's records and its offsets are committed together or neither is; other
//! requests of the segment are unaffected; a retried request commits nothing twice.

use super::*;
use crate::types::{
    ChunkCommit, ChunkOutcome, GroupCommit, OffsetCommit, ProducerBatch, RequestOffsetCommit,
    SegmentCommit, SegmentCommitResult,
};

/// A state with topic `in` (1 partition, 10 records) and topic `out` (1 partition, empty),
/// and an idempotent producer; returns the state, `out`'s id and the producer's id.
fn pipeline_state() -> (MetadataState, u64, u64) {
    let mut state = MetadataState::default();
    let input = create_topic(&mut state, "in");
    let output = create_topic(&mut state, "out");
    let segment = segment("seed", vec![chunk(input, None)], Vec::new());
    commit(&mut state, segment);
    let producer = state.apply(&Command::InitProducer {
        producer_id: None,
        new_id: None,
        owner: None,
        request_id: None,
    });
    let CommandResult::Producer(view) = producer else {
        panic!("{producer:?}")
    };
    (state, output, view.producer_id)
}

/// Creates topic `name` with one partition; returns its id.
fn create_topic(state: &mut MetadataState, name: &str) -> u64 {
    super::test_support::create_topic(state, name, 1).id
}

/// A chunk of 10 records of partition 0 of `topic_id`, written by `producer`.
fn chunk(topic_id: u64, producer: Option<ProducerBatch>) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition: 0,
        position: 0,
        length: 10,
        record_count: 10,
        first_timestamp_ms: 5,
        max_timestamp_ms: 6,
        producer,
    }
}

fn segment(
    object: &str,
    chunks: Vec<ChunkCommit>,
    offset_commits: Vec<RequestOffsetCommit>,
) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: 10,
        chunks,
        sealed_at_ms: None,
        offset_commits,
    }
}

/// Commits one segment at time 50; returns its result.
fn commit(state: &mut MetadataState, segment: SegmentCommit) -> SegmentCommitResult {
    let result = state.apply(&Command::CommitSegments {
        segments: vec![segment],
        at_ms: Some(50),
    });
    let CommandResult::Committed(mut results) = result else {
        panic!("{result:?}")
    };
    results.remove(0)
}

/// Request `sequence` of producer `id` at epoch 0.
fn batch(id: u64, sequence: u64) -> ProducerBatch {
    ProducerBatch {
        producer_id: id,
        epoch: 0,
        sequence,
        digest: Some(sequence),
    }
}

/// A simple commit of `in`/0 at `offset` by group `g`, riding with `batch`.
fn offset_commit(batch: ProducerBatch, offset: u64) -> RequestOffsetCommit {
    RequestOffsetCommit {
        producer_id: batch.producer_id,
        epoch: batch.epoch,
        sequence: batch.sequence,
        commit: GroupCommit {
            group: "g".to_owned(),
            generation: None,
            member_id: None,
            offsets: vec![OffsetCommit {
                topic: "in".to_owned(),
                partition: 0,
                offset,
                metadata: None,
            }],
        },
    }
}

/// Group `g`'s committed offsets.
fn committed(state: &MetadataState) -> Vec<u64> {
    match state.describe_group("g") {
        Ok(view) => view.offsets.iter().map(|o| o.offset).collect(),
        Err(_) => Vec::new(),
    }
}

/// `out`'s high watermark.
fn written(state: &MetadataState) -> u64 {
    let topic = state.topics.get("out").unwrap();
    topic.partition(0).unwrap().high_watermark
}

#[test]
fn an_accepted_commit_applies_with_its_records() {
    let (mut state, out, id) = pipeline_state();
    let first = batch(id, 0);
    let result = commit(
        &mut state,
        segment(
            "a",
            vec![chunk(out, Some(first))],
            vec![offset_commit(first, 4)],
        ),
    );
    assert_eq!(result.chunks, [ChunkOutcome::Committed { base_offset: 0 }]);
    assert!(result.refused_commits.is_empty(), "{result:?}");
    assert_eq!(committed(&state), [4]);
    assert_eq!(written(&state), 10);
}

#[test]
fn a_refused_commit_refuses_its_records_and_spares_the_others() {
    let (mut state, out, id) = pipeline_state();
    let (bad, plain) = (batch(id, 0), None);
    // Offset 11 is past `in`'s high watermark (10): the commit is refused.
    let chunks = vec![chunk(out, Some(bad)), chunk(out, plain)];
    let result = commit(
        &mut state,
        segment("a", chunks, vec![offset_commit(bad, 11)]),
    );
    assert_eq!(
        result.chunks,
        [
            ChunkOutcome::CommitRefused,
            ChunkOutcome::Committed { base_offset: 0 }
        ]
    );
    let refusal = result.commit_refusal(id, 0, 0).unwrap();
    assert!(
        matches!(refusal, CommandError::OffsetOutOfRange { offset: 11, .. }),
        "{refusal:?}"
    );
    assert_eq!(committed(&state), Vec::<u64>::new());
    assert_eq!(written(&state), 10, "only the other request's records");
    // The refused request did not use its sequence: sent again with a good commit, it is
    // accepted.
    let again = commit(
        &mut state,
        segment(
            "b",
            vec![chunk(out, Some(bad))],
            vec![offset_commit(bad, 3)],
        ),
    );
    assert_eq!(again.chunks, [ChunkOutcome::Committed { base_offset: 10 }]);
    assert_eq!(committed(&state), [3]);
}

#[test]
fn a_simple_commit_on_a_group_with_members_refuses_the_records() {
    let (mut state, out, id) = pipeline_state();
    let join = state.apply(&Command::JoinGroup {
        group: "g".to_owned(),
        member: crate::types::MemberJoin {
            member_id: "m".to_owned(),
            new: true,
            client_id: None,
            topics: vec!["in".to_owned()],
            session_timeout_ms: 10_000,
            assignor: crate::types::Assignor::Range,
        },
        at_ms: 3,
    });
    assert!(matches!(join, CommandResult::Joined(_)), "{join:?}");
    let first = batch(id, 0);
    let result = commit(
        &mut state,
        segment(
            "a",
            vec![chunk(out, Some(first))],
            vec![offset_commit(first, 4)],
        ),
    );
    assert_eq!(result.chunks, [ChunkOutcome::CommitRefused]);
    let refusal = result.commit_refusal(id, 0, 0);
    assert!(
        matches!(refusal, Some(CommandError::GroupNotEmpty { .. })),
        "{refusal:?}"
    );
    assert_eq!(written(&state), 0);
}

#[test]
fn a_retried_request_answers_its_offsets_and_does_not_commit_twice() {
    let (mut state, out, id) = pipeline_state();
    let first = batch(id, 0);
    commit(
        &mut state,
        segment(
            "a",
            vec![chunk(out, Some(first))],
            vec![offset_commit(first, 4)],
        ),
    );
    // The group moves on (another request commits 8); then the first is retried in
    // another segment: its original offsets come back and the group stays at 8.
    let second = batch(id, 1);
    commit(
        &mut state,
        segment(
            "b",
            vec![chunk(out, Some(second))],
            vec![offset_commit(second, 8)],
        ),
    );
    let retry = commit(
        &mut state,
        segment(
            "c",
            vec![chunk(out, Some(first))],
            vec![offset_commit(first, 4)],
        ),
    );
    assert_eq!(retry.chunks, [ChunkOutcome::Duplicate { base_offset: 0 }]);
    assert_eq!(committed(&state), [8]);
    assert_eq!(written(&state), 20);
}

#[test]
fn a_request_commit_rides_in_snapshots_and_breaks_no_rule() {
    let (mut state, out, id) = pipeline_state();
    let first = batch(id, 0);
    let mut bad = offset_commit(first, 4);
    bad.commit.group = "no/slash".to_owned();
    let refused = state.apply(&Command::CommitSegments {
        segments: vec![segment("a", vec![chunk(out, Some(first))], vec![bad])],
        at_ms: Some(50),
    });
    assert!(
        matches!(
            refused,
            CommandResult::Rejected(CommandError::InvalidGroupName(_))
        ),
        "{refused:?}"
    );
    assert_eq!(written(&state), 0);
    commit(
        &mut state,
        segment(
            "a",
            vec![chunk(out, Some(first))],
            vec![offset_commit(first, 4)],
        ),
    );
    let restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored, state);
}
