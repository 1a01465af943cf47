//! Consumer groups: per group, its committed offsets by topic and partition, its members
//! with their subscriptions, its generation, assignor and assignment. Pure data; the checks
//! that need topics (partition ranges, partition counts) are made by
//! [`MetadataState`](super::MetadataState), which owns both, before anything here changes.
//!
//! Invariants: a group exists once it has committed or reset an offset, or a member joined,
//! and until it is deleted; it keeps at most [`MAX_OFFSETS_PER_GROUP`] offsets and the
//! cluster at most [`MAX_GROUPS`] groups; a deleted topic's offsets are dropped from every
//! group, so a topic recreated under the name starts with no committed offsets; the
//! assignment always covers exactly the current members (recomputed, with the generation
//! bumped, on every membership change).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_GROUPS, MAX_OFFSETS_PER_GROUP};
use crate::state::assign::{Assignment, Subscriptions};
use crate::state::validate;
use crate::types::{Assignor, CommandError, GroupSummary, MemberView, TopicPartition};

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Member {
    /// The client's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<String>,
    /// The topics it reads, sorted.
    pub(crate) topics: std::collections::BTreeSet<String>,
    /// How long it may stay silent.
    pub(crate) session_timeout_ms: u64,
    /// When it (last) joined (the proposer's clock).
    pub(crate) joined_at_ms: i64,
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Committed {
    /// The next offset the group reads.
    pub(crate) offset: u64,
    /// Text committed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<String>,
    /// When it was committed (the proposer's clock).
    pub(crate) committed_at_ms: i64,
}

/// One consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Group {
    /// Committed offsets: topic → partition → offset.
    pub(crate) offsets: BTreeMap<String, BTreeMap<u32, Committed>>,
    /// The generation: bumped by every membership change; 0 until a member joins.
    #[serde(default)]
    pub(crate) generation: u64,
    /// Members by id.
    #[serde(default)]
    pub(crate) members: BTreeMap<String, Member>,
    /// The assignor its members use.
    #[serde(default)]
    pub(crate) assignor: Assignor,
    /// Each member's partitions in the current generation.
    #[serde(default)]
    pub(crate) assignment: Assignment,
}

impl Group {
    /// How many offsets the group keeps.
    pub(crate) fn offset_count(&self) -> u64 {
        self.offsets.values().map(|p| p.len() as u64).sum()
    }

    /// How many offsets it would keep after setting `partitions` (topic, partition), which
    /// may repeat or already be kept.
    fn count_after<'a>(&self, partitions: impl Iterator<Item = (&'a str, u32)>) -> u64 {
        let mut added: BTreeMap<&str, std::collections::BTreeSet<u32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            let kept = self
                .offsets
                .get(topic)
                .is_some_and(|p| p.contains_key(&partition));
            if !kept {
                added.entry(topic).or_default().insert(partition);
            }
        }
        self.offset_count() + added.values().map(|p| p.len() as u64).sum::<u64>()
    }

    /// Each member's subscription.
    pub(crate) fn subscriptions(&self) -> Subscriptions {
        let subscriptions = self.members.iter();
        subscriptions
            .map(|(id, m)| (id.clone(), m.topics.clone()))
            .collect()
    }

    /// Whether a member reads `topic`.
    pub(crate) fn reads(&self, topic: &str) -> bool {
        self.members.values().any(|m| m.topics.contains(topic))
    }

    /// The partitions of `member` in the current generation.
    pub(crate) fn assigned(&self, member: &str) -> Vec<TopicPartition> {
        self.assignment.get(member).cloned().unwrap_or_default()
    }

    /// The members as served.
    pub(crate) fn member_views(&self) -> Vec<MemberView> {
        self.members
            .iter()
            .map(|(id, m)| MemberView {
                member_id: id.clone(),
                client_id: m.client_id.clone(),
                topics: m.topics.iter().cloned().collect(),
                session_timeout_ms: m.session_timeout_ms,
                joined_at_ms: m.joined_at_ms,
                assignment: self.assigned(id),
            })
            .collect()
    }

    /// Installs a new assignment in a new generation.
    pub(crate) fn rebalanced(&mut self, assignment: Assignment) {
        self.generation += 1;
        self.assignment = assignment;
    }

    /// Sets one offset.
    pub(crate) fn set(&mut self, topic: &str, partition: u32, committed: Committed) {
        let partitions = self.offsets.entry(topic.to_owned()).or_default();
        partitions.insert(partition, committed);
    }
}

