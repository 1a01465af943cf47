//! The metadata service's commands, their results, and the read views it serves.
//!
//! A [`Command`] is one Raft log entry. The state machine applies it deterministically: it
//! reads no clock (times ride in the command) and no randomness, so every replica and
//! every replay reaches the same state.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Settings stored with a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSettings {
    /// Chunk compression: `"none"` or `"zstd"`.
    pub compression: Option<String>,
    /// How long records are kept, in milliseconds: 1 to
    /// [`MAX_RETENTION_MS`](crate::limits::MAX_RETENTION_MS), or -1 for ever; `None`: the
    /// cluster default (a broker setting). Changed by [`Command::AlterTopic`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<i64>,
    /// How many bytes of each partition are kept at least: 1 to
    /// [`MAX_RETENTION_BYTES`](crate::limits::MAX_RETENTION_BYTES), or -1 for no bound;
    /// `None`: the cluster default. Changed by [`Command::AlterTopic`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<i64>,
}

/// A change to a topic's retention settings ([`Command::AlterTopic`]): per setting, `None`
/// keeps it, `Some(None)` returns it to the cluster default, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSettingsPatch {
    /// The new `retention_ms`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub retention_ms: Option<Option<i64>>,
    /// The new `retention_bytes`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub retention_bytes: Option<Option<i64>>,
}

impl TopicSettingsPatch {
    /// `settings` with this patch applied.
    pub fn applied_to(&self, settings: &TopicSettings) -> TopicSettings {
        TopicSettings {
            compression: settings.compression.clone(),
            retention_ms: self.retention_ms.unwrap_or(settings.retention_ms),
            retention_bytes: self.retention_bytes.unwrap_or(settings.retention_bytes),
        }
    }
}

/// A field that is present (`null` included): `Some` of its value. With `default`, an
/// absent field is `None`, so `null` and absent differ.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The cluster's retention defaults, for topics that set none (broker settings
/// `retention.default_ms` and `retention.default_bytes`): `None` keeps for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionDefaults {
    /// Default `retention_ms`; `None`: for ever.
    pub ms: Option<u64>,
    /// Default `retention_bytes`; `None`: no bound.
    pub bytes: Option<u64>,
}

/// One partition's new start offset, as a [`Command::TrimPartitions`] carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTrim {
    /// The topic's id (a trim of a deleted topic, or of a recreated one's old id, is a
    /// no-op).
    pub topic_id: u64,
    /// Partition number within the topic.
    pub partition: u32,
    /// The new start offset: the base offset of one of the partition's index entries, or its
    /// high watermark. At or below the current start offset the trim is a no-op.
    pub start_offset: u64,
}

/// A trim the state would make now ([`crate::MetadataClient::retention_plan`]), with what it
/// drops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTrim {
    /// The topic's name, for metrics and logs.
    pub topic: String,
    /// The trim.
    pub trim: PartitionTrim,
}

/// What one trim of a [`Command::TrimPartitions`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrimOutcome {
    /// The trim.
    pub trim: PartitionTrim,
    /// Index entries dropped (0 for a no-op).
    pub entries: u64,
    /// Bytes of chunks those entries referenced.
    pub bytes: u64,
}

