//! The consumer-group commands and reads of [`MetadataState`]: they check offsets against
//! the topics' partition ranges, then change [`Groups`](super::groups::Groups). Every check
//! runs before the first change, so a refused command changes nothing.

use crate::error::Result;
use crate::types::{
    CommandError, CommandResult, CommittedOffsetView, GroupSummary, GroupView, OffsetCommit,
    ResetTarget, ResetTo,
};

use super::groups::{Committed, Group};
use super::{MetadataState, missing_topic};

/// A refusal as a command result.
fn rejected(refusal: CommandError) -> CommandResult {
    CommandResult::Rejected(refusal)
}

impl MetadataState {
    /// Commits `offsets` for `group` ([`Command::CommitOffsets`](crate::types::Command::CommitOffsets)).
    pub(super) fn commit_offsets(
        &mut self,
        group: &str,
        member_id: Option<&str>,
        offsets: &[OffsetCommit],
        at_ms: i64,
    ) -> CommandResult {
        if let Some(member_id) = member_id {
            // No member has joined any group yet: membership is not built.
            return rejected(CommandError::UnknownMember {
                group: group.to_owned(),
                member_id: member_id.to_owned(),
            });
        }
        let checked = offsets
            .iter()
            .try_for_each(|o| self.check_offset(&o.topic, o.partition, o.offset));
        let partitions = offsets.iter().map(|o| (o.topic.as_str(), o.partition));
        if let Err(refusal) = checked.and_then(|()| self.groups.check_room(group, partitions)) {
            return rejected(refusal);
        }
        let entry = self.groups.entry(group);
        for o in offsets {
            let committed = Committed {
                offset: o.offset,
                metadata: o.metadata.clone(),
                committed_at_ms: at_ms,
            };
            entry.set(&o.topic, o.partition, committed);
        }
        let set = offsets.iter().map(|o| (o.topic.as_str(), o.partition));
        CommandResult::GroupOffsets(self.views_of(group, set))
    }

    /// Moves `group`'s offsets to `targets` ([`Command::ResetOffsets`](crate::types::Command::ResetOffsets)).
    pub(super) fn reset_offsets(
        &mut self,
        group: &str,
        targets: &[ResetTarget],
        at_ms: i64,
    ) -> CommandResult {
        let resolved: Result<Vec<(&str, u32, u64)>, CommandError> = targets
            .iter()
            .map(|t| Ok((t.topic.as_str(), t.partition, self.resolve(t)?)))
            .collect();
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(refusal) => return rejected(refusal),
        };
        let partitions = resolved.iter().map(|(t, p, _)| (*t, *p));
        if let Err(refusal) = self.groups.check_room(group, partitions) {
            return rejected(refusal);
        }
        let entry = self.groups.entry(group);
        for (topic, partition, offset) in &resolved {
            let committed = Committed {
                offset: *offset,
                metadata: None,
                committed_at_ms: at_ms,
            };
            entry.set(topic, *partition, committed);
        }
        let set = resolved.iter().map(|(t, p, _)| (*t, *p));
        CommandResult::GroupOffsets(self.views_of(group, set))
    }

    /// Deletes `group` ([`Command::DeleteGroup`](crate::types::Command::DeleteGroup)).
    pub(super) fn delete_group(&mut self, group: &str) -> CommandResult {
        match self.groups.delete(group) {
            true => CommandResult::GroupDeleted,
            false => rejected(CommandError::GroupNotFound(group.to_owned())),
        }
    }

    /// The offset a reset target names, checked against its partition's range.
    fn resolve(&self, target: &ResetTarget) -> Result<u64, CommandError> {
        let (start, end) = self.offset_range(&target.topic, target.partition)?;
        let offset = match target.to {
            ResetTo::Earliest => start,
            ResetTo::Latest => end,
            ResetTo::Offset(offset) => offset,
        };
        self.check_offset(&target.topic, target.partition, offset)?;
        Ok(offset)
    }

    /// `offset` lies within the partition's start offset and high watermark.
    fn check_offset(&self, topic: &str, partition: u32, offset: u64) -> Result<(), CommandError> {
        let (start_offset, high_watermark) = self.offset_range(topic, partition)?;
        if (start_offset..=high_watermark).contains(&offset) {
            return Ok(());
        }
        Err(CommandError::OffsetOutOfRange {
            topic: topic.to_owned(),
            partition,
            offset,
            start_offset,
            high_watermark,
        })
    }

    /// The partition's start offset and high watermark, or why there is no such partition.
    fn offset_range(&self, topic: &str, partition: u32) -> Result<(u64, u64), CommandError> {
        let found = self.topics.get(topic).ok_or_else(|| missing_topic(topic))?;
        let index = found
            .partition(partition)
            .ok_or_else(|| CommandError::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
                partitions: found.partition_count(),
            })?;
        Ok((index.start_offset, index.high_watermark))
    }

    /// The views of `group`'s offsets for `partitions`, in their order.
    fn views_of<'a>(
        &self,
        group: &str,
        partitions: impl Iterator<Item = (&'a str, u32)>,
    ) -> Vec<CommittedOffsetView> {
        let Some(found) = self.groups.get(group) else {
            return Vec::new();
        };
        partitions
            .filter_map(|(topic, partition)| {
                let committed = found.offsets.get(topic)?.get(&partition)?;
                Some(self.offset_view(topic, partition, committed))
            })
            .collect()
    }

    /// One committed offset with its lag.
    fn offset_view(&self, topic: &str, partition: u32, c: &Committed) -> CommittedOffsetView {
        let high_watermark = self
            .offset_range(topic, partition)
            .map_or(c.offset, |r| r.1);
        CommittedOffsetView {
            topic: topic.to_owned(),
            partition,
            offset: c.offset,
            metadata: c.metadata.clone(),
            committed_at_ms: c.committed_at_ms,
            lag: high_watermark.saturating_sub(c.offset),
        }
    }

    /// Every offset of `group`, by topic and partition.
    fn all_offsets(&self, group: &Group) -> Vec<CommittedOffsetView> {
        group
            .offsets
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .iter()
                    .map(|(partition, c)| self.offset_view(topic, *partition, c))
            })
            .collect()
    }

    /// One group, with its offsets and their lag ([`CommandError::GroupNotFound`] if none).
    pub(crate) fn describe_group(&self, group: &str) -> Result<GroupView> {
        super::validate::group_name(group)?;
        let found = self.groups.existing(group)?;
        Ok(GroupView {
            group: group.to_owned(),
            generation: found.generation,
            offsets: self.all_offsets(found),
        })
    }

    /// Every group, by name.
    pub(crate) fn list_groups(&self) -> Vec<GroupSummary> {
        self.groups.summaries()
    }
}
