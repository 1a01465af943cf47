//! The metadata service's HTTP protocol (between brokers and metadata nodes, and between
//! metadata nodes): request and reply bodies. Internal to a silt cluster, JSON, versioned
//! under `/meta/v1`; Raft's own RPCs live under `/raft`.
//!
//! Every `/meta/v1` reply is HTTP 200 with a JSON `Result`: `{"Ok": …}` or
//! `{"Err": RemoteError}`, so a client tells a refusal from a transport failure without
//! parsing status codes.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::types::{
    BrokerView, ChangeFeed, CommandError, GarbageList, GroupSummary, GroupView, OrphanList,
    PartitionChange, PartitionSlice, PlannedTrim, ProducerView, RetentionDefaults, StoragePage,
    TopicPage, TopicView, Usage,
};

/// A read served by the leader after a linearizability check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ReadQuery {
    /// All topics, in name order.
    ListTopics,
    /// One topic, by name.
    DescribeTopic {
        /// Topic name.
        name: String,
    },
    /// Index entries of a partition (see [`crate::MetadataClient::partition_slice`]).
    PartitionSlice {
        /// Topic name.
        topic: String,
        /// Partition number within the topic.
        partition: u32,
        /// First offset wanted.
        offset: u64,
        /// Most entries returned.
        max_entries: usize,
    },
    /// Index entries of a partition from the first whose records reach a timestamp (see
    /// [`crate::MetadataClient::time_slice`]).
    TimeSlice {
        /// Topic name.
        topic: String,
        /// Partition number within the topic.
        partition: u32,
        /// The timestamp sought, milliseconds since the Unix epoch.
        timestamp_ms: i64,
        /// Most entries returned.
        max_entries: usize,
    },
    /// Every registered broker, expired leases included.
    ListBrokers,
    /// One idempotent producer's current identity.
    Producer {
        /// Producer id, as issued by `InitProducer`.
        producer_id: u64,
    },
    /// Objects recorded as garbage (never referenced by an index entry).
    Orphans {
        /// Most object names returned.
        limit: usize,
    },
    /// One page of topics in name order (see [`crate::MetadataClient::topic_page`]).
    TopicPage {
        /// The page starts after this name; `None`: at the first topic.
        after: Option<String>,
        /// Most topics returned, 1 to [`MAX_TOPIC_PAGE`](crate::limits::MAX_TOPIC_PAGE).
        limit: usize,
    },
    /// How much of the cluster's quotas is in use.
    Usage,
    /// The cluster's id (set by the first `InitCluster`).
    ClusterId,
    /// How much one principal owns: the topics it created, their partitions, its
    /// producer ids (answered as [`ReadReply::Usage`]).
    UsageOf {
        /// The principal's name.
        owner: String,
    },
    /// Every consumer group, by name.
    ListGroups,
    /// One consumer group with its offsets.
    DescribeGroup {
        /// The group's name.
        group: String,
    },
    /// The trims retention calls for now (see
    /// [`crate::MetadataClient::retention_plan`]).
    RetentionPlan {
        /// Now, by the asking broker's clock.
        at_ms: i64,
        /// The retention of topics that set none.
        defaults: RetentionDefaults,
        /// Most trims returned.
        limit: usize,
    },
    /// Stored bytes and objects per topic, one page in name order, and the GC backlog (see
    /// [`crate::MetadataClient::storage_page`]).
    StoragePage {
        /// The page starts after this name; `None`: at the first topic.
        after: Option<String>,
        /// Most topics returned, 1 to [`MAX_STORAGE_PAGE`](crate::limits::MAX_STORAGE_PAGE).
        limit: usize,
    },
    /// The garbage a collector may delete now (see [`crate::MetadataClient::garbage`]).
    Garbage {
        /// Released objects released before this time are due.
        released_before: i64,
        /// Orphans recorded before this time are due.
        orphaned_before: i64,
        /// Most objects returned.
        limit: usize,
        /// Released objects awaiting a backup are not due (backups are on).
        #[serde(default)]
        after_backup: bool,
    },
    /// Which of these objects are in use (see [`crate::MetadataClient::in_use`]).
    InUse {
        /// 1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND) names.
        objects: Vec<String>,
        /// Objects released at or after this time are still in their grace: in use.
        released_before: i64,
        /// Released objects awaiting a backup are in use (backups are on).
        #[serde(default)]
        after_backup: bool,
    },
    /// Objects an index entry references, one page in name order (see
    /// [`crate::MetadataClient::referenced_objects`]).
    Referenced {
        /// The page starts after this name; `None`: at the first object.
        after: Option<String>,
        /// Most names returned, 1 to
        /// [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND).
        limit: usize,
    },
}

