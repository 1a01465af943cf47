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

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::limits::{MAX_CHUNKS_PER_COMMAND, MAX_SEGMENTS_PER_COMMAND};
use crate::types::{
    BrokerView, Command, CommandResult, NodeStatus, OrphanList, PartitionSlice, ProducerView,
    SegmentCommit, SegmentCommitResult, TopicPage, TopicSettings, TopicView, Usage,
};
use crate::wire::{ReadQuery, ReadReply};

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

    /// Describes one topic (linearizable).
    async fn describe_topic(&self, name: &str) -> Result<TopicView>;

    /// Commits segments in order, in one Raft entry per run of at most
    /// [`MAX_SEGMENTS_PER_COMMAND`] segments and [`MAX_CHUNKS_PER_COMMAND`] chunks (a
    /// longer list is split; each part is committed before the next is sent, so on an
    /// error a prefix may be committed). Idempotent by object name, so retrying the whole
    /// list after an error is safe.
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

    /// A counter that changes each time the state machine applies an entry; long-polls
    /// wait on it instead of polling the leader.
    fn subscribe_applied(&self) -> watch::Receiver<u64>;

    /// Issues a new idempotent producer id (`None`) or bumps an existing one's epoch,
    /// fencing its older instances.
    async fn init_producer(&self, producer_id: Option<u64>) -> Result<ProducerView>;

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

    /// The cluster's id: the one set, or, if none is yet, a fresh one this call sets (the
    /// first `InitCluster` applied wins, so every caller gets the same id). A Raft write.
    async fn cluster_id(&self) -> Result<String>;

    /// The cluster's id if one is set (linearizable read; sets nothing).
    async fn known_cluster_id(&self) -> Result<Option<String>>;

    /// Records uploaded objects that were never committed, for garbage collection.
    async fn record_orphans(&self, objects: Vec<String>, at_ms: i64) -> Result<()>;

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
    /// See [`MetadataClient::status`].
    async fn node_status(&self) -> Result<NodeStatus>;
    /// See [`MetadataClient::is_ready`].
    async fn ready(&self) -> bool;
    /// See [`MetadataClient::failure`].
    fn fatal(&self) -> Option<String> {
        None
    }
}

/// This process's wall-clock time in milliseconds since the Unix epoch: a commit's proposal
/// time (`at_ms`), stamped here because the proposer is whoever builds the command (the
/// node itself behind `/meta/v1/write`, which re-stamps what a client sent).
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh request id (a ULID) for one logical call, made before the transport's retries so
/// a retry after a lost reply is answered with the first attempt's result.
fn new_request_id() -> Option<String> {
    Some(ulid::Ulid::new().to_string())
}

/// Splits `segments`, in order, into runs within the per-command limits. A segment with
/// more chunks than one command may hold is a run of its own (the state machine refuses it).
fn command_parts(segments: Vec<SegmentCommit>) -> Vec<Vec<SegmentCommit>> {
    let mut parts: Vec<Vec<SegmentCommit>> = Vec::new();
    let mut chunks = 0;
    for segment in segments {
        let fits = parts.last().is_some_and(|part| {
            part.len() < MAX_SEGMENTS_PER_COMMAND
                && chunks + segment.chunks.len() <= MAX_CHUNKS_PER_COMMAND
        });
        if !fits {
            parts.push(Vec::new());
            chunks = 0;
        }
        chunks += segment.chunks.len();
        if let Some(part) = parts.last_mut() {
            part.push(segment);
        }
    }
    parts
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

#[async_trait]
impl<T: Transport> MetadataClient for T {
    async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
        created_at_ms: i64,
    ) -> Result<TopicView> {
        let command = Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            settings,
            created_at_ms,
            request_id: new_request_id(),
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
        };
        let reply = self.write(command).await?;
        expect_reply!(reply, CommandResult::Deleted => ())
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

    async fn describe_topic(&self, name: &str) -> Result<TopicView> {
        let name = name.to_owned();
        let reply = self.query(ReadQuery::DescribeTopic { name }).await?;
        expect_reply!(reply, ReadReply::Topic(topic) => topic)
    }

    async fn commit_segments(
        &self,
        segments: Vec<SegmentCommit>,
    ) -> Result<Vec<SegmentCommitResult>> {
        let mut results = Vec::with_capacity(segments.len());
        for part in command_parts(segments) {
            let at_ms = Some(now_ms());
            let command = Command::CommitSegments {
                segments: part,
                at_ms,
            };
            let reply = self.write(command).await?;
            results.extend(expect_reply!(reply, CommandResult::Committed(r) => r)?);
        }
        Ok(results)
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

    fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.applied()
    }

    async fn init_producer(&self, producer_id: Option<u64>) -> Result<ProducerView> {
        let request_id = new_request_id();
        let command = Command::InitProducer {
            producer_id,
            request_id,
        };
        let reply = self.write(command).await?;
        expect_reply!(reply, CommandResult::Producer(view) => view)
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
    use super::*;
    use crate::types::ChunkCommit;

    fn segment(chunks: usize) -> SegmentCommit {
        let chunk = ChunkCommit {
            topic_id: 1,
            partition: 0,
            position: 0,
            length: 1,
            record_count: 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
            producer: None,
        };
        SegmentCommit {
            object: "s".to_owned(),
            size: 1,
            sealed_at_ms: None,
            chunks: vec![chunk; chunks],
        }
    }

    #[test]
    fn long_commits_are_split_within_the_command_limits_in_order() {
        let sizes =
            |parts: &[Vec<SegmentCommit>]| -> Vec<usize> { parts.iter().map(Vec::len).collect() };
        assert!(command_parts(Vec::new()).is_empty());
        let many = vec![segment(1); MAX_SEGMENTS_PER_COMMAND + 1];
        assert_eq!(sizes(&command_parts(many)), [MAX_SEGMENTS_PER_COMMAND, 1]);
        let half = MAX_CHUNKS_PER_COMMAND / 2;
        let parts = command_parts(vec![
            segment(half),
            segment(half),
            segment(1),
            segment(MAX_CHUNKS_PER_COMMAND + 1),
            segment(2),
        ]);
        let chunks: Vec<Vec<usize>> = parts
            .iter()
            .map(|part| part.iter().map(|s| s.chunks.len()).collect())
            .collect();
        assert_eq!(
            chunks,
            [
                vec![half, half],
                vec![1],
                vec![MAX_CHUNKS_PER_COMMAND + 1],
                vec![2]
            ]
        );
    }
}
