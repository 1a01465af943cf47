//! [`AppState`]: what every HTTP handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use silt_bookie::cache::ChunkReader;
use silt_bookie::store::ObjectStoreHandle;
use silt_bookie::store::faulty::FaultControl;
use silt_bookie::wal::SegmentSpool;
use silt_metadata::MetadataClient;
use tokio::sync::watch;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::write::WritePipeline;
use crate::write::partitioner::StickyPartitioner;
use crate::write::producer_cache::ProducerCache;
use crate::write::topic_cache::TopicCache;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// The metadata service.
    pub metadata: Arc<dyn MetadataClient>,
    /// The write path.
    pub pipeline: WritePipeline,
    /// The read path's tiered chunk reader.
    pub reader: Arc<ChunkReader>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The object store.
    pub store: ObjectStoreHandle,
    /// Sealed segments on local disk.
    pub spool: Arc<SegmentSpool>,
    /// Admission of fetches to the read-and-encode phase (`server.fetch_read_concurrency`).
    pub read_slots: Arc<tokio::sync::Semaphore>,
    /// Topic routes for the write path.
    pub topics: Arc<TopicCache>,
    /// Round-robin for keyless records.
    pub sticky: Arc<StickyPartitioner>,
    /// Flips to `true` when the broker starts shutting down; long-polls return early.
    pub shutdown: watch::Receiver<bool>,
    /// Idempotent producers seen, checked before staging.
    pub producers: Arc<ProducerCache>,
    /// This broker's identity in the cluster.
    pub identity: Arc<BrokerIdentity>,
    /// The object-store fault injector (only with `cluster.fault_injection`).
    pub faults: Option<FaultControl>,
    /// The write-ahead cache's disk budget (`wal.max_spool_bytes`, lowered by the fault
    /// endpoint to simulate a full disk).
    pub spool_budget: Arc<AtomicU64>,
}

/// Who this broker is.
#[derive(Debug, Clone)]
pub struct BrokerIdentity {
    /// Registry id.
    pub broker_id: String,
    /// Client-facing URL.
    pub advertise: String,
}