/// The answer to a [`ReadQuery`], same variant order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ReadReply {
    /// All topics, in name order.
    Topics(Vec<TopicView>),
    /// The topic asked for.
    Topic(TopicView),
    /// A slice of a partition index.
    Slice(PartitionSlice),
    /// Every registered broker.
    Brokers(Vec<BrokerView>),
    /// A producer (`None`: never issued).
    Producer(Option<ProducerView>),
    /// Objects recorded as garbage, the first `limit` by name.
    Orphans(OrphanList),
    /// One page of topics.
    TopicPage(TopicPage),
    /// The quotas in use.
    Usage(Usage),
    /// The cluster's id; `None` until one is set.
    ClusterId(Option<String>),
    /// Every consumer group.
    Groups(Vec<GroupSummary>),
    /// The group asked for.
    Group(GroupView),
    /// The trims retention calls for.
    RetentionPlan(Vec<PlannedTrim>),
    /// One page of stored bytes per topic, and the GC backlog.
    StoragePage(StoragePage),
    /// The garbage due.
    Garbage(GarbageList),
    /// The objects asked about that are in use.
    InUse(Vec<String>),
    /// One page of referenced objects, in name order.
    Referenced(Vec<String>),
}

/// An error as it crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RemoteError {
    /// See [`Error::NotLeader`].
    NotLeader {
        /// The leader's node id, if known.
        leader_id: Option<u64>,
        /// Leader `host:port`.
        leader_addr: Option<String>,
    },
    /// See [`Error::Rejected`].
    Rejected(CommandError),
    /// See [`Error::PartitionNotFound`].
    PartitionNotFound {
        /// The topic's name.
        topic: String,
        /// Partition asked for.
        partition: u32,
        /// Partitions the topic has.
        partitions: u32,
    },
    /// See [`Error::Unavailable`].
    Unavailable(String),
    /// See [`Error::Storage`].
    Storage(String),
    /// See [`Error::ShuttingDown`].
    ShuttingDown,
    /// See [`Error::MembershipRefused`].
    MembershipRefused(String),
}

impl From<Error> for RemoteError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotLeader {
                leader_id,
                leader_addr,
            } => RemoteError::NotLeader {
                leader_id,
                leader_addr,
            },
            Error::Rejected(refusal) => RemoteError::Rejected(refusal),
            Error::PartitionNotFound {
                topic,
                partition,
                partitions,
            } => RemoteError::PartitionNotFound {
                topic,
                partition,
                partitions,
            },
            Error::Unavailable(message) => RemoteError::Unavailable(message),
            Error::Storage(message) => RemoteError::Storage(message),
            Error::ShuttingDown => RemoteError::ShuttingDown,
            Error::MembershipRefused(message) => RemoteError::MembershipRefused(message),
        }
    }
}

impl From<RemoteError> for Error {
    fn from(error: RemoteError) -> Self {
        match error {
            RemoteError::NotLeader {
                leader_id,
                leader_addr,
            } => Error::NotLeader {
                leader_id,
                leader_addr,
            },
            RemoteError::Rejected(refusal) => Error::Rejected(refusal),
            RemoteError::PartitionNotFound {
                topic,
                partition,
                partitions,
            } => Error::PartitionNotFound {
                topic,
                partition,
                partitions,
            },
            RemoteError::Unavailable(message) => Error::Unavailable(message),
            // The remote node's disk failed or it is stopping: another node may serve.
            RemoteError::Storage(message) => {
                Error::Unavailable(format!("remote metadata storage error: {message}"))
            }
            RemoteError::ShuttingDown => {
                Error::Unavailable("remote metadata node is shutting down".to_owned())
            }
            RemoteError::MembershipRefused(message) => Error::MembershipRefused(message),
        }
    }
}

