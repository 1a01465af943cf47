//! [`MetadataClient`]: the one way a broker reaches the metadata service.
//!
//! Two implementations run the same state machine: [`LocalClient`] calls into an embedded
//! openraft node (used by `silt dev`, no network hop); [`HttpClient`] reaches a metadata
//! cluster over HTTP, following the leader. Both are a [`Transport`] (propose a
//! [`Command`], serve a [`ReadQuery`]); the typed operations of [`MetadataClient`] are
//! written once, on top of it.

mod http;
mod local;

pub use http::HttpClient;
pub use local::LocalClient;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::proposal::{ProposalSize, proposal_runs};
use crate::types::{
    BrokerView, ChangeFeed, Command, CommandError, CommandResult, CommittedOffsetView, GarbageList,
    GroupSummary, GroupView, HeartbeatView, LeaseView, MemberAssignment, MemberJoin, NodeStatus,
    OffsetCommit, OrphanList, PartitionSlice, PartitionTrim, PlannedTrim, ProducerView,
    ResetTarget, RetentionDefaults, SegmentCommit, SegmentCommitResult, StoragePage, TopicPage,
    TopicSettings, TopicSettingsPatch, TopicView, TrimOutcome, Usage,
};
use crate::wire::{HeartbeatCall, ReadQuery, ReadReply};

