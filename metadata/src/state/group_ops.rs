//! The consumer-group commands and reads of [`MetadataState`]: they check offsets against
//! the topics' partition ranges and members against the group, then change
//! [`Groups`](super::groups::Groups). Every check runs before the first change, so a refused
//! command changes nothing. Membership changes recompute the assignment here, from the
//! topics' partition counts, with the group's assignor ([`super::assign`]).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::limits::MAX_MEMBERS_PER_GROUP;
use crate::types::{
    Assignor, CommandError, CommandResult, CommittedOffsetView, GroupSummary, GroupView,
    MemberAssignment, MemberJoin, OffsetCommit, ResetTarget, ResetTo,
};

use super::assign::{self, Assignment};
use super::groups::{Committed, Group, Member};
use super::{MetadataState, missing_topic, validate};

/// A refusal as a command result.
fn rejected(refusal: CommandError) -> CommandResult {
    CommandResult::Rejected(refusal)
}

impl MetadataState {
    /// Commits `offsets` for `group` ([`Command::CommitOffsets`](crate::types::Command::CommitOffsets)).
    pub(super) fn commit_offsets(
        &mut self,
        group: &str,
        member: (Option<&str>, Option<u64>),
        offsets: &[OffsetCommit],
        at_ms: i64,
    ) -> CommandResult {
        let checked = self.check_committer(group, member, offsets).and_then(|()| {
            offsets
                .iter()
                .try_for_each(|o| self.check_offset(&o.topic, o.partition, o.offset))
        });
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
        force: bool,
        at_ms: i64,
    ) -> CommandResult {
        if !force && let Err(refusal) = self.check_empty(group, "reset with force to reset anyway")
        {
            return rejected(refusal);
        }
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
        if let Err(refusal) = self.check_empty(group, "members must leave (or expire) first") {
            return rejected(refusal);
        }
        match self.groups.delete(group) {
            true => CommandResult::GroupDeleted,
            false => rejected(CommandError::GroupNotFound(group.to_owned())),
        }
    }

