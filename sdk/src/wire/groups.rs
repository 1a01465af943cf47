//! Consumer-group bodies: committed offsets (`PUT`/`GET /v1/groups/{group}/offsets`), their
//! reset (`POST /v1/groups/{group}/offsets/reset`), the group list and a group's
//! description.

use serde::{Deserialize, Serialize};

use crate::wire::integer;

/// `PUT /v1/groups/{group}/offsets`: offsets to commit. Without `member_id` and
/// `generation` it is a "simple" commit, allowed while the group has no members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitOffsetsRequest {
    /// 1 to 10 000 offsets; one refused offset refuses them all.
    pub offsets: Vec<OffsetToCommit>,
    /// The committing member's generation (with `member_id`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub generation: Option<u64>,
    /// The committing member (with `generation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// One offset to commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetToCommit {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    #[serde(deserialize_with = "integer::exact")]
    pub partition: u32,
    /// The next offset the group reads: from the partition's start offset to its high
    /// watermark.
    #[serde(deserialize_with = "integer::exact")]
    pub offset: u64,
    /// Free text stored with the offset, at most 4096 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The next offset the group reads.
    pub offset: u64,
    /// The text committed with it (`null` if none).
    pub metadata: Option<String>,
    /// The partition's high watermark minus the offset.
    pub lag: u64,
    /// When it was committed, ms since the Unix epoch.
    pub committed_at_ms: i64,
}

/// A group's committed offsets (`GET /v1/groups/{group}/offsets`; also the answer of a
/// commit and a reset, holding the offsets they set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffsets {
    /// The group.
    pub group: String,
    /// By topic and partition.
    pub offsets: Vec<CommittedOffset>,
}

/// Where `POST /v1/groups/{group}/offsets/reset` moves offsets: `"earliest"`, `"latest"`,
/// `{"timestamp_ms": T}` (the first record stamped at or after T) or `{"offset": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetTo {
    /// Each partition's start offset.
    Earliest,
    /// Each partition's high watermark.
    Latest,
    /// The first record stamped at or after this time, ms since the Unix epoch.
    TimestampMs(#[serde(deserialize_with = "integer::exact")] i64),
    /// This offset, in every partition reset; refused where it is out of range.
    Offset(#[serde(deserialize_with = "integer::exact")] u64),
}

/// `POST /v1/groups/{group}/offsets/reset`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetOffsetsRequest {
    /// Where to.
    pub to: ResetTo,
    /// Reset every partition of these topics; absent: the partitions the group has
    /// committed offsets for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    /// Reset even while the group has active members.
    #[serde(default)]
    pub force: bool,
}

/// One line of `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group's name.
    pub group: String,
    /// `empty` (no members) or `stable`.
    pub state: String,
    /// Bumped by every membership change.
    pub generation: u64,
    /// How many members it has.
    pub members: u32,
    /// How many offsets it has committed.
    pub offsets: u64,
}

/// `GET /v1/groups`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    /// Groups by name.
    pub groups: Vec<GroupSummary>,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Its id.
    pub member_id: String,
    /// The client's own name, if it gave one.
    pub client_id: Option<String>,
    /// The topics it reads.
    pub topics: Vec<String>,
    /// How long it may stay silent before it is removed.
    pub session_timeout_ms: u64,
    /// Its partitions in the current generation.
    pub assignment: Vec<TopicPartition>,
}

/// `POST /v1/groups/{group}/members`: join (or, naming `member_id`, rejoin) a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinGroupRequest {
    /// The topics to read (1 to 100, each existing).
    pub topics: Vec<String>,
    /// How long the member may go without a heartbeat before it is removed and its
    /// partitions move: 1000 to 300000 ms (default 10000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub session_timeout_ms: Option<u64>,
    /// `range` (default) or `sticky`; a group with members keeps the one it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignor: Option<String>,
    /// Rejoin as this member (409 `unknown_member` if it is not one); absent: a new member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The client's own name, shown in descriptions and used as the member id's prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `POST /v1/groups/{group}/members/{member}/heartbeat`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The generation the member works in; the answer's `state` says `rebalance` when the
    /// group has moved past it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub generation: Option<u64>,
}

/// What a join and a heartbeat answer: the member's place in the group's current
/// generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    /// The group.
    pub group: String,
    /// The member (send it with heartbeats and commits).
    pub member_id: String,
    /// The group's current generation (send it with commits).
    pub generation: u64,
    /// `stable`, or `rebalance` when the generation the heartbeat named is older: adopt
    /// this assignment and generation.
    pub state: String,
    /// The member's partitions in this generation.
    pub assignment: Vec<TopicPartition>,
    /// Its session timeout: heartbeat well within it (a third is usual).
    pub session_timeout_ms: u64,
}

/// `GET /v1/groups/{group}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    /// The group's name.
    pub group: String,
    /// `empty` (no members) or `stable`.
    pub state: String,
    /// Bumped by every membership change.
    pub generation: u64,
    /// Its members.
    pub members: Vec<GroupMember>,
    /// Its committed offsets, with their lag.
    pub offsets: Vec<CommittedOffset>,
}
