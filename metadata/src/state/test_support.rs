//! Helpers shared by the state's unit tests.

use super::MetadataState;
use crate::types::{Command, CommandResult, TopicSettings, TopicView};

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
