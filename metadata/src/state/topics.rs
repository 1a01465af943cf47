//! The topic registry: topics by name, their ids, settings and partitions.
//!
//! Invariants: names and ids are unique; ids are assigned from `next_topic_id` and never
//! reused, so a recreated topic gets a new id and never sees chunks addressed to the old
//! one; a topic's partition count never changes; of its settings only retention changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::index::PartitionIndex;
use crate::types::{TopicSettings, TopicView};

/// One topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Topic {
    /// Id, unique for the life of the cluster.
    pub(crate) id: u64,
    /// Name, unique among existing topics (the key of [`Topics`]).
    pub(crate) name: String,
    /// Settings given at creation; only the retention settings change later
    /// ([`Command::AlterTopic`](crate::types::Command::AlterTopic)).
    pub(crate) settings: TopicSettings,
    /// Creation time, from the proposer's clock.
    pub(crate) created_at_ms: i64,
    /// Partitions, indexed by partition number.
    pub(crate) partitions: Vec<PartitionIndex>,
    /// The principal that created it; `None` without authentication (and in snapshots
    /// written before owners were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
}

impl Topic {
    /// The topic as served to clients.
    pub(crate) fn view(&self) -> TopicView {
        TopicView {
            id: self.id,
            name: self.name.clone(),
            settings: self.settings.clone(),
            created_at_ms: self.created_at_ms,
            partitions: (0u32..)
                .zip(&self.partitions)
                .map(|(number, partition)| partition.view(number))
                .collect(),
        }
    }

    /// The partition count.
    pub(crate) fn partition_count(&self) -> u32 {
        u32::try_from(self.partitions.len()).unwrap_or(u32::MAX)
    }

    /// Partition number `partition`, if the topic has it.
    pub(crate) fn partition(&self, partition: u32) -> Option<&PartitionIndex> {
        self.partitions.get(usize::try_from(partition).ok()?)
    }

    /// Partition number `partition`, for update, if the topic has it.
    pub(crate) fn partition_mut(&mut self, partition: u32) -> Option<&mut PartitionIndex> {
        self.partitions.get_mut(usize::try_from(partition).ok()?)
    }
}

/// The topic registry: existing topics by name and by id, and the id the next one gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Topics {
    /// Topics by name.
    by_name: BTreeMap<String, Topic>,
    /// Topic names by id.
    names_by_id: BTreeMap<u64, String>,
    /// The id the next created topic gets.
    next_topic_id: u64,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            by_name: BTreeMap::new(),
            names_by_id: BTreeMap::new(),
            next_topic_id: 1,
        }
    }
}

impl Topics {
    /// Creates a topic; `None` if the name is taken.
    pub(crate) fn create(
        &mut self,
        name: &str,
        partitions: u32,
        settings: &TopicSettings,
        created_at_ms: i64,
        owner: Option<&str>,
    ) -> Option<&Topic> {
        if self.by_name.contains_key(name) {
            return None;
        }
        let id = self.next_topic_id;
        self.next_topic_id += 1;
        let topic = Topic {
            id,
            name: name.to_owned(),
            settings: settings.clone(),
            created_at_ms,
            partitions: (0..partitions).map(|_| PartitionIndex::default()).collect(),
            owner: owner.map(str::to_owned),
        };
        self.names_by_id.insert(id, name.to_owned());
        Some(self.by_name.entry(name.to_owned()).or_insert(topic))
    }

    /// Deletes a topic and its index; `None` if there is no such topic.
    pub(crate) fn delete(&mut self, name: &str) -> Option<Topic> {
        let topic = self.by_name.remove(name)?;
        self.names_by_id.remove(&topic.id);
        Some(topic)
    }

    /// The topic named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Topic> {
        self.by_name.get(name)
    }

    /// The topic named `name`, for update.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Topic> {
        self.by_name.get_mut(name)
    }

    /// All topics in name order, for update.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Topic> {
        self.by_name.values_mut()
    }

    /// The topic with id `id`.
    pub(crate) fn get_by_id(&self, id: u64) -> Option<&Topic> {
        self.by_name.get(self.names_by_id.get(&id)?)
    }

    /// The topic with id `id`, for update.
    pub(crate) fn get_by_id_mut(&mut self, id: u64) -> Option<&mut Topic> {
        let name = self.names_by_id.get(&id)?;
        self.by_name.get_mut(name)
    }

    /// All topics in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Topic> {
        self.by_name.values()
    }

    /// The topics named after `after` (all of them for `None`), in name order; a range of
    /// the map, so only what is taken is visited.
    pub(crate) fn after(&self, after: Option<&str>) -> impl Iterator<Item = &Topic> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        self.by_name
            .range::<str, _>((start, Unbounded))
            .map(|(_, t)| t)
    }

    /// How many topics exist.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused() {
        let mut topics = Topics::default();
        let first = topics
            .create("a", 2, &TopicSettings::default(), 7, None)
            .map(|t| t.id);
        assert_eq!(first, Some(1));
        assert!(
            topics
                .create("a", 2, &TopicSettings::default(), 7, None)
                .is_none()
        );
        assert!(topics.delete("a").is_some());
        assert!(topics.delete("a").is_none());
        let second = topics
            .create("a", 2, &TopicSettings::default(), 8, None)
            .map(|t| t.id);
        assert_eq!(second, Some(2));
        assert!(topics.get_by_id_mut(1).is_none());
        assert_eq!(
            topics.get_by_id_mut(2).map(|t| t.partition_count()),
            Some(2)
        );
    }
}