/// One Raft log entry's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Create a topic; fails with [`CommandError::TopicAlreadyExists`] if the name is taken.
    CreateTopic {
        /// Topic name: 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
        name: String,
        /// Partition count, 1 to [`MAX_PARTITIONS_PER_TOPIC`](crate::limits::MAX_PARTITIONS_PER_TOPIC).
        partitions: u32,
        /// Settings stored with the topic; no command changes them later.
        settings: TopicSettings,
        /// Creation time, from the proposer's clock.
        created_at_ms: i64,
        /// An id the proposer made once for this logical call (before any retry): a command
        /// repeating the id of one of the last [`REQUEST_WINDOW`](crate::limits::REQUEST_WINDOW)
        /// such commands gets that command's result back and is not applied again. `None`
        /// (entries written before it existed): applied every time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// The principal that created it (counted against its `max_topics` and
        /// `max_partitions` by the broker); `None` without authentication and in entries
        /// written before owners were recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    /// Delete a topic and its index; its objects become garbage.
    DeleteTopic {
        /// Name of the topic to delete; a topic created later under it gets a new id.
        name: String,
        /// The id the proposer resolved `name` to: the delete is refused
        /// ([`CommandError::TopicIdMismatch`]) when the name now belongs to another topic, so
        /// a retried delete never removes a topic recreated in between. `None` (entries
        /// written before it existed): by name only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic_id: Option<u64>,
        /// An id the proposer made once for this logical call (before any retry): a command
        /// repeating the id of one of the last [`REQUEST_WINDOW`](crate::limits::REQUEST_WINDOW)
        /// such commands gets that command's result back and is not applied again. `None`
        /// (entries written before it existed): applied every time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// When it was proposed (the proposer's clock): the release time of the objects the
        /// topic alone referenced. `None` (entries written before it existed): released at 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_ms: Option<i64>,
    },
    /// Change a topic's retention settings; the topic's other settings and partition count
    /// never change. Refused with [`CommandError::TopicNotFound`] if there is no such topic.
    AlterTopic {
        /// The topic's name.
        name: String,
        /// What changes.
        patch: TopicSettingsPatch,
    },
    /// Drop whole index entries from the front of partitions (retention): each partition's
    /// start offset moves up to its trim's, and the objects no index entry references any
    /// more are recorded as released at `at_ms`. A trim of a deleted topic or at or below
    /// the current start offset changes nothing, so a replayed or stale trim is harmless; a
    /// trim past the high watermark or inside an entry refuses the whole command.
    TrimPartitions {
        /// 1 to [`MAX_TRIMS_PER_COMMAND`](crate::limits::MAX_TRIMS_PER_COMMAND) trims.
        trims: Vec<PartitionTrim>,
        /// When the trims were decided (the proposer's clock): the release time of the
        /// objects they release.
        at_ms: i64,
    },
    /// Commit uploaded segments: assign offsets to every chunk and advance high watermarks.
    /// Idempotent by object name: a segment committed before returns its original result.
    /// A segment sealed before `at_ms` minus the [commit horizon](crate::limits::COMMIT_HORIZON_MS)
    /// is refused ([`ChunkOutcome::TooOld`]).
    CommitSegments {
        /// Segments in the order their offsets are assigned.
        segments: Vec<SegmentCommit>,
        /// When the command was proposed, in milliseconds since the Unix epoch (the
        /// proposer's clock: the metadata node that proposes the entry). `None` in entries
        /// written before the commit horizon existed: no horizon check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_ms: Option<i64>,
    },
    /// Issue a new idempotent producer id (`producer_id: None`, epoch 0), or bump the epoch
    /// of an existing one (fencing every older instance of it) and restart its sequences.
    InitProducer {
        /// The producer to re-initialise, or `None` for a new one.
        producer_id: Option<u64>,
        /// The id a new producer gets, drawn at random by the proposer (1 to `i64::MAX`) so
        /// that ids cannot be guessed; refused ([`CommandError::ProducerIdTaken`]) if issued
        /// before. `None` (entries written before it existed): the next sequential id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_id: Option<u64>,
        /// The principal a new id is issued to, and who asks for a new epoch: only the
        /// owner may bump an owned id ([`CommandError::ProducerNotOwned`]). `None`:
        /// authentication is off (or an entry written before it existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// An id the proposer made once for this logical call (before any retry): a command
        /// repeating the id of one of the last [`REQUEST_WINDOW`](crate::limits::REQUEST_WINDOW)
        /// such commands gets that command's result back and is not applied again. `None`
        /// (entries written before it existed): applied every time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Register a broker or renew its lease.
    BrokerHeartbeat {
        /// The broker's id (unique per broker process lifetime).
        broker_id: String,
        /// The broker's client-facing URL.
        address: String,
        /// How long the lease lasts after `at_ms`, in milliseconds.
        lease_ms: u64,
        /// The broker's clock when it sent the heartbeat.
        at_ms: i64,
    },
    /// Give the cluster its id, once: the first `InitCluster` applied sets it, later ones
    /// change nothing and answer the id already set ([`CommandResult::Cluster`]). Brokers
    /// stamp their spool with it, so a spool left by another cluster is never committed.
    InitCluster {
        /// A random id (a ULID) made by the proposer; at most
        /// [`MAX_REQUEST_ID_BYTES`](crate::limits::MAX_REQUEST_ID_BYTES) bytes.
        cluster_id: String,
    },
    /// Record uploaded objects that were never committed, for garbage collection. They are
    /// never referenced by an index entry.
    RecordOrphans {
        /// Names (full paths in the bucket) of objects uploaded but never committed.
        objects: Vec<String>,
        /// When they were recorded, in milliseconds since the Unix epoch (the recorder's clock).
        at_ms: i64,
    },
    /// Commit a consumer group's offsets (creating the group on its first commit). Without
    /// `member_id` and `generation` it is a "simple" commit, allowed while the group has no
    /// members; with them, the member must belong to the group's current generation
    /// ([`CommandError::UnknownMember`]). Every offset must lie within its partition's range
    /// ([`CommandError::OffsetOutOfRange`]); one refused offset refuses them all.
    CommitOffsets {
        /// The group's name (the topic naming rule).
        group: String,
        /// The committing member's generation; only with `member_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation: Option<u64>,
        /// The committing member; only with `generation`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member_id: Option<String>,
        /// 1 to [`MAX_OFFSETS_PER_COMMAND`](crate::limits::MAX_OFFSETS_PER_COMMAND) offsets.
        offsets: Vec<OffsetCommit>,
        /// When the commit was proposed (the proposer's clock), stored with each offset.
        at_ms: i64,
    },
    /// Move a group's offsets (creating the group if it has none yet): each target to its
    /// partition's start, its high watermark, or a given offset within that range.
    ResetOffsets {
        /// The group's name.
        group: String,
        /// 1 to [`MAX_OFFSETS_PER_COMMAND`](crate::limits::MAX_OFFSETS_PER_COMMAND) targets.
        targets: Vec<ResetTarget>,
        /// Reset even while the group has members (refused otherwise:
        /// [`CommandError::GroupNotEmpty`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
        /// When the reset was proposed (the proposer's clock).
        at_ms: i64,
    },
    /// A member joins a group (or an existing member rejoins, changing its subscription):
    /// a new member or a changed subscription bumps the generation and recomputes the
    /// assignment with the group's assignor.
    JoinGroup {
        /// The group's name.
        group: String,
        /// Who joins, and how.
        member: MemberJoin,
        /// When it joined (the proposer's clock).
        at_ms: i64,
    },
    /// A member leaves its group: the generation is bumped and its partitions reassigned
    /// ([`CommandError::UnknownMember`] if it is not a member).
    LeaveGroup {
        /// The group's name.
        group: String,
        /// The member leaving.
        member_id: String,
    },
    /// The metadata leader's session tracker removes members silent past their session
    /// timeout; members no longer in the group are skipped. Bumps the generation if any
    /// member is removed.
    ExpireMembers {
        /// The group's name.
        group: String,
        /// The members to remove.
        member_ids: Vec<String>,
    },
    /// Delete a group and its committed offsets ([`CommandError::GroupNotFound`] if none).
    DeleteGroup {
        /// The group's name.
        group: String,
    },
    /// The metadata leader's producer sweeper removes producer ids not used (no request
    /// admitted, no epoch bumped) for longer than `idle_ms` before `at_ms`; an id not used
    /// since it was issued (or loaded from an older snapshot) starts its idle time at the
    /// first expiry that sees it.
    ExpireProducers {
        /// How long an id may stay unused, in milliseconds (at least 1).
        idle_ms: u64,
        /// The proposal time, from the proposer's clock.
        at_ms: i64,
    },
    /// Take or renew the named lease (e.g. `gc`) for `holder` until `until_ms`: granted when
    /// nobody holds it, `holder` holds it, or the holder's lease ended at or before `at_ms`;
    /// refused (the lease unchanged) while another holder's lease is live. Answers the lease
    /// as it stands after the command ([`CommandResult::Lease`]). Deterministic: both times
    /// ride in the command.
    TakeLease {
        /// The lease's name, 1 to [`MAX_REQUEST_ID_BYTES`](crate::limits::MAX_REQUEST_ID_BYTES) bytes.
        name: String,
        /// Who asks (a broker id), 1 to [`MAX_BROKER_ID_BYTES`](crate::limits::MAX_BROKER_ID_BYTES) bytes.
        holder: String,
        /// When the lease ends if granted; after `at_ms`, by at most
        /// [`MAX_LEASE_MS`](crate::limits::MAX_LEASE_MS).
        until_ms: i64,
        /// Now, by the proposer's clock.
        at_ms: i64,
    },
    /// Forget deleted garbage: each object is removed from the released objects and the
    /// orphans, except one that an index entry references (never garbage). Replaying it
    /// changes nothing more.
    ForgetGarbage {
        /// 1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND) object names.
        objects: Vec<String>,
    },
    /// A backup of the state as of log index `index` is in the bucket: objects released at
    /// or before that index leave the list of released objects a backup may still
    /// reference. Ignored unless newer than the backup recorded and not beyond this entry's
    /// own index. Answers [`CommandResult::BackedUp`].
    RecordBackup {
        /// The log index the backup was taken at.
        index: u64,
    },
}

impl Command {
    /// The request id of a command that carries one ([`Command::CreateTopic`],
    /// [`Command::DeleteTopic`], [`Command::InitProducer`]).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Command::CreateTopic { request_id, .. }
            | Command::DeleteTopic { request_id, .. }
            | Command::InitProducer { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

/// The idempotence key of one produce request: its producer, the producer's epoch, and the
/// request's sequence number (counted per producer and epoch, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProducerBatch {
    /// Producer id (from [`Command::InitProducer`]; never 0).
    pub producer_id: u64,
    /// The producer's epoch.
    pub epoch: u32,
    /// The request's sequence number within the epoch.
    pub sequence: u64,
    /// A digest of the request's content (topic id, and per partition its record count and
    /// records), so a reused (id, epoch, sequence) with other content is refused
    /// ([`ChunkOutcome::IdempotencyMismatch`]) instead of answered with the first request's
    /// offsets. `None` when unknown (a segment recovered from a spool file, whose footer keeps
    /// no digest, or an entry written before digests existed): such a retry is accepted as a
    /// duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<u64>,
}

/// One offset a [`Command::CommitOffsets`] commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommit {
    /// Topic name.
    pub topic: String,
    /// Partition number within the topic.
    pub partition: u32,
    /// The next offset the group reads: within the partition's start offset and high
    /// watermark.
    pub offset: u64,
    /// Free text stored with the offset, at most
    /// [`MAX_OFFSET_METADATA_BYTES`](crate::limits::MAX_OFFSET_METADATA_BYTES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// Where a [`ResetTarget`] moves a partition's committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetTo {
    /// The partition's start offset.
    Earliest,
    /// The partition's high watermark.
    Latest,
    /// This offset, within the partition's range (a time is resolved to one by the broker).
    Offset(u64),
}

/// One partition a [`Command::ResetOffsets`] moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetTarget {
    /// Topic name.
    pub topic: String,
    /// Partition number within the topic.
    pub partition: u32,
    /// Where to.
    pub to: ResetTo,
}