/// The reply body of every `/meta/v1` call.
pub(crate) type Reply<T> = std::result::Result<T, RemoteError>;

/// `GET /meta/v1/watch` answer: the node's last applied log index and, when asked for with
/// `changes=true`, what changed after the caller's `after`:
///
/// - `{"applied": N}`: without `changes=true` (the original answer, unchanged).
/// - `{"applied": N, "changes": [{"index", "topic_id", "partition", "high_watermark",
///   "deleted"}, …]}`: every partition changed by the entries after `after` up to `N`, in
///   log order ([`PartitionChange`]); possibly empty.
/// - `{"applied": N, "reset": true}`: the node no longer remembers the changes after
///   `after` (it keeps the last [`CHANGE_RING_CAPACITY`](crate::changes::CHANGE_RING_CAPACITY),
///   in memory, and none from before it started): anything may have changed.
///
/// A reply with `changes=true` asked but neither field (a node that predates them) counts as
/// a reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WatchReply {
    /// Last applied index.
    pub(crate) applied: u64,
    /// The changes after `after`, if asked for and known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) changes: Option<Vec<PartitionChange>>,
    /// Whether the changes after `after` are unknown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) reset: bool,
}

impl WatchReply {
    /// The original answer: the applied index only.
    pub(crate) fn applied(applied: u64) -> Self {
        WatchReply {
            applied,
            changes: None,
            reset: false,
        }
    }

    /// The answer carrying `feed`.
    pub(crate) fn of_feed(feed: ChangeFeed) -> Self {
        match feed {
            ChangeFeed::Changes { applied, changes } => WatchReply {
                changes: Some(changes),
                ..WatchReply::applied(applied)
            },
            ChangeFeed::Reset { applied } => WatchReply {
                reset: true,
                ..WatchReply::applied(applied)
            },
        }
    }

    /// The feed this answer carries (a reset unless it lists changes).
    pub(crate) fn into_feed(self) -> ChangeFeed {
        match self.changes {
            Some(changes) if !self.reset => ChangeFeed::Changes {
                applied: self.applied,
                changes,
            },
            _ => ChangeFeed::Reset {
                applied: self.applied,
            },
        }
    }
}

/// `POST /meta/v1/heartbeat`: a group member is alive. Answered by the leader from its
/// state and recorded in its in-memory liveness table; never a Raft write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeartbeatCall {
    /// The group.
    pub(crate) group: String,
    /// The member.
    pub(crate) member_id: String,
    /// The generation the member knows, if it says.
    pub(crate) generation: Option<u64>,
}

/// `POST /meta/v1/members/learner`: add (or re-add) a node as a non-voting learner; the
/// call returns once it has caught up with the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AddLearner {
    /// The node's id.
    pub(crate) node_id: u64,
    /// Its Raft `host:port`.
    pub(crate) addr: String,
}

/// `POST /meta/v1/members/voters`: make exactly these nodes the voters (each must be a
/// member already, learner or voter); voters not listed leave the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SetVoters {
    /// The new voter set.
    pub(crate) voters: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_reply_without_changes_is_a_reset_and_the_plain_answer_is_unchanged() {
        let legacy: WatchReply = serde_json::from_str(r#"{"applied":7}"#).unwrap();
        assert_eq!(legacy.into_feed(), ChangeFeed::Reset { applied: 7 });
        let plain = serde_json::to_string(&WatchReply::applied(7)).unwrap();
        assert_eq!(plain, r#"{"applied":7}"#);
        let empty = WatchReply::of_feed(ChangeFeed::Changes {
            applied: 8,
            changes: Vec::new(),
        });
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"applied":8,"changes":[]}"#
        );
        let reset = WatchReply::of_feed(ChangeFeed::Reset { applied: 9 });
        assert_eq!(
            serde_json::to_string(&reset).unwrap(),
            r#"{"applied":9,"reset":true}"#
        );
        assert_eq!(reset.into_feed(), ChangeFeed::Reset { applied: 9 });
    }
}