/// The metadata operations a broker needs.
#[async_trait]
pub trait MetadataClient: Send + Sync + 'static {
    /// Creates a topic. `created_at_ms` is the caller's clock.
    async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
        created_at_ms: i64,
    ) -> Result<TopicView>;

    /// Deletes a topic; with `topic_id`, only if `name` still belongs to that topic
    /// ([`CommandError::TopicIdMismatch`](crate::types::CommandError::TopicIdMismatch) otherwise),
    /// so a retry never deletes a topic recreated under the name in between.
    async fn delete_topic(&self, name: &str, topic_id: Option<u64>) -> Result<()>;

    /// Changes a topic's retention settings and answers the topic as changed.
    async fn alter_topic(&self, name: &str, patch: TopicSettingsPatch) -> Result<TopicView>;

    /// The trims retention calls for at `at_ms` (each topic's settings, else `defaults`),
    /// at most `limit` (1 to [`MAX_TRIMS_PER_COMMAND`](crate::limits::MAX_TRIMS_PER_COMMAND))
    /// (linearizable; changes nothing).
    async fn retention_plan(
        &self,
        at_ms: i64,
        defaults: RetentionDefaults,
        limit: usize,
    ) -> Result<Vec<PlannedTrim>>;

    /// Drops the index entries below each trim's start offset (one Raft entry); objects
    /// left unreferenced are released at `at_ms`. Stale trims drop nothing.
    async fn trim_partitions(
        &self,
        trims: Vec<PartitionTrim>,
        at_ms: i64,
    ) -> Result<Vec<TrimOutcome>>;

    /// Takes or renews the lease `name` for `holder` until `until_ms` (one Raft entry) and
    /// answers the lease as it stands: held by someone else while their lease is live.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        until_ms: i64,
        at_ms: i64,
    ) -> Result<LeaseView>;

    /// At most `limit` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// unreferenced objects a collector may delete: released before `released_before`,
    /// orphans recorded before `orphaned_before`; with `after_backup` (backups are on),
    /// only released objects no longer awaiting a backup (linearizable; changes nothing).
    async fn garbage(
        &self,
        released_before: i64,
        orphaned_before: i64,
        limit: usize,
        after_backup: bool,
    ) -> Result<GarbageList>;

    /// Forgets deleted garbage (one Raft entry): answers how many objects left the lists.
    async fn forget_garbage(&self, objects: Vec<String>) -> Result<u64>;

    /// Which of `objects` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// are in use: referenced by an index entry, released at or after `released_before`,
    /// or (with `after_backup`) released after the newest backup (linearizable; changes
    /// nothing).
    async fn in_use(
        &self,
        objects: Vec<String>,
        released_before: i64,
        after_backup: bool,
    ) -> Result<Vec<String>>;

    /// A backup of the state: a snapshot file of it as of the leader's last applied entry,
    /// built without holding up apply (linearizable; changes nothing).
    async fn backup(&self) -> Result<crate::backup::Backup>;

    /// Records that the backup taken at log `index` is in the bucket
    /// ([`Command::RecordBackup`]); answers the newest backup index recorded.
    async fn record_backup(&self, index: u64) -> Result<Option<u64>>;

    /// At most `limit` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// objects an index entry references, in name order, after `after` (from the first when
    /// `None`); linearizable, changes nothing. Every object named exists in the bucket
    /// unless garbage collection is broken (the lifecycle race test pages through them).
    async fn referenced_objects(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>>;

    /// Lists every topic by name (linearizable). Unbounded: serve clients with
    /// [`MetadataClient::topic_page`].
    async fn list_topics(&self) -> Result<Vec<TopicView>>;

    /// At most `limit` topics (1 to [`MAX_TOPIC_PAGE`](crate::limits::MAX_TOPIC_PAGE)) named
    /// after `after`, in name order, with at most
    /// [`MAX_PAGE_PARTITIONS`](crate::limits::MAX_PAGE_PARTITIONS) partitions over them, and
    /// the name to ask for the next page after (linearizable).
    async fn topic_page(&self, after: Option<&str>, limit: usize) -> Result<TopicPage>;

    /// How much of the cluster's quotas is in use: topics, partitions, producer ids
    /// (linearizable).
    async fn usage(&self) -> Result<Usage>;

    /// How much the principal `owner` owns: the topics it created and their partitions,
    /// its producer ids (linearizable).
    async fn usage_of(&self, owner: &str) -> Result<Usage>;

    /// [`MetadataClient::create_topic`] recording `owner` as the principal that created
    /// it (`None`: no owner, as without authentication).
    async fn create_owned_topic(
        &self,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
        created_at_ms: i64,
        owner: Option<&str>,
    ) -> Result<TopicView>;

    /// Describes one topic (linearizable).
    async fn describe_topic(&self, name: &str) -> Result<TopicView>;

    /// Commits segments in order, in one Raft entry per proposal-sized run
    /// ([`proposal_runs`](crate::proposal::proposal_runs): segments, chunks and bytes are
    /// bounded; each run is committed before the next is sent, so on an error a prefix may
    /// be committed). Segments the local node has applied already are answered from its
    /// state, not proposed again. Idempotent by object name, so retrying the whole list
    /// after an error is safe.
    async fn commit_segments(
        &self,
        segments: Vec<SegmentCommit>,
    ) -> Result<Vec<SegmentCommitResult>>;

    /// The index entries of `topic`/`partition` from the one covering `offset`, at most
    /// `max_entries` of them, with the partition's bounds (linearizable).
    async fn partition_slice(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: usize,
    ) -> Result<PartitionSlice>;

    /// [`MetadataClient::partition_slice`] from the first entry (in offset order) holding a
    /// record stamped at or after `timestamp_ms`; no entries when no record is
    /// (linearizable). The record itself is found by reading that entry's chunk.
    async fn time_slice(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
        max_entries: usize,
    ) -> Result<PartitionSlice>;

    /// A counter that changes each time the state machine applies an entry.
    fn subscribe_applied(&self) -> watch::Receiver<u64>;

    /// The change feed: which partitions changed (new high watermark, or topic deleted)
    /// in the entries after log index `after`, answered once some node has applied an
    /// entry past `after` or `wait` passed (then possibly an empty list). A
    /// [`ChangeFeed::Reset`] means the node no longer knows what changed since `after`
    /// (too long ago, or it restarted): anything may have. Ask next after the answer's
    /// `applied`. Not linearizable: follow it with a linearizable read before acting.
    /// Brokers wake long-polls with it, one partition at a time.
    async fn watch_changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed>;

    /// Issues a new idempotent producer id (`None`: a random one, 1 to `i64::MAX`) or
    /// bumps an existing one's epoch, fencing its older instances. A new id is issued to
    /// `owner` (the principal asking; `None` without authentication), and only its owner
    /// may bump an owned id ([`CommandError::ProducerNotOwned`] otherwise).
    async fn init_producer(
        &self,
        producer_id: Option<u64>,
        owner: Option<&str>,
    ) -> Result<ProducerView>;

    /// A producer's current identity (`None`: never issued), linearizable.
    async fn producer(&self, producer_id: u64) -> Result<Option<ProducerView>>;

    /// Registers a broker or renews its lease; `at_ms` is the broker's clock.
    async fn broker_heartbeat(
        &self,
        broker_id: &str,
        address: &str,
        lease_ms: u64,
        at_ms: i64,
    ) -> Result<BrokerView>;

    /// Registered brokers (linearizable).
    async fn list_brokers(&self) -> Result<Vec<BrokerView>>;

    /// Objects recorded as garbage: their count and the first `limit` by name
    /// (linearizable).
    async fn orphans(&self, limit: usize) -> Result<OrphanList>;

    /// Stored bytes and objects of at most `limit` topics (1 to
    /// [`MAX_STORAGE_PAGE`](crate::limits::MAX_STORAGE_PAGE)) named after `after`, in name
    /// order, fewer when their index entries pass
    /// [`MAX_STORAGE_PAGE_ENTRIES`](crate::limits::MAX_STORAGE_PAGE_ENTRIES), with the
    /// garbage-collection backlog (linearizable). Costs one pass over the page's entries.
    async fn storage_page(&self, after: Option<&str>, limit: usize) -> Result<StoragePage>;

    /// The cluster's id: the one set, or, if none is yet, a fresh one this call sets (the
    /// first `InitCluster` applied wins, so every caller gets the same id). A Raft write.
    async fn cluster_id(&self) -> Result<String>;

    /// The cluster's id if one is set (linearizable read; sets nothing).
    async fn known_cluster_id(&self) -> Result<Option<String>>;

    /// Records uploaded objects that were never committed, for garbage collection.
    async fn record_orphans(&self, objects: Vec<String>, at_ms: i64) -> Result<()>;

    /// Commits a consumer group's offsets (a Raft write), creating the group on its first
    /// commit; `member` is the committing member's id and generation, both `None` for a
    /// simple commit (one without the other is refused). Answers the offsets set, with
    /// their lag.
    async fn commit_offsets(
        &self,
        group: &str,
        member: (Option<&str>, Option<u64>),
        offsets: Vec<OffsetCommit>,
    ) -> Result<Vec<CommittedOffsetView>>;

    /// Moves a group's offsets to `targets` (a Raft write); refused while the group has
    /// members unless `force`. Answers the offsets set.
    async fn reset_offsets(
        &self,
        group: &str,
        targets: Vec<ResetTarget>,
        force: bool,
    ) -> Result<Vec<CommittedOffsetView>>;

    /// A member joins a group (a Raft write: the generation is bumped and the assignment
    /// recomputed). `join.member_id` is ignored when `join.new`: a fresh id is made here.
    async fn join_group(&self, group: &str, join: MemberJoin) -> Result<MemberAssignment>;

    /// A member leaves its group (a Raft write).
    async fn leave_group(&self, group: &str, member_id: &str) -> Result<()>;

    /// A member's heartbeat, answered by the metadata leader from its state and recorded in
    /// its in-memory liveness table: never a Raft write.
    async fn group_heartbeat(
        &self,
        group: &str,
        member_id: &str,
        generation: Option<u64>,
    ) -> Result<HeartbeatView>;

    /// Deletes a group and its offsets (a Raft write).
    async fn delete_group(&self, group: &str) -> Result<()>;

    /// Every consumer group, by name (linearizable).
    async fn list_groups(&self) -> Result<Vec<GroupSummary>>;

    /// One group with its offsets and their lag (linearizable).
    async fn describe_group(&self, group: &str) -> Result<GroupView>;

    /// The Raft cluster as the leader (or, failing that, any reachable node) sees it.
    async fn status(&self) -> Result<NodeStatus>;

    /// Whether the service can currently order writes (a leader is known and reachable).
    async fn is_ready(&self) -> bool;

    /// Why the embedded node stopped for good (a fatal Raft error, such as a failed log
    /// write), if it did; `None` while it runs, and always for a remote cluster.
    fn failure(&self) -> Option<String>;
}