/// How a group's partitions are spread over its members: the range assignor (Kafka's: per
/// topic, contiguous ranges over the members sorted by id) or the sticky one (members keep
/// what they own; only what must move moves).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignor {
    /// Kafka's range assignor.
    #[default]
    Range,
    /// Incremental and sticky.
    Sticky,
}

impl Assignor {
    /// The name clients give.
    pub fn as_str(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::Sticky => "sticky",
        }
    }
}

/// Who joins a group ([`Command::JoinGroup`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJoin {
    /// The member's id: a new one made by the proposer (`new`), or the id of a member
    /// rejoining ([`CommandError::UnknownMember`] if it is not a member).
    pub member_id: String,
    /// Whether `member_id` is new.
    pub new: bool,
    /// The client's own name, shown in descriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The topics it reads (each must exist).
    pub topics: Vec<String>,
    /// How long it may stay silent before the session tracker removes it.
    pub session_timeout_ms: u64,
    /// The assignor it asks for: a group with members keeps its own
    /// ([`CommandError::InvalidCommand`] if another is asked).
    pub assignor: Assignor,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
}

/// A member's place in its group: what a join and a heartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAssignment {
    /// The member.
    pub member_id: String,
    /// The group's current generation.
    pub generation: u64,
    /// The partitions assigned to the member in that generation.
    pub assignment: Vec<TopicPartition>,
    /// Its session timeout.
    pub session_timeout_ms: u64,
}

