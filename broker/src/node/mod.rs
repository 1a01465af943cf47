//! Assembles a running silt broker from a [`Config`]: the object store, the metadata
//! service (embedded for `silt dev`, or a cluster over HTTP for `silt broker`), the spool
//! and caches, start-up recovery, the write and read services, the lease heartbeat and the
//! HTTP server; and takes it down in the right order.
//!
//! Shutdown order: stop accepting connections and let in-flight requests finish (long-polls
//! are woken and return), then seal and commit whatever is staged, then stop Raft. Nothing
//! acknowledged is lost at any step: acknowledgement already implies upload and commit.

mod heartbeat;
mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use silt_bookie::cache::DiskCache;
use silt_bookie::clock::{Clock, SystemClock};
use silt_bookie::wal::SealPolicy;
use silt_metadata::{HttpClient, MetadataClient, MetadataNode, NodeConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use ulid::Ulid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::read::Fetcher;
use crate::server;
use crate::state::{AppState, BrokerIdentity};
use crate::write::pipeline::WritePipeline;
use crate::write::recovery::recover_spool;
use crate::write::{WriteLimits, Writer};
use storage::Storage;

/// How long shutdown waits for staged records to be sealed, uploaded and committed.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running broker: with the embedded metadata service (`silt dev`, empty
/// `cluster.metadata`) or a member of a cluster (`silt broker`).
pub struct RunningNode {
    /// The address the HTTP server listens on.
    pub addr: SocketAddr,
    /// The object store URL in use.
    pub object_store_url: String,
    /// This broker's registry id.
    pub broker_id: String,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    pipeline: WritePipeline,
    metadata: Option<MetadataNode>,
    heartbeat: JoinHandle<()>,
    disk_cache: Option<Arc<DiskCache>>,
}

/// Starts everything; returns once the server accepts connections.
pub async fn start(config: Config) -> anyhow::Result<RunningNode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let storage = Storage::open(&config).await?;
    let (metadata_node, metadata) = open_metadata(&config).await?;
    let metrics = Arc::new(Metrics::default());
    let parts = Arc::new(storage.pipeline_parts(&metadata, &metrics, &clock));
    let recovered = recover_spool(&parts)
        .await
        .context("cannot recover sealed segments from the write-ahead cache")?;
    if recovered > 0 {
        info!(
            recovered,
            "committed sealed segments left by an earlier run"
        );
    }
    let pipeline = WritePipeline::start(parts, seal_policy(&config));
    let listener = tokio::net::TcpListener::bind(config.listen_addr()?)
        .await
        .with_context(|| format!("cannot listen on server.listen = {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    let identity = Arc::new(identity(&config, addr));
    let heartbeat = tokio::spawn(heartbeat::heartbeat_loop(
        metadata.clone(),
        identity.clone(),
        config.cluster.lease,
        clock.clone(),
    ));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let object_store_url = storage.store.url.clone();
    let disk_cache = storage.disk_cache.clone();
    let state = app_state(
        config,
        storage,
        Services {
            metadata,
            pipeline: pipeline.clone(),
            metrics,
            clock,
        },
        identity.clone(),
        shutdown_rx.clone(),
    );
    let server = serve(listener, state, shutdown_rx);
    Ok(RunningNode {
        addr,
        object_store_url,
        broker_id: identity.broker_id.clone(),
        shutdown,
        server,
        pipeline,
        metadata: metadata_node,
        heartbeat,
        disk_cache,
    })
}

/// The embedded one-node metadata service (empty `cluster.metadata`), or a client of the
/// cluster named there.
async fn open_metadata(
    config: &Config,
) -> anyhow::Result<(Option<MetadataNode>, Arc<dyn MetadataClient>)> {
    let endpoints = config.cluster.metadata_endpoints();
    if !endpoints.is_empty() {
        let client = HttpClient::connect(&endpoints)
            .context("cannot set up the metadata client (cluster.metadata)")?;
        return Ok((None, Arc::new(client)));
    }
    let node = MetadataNode::open(NodeConfig {
        node_id: 1,
        data_dir: config.storage.data_dir.join("metadata"),
    })
    .await
    .context("cannot start the embedded metadata service")?;
    let client = Arc::new(node.client());
    Ok((Some(node), client))
}

fn seal_policy(config: &Config) -> SealPolicy {
    SealPolicy {
        max_segment_bytes: usize::try_from(config.wal.max_segment_bytes).unwrap_or(usize::MAX),
        linger: config.wal.linger,
        max_uploads_in_flight: config.wal.max_uploads_in_flight as usize,
    }
}

fn identity(config: &Config, addr: SocketAddr) -> BrokerIdentity {
    BrokerIdentity {
        broker_id: if config.cluster.broker_id.is_empty() {
            format!("broker-{}", Ulid::new())
        } else {
            config.cluster.broker_id.clone()
        },
        advertise: if config.cluster.advertise.is_empty() {
            format!("http://{addr}")
        } else {
            config.cluster.advertise.clone()
        },
    }
}

/// The services every handler reaches.
struct Services {
    metadata: Arc<dyn MetadataClient>,
    pipeline: WritePipeline,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

fn app_state(
    config: Config,
    storage: Storage,
    services: Services,
    identity: Arc<BrokerIdentity>,
    shutdown: watch::Receiver<bool>,
) -> AppState {
    let limits = WriteLimits {
        max_record_bytes: config.server.max_record_bytes,
        request_timeout: config.server.request_timeout,
    };
    let read_slots = Arc::new(tokio::sync::Semaphore::new(
        config.server.fetch_read_concurrency as usize,
    ));
    let Services {
        metadata,
        pipeline,
        metrics,
        clock,
    } = services;
    AppState {
        writer: Arc::new(Writer::new(metadata.clone(), pipeline, limits)),
        fetcher: Fetcher::new(metadata.clone(), storage.reader.clone(), read_slots),
        config: Arc::new(config),
        clock,
        metadata,
        reader: storage.reader,
        metrics,
        store: storage.store,
        spool: storage.spool,
        shutdown,
        identity,
        #[cfg(feature = "fault-injection")]
        faults: storage.faults,
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    let app = server::router(state);
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            })
            .await
    })
}

impl RunningNode {
    /// Stops the node cleanly.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "http server stopped with an error"),
            Err(error) => tracing::warn!(%error, "http server task failed"),
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, self.pipeline.close())
            .await
            .is_err()
        {
            tracing::warn!(
                "staged records were not all committed within {CLOSE_TIMEOUT:?}; the spool keeps them for the next start"
            );
        }
        if let Some(disk) = &self.disk_cache
            && let Err(error) = disk.close().await
        {
            tracing::warn!(%error, "disk cache did not close cleanly; it starts from what it can recover");
        }
        self.heartbeat.abort();
        if let Some(metadata) = self.metadata {
            metadata
                .shutdown()
                .await
                .context("metadata service shutdown")?;
        }
        Ok(())
    }
}