/// How a client reaches the state machine: proposals and linearizable reads, plus what
/// differs per deployment.
#[async_trait]
pub(crate) trait Transport: Send + Sync + 'static {
    /// Proposes `command`; a refusal is [`Error::Rejected`].
    async fn write(&self, command: Command) -> Result<CommandResult>;
    /// Serves `query` after a linearizability check.
    async fn query(&self, query: ReadQuery) -> Result<ReadReply>;
    /// See [`MetadataClient::subscribe_applied`].
    fn applied(&self) -> watch::Receiver<u64>;
    /// See [`MetadataClient::watch_changes`].
    async fn changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed>;
    /// See [`MetadataClient::status`].
    async fn node_status(&self) -> Result<NodeStatus>;
    /// See [`MetadataClient::is_ready`].
    async fn ready(&self) -> bool;
    /// See [`MetadataClient::failure`].
    fn fatal(&self) -> Option<String> {
        None
    }
    /// See [`MetadataClient::group_heartbeat`].
    async fn heartbeat(&self, call: HeartbeatCall) -> Result<HeartbeatView>;
    /// The result of each of `segments` this node has applied already (`None` for the
    /// others). Applied means committed, so such a result is final: it is answered without
    /// proposing the segment again. A remote client knows none.
    fn applied_commits(&self, segments: &[SegmentCommit]) -> Vec<Option<SegmentCommitResult>> {
        vec![None; segments.len()]
    }
    /// Notes that a segment-commit proposal of `size` is about to be made (metrics).
    fn proposing(&self, _size: ProposalSize) {}
    /// See [`MetadataClient::backup`].
    async fn build_backup(&self) -> Result<crate::backup::Backup>;
}