/// What a heartbeat answers: the member's place in the current generation, and whether a
/// rebalance happened since the generation it named (it must adopt the new assignment; its
/// commits naming the old one are refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatView {
    /// The member's place now.
    pub member: MemberAssignment,
    /// Whether the generation named is older than the current one.
    pub rebalanced: bool,
}

/// A group member, as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// Its id.
    pub member_id: String,
    /// The client's own name.
    pub client_id: Option<String>,
    /// The topics it reads.
    pub topics: Vec<String>,
    /// Its session timeout.
    pub session_timeout_ms: u64,
    /// When it (last) joined (the proposer's clock).
    pub joined_at_ms: i64,
    /// Its partitions in the current generation.
    pub assignment: Vec<TopicPartition>,
}

/// A group's committed offset, as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffsetView {
    /// Topic name.
    pub topic: String,
    /// Partition number within the topic.
    pub partition: u32,
    /// The next offset the group reads.
    pub offset: u64,
    /// The text committed with it.
    pub metadata: Option<String>,
    /// When it was committed (the proposer's clock).
    pub committed_at_ms: i64,
    /// The partition's high watermark minus the offset, or minus its start offset when the
    /// offset fell below it (0 if the offset is past the high watermark).
    pub lag: u64,
}

/// A consumer group as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// The group's name.
    pub group: String,
    /// Its generation: 0 until a member joins.
    pub generation: u64,
    /// Its assignor (the one its members asked for; `range` for a group never joined).
    pub assignor: Assignor,
    /// Its members, by id.
    pub members: Vec<MemberView>,
    /// Its committed offsets, by topic and partition.
    pub offsets: Vec<CommittedOffsetView>,
}

/// One line of the group list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group's name.
    pub group: String,
    /// Its generation.
    pub generation: u64,
    /// How many members it has.
    pub members: u64,
    /// How many offsets it has committed.
    pub offsets: u64,
}

/// An idempotent producer's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerView {
    /// Producer id, issued by [`Command::InitProducer`]; never 0 and never reused.
    pub producer_id: u64,
    /// Current epoch; requests with an older one are fenced.
    pub epoch: u32,
}

/// A registered broker and its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerView {
    /// The broker's id, unique per broker process lifetime (a restarted broker registers anew).
    pub broker_id: String,
    /// The URL clients reach the broker at, as its last heartbeat said.
    pub address: String,
    /// When the broker first heartbeat, in milliseconds since the Unix epoch (broker clock).
    pub registered_at_ms: i64,
    /// When the broker last heartbeat, in milliseconds since the Unix epoch (broker clock);
    /// never moves back.
    pub last_heartbeat_ms: i64,
    /// Lease length in milliseconds, counted from the last heartbeat.
    pub lease_ms: u64,
}

impl BrokerView {
    /// When the lease runs out (broker clock of the last heartbeat plus the lease).
    pub fn lease_expires_at_ms(&self) -> i64 {
        self.last_heartbeat_ms
            .saturating_add(i64::try_from(self.lease_ms).unwrap_or(i64::MAX))
    }
}

/// A segment object that has been uploaded and awaits ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCommit {
    /// Object name (full path in the bucket); the idempotency key.
    pub object: String,
    /// Object size in bytes.
    pub size: u64,
    /// The segment's chunks, in footer order.
    pub chunks: Vec<ChunkCommit>,
    /// When the segment was sealed, in milliseconds since the Unix epoch: the time of the
    /// ULID in its object name (`bookie/FORMAT.md`, "Object names"). Checked against the
    /// [commit horizon](crate::limits::COMMIT_HORIZON_MS). `None` when unknown (older
    /// brokers): no horizon check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at_ms: Option<i64>,
    /// Offset commits that ride with idempotent produce requests of this segment: each is
    /// applied in this entry together with its request's chunks, or neither is
    /// ([`ChunkOutcome::CommitRefused`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offset_commits: Vec<RequestOffsetCommit>,
}