    /// A commit's committer: a member of the group's current generation reading every
    /// topic committed, or, for a simple commit, a group without members.
    fn check_committer(
        &self,
        group: &str,
        member: (Option<&str>, Option<u64>),
        offsets: &[OffsetCommit],
    ) -> Result<(), CommandError> {
        let (Some(member_id), Some(generation)) = member else {
            let what =
                "a simple commit (without member_id and generation) needs a group without members";
            return self.check_empty(group, what);
        };
        let found = self.member_of(group, member_id)?;
        if generation != found.generation {
            return Err(CommandError::StaleGeneration {
                group: group.to_owned(),
                generation,
                current: found.generation,
            });
        }
        match offsets.iter().find(|o| !found.reads(&o.topic)) {
            Some(o) => Err(CommandError::NotSubscribed {
                group: group.to_owned(),
                topic: o.topic.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The group of `member_id`, or [`CommandError::UnknownMember`].
    fn member_of(&self, group: &str, member_id: &str) -> Result<&Group, CommandError> {
        match self.groups.get(group) {
            Some(found) if found.members.contains_key(member_id) => Ok(found),
            _ => Err(CommandError::UnknownMember {
                group: group.to_owned(),
                member_id: member_id.to_owned(),
            }),
        }
    }

    /// Refuses with [`CommandError::GroupNotEmpty`] (saying `what`) if `group` has members.
    fn check_empty(&self, group: &str, what: &str) -> Result<(), CommandError> {
        let members = self.groups.get(group).map_or(0, |g| g.members.len() as u64);
        if members == 0 {
            return Ok(());
        }
        Err(CommandError::GroupNotEmpty {
            group: group.to_owned(),
            members,
            what: what.to_owned(),
        })
    }

    /// A member joins or rejoins ([`Command::JoinGroup`](crate::types::Command::JoinGroup)).
    pub(super) fn join_group(
        &mut self,
        group: &str,
        join: &MemberJoin,
        at_ms: i64,
    ) -> CommandResult {
        if let Err(refusal) = self.check_join(group, join) {
            return rejected(refusal);
        }
        let member = Member {
            client_id: join.client_id.clone(),
            topics: join.topics.iter().cloned().collect(),
            session_timeout_ms: join.session_timeout_ms,
            joined_at_ms: at_ms,
        };
        let entry = self.groups.entry(group);
        let previous = entry.members.insert(join.member_id.clone(), member.clone());
        entry.assignor = join.assignor;
        if previous.is_none_or(|p| p.topics != member.topics) {
            self.rebalance(group);
        }
        let found = self.groups.get(group);
        let generation = found.map_or(0, |g| g.generation);
        let assignment = found
            .map(|g| g.assigned(&join.member_id))
            .unwrap_or_default();
        CommandResult::Joined(MemberAssignment {
            member_id: join.member_id.clone(),
            generation,
            assignment,
            session_timeout_ms: join.session_timeout_ms,
        })
    }

    /// A join's checks: a rejoining member is a member, its topics exist, the group's
    /// assignor matches, and a new member fits the limits.
    fn check_join(&self, group: &str, join: &MemberJoin) -> Result<(), CommandError> {
        let found = self.groups.get(group);
        let known = found.is_some_and(|g| g.members.contains_key(&join.member_id));
        if !join.new && !known {
            return Err(CommandError::UnknownMember {
                group: group.to_owned(),
                member_id: join.member_id.clone(),
            });
        }
        for topic in &join.topics {
            self.topics.get(topic).ok_or_else(|| missing_topic(topic))?;
        }
        let others = found.map_or(0, |g| g.members.len() - usize::from(known));
        if let Some(found) = found.filter(|_| others > 0) {
            check_assignor(found, group, join.assignor)?;
        }
        if known {
            return Ok(());
        }
        self.groups.check_new(group)?;
        let quota = "limits::MAX_MEMBERS_PER_GROUP";
        validate::quota(quota, MAX_MEMBERS_PER_GROUP, others as u64, 1)
    }

    /// A member leaves ([`Command::LeaveGroup`](crate::types::Command::LeaveGroup)).
    pub(super) fn leave_group(&mut self, group: &str, member_id: &str) -> CommandResult {
        if let Err(refusal) = self.member_of(group, member_id) {
            return rejected(refusal);
        }
        self.remove_members(group, &[member_id.to_owned()])
    }

    /// Members silent too long are removed ([`Command::ExpireMembers`](crate::types::Command::ExpireMembers));
    /// ones already gone are skipped.
    pub(super) fn expire_members(&mut self, group: &str, member_ids: &[String]) -> CommandResult {
        self.remove_members(group, member_ids)
    }

    /// Removes the members of `member_ids` that belong to `group`; a new generation if any
    /// did.
    fn remove_members(&mut self, group: &str, member_ids: &[String]) -> CommandResult {
        let Some(found) = self.groups.get_mut(group) else {
            return CommandResult::Rebalanced {
                generation: 0,
                removed: 0,
            };
        };
        let before = found.members.len();
        found.members.retain(|id, _| !member_ids.contains(id));
        let removed = (before - found.members.len()) as u64;
        let generation = found.generation;
        if removed == 0 {
            return CommandResult::Rebalanced {
                generation,
                removed,
            };
        }
        self.rebalance(group);
        let generation = self.groups.get(group).map_or(0, |g| g.generation);
        CommandResult::Rebalanced {
            generation,
            removed,
        }
    }

    /// Recomputes `group`'s assignment from its members and the partition counts of the
    /// topics they read, in a new generation.
    pub(super) fn rebalance(&mut self, group: &str) {
        let Some(found) = self.groups.get(group) else {
            return;
        };
        let assignment = self.assign(found);
        if let Some(found) = self.groups.get_mut(group) {
            found.rebalanced(assignment);
        }
    }

    /// The assignment of `group`'s partitions with its assignor.
    fn assign(&self, group: &Group) -> Assignment {
        let subscriptions = group.subscriptions();
        let mut partitions = BTreeMap::new();
        for topic in subscriptions.values().flatten() {
            if let Some(found) = self.topics.get(topic) {
                partitions.insert(topic.clone(), found.partition_count());
            }
        }
        match group.assignor {
            Assignor::Range => assign::range(&subscriptions, &partitions),
            Assignor::Sticky => assign::sticky(&subscriptions, &partitions, &group.assignment),
        }
    }

    /// The member's place after a heartbeat naming `generation` (its own view): the
    /// current generation and its partitions, and whether a rebalance passed it by.
    pub(crate) fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        generation: Option<u64>,
    ) -> Result<(MemberAssignment, bool), CommandError> {
        validate::group_name(group)?;
        let found = self.member_of(group, member_id)?;
        let current = found.generation;
        if generation.is_some_and(|g| g > current) {
            return Err(CommandError::StaleGeneration {
                group: group.to_owned(),
                generation: generation.unwrap_or(current),
                current,
            });
        }
        let session_timeout_ms = found
            .members
            .get(member_id)
            .map_or(0, |m| m.session_timeout_ms);
        let assignment = MemberAssignment {
            member_id: member_id.to_owned(),
            generation: current,
            assignment: found.assigned(member_id),
            session_timeout_ms,
        };
        Ok((assignment, generation.is_some_and(|g| g < current)))
    }

    /// Every member of every group with its session timeout (the session tracker).
    pub(crate) fn sessions(&self) -> Vec<(String, String, u64)> {
        let mut sessions = Vec::new();
        for (name, group) in self.groups.iter() {
            for (id, member) in &group.members {
                sessions.push((name.clone(), id.clone(), member.session_timeout_ms));
            }
        }
        sessions
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

    /// One committed offset with its lag, counted from the partition's start offset when
    /// the offset fell below it (retention dropped those records; a consumer resumes there).
    fn offset_view(&self, topic: &str, partition: u32, c: &Committed) -> CommittedOffsetView {
        let (start, high_watermark) = self
            .offset_range(topic, partition)
            .unwrap_or((c.offset, c.offset));
        CommittedOffsetView {
            topic: topic.to_owned(),
            partition,
            offset: c.offset,
            metadata: c.metadata.clone(),
            committed_at_ms: c.committed_at_ms,
            lag: high_watermark.saturating_sub(c.offset.max(start)),
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
            assignor: found.assignor,
            members: found.member_views(),
            offsets: self.all_offsets(found),
        })
    }

    /// Every group, by name.
    pub(crate) fn list_groups(&self) -> Vec<GroupSummary> {
        self.groups.summaries()
    }
}

/// A group with members keeps its assignor: another is refused
/// ([`CommandError::GroupNotEmpty`]).
fn check_assignor(group: &Group, name: &str, asked: Assignor) -> Result<(), CommandError> {
    if group.assignor == asked {
        return Ok(());
    }
    Err(CommandError::GroupNotEmpty {
        group: name.to_owned(),
        members: group.members.len() as u64,
        what: format!(
            "they use the {} assignor, so a join must ask for it (or wait until they leave)",
            group.assignor.as_str()
        ),
    })
}
