//! Helpers shared by the state's unit tests.

use super::MetadataState;
use crate::types::{
    ChunkCommit, Command, CommandResult, PartitionTrim, SegmentCommit, TopicSettings, TopicView,
};

/// Applies the creation of topic `name` with `partitions` partitions (created at 1 000 ms,
/// default settings, no owner); the created topic.
pub(super) fn create_topic(state: &mut MetadataState, name: &str, partitions: u32) -> TopicView {
    match state.apply(&Command::CreateTopic {
        name: name.to_owned(),
        partitions,
        settings: TopicSettings::default(),
        created_at_ms: 1_000,
        request_id: None,
        owner: None,
    }) {
        CommandResult::Topic(view) => view,
        other => panic!("unexpected {other:?}"),
    }
}

/// Topic `t` with `s1` and `s2` committed to partition 0, `s1` trimmed away at 100, and
/// the orphan `o1` recorded at 50. The trim is the entry at log index 10.
pub(super) fn state_with_garbage() -> MetadataState {
    let mut state = MetadataState::default();
    let CommandResult::Topic(topic) = state.apply(&Command::CreateTopic {
        name: "t".to_owned(),
        partitions: 1,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: None,
        owner: None,
    }) else {
        panic!("topic created");
    };
    for object in ["s1", "s2"] {
        let chunk = ChunkCommit {
            topic_id: topic.id,
            partition: 0,
            position: 0,
            length: 10,
            record_count: 2,
            first_timestamp_ms: 5,
            max_timestamp_ms: 5,
            producer: None,
        };
        let segment = SegmentCommit {
            object: object.to_owned(),
            size: 10,
            chunks: vec![chunk],
            sealed_at_ms: None,
            offset_commits: Vec::new(),
        };
        let segments = vec![segment];
        state.apply(&Command::CommitSegments {
            segments,
            at_ms: None,
        });
    }
    let trim = PartitionTrim {
        topic_id: topic.id,
        partition: 0,
        start_offset: 2,
    };
    let trims = vec![trim];
    state.apply_at(10, &Command::TrimPartitions { trims, at_ms: 100 });
    let objects = vec!["o1".to_owned()];
    state.apply(&Command::RecordOrphans { objects, at_ms: 50 });
    state
}