/// This process's wall-clock time in milliseconds since the Unix epoch: a commit's proposal
/// time (`at_ms`), stamped here because the proposer is whoever builds the command (the
/// node itself behind `/meta/v1/write`, which re-stamps what a client sent).
pub(crate) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh request id (a ULID) for one logical call, made before the transport's retries so
/// a retry after a lost reply is answered with the first attempt's result.
/// A random producer id, 1 to `i64::MAX`, from the system's secure random source.
fn random_producer_id() -> Result<u64> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Unavailable("the system random source failed".to_owned()))?;
    Ok((u64::from_le_bytes(bytes) >> 1).max(1))
}

fn new_request_id() -> Option<String> {
    Some(ulid::Ulid::new().to_string())
}

/// The start of a new member id: the client's id, cut to at most 200 bytes on a
/// character boundary (the id then fits [`MAX_MEMBER_ID_BYTES`](crate::limits::MAX_MEMBER_ID_BYTES)
/// with its ULID).
fn member_id_prefix(client_id: &str) -> &str {
    let mut end = 0;
    for (index, c) in client_id.char_indices() {
        if index + c.len_utf8() > 200 {
            break;
        }
        end = index + c.len_utf8();
    }
    &client_id[..end]
}

/// A reply of the wrong kind: a bug, reported rather than panicked on.
fn unexpected(what: impl std::fmt::Debug) -> Error {
    Error::Unavailable(format!("unexpected metadata reply: {what:?}"))
}

