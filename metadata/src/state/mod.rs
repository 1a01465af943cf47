//! The deterministic metadata state: [`MetadataState`], which every replica reaches by
//! applying the same [`Command`]s in the same order, and the reads served from it.
//!
//! It composes the topic registry ([`topics`]), per-partition indexes ([`index`]),
//! idempotent producers ([`producers`]), the broker registry ([`brokers`]), consumer
//! groups ([`groups`], their commands in [`group_ops`]) and the
//! window of recent request ids ([`requests`]); stored bytes per topic are read in
//! [`storage`]; segment
//! commits, which touch all of them, live in [`commit`]; retention (trims, released
//! objects) in [`retention`]; garbage collection (leases, garbage due) in [`gc`]; which
//! released objects the newest backup in the bucket may still reference in [`backup`].
//! openraft never appears here:
//! [`crate::state_machine`] adapts this state to it.
//!
//! Invariants:
//! - `apply` reads no clock, no randomness and does no I/O; every time in the state rode in
//!   a command.
//! - Offsets are dense per partition: a committed chunk's base offset is the partition's
//!   high watermark before it, which then grows by the chunk's record count.
//! - Commits are idempotent by object name: a segment committed before returns exactly
//!   its original [`SegmentCommitResult`](crate::types::SegmentCommitResult) and changes nothing, for as long as a retry could
//!   be accepted; after that ([`segments`]) it is refused for its age.
//! - Every command and read is checked against the [limits](crate::limits) first
//!   ([`validate`]); nothing is allocated in proportion to a number a command carries
//!   before that check passed.
//! - A refused command ([`CommandResult::Rejected`]) changes nothing.
//! - A command repeating the request id of one of the last
//!   [`REQUEST_WINDOW`](crate::limits::REQUEST_WINDOW) commands that carried one gets that
//!   command's result and changes nothing ([`requests`]).
//! - The snapshot data of a state ([`MetadataState::encode`]) decodes to an equal state.

mod assign;
mod backup;
mod brokers;
mod commit;
mod encoding;
mod gc;
mod group_ops;
mod groups;
mod index;
mod producers;
mod requests;
mod retention;
mod segments;
mod storage;
mod topics;
mod touched;
pub(crate) mod validate;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{
    BrokerView, Command, CommandError, CommandResult, OrphanList, PartitionSlice, ProducerView,
    TopicPage, TopicSettings, TopicView, Usage,
};
use crate::wire::{ReadQuery, ReadReply};

use self::brokers::Brokers;
pub(crate) use self::encoding::EncodingError;
use self::groups::Groups;
use self::index::PartitionIndex;
use self::producers::Producers;
use self::requests::Requests;
use self::segments::{SegmentExpiry, SegmentResults};
use self::topics::{Topic, Topics};

