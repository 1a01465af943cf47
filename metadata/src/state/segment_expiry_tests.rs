//! Tests of the bounded segment record ([`super::segments`]): an object's commit result is
//! kept only while a retry of it could still be accepted, and a retry after that is refused
//! for its age, never committed twice.

use super::*;
use crate::limits::COMMIT_HORIZON_MS;
use crate::types::{ChunkCommit, ChunkOutcome, SegmentCommit};

/// A proposal time well past the epoch.
const NOW: i64 = 10 * 60 * 60 * 1000;

fn create(state: &mut MetadataState) -> u64 {
    super::test_support::create_topic(state, "a", 1).id
}

fn sealed(topic_id: u64, object: &str, sealed_at_ms: i64) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: 100,
        sealed_at_ms: Some(sealed_at_ms),
        offset_commits: Vec::new(),
        chunks: vec![ChunkCommit {
            topic_id,
            partition: 0,
            position: 0,
            length: 10,
            record_count: 1,
            first_timestamp_ms: 5,
            max_timestamp_ms: 6,
            producer: None,
        }],
    }
}

fn commit_at(state: &mut MetadataState, segment: SegmentCommit, at_ms: i64) -> ChunkOutcome {
    let command = Command::CommitSegments {
        segments: vec![segment],
        at_ms: Some(at_ms),
    };
    match state.apply(&command) {
        CommandResult::Committed(mut results) => results.remove(0).chunks.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

fn high_watermark(state: &MetadataState) -> u64 {
    state.describe_topic("a").unwrap().partitions[0].high_watermark
}

#[test]
fn segments_sealed_before_the_horizon_are_forgotten() {
    let mut state = MetadataState::default();
    let a = create(&mut state);
    for n in 0..10 {
        commit_at(&mut state, sealed(a, &format!("s{n}"), NOW + n), NOW + n);
    }
    assert_eq!(state.segment_count(), 10);
    // A commit a horizon later drops every segment sealed before its horizon.
    let later = NOW + COMMIT_HORIZON_MS + 5;
    commit_at(&mut state, sealed(a, "late", later), later);
    assert_eq!(
        state.segment_count(),
        1 + 5,
        "s5..s9 are within the horizon"
    );
}

#[test]
fn a_retry_after_expiry_is_refused_for_its_age_not_committed_twice() {
    let mut state = MetadataState::default();
    let a = create(&mut state);
    let first = commit_at(&mut state, sealed(a, "s1", NOW), NOW);
    assert_eq!(first, ChunkOutcome::Committed { base_offset: 0 });
    let later = NOW + COMMIT_HORIZON_MS + 1;
    commit_at(&mut state, sealed(a, "s2", later), later);
    assert_eq!(high_watermark(&state), 2);
    // Retried through a node whose clock is behind: within the horizon by its own clock,
    // but the state already forgot s1, so it is refused, whole, and nothing is appended.
    let retry = commit_at(&mut state, sealed(a, "s1", NOW), NOW + 10);
    assert_eq!(retry, ChunkOutcome::TooOld);
    assert_eq!(high_watermark(&state), 2);
}

#[test]
fn expiry_is_the_same_on_replay_and_across_a_snapshot() {
    let commands = |a: u64| -> Vec<Command> {
        (0..50)
            .map(|n| Command::CommitSegments {
                segments: vec![sealed(a, &format!("s{n}"), NOW + n * 60_000)],
                at_ms: Some(NOW + n * 60_000),
            })
            .collect()
    };
    let mut first = MetadataState::default();
    let mut second = MetadataState::default();
    let a = create(&mut first);
    create(&mut second);
    for (n, command) in commands(a).iter().enumerate() {
        first.apply(command);
        second.apply(command);
        if n == 25 {
            second = MetadataState::decode(&second.encode().unwrap()).unwrap();
        }
    }
    assert_eq!(first, second);
    assert_eq!(
        first.segment_count(),
        16,
        "the last 15 minutes and the edge"
    );
}

#[test]
fn segments_from_a_snapshot_without_seal_times_expire_a_horizon_after_the_first_commit() {
    let mut state = MetadataState::default();
    let a = create(&mut state);
    commit_at(&mut state, sealed(a, "old", NOW), NOW);
    // A snapshot written before expiry existed: the segments map alone.
    let mut json: serde_json::Value = serde_json::to_value(&state).unwrap();
    json.as_object_mut().unwrap().remove("segment_expiry");
    let mut loaded = MetadataState::decode(&serde_json::to_vec(&json).unwrap()).unwrap();
    let resumed = NOW + 1;
    commit_at(&mut loaded, sealed(a, "new", resumed), resumed);
    assert_eq!(loaded.segment_count(), 2);
    let later = resumed + COMMIT_HORIZON_MS + 1;
    commit_at(&mut loaded, sealed(a, "last", later), later);
    assert_eq!(loaded.segment_count(), 1);
}