/// Unwraps one variant of a reply, or reports the mismatch.
macro_rules! expect_reply {
    ($reply:expr, $pattern:pat => $value:expr) => {
        match $reply {
            $pattern => Ok($value),
            other => Err(unexpected(other)),
        }
    };
}

/// Proposes `part` (one proposal's worth of segments) as one `CommitSegments` entry.
async fn propose_commits<T: Transport + ?Sized>(
    transport: &T,
    part: Vec<SegmentCommit>,
) -> Result<Vec<SegmentCommitResult>> {
    transport.proposing(ProposalSize::of_all(&part));
    let command = Command::CommitSegments {
        segments: part,
        at_ms: Some(now_ms()),
    };
    let reply = transport.write(command).await?;
    expect_reply!(reply, CommandResult::Committed(r) => r)
}

/// The segments of `segments` without a result in `known`, in order.
fn unanswered(
    segments: Vec<SegmentCommit>,
    known: &[Option<SegmentCommitResult>],
) -> Vec<SegmentCommit> {
    segments
        .into_iter()
        .zip(known)
        .filter(|(_, known)| known.is_none())
        .map(|(segment, _)| segment)
        .collect()
}

/// Every segment's result, in order: the known ones, the gaps filled from `proposed`.
fn merge_results(
    known: Vec<Option<SegmentCommitResult>>,
    proposed: Vec<SegmentCommitResult>,
) -> Result<Vec<SegmentCommitResult>> {
    let mut proposed = proposed.into_iter();
    known
        .into_iter()
        .map(|known| {
            known
                .or_else(|| proposed.next())
                .ok_or_else(|| unexpected("fewer commit results than segments"))
        })
        .collect()
}

