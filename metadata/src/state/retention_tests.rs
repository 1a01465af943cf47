//! Unit tests of retention in [`MetadataState`]: altering a topic's retention, the plan,
//! trims (whole front entries only, stale and replayed ones harmless, bad ones refused
//! whole), released objects, and a deleted topic's objects.

use super::*;
use crate::limits::{MAX_RETENTION_BYTES, MAX_RETENTION_MS};
use crate::types::{
    ChunkCommit, OffsetCommit, PartitionTrim, RetentionDefaults, SegmentCommit, TopicSettingsPatch,
};

fn create(state: &mut MetadataState, name: &str, partitions: u32) -> u64 {
    super::test_support::create_topic(state, name, partitions).id
}

/// A chunk of two records, 10 bytes, newest record stamped `max_timestamp_ms`.
fn chunk(topic_id: u64, partition: u32, max_timestamp_ms: i64) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition,
        position: 0,
        length: 10,
        record_count: 2,
        first_timestamp_ms: max_timestamp_ms,
        max_timestamp_ms,
        producer: None,
    }
}

fn commit(state: &mut MetadataState, object: &str, chunks: Vec<ChunkCommit>) {
    let segment = SegmentCommit {
        object: object.to_owned(),
        size: 100,
        sealed_at_ms: None,
        offset_commits: Vec::new(),
        chunks,
    };
    let command = Command::CommitSegments {
        segments: vec![segment],
        at_ms: None,
    };
    assert!(matches!(state.apply(&command), CommandResult::Committed(_)));
}

fn alter(state: &mut MetadataState, name: &str, ms: Option<Option<i64>>) -> CommandResult {
    let patch = TopicSettingsPatch {
        retention_ms: ms,
        retention_bytes: None,
    };
    state.apply(&Command::AlterTopic {
        name: name.to_owned(),
        patch,
    })
}

fn trim(topic_id: u64, partition: u32, start_offset: u64) -> PartitionTrim {
    PartitionTrim {
        topic_id,
        partition,
        start_offset,
    }
}

fn apply_trims(state: &mut MetadataState, trims: Vec<PartitionTrim>, at_ms: i64) -> CommandResult {
    state.apply(&Command::TrimPartitions { trims, at_ms })
}

fn start_of(state: &MetadataState, topic: &str, partition: u32) -> (u64, u64) {
    let slice = state.partition_slice(topic, partition, 0, 10).unwrap();
    (slice.start_offset, slice.high_watermark)
}

fn plan(state: &MetadataState, at_ms: i64, defaults: RetentionDefaults) -> Vec<PartitionTrim> {
    let planned = state.retention_plan(at_ms, defaults, 100).unwrap();
    planned.into_iter().map(|p| p.trim).collect()
}

/// Topic "a" (2 partitions): s1 holds a chunk of each partition stamped 10, s2 one of
/// partition 0 stamped 100.
fn two_segments() -> (MetadataState, u64) {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2);
    commit(&mut state, "s1", vec![chunk(a, 0, 10), chunk(a, 1, 10)]);
    commit(&mut state, "s2", vec![chunk(a, 0, 100)]);
    (state, a)
}

#[test]
fn time_retention_drops_expired_entries_and_releases_an_object_once_unreferenced() {
    let (mut state, a) = two_segments();
    let none = RetentionDefaults::default();
    assert!(plan(&state, 1_000_000, none).is_empty(), "no retention set");
    assert!(matches!(
        alter(&mut state, "a", Some(Some(50))),
        CommandResult::Topic(_)
    ));
    // At 70 only the chunks stamped 10 are older than 70 - 50.
    let planned = plan(&state, 70, none);
    assert_eq!(planned, [trim(a, 0, 2), trim(a, 1, 2)]);
    // Trimming partition 0 alone leaves s1 referenced by partition 1.
    let CommandResult::Trimmed(outcomes) = apply_trims(&mut state, vec![planned[0]], 70) else {
        panic!("not trimmed");
    };
    assert_eq!((outcomes[0].entries, outcomes[0].bytes), (1, 10));
    assert!(state.released().is_empty());
    assert_eq!(start_of(&state, "a", 0), (2, 4));
    apply_trims(&mut state, vec![planned[1]], 71);
    assert_eq!(state.released().get("s1"), Some(&71));
    assert_eq!(start_of(&state, "a", 1), (2, 2), "every entry may go");
    // The high watermark never moves back: the next record gets offset 2.
    commit(&mut state, "s3", vec![chunk(a, 1, 200)]);
    assert_eq!(start_of(&state, "a", 1), (2, 4));
    assert!(plan(&state, 70, none).is_empty());
}

#[test]
fn byte_retention_keeps_at_least_retention_bytes() {
    let (mut state, a) = two_segments();
    let keep_15 = RetentionDefaults {
        ms: None,
        bytes: Some(15),
    };
    // Partition 0 holds 20 bytes: dropping 10 leaves 10 < 15, so nothing goes.
    assert!(plan(&state, 0, keep_15).is_empty());
    commit(&mut state, "s3", vec![chunk(a, 0, 300)]);
    assert_eq!(plan(&state, 0, keep_15), [trim(a, 0, 2)]);
    // A topic's own setting wins over the default; -1 is no bound.
    let patch = TopicSettingsPatch {
        retention_ms: None,
        retention_bytes: Some(Some(-1)),
    };
    let name = "a".to_owned();
    state.apply(&Command::AlterTopic { name, patch });
    assert!(plan(&state, 0, keep_15).is_empty());
}

