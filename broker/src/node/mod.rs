//! Assembles a running silt broker from a [`Config`]: the object store, the metadata
//! service (embedded for `silt dev`, or a cluster over HTTP for `silt broker`, with a lease
//! renewed by a heartbeat task), the spool and caches, start-up recovery, the write pipeline and the
//! HTTP server; and takes it down in the right order.
//!
//! Shutdown order: stop accepting connections and let in-flight requests finish (long-polls
//! are woken and return), then seal and commit whatever is staged, then stop Raft. Nothing
//! acknowledged is lost at any step: acknowledgement already implies upload and commit.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use silt_bookie::cache::{ChunkCache, ChunkReader, DiskCache};
use silt_bookie::clock::{Clock, SystemClock};
use silt_bookie::store::faulty::{FaultConfig, FaultControl};
use silt_bookie::store::open_store;
use silt_bookie::wal::{SealPolicy, SegmentSpool};
use silt_metadata::MetadataClient;
use silt_metadata::{HttpClient, MetadataNode, NodeConfig};
use std::sync::atomic::AtomicU64;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use ulid::Ulid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server;
use crate::state::{AppState, BrokerIdentity};
use crate::write::WritePipeline;
use crate::write::partitioner::StickyPartitioner;
use crate::write::pipeline::PipelineParts;
use crate::write::recovery::recover_spool;
use crate::write::topic_cache::TopicCache;

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
    heartbeat: Option<JoinHandle<()>>,
    disk_cache: Option<Arc<DiskCache>>,
}

/// Renews this broker's lease every third of it, forever (a failed renewal is logged
/// and retried at the next tick; correctness never depends on the lease).
async fn heartbeat_loop(
    metadata: Arc<dyn MetadataClient>,
    identity: Arc<BrokerIdentity>,
    lease: std::time::Duration,
) {
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = false;
    loop {
        tick.tick().await;
        let now = SystemClock.now_ms();
        match metadata
            .broker_heartbeat(&identity.broker_id, &identity.advertise, lease_ms, now)
            .await
        {
            Ok(_) if !registered => {
                registered = true;
                info!(broker_id = %identity.broker_id, address = %identity.advertise, "registered with the metadata service");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "lease renewal failed; retrying");
            }
        }
    }
}

/// Starts everything; returns once the server accepts connections.
pub async fn start(config: Config) -> anyhow::Result<RunningNode> {
    let data_dir = &config.storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create storage.data_dir {}", data_dir.display()))?;
    let object_store_url = config.object_store_url()?;
    let mut store = open_store(&object_store_url)
        .with_context(|| format!("cannot open object store {object_store_url}"))?;
    let profile = FaultConfig::profile(&config.storage.simulated_latency);
    if profile.is_some() {
        tracing::warn!(
            model = %config.storage.simulated_latency,
            "adding simulated cloud latency to every object-store request (benchmarking only)"
        );
    }
    if config.cluster.fault_injection {
        tracing::warn!("fault injection enabled: PUT /v1/admin/faults is served (testing only)");
    }
    let control = (profile.is_some() || config.cluster.fault_injection)
        .then(|| FaultControl::new(profile.unwrap_or_default()));
    if let Some(control) = &control {
        store = store.with_faults(control.clone());
    }
    // Only the test-only endpoint may change faults at run time.
    let faults = control.filter(|_| config.cluster.fault_injection);
    let endpoints = config.cluster.metadata_endpoints();
    let (metadata_node, metadata): (Option<MetadataNode>, Arc<dyn MetadataClient>) =
        if endpoints.is_empty() {
            let node = MetadataNode::open(NodeConfig {
                node_id: 1,
                data_dir: data_dir.join("metadata"),
            })
            .await
            .context("cannot start the embedded metadata service")?;
            let client = Arc::new(node.client());
            (Some(node), client)
        } else {
            let client = HttpClient::connect(&endpoints)
                .context("cannot set up the metadata client (cluster.metadata)")?;
            (None, Arc::new(client))
        };
    // No fsync: a spooled segment was never acknowledged, and recovery drops a file torn by
    // a power loss (it checks every CRC); after a process crash the page cache still has it.
    let spool = SegmentSpool::open(data_dir.join("wal")).with_context(|| {
        format!(
            "cannot open the write-ahead cache under {}",
            data_dir.display()
        )
    })?;
    let spool = Arc::new(spool.with_sync(false));
    let cache = Arc::new(ChunkCache::new(
        usize::try_from(config.cache.memory_bytes).unwrap_or(usize::MAX),
    ));
    let disk_cache = if config.cache.disk_bytes > 0 {
        let dir = data_dir.join("cache");
        Some(Arc::new(
            DiskCache::open(dir.clone(), config.cache.disk_bytes)
                .await
                .with_context(|| format!("cannot open the disk cache under {}", dir.display()))?,
        ))
    } else {
        None
    };
    let mut reader = ChunkReader::new(store.clone(), cache.clone(), Some(spool.clone()))
        .with_whole_segment_reads(config.cache.whole_segment_reads);
    if let Some(disk) = &disk_cache {
        reader = reader.with_disk_cache(disk.clone());
    }
    let reader = Arc::new(reader);
    let metrics = Arc::new(Metrics::default());
    let spool_budget = Arc::new(AtomicU64::new(config.wal.max_spool_bytes));
    let parts = Arc::new(PipelineParts {
        store: store.clone(),
        spool: spool.clone(),
        metadata: metadata.clone(),
        cache,
        metrics: metrics.clone(),
        spool_budget: spool_budget.clone(),
    });
    let recovered = recover_spool(&parts)
        .await
        .context("cannot recover sealed segments from the write-ahead cache")?;
    if recovered > 0 {
        info!(
            recovered,
            "committed sealed segments left by an earlier run"
        );
    }
    let policy = SealPolicy {
        max_segment_bytes: usize::try_from(config.wal.max_segment_bytes).unwrap_or(usize::MAX),
        linger: config.wal.linger,
        max_uploads_in_flight: config.wal.max_uploads_in_flight as usize,
    };
    let pipeline = WritePipeline::start(parts, policy);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(config.listen_addr()?)
        .await
        .with_context(|| format!("cannot listen on server.listen = {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    let identity = Arc::new(BrokerIdentity {
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
    });
    let heartbeat = metadata_node.is_none().then(|| {
        tokio::spawn(heartbeat_loop(
            metadata.clone(),
            identity.clone(),
            config.cluster.lease,
        ))
    });
    let read_slots = Arc::new(tokio::sync::Semaphore::new(
        config.server.fetch_read_concurrency as usize,
    ));
    let state = AppState {
        config: Arc::new(config),
        metadata,
        pipeline: pipeline.clone(),
        reader,
        metrics,
        store,
        spool,
        sticky: Arc::new(StickyPartitioner::default()),
        topics: Arc::new(TopicCache::default()),
        read_slots,
        shutdown: shutdown_rx.clone(),
        producers: Arc::default(),
        identity: identity.clone(),
        faults,
        spool_budget,
    };
    let app = server::router(state);
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            })
            .await
    });
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
        if let Some(heartbeat) = self.heartbeat {
            heartbeat.abort();
        }
        if let Some(metadata) = self.metadata {
            metadata
                .shutdown()
                .await
                .context("metadata service shutdown")?;
        }
        Ok(())
    }
}