#[async_trait]
impl<T: Transport> MetadataClient for T {
    async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
        created_at_ms: i64,
    ) -> Result<TopicView> {
        self.create_owned_topic(name, partitions, settings, created_at_ms, None)
            .await
    }

    async fn create_owned_topic(
        &self,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
        created_at_ms: i64,
        owner: Option<&str>,
    ) -> Result<TopicView> {
        let command = Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            settings,
            created_at_ms,
            request_id: new_request_id(),
            owner: owner.map(str::to_owned),
        };
        expect_reply!(self.write(command).await?, CommandResult::Topic(view) => view)
    }

    async fn delete_topic(&self, name: &str, topic_id: Option<u64>) -> Result<()> {
        let name = name.to_owned();
        let request_id = new_request_id();
        let command = Command::DeleteTopic {
            name,
            topic_id,
            request_id,
            at_ms: Some(now_ms()),
        };
        let reply = self.write(command).await?;
        expect_reply!(reply, CommandResult::Deleted => ())
    }

    async fn alter_topic(&self, name: &str, patch: TopicSettingsPatch) -> Result<TopicView> {
        let name = name.to_owned();
        let reply = self.write(Command::AlterTopic { name, patch }).await?;
        expect_reply!(reply, CommandResult::Topic(view) => view)
    }

    async fn retention_plan(
        &self,
        at_ms: i64,
        defaults: RetentionDefaults,
        limit: usize,
    ) -> Result<Vec<PlannedTrim>> {
        let query = ReadQuery::RetentionPlan {
            at_ms,
            defaults,
            limit,
        };
        expect_reply!(self.query(query).await?, ReadReply::RetentionPlan(plan) => plan)
    }

    async fn trim_partitions(
        &self,
        trims: Vec<PartitionTrim>,
        at_ms: i64,
    ) -> Result<Vec<TrimOutcome>> {
        let reply = self.write(Command::TrimPartitions { trims, at_ms }).await?;
        expect_reply!(reply, CommandResult::Trimmed(outcomes) => outcomes)
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        until_ms: i64,
        at_ms: i64,
    ) -> Result<LeaseView> {
        let command = Command::TakeLease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            until_ms,
            at_ms,
        };
        expect_reply!(self.write(command).await?, CommandResult::Lease(lease) => lease)
    }

    async fn garbage(
        &self,
        released_before: i64,
        orphaned_before: i64,
        limit: usize,
        after_backup: bool,
    ) -> Result<GarbageList> {
        let query = ReadQuery::Garbage {
            released_before,
            orphaned_before,
            limit,
            after_backup,
        };
        expect_reply!(self.query(query).await?, ReadReply::Garbage(list) => list)
    }

    async fn forget_garbage(&self, objects: Vec<String>) -> Result<u64> {
        let reply = self.write(Command::ForgetGarbage { objects }).await?;
        expect_reply!(reply, CommandResult::Forgotten(count) => count)
    }

    async fn in_use(
        &self,
        objects: Vec<String>,
        released_before: i64,
        after_backup: bool,
    ) -> Result<Vec<String>> {
        let query = ReadQuery::InUse {
            objects,
            released_before,
            after_backup,
        };
        expect_reply!(self.query(query).await?, ReadReply::InUse(used) => used)
    }

    async fn referenced_objects(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let after = after.map(str::to_owned);
        let query = ReadQuery::Referenced { after, limit };
        expect_reply!(self.query(query).await?, ReadReply::Referenced(names) => names)
    }

    async fn backup(&self) -> Result<crate::backup::Backup> {
        self.build_backup().await
    }

    async fn record_backup(&self, index: u64) -> Result<Option<u64>> {
        let reply = self.write(Command::RecordBackup { index }).await?;
        expect_reply!(reply, CommandResult::BackedUp(index) => index)
    }

    async fn list_topics(&self) -> Result<Vec<TopicView>> {
        expect_reply!(self.query(ReadQuery::ListTopics).await?, ReadReply::Topics(t) => t)
    }

    async fn topic_page(&self, after: Option<&str>, limit: usize) -> Result<TopicPage> {
        let after = after.map(str::to_owned);
        let reply = self.query(ReadQuery::TopicPage { after, limit }).await?;
        expect_reply!(reply, ReadReply::TopicPage(page) => page)
    }

    async fn usage(&self) -> Result<Usage> {
        expect_reply!(self.query(ReadQuery::Usage).await?, ReadReply::Usage(usage) => usage)
    }

    async fn usage_of(&self, owner: &str) -> Result<Usage> {
        let query = ReadQuery::UsageOf {
            owner: owner.to_owned(),
        };
        expect_reply!(self.query(query).await?, ReadReply::Usage(usage) => usage)
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicView> {
        let name = name.to_owned();
        let reply = self.query(ReadQuery::DescribeTopic { name }).await?;
        expect_reply!(reply, ReadReply::Topic(topic) => topic)
    }

    async fn commit_segments(
        &self,
        segments: Vec<SegmentCommit>,
    ) -> Result<Vec<SegmentCommitResult>> {
        let known = self.applied_commits(&segments);
        let mut proposed = Vec::new();
        for part in proposal_runs(unanswered(segments, &known), |s| s) {
            proposed.extend(propose_commits(self, part).await?);
        }
        merge_results(known, proposed)
    }

    async fn partition_slice(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: usize,
    ) -> Result<PartitionSlice> {
        let query = ReadQuery::PartitionSlice {
            topic: topic.to_owned(),
            partition,
            offset,
            max_entries,
        };
        expect_reply!(self.query(query).await?, ReadReply::Slice(slice) => slice)
    }

    async fn time_slice(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
        max_entries: usize,
    ) -> Result<PartitionSlice> {
        let query = ReadQuery::TimeSlice {
            topic: topic.to_owned(),
            partition,
            timestamp_ms,
            max_entries,
        };
        expect_reply!(self.query(query).await?, ReadReply::Slice(slice) => slice)
    }

    fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.applied()
    }

    async fn watch_changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed> {
        self.changes(after, wait).await
    }

    async fn init_producer(
        &self,
        producer_id: Option<u64>,
        owner: Option<&str>,
    ) -> Result<ProducerView> {
        // A new id is drawn at random; one that was issued before (odds of 2^-63 per id
        // issued) is refused, and another is drawn.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let new_id = producer_id.is_none().then(random_producer_id).transpose()?;
            let command = Command::InitProducer {
                producer_id,
                request_id: new_request_id(),
                new_id,
                owner: owner.map(str::to_owned),
            };
            match self.write(command).await {
                Err(Error::Rejected(CommandError::ProducerIdTaken(_))) if attempts < 3 => {}
                reply => return expect_reply!(reply?, CommandResult::Producer(view) => view),
            }
        }
    }

    async fn producer(&self, producer_id: u64) -> Result<Option<ProducerView>> {
        let reply = self.query(ReadQuery::Producer { producer_id }).await?;
        expect_reply!(reply, ReadReply::Producer(view) => view)
    }

    async fn broker_heartbeat(
        &self,
        broker_id: &str,
        address: &str,
        lease_ms: u64,
        at_ms: i64,
    ) -> Result<BrokerView> {
        let command = Command::BrokerHeartbeat {
            broker_id: broker_id.to_owned(),
            address: address.to_owned(),
            lease_ms,
            at_ms,
        };
        expect_reply!(self.write(command).await?, CommandResult::Broker(view) => view)
    }

    async fn list_brokers(&self) -> Result<Vec<BrokerView>> {
        expect_reply!(self.query(ReadQuery::ListBrokers).await?, ReadReply::Brokers(b) => b)
    }

    async fn orphans(&self, limit: usize) -> Result<OrphanList> {
        let reply = self.query(ReadQuery::Orphans { limit }).await?;
        expect_reply!(reply, ReadReply::Orphans(list) => list)
    }

    async fn storage_page(&self, after: Option<&str>, limit: usize) -> Result<StoragePage> {
        let after = after.map(str::to_owned);
        let reply = self.query(ReadQuery::StoragePage { after, limit }).await?;
        expect_reply!(reply, ReadReply::StoragePage(page) => page)
    }

    async fn cluster_id(&self) -> Result<String> {
        let cluster_id = ulid::Ulid::new().to_string();
        let reply = self.write(Command::InitCluster { cluster_id }).await?;
        expect_reply!(reply, CommandResult::Cluster(id) => id)
    }

    async fn known_cluster_id(&self) -> Result<Option<String>> {
        let reply = self.query(ReadQuery::ClusterId).await?;
        expect_reply!(reply, ReadReply::ClusterId(id) => id)
    }

    async fn record_orphans(&self, objects: Vec<String>, at_ms: i64) -> Result<()> {
        let reply = self
            .write(Command::RecordOrphans { objects, at_ms })
            .await?;
        expect_reply!(reply, CommandResult::Recorded => ())
    }

    async fn commit_offsets(
        &self,
        group: &str,
        (member_id, generation): (Option<&str>, Option<u64>),
        offsets: Vec<OffsetCommit>,
    ) -> Result<Vec<CommittedOffsetView>> {
        let command = Command::CommitOffsets {
            group: group.to_owned(),
            generation,
            member_id: member_id.map(str::to_owned),
            offsets,
            at_ms: now_ms(),
        };
        expect_reply!(self.write(command).await?, CommandResult::GroupOffsets(o) => o)
    }

    async fn reset_offsets(
        &self,
        group: &str,
        targets: Vec<ResetTarget>,
        force: bool,
    ) -> Result<Vec<CommittedOffsetView>> {
        let command = Command::ResetOffsets {
            group: group.to_owned(),
            targets,
            force,
            at_ms: now_ms(),
        };
        expect_reply!(self.write(command).await?, CommandResult::GroupOffsets(o) => o)
    }

    async fn join_group(&self, group: &str, mut join: MemberJoin) -> Result<MemberAssignment> {
        if join.new {
            let prefix = member_id_prefix(join.client_id.as_deref().unwrap_or("member"));
            join.member_id = format!("{prefix}-{}", ulid::Ulid::new());
        }
        let command = Command::JoinGroup {
            group: group.to_owned(),
            member: join,
            at_ms: now_ms(),
        };
        expect_reply!(self.write(command).await?, CommandResult::Joined(a) => a)
    }

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        let command = Command::LeaveGroup {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
        };
        expect_reply!(self.write(command).await?, CommandResult::Rebalanced { .. } => ())
    }

    async fn group_heartbeat(
        &self,
        group: &str,
        member_id: &str,
        generation: Option<u64>,
    ) -> Result<HeartbeatView> {
        let call = HeartbeatCall {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
            generation,
        };
        self.heartbeat(call).await
    }

    async fn delete_group(&self, group: &str) -> Result<()> {
        let command = Command::DeleteGroup {
            group: group.to_owned(),
        };
        expect_reply!(self.write(command).await?, CommandResult::GroupDeleted => ())
    }

    async fn list_groups(&self) -> Result<Vec<GroupSummary>> {
        expect_reply!(self.query(ReadQuery::ListGroups).await?, ReadReply::Groups(g) => g)
    }

    async fn describe_group(&self, group: &str) -> Result<GroupView> {
        let query = ReadQuery::DescribeGroup {
            group: group.to_owned(),
        };
        expect_reply!(self.query(query).await?, ReadReply::Group(g) => g)
    }

    async fn status(&self) -> Result<NodeStatus> {
        self.node_status().await
    }

    async fn is_ready(&self) -> bool {
        self.ready().await
    }

    fn failure(&self) -> Option<String> {
        self.fatal()
    }
}