/// Every group, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Groups {
    /// Groups by name.
    by_name: BTreeMap<String, Group>,
}

impl Groups {
    /// The group named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Group> {
        self.by_name.get(name)
    }

    /// The group named `name`, or [`CommandError::GroupNotFound`].
    pub(crate) fn existing(&self, name: &str) -> Result<&Group, CommandError> {
        self.get(name)
            .ok_or_else(|| CommandError::GroupNotFound(name.to_owned()))
    }

    /// Checks that `name` may hold the offsets of `partitions` after they are set: a new
    /// group within [`MAX_GROUPS`], its offsets within [`MAX_OFFSETS_PER_GROUP`].
    pub(crate) fn check_room<'a>(
        &self,
        name: &str,
        partitions: impl Iterator<Item = (&'a str, u32)>,
    ) -> Result<(), CommandError> {
        let empty = Group::default();
        let group = match self.get(name) {
            Some(group) => group,
            None => {
                let groups = self.by_name.len() as u64;
                validate::quota("limits::MAX_GROUPS", MAX_GROUPS, groups, 1)?;
                &empty
            }
        };
        let (now, after) = (group.offset_count(), group.count_after(partitions));
        let quota = "limits::MAX_OFFSETS_PER_GROUP";
        validate::quota(quota, MAX_OFFSETS_PER_GROUP, now, after - now)
    }

    /// The group named `name`, created empty if there is none (after [`Self::check_room`]).
    pub(crate) fn entry(&mut self, name: &str) -> &mut Group {
        self.by_name.entry(name.to_owned()).or_default()
    }

    /// Deletes the group named `name`; whether there was one.
    pub(crate) fn delete(&mut self, name: &str) -> bool {
        self.by_name.remove(name).is_some()
    }

    /// Drops the offsets of a deleted topic from every group; answers the groups whose
    /// members read it (their assignment must be recomputed).
    pub(crate) fn forget_topic(&mut self, topic: &str) -> Vec<String> {
        let mut readers = Vec::new();
        for (name, group) in &mut self.by_name {
            group.offsets.remove(topic);
            if group.reads(topic) {
                readers.push(name.clone());
            }
        }
        readers
    }

    /// The group named `name`, for update.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.by_name.get_mut(name)
    }

    /// Whether a new group may be made: fewer than [`MAX_GROUPS`] exist (a group that exists
    /// always may be used).
    pub(crate) fn check_new(&self, name: &str) -> Result<(), CommandError> {
        if self.by_name.contains_key(name) {
            return Ok(());
        }
        let groups = self.by_name.len() as u64;
        validate::quota("limits::MAX_GROUPS", MAX_GROUPS, groups, 1)
    }

    /// Every group, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Group)> {
        self.by_name.iter()
    }

    /// One line per group, by name.
    pub(crate) fn summaries(&self) -> Vec<GroupSummary> {
        self.iter()
            .map(|(name, group)| GroupSummary {
                group: name.clone(),
                generation: group.generation,
                members: group.members.len() as u64,
                offsets: group.offset_count(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(offset: u64) -> Committed {
        Committed {
            offset,
            metadata: None,
            committed_at_ms: 1,
        }
    }

    #[test]
    fn room_counts_only_new_partitions_once() {
        let mut groups = Groups::default();
        groups.entry("g").set("t", 0, committed(1));
        let group = groups.get("g").unwrap();
        let again = [("t", 0), ("t", 1), ("t", 1), ("u", 0)];
        assert_eq!(group.count_after(again.into_iter()), 3);
        assert!(groups.check_room("g", again.into_iter()).is_ok());
        groups.forget_topic("t");
        assert_eq!(groups.get("g").unwrap().offset_count(), 0);
    }
}