/// A consumer group's offset commit, as [`Command::CommitOffsets`] carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCommit {
    /// The group's name (the topic naming rule).
    pub group: String,
    /// The committing member's generation; only with `member_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// The committing member; only with `generation`. Neither: a simple commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// 1 to [`MAX_OFFSETS_PER_COMMAND`](crate::limits::MAX_OFFSETS_PER_COMMAND) offsets.
    pub offsets: Vec<OffsetCommit>,
}

impl GroupCommit {
    /// Checks the commit against the state machine's input rules (group name, member and
    /// generation together, offset count and metadata size), so a proposer can refuse a
    /// bad one before it rides in an entry with others.
    pub fn check(&self) -> Result<(), CommandError> {
        crate::state::validate::group_commit(self)
    }
}

/// An offset commit bound to one idempotent produce request of a segment (named by its
/// producer id, epoch and sequence): exactly-once consume-transform-produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOffsetCommit {
    /// The request's producer id.
    pub producer_id: u64,
    /// The request's producer epoch.
    pub epoch: u32,
    /// The request's sequence number.
    pub sequence: u64,
    /// The offsets committed with the request's records.
    pub commit: GroupCommit,
}

impl RequestOffsetCommit {
    /// Whether this commit belongs to the request `batch`.
    pub fn is_for(&self, batch: &ProducerBatch) -> bool {
        (self.producer_id, self.epoch, self.sequence)
            == (batch.producer_id, batch.epoch, batch.sequence)
    }
}

/// An offset commit refused in a segment commit, with why: its request's chunks are
/// [`ChunkOutcome::CommitRefused`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedCommit {
    /// The request's producer id.
    pub producer_id: u64,
    /// The request's producer epoch.
    pub epoch: u32,
    /// The request's sequence number.
    pub sequence: u64,
    /// Why the commit was refused.
    pub error: CommandError,
}

#[cfg(test)]
impl SegmentCommit {
    /// A test segment: `object`, 10 bytes, one chunk of 2 records of `topic_id`/`partition`
    /// stamped at 1 ms, no producer.
    pub(crate) fn for_test(object: &str, topic_id: u64, partition: u32) -> Self {
        SegmentCommit {
            object: object.to_owned(),
            size: 10,
            sealed_at_ms: None,
            offset_commits: Vec::new(),
            chunks: vec![ChunkCommit {
                topic_id,
                partition,
                position: 0,
                length: 10,
                record_count: 2,
                first_timestamp_ms: 1,
                max_timestamp_ms: 1,
                producer: None,
            }],
        }
    }
}

impl SegmentCommit {
    /// The length of this commit's JSON, as it travels to the metadata service and sits in
    /// a Raft entry: what [`MAX_PROPOSAL_BYTES`](crate::limits::MAX_PROPOSAL_BYTES) bounds.
    pub fn encoded_len(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail, and these types always serialize.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

/// A writer that only counts the bytes written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One partition's chunk inside a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkCommit {
    /// Topic id (not name: a recreated topic has a new id and never sees old chunks).
    pub topic_id: u64,
    /// Partition number within the topic, from 0.
    pub partition: u32,
    /// Byte position of the chunk in the object.
    pub position: u64,
    /// Byte length of the chunk.
    pub length: u32,
    /// Records in the chunk; a chunk of 0 records gets an offset but adds no index entry.
    pub record_count: u32,
    /// Smallest record timestamp, in milliseconds since the Unix epoch.
    pub first_timestamp_ms: i64,
    /// Largest record timestamp, in milliseconds since the Unix epoch.
    pub max_timestamp_ms: i64,
    /// The idempotent produce request that wrote this chunk, if any: the state machine
    /// drops it if that request was committed before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerBatch>,
}

/// The outcome of one segment's commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCommitResult {
    /// Object name of the segment (its commit's idempotency key).
    pub object: String,
    /// One outcome per chunk, in the order of [`SegmentCommit::chunks`].
    pub chunks: Vec<ChunkOutcome>,
    /// Why each refused offset commit ([`ChunkOutcome::CommitRefused`]) was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_commits: Vec<RefusedCommit>,
}

impl SegmentCommitResult {
    /// Why the offset commit of the request `(producer_id, epoch, sequence)` was refused.
    pub fn commit_refusal(
        &self,
        producer_id: u64,
        epoch: u32,
        sequence: u64,
    ) -> Option<&CommandError> {
        self.refused_commits
            .iter()
            .find(|r| (r.producer_id, r.epoch, r.sequence) == (producer_id, epoch, sequence))
            .map(|r| &r.error)
    }
}

