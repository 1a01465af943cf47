//! [`AppState`]: what every HTTP handler shares: the services (write, read, metadata) and
//! the broker's configuration, identity, clock and metrics.

use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::AtomicU64;

use silt_bookie::cache::ChunkReader;
use silt_bookie::clock::Clock;
use silt_bookie::store::ObjectStoreHandle;
#[cfg(feature = "fault-injection")]
use silt_bookie::store::faults::FaultControl;
use silt_bookie::wal::SegmentSpool;
use silt_metadata::MetadataClient;
use tokio::sync::watch;

use crate::auth::live::Auth;
use crate::budget::ByteBudget;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::read::Fetcher;
use crate::write::Writer;

/// Shared state of the HTTP server; cloning is cheap.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The effective configuration.
    pub(crate) config: Arc<Config>,
    /// Wall-clock time: record timestamps, topic creation, lease judgements.
    pub(crate) clock: Arc<dyn Clock>,
    /// The metadata service (topics, producers, the cluster's view).
    pub(crate) metadata: Arc<dyn MetadataClient>,
    /// The write service.
    pub(crate) writer: Arc<Writer>,
    /// The read service.
    pub(crate) fetcher: Fetcher,
    /// The tiered chunk reader (its cache counters are exported at `/metrics`).
    pub(crate) reader: Arc<ChunkReader>,
    /// The broker's metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Bytes of produce bodies in flight (`server.max_request_bytes_in_flight`).
    pub(crate) request_bytes: ByteBudget,
    /// Bytes of fetch responses in flight (`server.max_fetch_bytes_in_flight`).
    pub(crate) fetch_bytes: ByteBudget,
    /// The object store (`/readyz` lists it).
    pub(crate) store: ObjectStoreHandle,
    /// Sealed segments on local disk (`/metrics` reports their bytes).
    pub(crate) spool: Arc<SegmentSpool>,
    /// Flips to `true` when the broker starts shutting down; long-polls return early.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// This broker's identity in the cluster.
    pub(crate) identity: Arc<BrokerIdentity>,
    /// The principals in force (`[auth]`), reloaded when their file changes.
    pub(crate) auth: Arc<Auth>,
    /// Test machinery: the object-store fault injector and the write-ahead cache budget it
    /// may lower (only with `--fault-injection`).
    #[cfg(feature = "fault-injection")]
    pub(crate) faults: Option<FaultInjection>,
}

/// What the test-only fault endpoint controls.
#[cfg(feature = "fault-injection")]
#[derive(Clone)]
pub(crate) struct FaultInjection {
    /// The object-store faults.
    pub(crate) control: FaultControl,
    /// The write-ahead cache's disk budget (`wal.max_spool_bytes`; lowered to simulate a
    /// full disk).
    pub(crate) spool_budget: Arc<AtomicU64>,
}

/// Who this broker is.
#[derive(Debug, Clone)]
pub(crate) struct BrokerIdentity {
    /// The id it registers under (`cluster.broker_id`, else `broker-<ULID>`).
    pub(crate) broker_id: String,
    /// The URL clients reach it at (`cluster.advertise`, else `http://<listen address>`).
    pub(crate) advertise: String,
}
