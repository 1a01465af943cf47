//! Which partitions a command changes, for the change feed (`crate::changes`): read from the
//! state around [`MetadataState::apply`], never stored in it.

use std::collections::BTreeSet;

use crate::state::MetadataState;
use crate::types::{Command, PartitionChange};

/// `(topic id, partition)` pairs a command may change.
pub(crate) type Touched = BTreeSet<(u64, u32)>;

impl MetadataState {
    /// The partitions `command` may change, read before it is applied: the partitions of a
    /// commit's chunks; every partition of a deleted topic.
    pub(crate) fn touched_partitions(&self, command: &Command) -> Touched {
        match command {
            Command::CommitSegments { segments, .. } => segments
                .iter()
                .flat_map(|segment| &segment.chunks)
                .map(|chunk| (chunk.topic_id, chunk.partition))
                .collect(),
            Command::DeleteTopic { name, .. } => {
                self.topics.get(name).map_or_else(Touched::new, |topic| {
                    (0..topic.partition_count())
                        .map(|p| (topic.id, p))
                        .collect()
                })
            }
            _ => Touched::new(),
        }
    }

    /// The `touched` partitions as they are now, after entry `index` was applied: each
    /// one's high watermark, or deleted if its topic is gone. A partition a refused chunk
    /// named that never existed is left out.
    pub(crate) fn partition_changes(&self, index: u64, touched: Touched) -> Vec<PartitionChange> {
        touched
            .into_iter()
            .filter_map(|(topic_id, partition)| self.partition_change(index, topic_id, partition))
            .collect()
    }

    /// One partition as it is now (see [`MetadataState::partition_changes`]).
    fn partition_change(
        &self,
        index: u64,
        topic_id: u64,
        partition: u32,
    ) -> Option<PartitionChange> {
        let (high_watermark, deleted) = match self.topics.get_by_id(topic_id) {
            Some(topic) => (topic.partition(partition)?.high_watermark, false),
            None => (0, true),
        };
        Some(PartitionChange {
            index,
            topic_id,
            partition,
            high_watermark,
            deleted,
        })
    }
}