/// The outcome of one chunk's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkOutcome {
    /// Committed: the chunk's first record has this offset, the rest follow densely.
    Committed {
        /// Offset of the chunk's first record.
        base_offset: u64,
    },
    /// The topic id no longer exists (deleted while the segment was in flight).
    TopicNotFound,
    /// The partition is out of range for the topic.
    PartitionNotFound,
    /// The producer request had been committed before: the chunk is dropped and its
    /// records live at the original offsets, starting here.
    Duplicate {
        /// Offset of the original chunk's first record.
        base_offset: u64,
    },
    /// The producer's epoch is older than its current one: a newer instance fenced it.
    ProducerFenced {
        /// The producer's current epoch.
        current_epoch: u32,
    },
    /// The request's sequence is not the next one expected (a gap, or too old to answer).
    OutOfOrderSequence {
        /// The sequence the state machine expects next.
        expected: u64,
    },
    /// The producer id (or that epoch of it) was never issued.
    UnknownProducer,
    /// The request reuses the (id, epoch, sequence) of an earlier request whose content
    /// (topic, partitions, records) was different: not a retry, so nothing is appended and
    /// the earlier request's offsets are not given out.
    IdempotencyMismatch,
    /// The segment was sealed longer ago than the [commit horizon](crate::limits::COMMIT_HORIZON_MS)
    /// before the commit was proposed: nothing of it is appended, and the object is recorded
    /// as an orphan, so a sweeper may delete it. The records were not written; sending them
    /// again is safe.
    TooOld,
    /// The offset commit riding with the chunk's request was refused
    /// ([`SegmentCommitResult::refused_commits`] says why): none of the request's records
    /// were appended and no offset was committed.
    CommitRefused,
}

/// What applying a [`Command`] returns to its proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// A topic was created.
    Topic(TopicView),
    /// A topic was deleted.
    Deleted,
    /// Partitions were trimmed: per trim, what it dropped.
    Trimmed(Vec<TrimOutcome>),
    /// Segments were committed (or had been before).
    Committed(Vec<SegmentCommitResult>),
    /// A producer id was issued or its epoch bumped.
    Producer(ProducerView),
    /// A broker's lease was granted or renewed.
    Broker(BrokerView),
    /// Orphaned objects were recorded.
    Recorded,
    /// The cluster's id (set by the first [`Command::InitCluster`]).
    Cluster(String),
    /// A group's offsets were committed or reset: the offsets the command set.
    GroupOffsets(Vec<CommittedOffsetView>),
    /// A group was deleted.
    GroupDeleted,
    /// A member joined (or rejoined) a group.
    Joined(MemberAssignment),
    /// Members left or expired; the group's generation after the command.
    Rebalanced {
        /// The generation.
        generation: u64,
        /// How many members were removed.
        removed: u64,
    },
    /// Idle producer ids were removed ([`Command::ExpireProducers`]).
    ProducersExpired {
        /// How many ids were removed.
        removed: u64,
    },
    /// A named lease as it stands after a [`Command::TakeLease`].
    Lease(LeaseView),
    /// Garbage was forgotten: how many objects left the released and orphan lists.
    Forgotten(u64),
    /// The log index of the newest backup recorded ([`Command::RecordBackup`]).
    BackedUp(Option<u64>),
    /// The command was valid Raft input but its effect was refused; nothing changed.
    Rejected(CommandError),
}