#[test]
fn stale_and_replayed_trims_change_nothing_and_bad_ones_are_refused_whole() {
    let (mut state, a) = two_segments();
    apply_trims(&mut state, vec![trim(a, 0, 2)], 5);
    let before = state.clone();
    // Replayed, below the start, of a deleted topic's id: no-ops.
    let stale = vec![trim(a, 0, 2), trim(a, 0, 0), trim(99, 0, 4)];
    let CommandResult::Trimmed(outcomes) = apply_trims(&mut state, stale, 6) else {
        panic!("not applied");
    };
    assert!(outcomes.iter().all(|o| o.entries == 0 && o.bytes == 0));
    assert_eq!(state, before);
    // Past the high watermark, inside an entry, a partition the topic lacks, none at all:
    // refused, even next to a good trim.
    for bad in [trim(a, 0, 5), trim(a, 1, 1), trim(a, 2, 0)] {
        let result = apply_trims(&mut state, vec![trim(a, 0, 4), bad], 7);
        assert!(
            matches!(result, CommandResult::Rejected(_)),
            "{bad:?}: {result:?}"
        );
        assert_eq!(state, before, "{bad:?} changed the state");
    }
    assert!(matches!(
        apply_trims(&mut state, Vec::new(), 7),
        CommandResult::Rejected(_)
    ));
    // The same commands applied to a copy reach the same state (determinism).
    let mut replica = before.clone();
    for s in [&mut state, &mut replica] {
        apply_trims(s, vec![trim(a, 0, 4), trim(a, 1, 2)], 8);
    }
    assert_eq!(state, replica);
    assert_eq!(state.released().get("s1"), Some(&8));
    assert_eq!(state.released().get("s2"), Some(&8));
}

#[test]
fn deleting_a_topic_releases_the_objects_only_it_referenced() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1);
    let b = create(&mut state, "b", 1);
    commit(&mut state, "shared", vec![chunk(a, 0, 1), chunk(b, 0, 1)]);
    commit(&mut state, "only-a", vec![chunk(a, 0, 1)]);
    let delete = Command::DeleteTopic {
        name: "a".to_owned(),
        topic_id: Some(a),
        request_id: None,
        at_ms: Some(42),
    };
    assert_eq!(state.apply(&delete), CommandResult::Deleted);
    let released: Vec<_> = state.released().iter().collect();
    assert_eq!(released, [(&"only-a".to_owned(), &42)]);
    apply_trims(&mut state, vec![trim(b, 0, 2)], 50);
    assert_eq!(state.released().get("shared"), Some(&50));
}

#[test]
fn retention_settings_are_checked_and_a_missing_topic_is_refused() {
    let (mut state, _) = two_segments();
    let before = state.clone();
    for bad in [0, -2, i64::MIN, MAX_RETENTION_MS + 1] {
        let result = alter(&mut state, "a", Some(Some(bad)));
        assert!(matches!(result, CommandResult::Rejected(_)), "{bad}");
    }
    let patch = TopicSettingsPatch {
        retention_ms: None,
        retention_bytes: Some(Some(MAX_RETENTION_BYTES + 1)),
    };
    let name = "a".to_owned();
    let result = state.apply(&Command::AlterTopic { name, patch });
    assert!(matches!(result, CommandResult::Rejected(_)));
    let missing = alter(&mut state, "nope", Some(Some(10)));
    assert_eq!(
        missing,
        CommandResult::Rejected(CommandError::TopicNotFound("nope".to_owned()))
    );
    assert_eq!(state, before);
    // Set, then back to the cluster default with null.
    alter(&mut state, "a", Some(Some(MAX_RETENTION_MS)));
    let set = state.describe_topic("a").unwrap().settings.retention_ms;
    assert_eq!(set, Some(MAX_RETENTION_MS));
    alter(&mut state, "a", Some(None));
    assert_eq!(
        state.describe_topic("a").unwrap().settings,
        TopicSettings::default()
    );
}

#[test]
fn derived_counts_are_rebuilt_from_a_snapshot() {
    let (mut state, a) = two_segments();
    apply_trims(&mut state, vec![trim(a, 0, 2)], 5);
    let mut restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored, state);
    let keep_1 = RetentionDefaults {
        ms: None,
        bytes: Some(1),
    };
    assert_eq!(plan(&restored, 0, keep_1), plan(&state, 0, keep_1));
    for s in [&mut state, &mut restored] {
        apply_trims(s, vec![trim(a, 1, 2)], 9);
    }
    assert_eq!(restored, state);
    assert_eq!(restored.released().get("s1"), Some(&9));
}

#[test]
fn lag_counts_from_the_start_offset_when_the_committed_offset_fell_below_it() {
    let (mut state, a) = two_segments();
    let commit = Command::CommitOffsets {
        group: "g".to_owned(),
        generation: None,
        member_id: None,
        offsets: vec![OffsetCommit {
            topic: "a".to_owned(),
            partition: 0,
            offset: 1,
            metadata: None,
        }],
        at_ms: 1,
    };
    assert!(matches!(
        state.apply(&commit),
        CommandResult::GroupOffsets(_)
    ));
    apply_trims(&mut state, vec![trim(a, 0, 2)], 5);
    let group = state.describe_group("g").unwrap();
    assert_eq!((group.offsets[0].offset, group.offsets[0].lag), (1, 2));
}