#[cfg(test)]
mod tests {
    use crate::types::{SegmentCommit, TopicSettings};
    use crate::{MetadataClient, MetadataNode, NodeConfig};

    fn segment(object: &str, topic_id: u64) -> SegmentCommit {
        SegmentCommit::for_test(object, topic_id, 0)
    }

    #[tokio::test]
    async fn applied_segments_are_answered_without_a_new_log_entry() {
        let dir = tempfile::tempdir().unwrap();
        let node = MetadataNode::open(NodeConfig {
            node_id: 1,
            data_dir: dir.path().to_path_buf(),
        })
        .await
        .unwrap();
        let client = node.client();
        let topic = client
            .create_topic("t", 1, TopicSettings::default(), 1)
            .await
            .unwrap();
        let (a, b, c) = (
            segment("a", topic.id),
            segment("b", topic.id),
            segment("c", topic.id),
        );
        let first = client
            .commit_segments(vec![a.clone(), b.clone()])
            .await
            .unwrap();
        let applied = client.local_status().last_applied;
        // A retry of an applied commit: the same answers, and nothing proposed.
        let again = client
            .commit_segments(vec![a.clone(), b.clone()])
            .await
            .unwrap();
        assert_eq!(again, first);
        assert_eq!(client.local_status().last_applied, applied);
        // A mix: only the new segment is proposed, the answers keep the order asked.
        let mixed = client.commit_segments(vec![c, a.clone(), b]).await.unwrap();
        assert_eq!(client.local_status().last_applied, applied + 1);
        assert_eq!(mixed[1..], first[..]);
        assert_eq!(client.local_state_high_watermark("t", 0), Some(6));
        let counters: Vec<u64> = client.stats().counters().iter().map(|c| c.2).collect();
        assert_eq!(counters[0], 2, "proposals");
        assert_eq!(counters[1], 3, "segments proposed");
        assert_eq!(counters[3], 4, "segments answered from the state");
        drop(client);
        node.shutdown().await.unwrap();
    }
}