/// Deterministic refusals of the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CommandError {
    /// The name is taken.
    #[error("topic {0:?} already exists")]
    TopicAlreadyExists(String),
    /// No such topic.
    #[error("topic {0:?} not found")]
    TopicNotFound(String),
    /// The name belongs to a topic other than the one the command or read named by id: the
    /// topic it meant was deleted (and the name reused). Served like a missing topic.
    #[error(
        "topic {name:?} with id {topic_id} not found: the name now belongs to topic id {current} (deleted and recreated)"
    )]
    TopicIdMismatch {
        /// The topic name.
        name: String,
        /// The id the command named.
        topic_id: u64,
        /// The id the name belongs to now.
        current: u64,
    },
    /// No such producer id.
    #[error("producer {0} not found: get an id from POST /v1/producers first")]
    ProducerNotFound(u64),
    /// A new producer's random id was issued before (the proposer draws another).
    #[error("producer id {0} is taken")]
    ProducerIdTaken(u64),
    /// The producer id was issued to another principal, which alone may bump its epoch.
    #[error(
        "producer {0} was issued to another principal: only that principal may re-initialise it"
    )]
    ProducerNotOwned(u64),
    /// The topic name breaks the naming rule (and names no existing topic); holds the name's
    /// first 60 characters.
    #[error(
        "invalid topic name {0:?}: use 1-{max} characters of [A-Za-z0-9._-], not \".\" or \"..\"",
        max = crate::limits::MAX_TOPIC_NAME_BYTES
    )]
    InvalidTopicName(String),
    /// The partition count is outside `1..=`[`MAX_PARTITIONS_PER_TOPIC`](crate::limits::MAX_PARTITIONS_PER_TOPIC).
    #[error(
        "invalid partition count {0}: a topic has 1 to {max} partitions",
        max = crate::limits::MAX_PARTITIONS_PER_TOPIC
    )]
    InvalidPartitionCount(u32),
    /// The group name breaks the naming rule (the topic rule); holds its first 60
    /// characters.
    #[error(
        "invalid group name {0:?}: use 1-{max} characters of [A-Za-z0-9._-], not \".\" or \"..\"",
        max = crate::limits::MAX_TOPIC_NAME_BYTES
    )]
    InvalidGroupName(String),
    /// No group has that name (it never committed an offset, or was deleted).
    #[error("group {0:?} not found")]
    GroupNotFound(String),
    /// The member is not in the group's current generation (it left, expired, or never
    /// joined): it must join again.
    #[error("unknown member {member_id:?} of group {group:?}: join the group again")]
    UnknownMember {
        /// The group.
        group: String,
        /// The member named.
        member_id: String,
    },
    /// A member's commit or heartbeat names a generation other than the group's current
    /// one: a rebalance happened since it last learned its assignment.
    #[error(
        "stale generation {generation} of group {group:?}: the group is at generation {current}; heartbeat or rejoin to learn the new assignment"
    )]
    StaleGeneration {
        /// The group.
        group: String,
        /// The generation named.
        generation: u64,
        /// The group's generation.
        current: u64,
    },
    /// The group has members, and the command is allowed only without (`what`: a simple
    /// commit, a reset without `force`, a delete).
    #[error("group {group:?} has {members} active members: {what}")]
    GroupNotEmpty {
        /// The group.
        group: String,
        /// How many members it has.
        members: u64,
        /// What is refused and what to do.
        what: String,
    },
    /// A member's commit names a topic the group's members do not read.
    #[error(
        "topic {topic:?} is not read by group {group:?}: commit offsets only for subscribed topics"
    )]
    NotSubscribed {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
    },
    /// A command named a partition the topic does not have.
    #[error("partition {partition} not found in topic {topic:?} ({partitions} partitions)")]
    PartitionNotFound {
        /// The topic.
        topic: String,
        /// The partition named.
        partition: u32,
        /// The topic's partition count.
        partitions: u32,
    },
    /// An offset outside its partition's range: below the start offset or past the high
    /// watermark.
    #[error(
        "offset {offset} of {topic}/{partition} is out of range: valid range {start_offset}..={high_watermark}"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The partition's first readable offset.
        start_offset: u64,
        /// The partition's high watermark.
        high_watermark: u64,
    },
    /// The command or read is malformed or past a [limit](crate::limits); the message names
    /// the field and the rule. Nothing changed.
    #[error("invalid metadata request: {0}")]
    InvalidCommand(String),
    /// The command would take the cluster past one of its quotas (a
    /// [limit](crate::limits) such as [`MAX_TOPICS`](crate::limits::MAX_TOPICS)); nothing
    /// changed.
    #[error("quota exceeded: {quota} = {limit}; {used} in use and this request adds {asked}")]
    QuotaExceeded {
        /// The quota's name, e.g. `limits::MAX_TOPICS`.
        quota: String,
        /// Its value.
        limit: u64,
        /// How much of it is in use.
        used: u64,
        /// How much the command asked for.
        asked: u64,
    },
}

/// A topic with its partitions' offset ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicView {
    /// Topic id, unique for the life of the cluster: a topic recreated under the same name gets
    /// a new one, so chunks addressed to the old topic never land in it.
    pub id: u64,
    /// Topic name, unique among existing topics.
    pub name: String,
    /// Settings given at creation.
    pub settings: TopicSettings,
    /// Creation time in milliseconds since the Unix epoch, from the proposer's clock.
    pub created_at_ms: i64,
    /// Per partition, in partition order.
    pub partitions: Vec<PartitionView>,
}

/// One page of topics in name order (see
/// [`MetadataClient::topic_page`](crate::MetadataClient::topic_page)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPage {
    /// Topics after the page's start, in name order.
    pub topics: Vec<TopicView>,
    /// The name to ask for the next page after, when more topics follow; `None` on the last
    /// page.
    pub next_after: Option<String>,
}

/// What one topic keeps in the bucket, from its index (see
/// [`MetadataClient::storage_page`](crate::MetadataClient::storage_page)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicStorage {
    /// The topic's name.
    pub name: String,
    /// The topic's id.
    pub id: u64,
    /// Bytes of its chunks its index entries name (segment footers not included).
    pub bytes: u64,
    /// Segment objects holding at least one of its chunks (an object shared by several
    /// topics counts once for each).
    pub objects: u64,
}

/// One page of [`TopicStorage`] in name order, and the garbage-collection backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePage {
    /// Topics after the page's start, in name order.
    pub topics: Vec<TopicStorage>,
    /// The name to ask for the next page after; `None` on the last page.
    pub next_after: Option<String>,
    /// Objects waiting for the garbage collector: uploaded and never committed (orphans),
    /// or no longer referenced after retention or a topic delete (released).
    pub gc_backlog_objects: u64,
    /// Their bytes, where known (both are recorded without a size: 0 for now).
    pub gc_backlog_bytes: u64,
}

/// How much of the cluster's quotas is in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Topics that exist.
    pub topics: u64,
    /// Partitions over all topics.
    pub partitions: u64,
    /// Producer ids issued (never expired).
    pub producer_ids: u64,
}

/// A partition's offset range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionView {
    /// Partition number within the topic, from 0.
    pub partition: u32,
    /// First readable offset.
    pub start_offset: u64,
    /// Offset of the next committed record.
    pub high_watermark: u64,
}