/// The deterministic metadata state. Its encoding ([`encoding`]) is the snapshot data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetadataState {
    /// Topics and their partition indexes.
    topics: Topics,
    /// The segment objects committed (or refused) within the commit horizon and the
    /// result their commit returned: the answer to a retried commit ([`segments`]).
    segments: SegmentResults,
    /// When the results in `segments` expire ([`segments`]). Absent from snapshots written
    /// before expiry existed: their results are queued at the first commit.
    #[serde(default = "SegmentExpiry::unqueued")]
    segment_expiry: SegmentExpiry,
    /// Idempotent producers: their epochs, next sequences and recent requests' offsets.
    #[serde(default)]
    producers: Producers,
    /// Registered brokers and their leases.
    #[serde(default)]
    brokers: Brokers,
    /// Uploaded objects that were never committed (garbage), with when they were recorded.
    #[serde(default)]
    orphans: imbl::OrdMap<String, i64>,
    /// The results of recent commands that carried a request id, so their retries are
    /// answered, not applied again.
    #[serde(default)]
    requests: Requests,
    /// The cluster's id, set once by the first [`Command::InitCluster`]; `None` until then.
    #[serde(default)]
    cluster_id: Option<String>,
    /// Consumer groups: their committed offsets and generations.
    #[serde(default)]
    groups: Groups,
    /// Committed objects no index entry references any more (dropped by retention or a
    /// topic delete), with when they were released: a garbage collector may delete them
    /// after a grace period.
    #[serde(default)]
    released: imbl::OrdMap<String, i64>,
    /// Named leases (the garbage collector's `gc`): who holds each and until when.
    #[serde(default)]
    leases: std::collections::BTreeMap<String, gc::Lease>,
    /// Released objects the newest backup recorded may still reference, with the log
    /// index of the entry that released them ([`backup`]): not garbage until a backup
    /// taken at or after that index is recorded.
    #[serde(default)]
    unbacked: imbl::OrdMap<String, u64>,
    /// The log index of the newest backup uploaded to the bucket
    /// ([`Command::RecordBackup`]); `None` before the first.
    #[serde(default)]
    backed_up: Option<u64>,
    /// The log index of the entry being applied ([`MetadataState::apply_at`]); 0 outside
    /// an apply. Not in snapshots.
    #[serde(skip)]
    applying: u64,
    /// How many index entries reference each committed object (derived from the indexes:
    /// not in snapshots, rebuilt by [`MetadataState::decode`]). Persistent maps, like the
    /// indexes, so a snapshot's clone of the state shares them.
    #[serde(skip)]
    refs: retention::ObjectRefs,
}

impl MetadataState {
    /// [`MetadataState::apply_at`] at log index 0 (tests of commands that do not care).
    #[cfg(test)]
    pub(crate) fn apply(&mut self, command: &Command) -> CommandResult {
        self.apply_at(0, command)
    }

    /// Applies the command of the log entry at `index` and returns what its proposer
    /// receives; a command that breaks a rule of [`validate`] is refused and changes
    /// nothing. A command repeating a remembered request id gets its first result back
    /// and is not applied again ([`requests`]). `index` is recorded as the release index of
    /// what the command releases ([`backup`]).
    pub(crate) fn apply_at(&mut self, index: u64, command: &Command) -> CommandResult {
        self.applying = index;
        let result = self.apply_checked(command);
        self.applying = 0;
        result
    }

    /// Applies `command` after [`validate::command`] and the request-id window.
    fn apply_checked(&mut self, command: &Command) -> CommandResult {
        if let Err(refusal) = validate::command(command) {
            return CommandResult::Rejected(refusal);
        }
        let Some(request_id) = command.request_id() else {
            return self.apply_valid(command);
        };
        if let Some(first) = self.requests.answer(request_id) {
            return first.clone();
        }
        let result = self.apply_valid(command);
        self.requests.record(request_id, &result);
        result
    }

