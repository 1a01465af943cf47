//! [`MetadataClient`]: the one way a broker reaches the metadata service.
//!
//! Two implementations run the same state machine: [`LocalClient`] calls into an embedded
//! openraft node (used by `silt dev`, no network hop); [`HttpClient`] reaches a metadata
//! cluster over HTTP, following the leader.

mod http;
mod local;

pub use http::HttpClient;
pub use local::LocalClient;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::Result;
use crate::types::{
    BrokerView, NodeStatus, PartitionSlice, ProducerView, SegmentCommit, SegmentCommitResult,
    TopicSettings, TopicView,
};
use crate::wire::OrphanList;

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

    /// Deletes a topic.
    async fn delete_topic(&self, name: &str) -> Result<()>;

    /// Lists topics by name (linearizable).
    async fn list_topics(&self) -> Result<Vec<TopicView>>;

    /// Describes one topic (linearizable).
    async fn describe_topic(&self, name: &str) -> Result<TopicView>;

    /// Commits segments in one Raft entry, in order. Idempotent by object name.
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

    /// Records uploaded objects that were never committed, for garbage collection.
    async fn record_orphans(&self, objects: Vec<String>, at_ms: i64) -> Result<()>;

    /// The Raft cluster as the leader (or, failing that, any reachable node) sees it.
    async fn status(&self) -> Result<NodeStatus>;

    /// Whether the service can currently order writes (a leader is known and reachable).
    async fn is_ready(&self) -> bool;
}