/// One immutable index entry: a run of offsets stored as one chunk of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Offset of the chunk's first record.
    pub base_offset: u64,
    /// Records in the chunk (offsets `base_offset..base_offset + record_count`).
    pub record_count: u32,
    /// Name of the segment object holding the chunk (full path in the bucket).
    pub object: Arc<str>,
    /// Byte position of the chunk in the object.
    pub position: u64,
    /// Byte length of the chunk.
    pub length: u32,
    /// Smallest record timestamp, in milliseconds since the Unix epoch.
    pub first_timestamp_ms: i64,
    /// Largest record timestamp, in milliseconds since the Unix epoch.
    pub max_timestamp_ms: i64,
}

impl IndexEntry {
    /// One past the last offset in the entry.
    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

/// The index entries that cover a range of a partition, and its current bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSlice {
    /// Topic id the slice belongs to.
    pub topic_id: u64,
    /// First readable offset.
    pub start_offset: u64,
    /// Offset of the next committed record.
    pub high_watermark: u64,
    /// Entries in offset order; the first covers the requested offset (if below the high
    /// watermark), and they are contiguous.
    pub entries: Vec<IndexEntry>,
}

/// A named lease: who holds it and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    /// The lease's name.
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// When it ends, in milliseconds since the Unix epoch (the holder's clock).
    pub until_ms: i64,
}

impl LeaseView {
    /// Whether `holder` holds the lease at `at_ms`.
    pub fn held_by(&self, holder: &str, at_ms: i64) -> bool {
        self.holder == holder && self.until_ms > at_ms
    }
}

/// Why an object is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GarbageKind {
    /// Committed, then no index entry referenced it any more (retention, topic delete).
    Released,
    /// Uploaded but never committed.
    Orphan,
}

/// One object a garbage collector may delete now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarbageObject {
    /// Its full name in the bucket.
    pub object: String,
    /// Why it is garbage.
    pub kind: GarbageKind,
    /// When it was released or recorded as an orphan (ms since the Unix epoch).
    pub at_ms: i64,
}

/// What a garbage collector may delete now, and how much garbage waits in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarbageList {
    /// Released objects and orphans recorded, due or not.
    pub backlog: u64,
    /// At most the asked-for number of due objects, released ones first, by name.
    pub due: Vec<GarbageObject>,
    /// Released objects waiting for a backup newer than their release (not due while
    /// backups are on).
    #[serde(default)]
    pub awaiting_backup: u64,
}

/// Objects recorded as garbage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanList {
    /// How many are recorded.
    pub count: usize,
    /// The first `limit` of them by name, with a time in milliseconds since the Unix epoch:
    /// when a broker recorded them (its clock), or, for an object whose own commit appended
    /// nothing (every chunk a duplicate or refused, or the segment past the commit horizon),
    /// its seal time (else, for a segment that does not carry one, the commit's proposal
    /// time; 0 only for entries written before either existed).
    pub objects: Vec<(String, i64)>,
}

/// One metadata node's view of the Raft cluster (`GET /meta/v1/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// This node's id.
    pub node_id: u64,
    /// `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub state: String,
    /// The leader this node knows of.
    pub leader_id: Option<u64>,
    /// The leader's `host:port`.
    pub leader_addr: Option<String>,
    /// The Raft term this node is in.
    pub term: u64,
    /// Index of the last applied log entry.
    pub last_applied: u64,
    /// Ids of the voting members.
    pub voters: Vec<u64>,
    /// Ids of the non-voting members (learners): they replicate the log but do not vote.
    pub learners: Vec<u64>,
    /// Every member's `host:port`, by id.
    pub addresses: std::collections::BTreeMap<u64, String>,
}

/// One partition changed by an applied log entry: its high watermark after the entry, or
/// its topic deleted. Served by the change feed ([`crate::MetadataClient::watch_changes`]);
/// never part of the replicated state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    /// The log index of the entry that changed it.
    pub index: u64,
    /// The topic's id (names may be reused; ids never are).
    pub topic_id: u64,
    /// Partition number within the topic.
    pub partition: u32,
    /// The partition's high watermark after the entry (0 when `deleted`).
    pub high_watermark: u64,
    /// Whether the entry deleted the partition's topic.
    pub deleted: bool,
}

/// What changed after a log index, as far as a metadata node remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeFeed {
    /// Every partition change of the entries after the asked index up to `applied`, in log
    /// order (empty when nothing changed).
    Changes {
        /// The node's last applied index the list runs to; ask after it next.
        applied: u64,
        /// The changes.
        changes: Vec<PartitionChange>,
    },
    /// The node no longer knows (the asked index is older than what it keeps, or the node
    /// restarted): anything may have changed up to `applied`; re-read what you need.
    Reset {
        /// The node's last applied index; ask after it next.
        applied: u64,
    },
}

impl ChangeFeed {
    /// The applied index this answer runs to.
    pub fn applied(&self) -> u64 {
        match self {
            ChangeFeed::Changes { applied, .. } | ChangeFeed::Reset { applied } => *applied,
        }
    }
}