    /// Applies a command that passed [`validate::command`].
    fn apply_valid(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                settings,
                created_at_ms,
                request_id: _,
                owner,
            } => {
                let created = (*created_at_ms, owner.as_deref());
                self.create_topic(name, *partitions, settings, created)
            }
            Command::DeleteTopic {
                name,
                topic_id,
                at_ms,
                ..
            } => self.delete_topic(name, *topic_id, at_ms.unwrap_or(0)),
            Command::AlterTopic { name, patch } => self.alter_topic(name, patch),
            Command::TrimPartitions { trims, at_ms } => self.trim_partitions(trims, *at_ms),
            Command::CommitSegments { segments, at_ms } => {
                CommandResult::Committed(self.commit_segments(segments, *at_ms))
            }
            Command::InitProducer {
                producer_id,
                new_id,
                owner,
                ..
            } => self.init_producer(*producer_id, *new_id, owner.as_deref()),
            Command::BrokerHeartbeat {
                broker_id,
                address,
                lease_ms,
                at_ms,
            } => CommandResult::Broker(
                self.brokers
                    .heartbeat(broker_id, address, *lease_ms, *at_ms),
            ),
            Command::RecordOrphans { objects, at_ms } => self.record_orphans(objects, *at_ms),
            Command::InitCluster { cluster_id } => {
                let id = self.cluster_id.get_or_insert_with(|| cluster_id.clone());
                CommandResult::Cluster(id.clone())
            }
            Command::CommitOffsets {
                group,
                generation,
                member_id,
                offsets,
                at_ms,
            } => {
                let member = (member_id.as_deref(), *generation);
                self.commit_offsets(group, member, offsets, *at_ms)
            }
            Command::ResetOffsets {
                group,
                targets,
                force,
                at_ms,
            } => self.reset_offsets(group, targets, *force, *at_ms),
            Command::DeleteGroup { group } => self.delete_group(group),
            Command::JoinGroup {
                group,
                member,
                at_ms,
            } => self.join_group(group, member, *at_ms),
            Command::LeaveGroup { group, member_id } => self.leave_group(group, member_id),
            Command::ExpireMembers { group, member_ids } => self.expire_members(group, member_ids),
            Command::ExpireProducers { idle_ms, at_ms } => CommandResult::ProducersExpired {
                removed: self.producers.expire(*idle_ms, *at_ms),
            },
            Command::TakeLease {
                name,
                holder,
                until_ms,
                at_ms,
            } => self.take_lease(name, holder, *until_ms, *at_ms),
            Command::ForgetGarbage { objects } => self.forget_garbage(objects),
            Command::RecordBackup { index } => self.record_backup(*index),
        }
    }

    /// Creates a topic ([`Command::CreateTopic`]) at `(created_at_ms, owner)`; refused if
    /// the name is taken or the topic would pass a quota ([`validate::topic_quota`]).
    fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        settings: &TopicSettings,
        (created_at_ms, owner): (i64, Option<&str>),
    ) -> CommandResult {
        if self.topics.get(name).is_none()
            && let Err(refusal) = validate::topic_quota(&self.usage(), partitions)
        {
            return CommandResult::Rejected(refusal);
        }
        match self
            .topics
            .create(name, partitions, settings, created_at_ms, owner)
        {
            Some(topic) => CommandResult::Topic(topic.view()),
            None => CommandResult::Rejected(CommandError::TopicAlreadyExists(name.to_owned())),
        }
    }

    /// Deletes a topic and its index ([`Command::DeleteTopic`]), releasing the objects only
    /// it referenced at `at_ms`; refused if there is no such topic, or if `name` belongs to
    /// a topic other than `topic_id`.
    fn delete_topic(&mut self, name: &str, topic_id: Option<u64>, at_ms: i64) -> CommandResult {
        let current = self.topics.get(name).map(|topic| topic.id);
        if let (Some(current), Some(wanted)) = (current, topic_id)
            && current != wanted
        {
            return CommandResult::Rejected(CommandError::TopicIdMismatch {
                name: name.to_owned(),
                topic_id: wanted,
                current,
            });
        }
        match self.topics.delete(name) {
            Some(topic) => {
                self.release_topic(topic, at_ms);
                for group in self.groups.forget_topic(name) {
                    self.rebalance(&group);
                }
                CommandResult::Deleted
            }
            None => CommandResult::Rejected(missing_topic(name)),
        }
    }

    /// Issues a producer id or bumps an issued one's epoch ([`Command::InitProducer`]);
    /// refused for an id never issued, and a new id past the quota
    /// ([`validate::producer_quota`]).
    fn init_producer(
        &mut self,
        producer_id: Option<u64>,
        new_id: Option<u64>,
        owner: Option<&str>,
    ) -> CommandResult {
        if producer_id.is_none()
            && let Err(refusal) = validate::producer_quota(&self.usage())
        {
            return CommandResult::Rejected(refusal);
        }
        match self.producers.init(producer_id, new_id, owner) {
            Ok(view) => CommandResult::Producer(view),
            Err(refusal) => CommandResult::Rejected(refusal),
        }
    }

    /// Records uploaded objects as garbage ([`Command::RecordOrphans`]), skipping committed
    /// ones; an object keeps the time it was first recorded at.
    fn record_orphans(&mut self, objects: &[String], at_ms: i64) -> CommandResult {
        for object in objects {
            // A committed object is never garbage, whatever a broker believes.
            if !self.segments.contains_key(object) {
                self.orphans.entry(object.clone()).or_insert(at_ms);
            }
        }
        CommandResult::Recorded
    }

    /// A producer's current identity.
    pub(crate) fn producer(&self, id: u64) -> Option<ProducerView> {
        self.producers.view(id)
    }

    /// How many segment objects' commit results the state keeps.
    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// How much the state holds of each part that grows with use (one pass over the
    /// partitions).
    pub(crate) fn sizes(&self) -> crate::state_metrics::StateSizes {
        let partitions = self.topics.iter().flat_map(|t| t.partitions.iter());
        crate::state_metrics::StateSizes {
            segments: self.segments.len() as u64,
            producers: self.producers.len() as u64,
            index_entries: partitions.map(|p| p.entries.len() as u64).sum(),
            orphans: self.orphans.len() as u64,
        }
    }

    /// Whether `other` (a clone) shares this state's large parts rather than copies of
    /// them: the segment record, the orphans and every partition index.
    #[cfg(test)]
    pub(crate) fn shares_structure_with(&self, other: &Self) -> bool {
        let indexes = |s: &Self| -> Vec<imbl::OrdMap<u64, crate::types::IndexEntry>> {
            let topics = s.topics.iter();
            topics
                .flat_map(|t| t.partitions.iter().map(|p| p.entries.clone()))
                .collect()
        };
        let shared_indexes = indexes(self)
            .iter()
            .zip(indexes(other).iter())
            .all(|(a, b)| a.ptr_eq(b));
        shared_indexes
            && self.segments.ptr_eq(&other.segments)
            && self.orphans.ptr_eq(&other.orphans)
    }

    /// Whether an [`Command::ExpireProducers`] of `idle_ms` at `at_ms` would change
    /// anything: some producer id is idle past it, or its idle time has not started.
    pub(crate) fn producers_to_sweep(&self, idle_ms: u64, at_ms: i64) -> bool {
        self.producers.to_sweep(idle_ms, at_ms)
    }

    /// Every registered broker.
    pub(crate) fn list_brokers(&self) -> Vec<BrokerView> {
        self.brokers.list()
    }

    /// Objects recorded as garbage, with when they were recorded.
    #[cfg(test)]
    pub(crate) fn orphans(&self) -> &imbl::OrdMap<String, i64> {
        &self.orphans
    }

    /// How many objects are recorded as garbage, and the first `limit` of them by name
    /// (at most [`MAX_ORPHAN_LIST`](crate::limits::MAX_ORPHAN_LIST)).
    pub(crate) fn orphan_list(&self, limit: usize) -> Result<OrphanList> {
        validate::orphan_list(limit)?;
        Ok(OrphanList {
            count: self.orphans.len(),
            objects: self
                .orphans
                .iter()
                .take(limit)
                .map(|(object, at)| (object.clone(), *at))
                .collect(),
        })
    }

    /// Serves one read, after checking it like a command.
    pub(crate) fn query(&self, query: &ReadQuery) -> Result<ReadReply> {
        match query {
            ReadQuery::ListTopics => Ok(ReadReply::Topics(self.list_topics())),
            ReadQuery::DescribeTopic { name } => self.describe_topic(name).map(ReadReply::Topic),
            ReadQuery::PartitionSlice {
                topic,
                partition,
                offset,
                max_entries,
            } => self
                .partition_slice(topic, *partition, *offset, *max_entries)
                .map(ReadReply::Slice),
            ReadQuery::TimeSlice {
                topic,
                partition,
                timestamp_ms,
                max_entries,
            } => self
                .time_slice(topic, *partition, *timestamp_ms, *max_entries)
                .map(ReadReply::Slice),
            ReadQuery::ListBrokers => Ok(ReadReply::Brokers(self.list_brokers())),
            ReadQuery::Producer { producer_id } => {
                Ok(ReadReply::Producer(self.producer(*producer_id)))
            }
            ReadQuery::Orphans { limit } => self.orphan_list(*limit).map(ReadReply::Orphans),
            ReadQuery::TopicPage { after, limit } => self
                .topic_page(after.as_deref(), *limit)
                .map(ReadReply::TopicPage),
            ReadQuery::Usage => Ok(ReadReply::Usage(self.usage())),
            ReadQuery::ClusterId => Ok(ReadReply::ClusterId(self.cluster_id.clone())),
            ReadQuery::UsageOf { owner } => Ok(ReadReply::Usage(self.usage_of(owner))),
            ReadQuery::ListGroups => Ok(ReadReply::Groups(self.list_groups())),
            ReadQuery::DescribeGroup { group } => self.describe_group(group).map(ReadReply::Group),
            ReadQuery::RetentionPlan {
                at_ms,
                defaults,
                limit,
            } => self
                .retention_plan(*at_ms, *defaults, *limit)
                .map(ReadReply::RetentionPlan),
            ReadQuery::StoragePage { after, limit } => self
                .storage_page(after.as_deref(), *limit)
                .map(ReadReply::StoragePage),
            ReadQuery::Garbage {
                released_before,
                orphaned_before,
                limit,
                after_backup,
            } => {
                let due = gc::DueBefore {
                    released: *released_before,
                    orphaned: *orphaned_before,
                    after_backup: *after_backup,
                };
                self.garbage(due, *limit).map(ReadReply::Garbage)
            }
            ReadQuery::InUse {
                objects,
                released_before,
                after_backup,
            } => {
                let due = gc::DueBefore {
                    released: *released_before,
                    orphaned: i64::MIN,
                    after_backup: *after_backup,
                };
                self.in_use(objects, due).map(ReadReply::InUse)
            }
            ReadQuery::Referenced { after, limit } => self
                .referenced(after.as_deref(), *limit)
                .map(ReadReply::Referenced),
        }
    }

    /// How much of the cluster's quotas is in use: topics, partitions over all topics (one
    /// pass over the topics), producer ids.
    pub(crate) fn usage(&self) -> Usage {
        let partitions = self.topics.iter().map(|t| t.partitions.len() as u64).sum();
        Usage {
            topics: self.topics.len() as u64,
            partitions,
            producer_ids: self.producers.len() as u64,
        }
    }

    /// How much `owner` owns: the topics it created and their partitions, its producer
    /// ids. One pass over the topics and the producers.
    pub(crate) fn usage_of(&self, owner: &str) -> Usage {
        let owned = || {
            self.topics
                .iter()
                .filter(|t| t.owner.as_deref() == Some(owner))
        };
        Usage {
            topics: owned().count() as u64,
            partitions: owned().map(|t| t.partitions.len() as u64).sum(),
            producer_ids: self.producers.owned_by(owner),
        }
    }

    /// At most `limit` topics (1 to [`MAX_TOPIC_PAGE`](crate::limits::MAX_TOPIC_PAGE)) named
    /// after `after`, in name order, ending before the topic that would take the page past
    /// [`MAX_PAGE_PARTITIONS`](crate::limits::MAX_PAGE_PARTITIONS) (the first always fits),
    /// and the name to continue after when more follow. Visits only the page's topics.
    pub(crate) fn topic_page(&self, after: Option<&str>, limit: usize) -> Result<TopicPage> {
        validate::topic_page(after, limit)?;
        let mut rest = self.topics.after(after).peekable();
        let mut topics: Vec<TopicView> = Vec::new();
        let mut partitions = 0;
        while let Some(topic) = rest.next_if(|t| fits_page(topics.len(), partitions, limit, t)) {
            partitions += topic.partitions.len();
            topics.push(topic.view());
        }
        let next_after = match rest.peek() {
            Some(_) => topics.last().map(|t| t.name.clone()),
            None => None,
        };
        Ok(TopicPage { topics, next_after })
    }

    /// All topics, in name order.
    pub(crate) fn list_topics(&self) -> Vec<TopicView> {
        self.topics.iter().map(Topic::view).collect()
    }

    /// One topic by name; [`CommandError::TopicNotFound`] if there is none.
    pub(crate) fn describe_topic(&self, name: &str) -> Result<TopicView> {
        self.topic(name).map(Topic::view)
    }

    /// At most `max_entries` contiguous index entries of `topic`/`partition`, starting with
    /// the one covering `offset` (none if `offset` is outside the readable range), with
    /// the partition's bounds. `max_entries` is at most
    /// [`MAX_SLICE_ENTRIES`](crate::limits::MAX_SLICE_ENTRIES).
    pub(crate) fn partition_slice(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: usize,
    ) -> Result<PartitionSlice> {
        self.slice_of(topic, partition, max_entries, |index| {
            index.slice(offset, max_entries)
        })
    }

    /// [`Self::partition_slice`] from the first entry holding a record stamped at or after
    /// `timestamp_ms` (none if no record is).
    pub(crate) fn time_slice(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
        max_entries: usize,
    ) -> Result<PartitionSlice> {
        self.slice_of(topic, partition, max_entries, |index| {
            index.slice_at_time(timestamp_ms, max_entries)
        })
    }

    /// The partition's bounds and the entries `pick` takes from its index, after checking
    /// `max_entries` and that the partition exists.
    fn slice_of(
        &self,
        topic: &str,
        partition: u32,
        max_entries: usize,
        pick: impl FnOnce(&PartitionIndex) -> Vec<crate::types::IndexEntry>,
    ) -> Result<PartitionSlice> {
        validate::slice_entries(max_entries)?;
        let (topic_id, index) = self.partition_index(topic, partition)?;
        Ok(PartitionSlice {
            topic_id,
            start_offset: index.start_offset,
            high_watermark: index.high_watermark,
            entries: pick(index),
        })
    }

    /// The id of `topic` and the index of its `partition`, or the refusal a reader gets.
    fn partition_index(&self, topic: &str, partition: u32) -> Result<(u64, &PartitionIndex)> {
        let found = self.topic(topic)?;
        let index = found
            .partition(partition)
            .ok_or_else(|| Error::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
                partitions: found.partition_count(),
            })?;
        Ok((found.id, index))
    }

    /// The topic named `name`, or the refusal a reader gets for a missing one.
    fn topic(&self, name: &str) -> Result<&Topic> {
        self.topics
            .get(name)
            .ok_or_else(|| Error::Rejected(missing_topic(name)))
    }

    /// The state as snapshot data (the bytes openraft ships to followers; [`encoding`]).
    pub(crate) fn encode(&self) -> std::result::Result<Vec<u8>, EncodingError> {
        encoding::encode(self)
    }

    /// Decodes snapshot data written by [`MetadataState::encode`], or by an older version
    /// as JSON, rebuilding what is derived from the indexes.
    pub(crate) fn decode(data: &[u8]) -> std::result::Result<Self, EncodingError> {
        let mut state = encoding::decode(data)?;
        state.rebuild_derived();
        Ok(state)
    }
}

/// Whether `topic` joins a page that holds `count` topics of `partitions` partitions, at
/// most `limit` topics and [`MAX_PAGE_PARTITIONS`](crate::limits::MAX_PAGE_PARTITIONS)
/// partitions (an empty page takes any topic).
fn fits_page(count: usize, partitions: usize, limit: usize, topic: &Topic) -> bool {
    let max = crate::limits::MAX_PAGE_PARTITIONS;
    count == 0 || (count < limit && partitions + topic.partitions.len() <= max)
}

/// The refusal for a name no topic has: [`CommandError::InvalidTopicName`] if no topic may
/// have it, else [`CommandError::TopicNotFound`].
fn missing_topic(name: &str) -> CommandError {
    match validate::topic_name(name) {
        Ok(()) => CommandError::TopicNotFound(name.to_owned()),
        Err(invalid) => invalid,
    }
}

#[cfg(test)]
mod backup_tests;
#[cfg(test)]
mod encoding_tests;
#[cfg(test)]
mod gc_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod produce_commit_tests;
#[cfg(test)]
mod producer_expiry_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod segment_expiry_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod validation_tests;
