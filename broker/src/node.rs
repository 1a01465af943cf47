//! Assembles a running silt node from a [`Config`]: the object store, the embedded
//! metadata service, the spool and caches, start-up recovery, the write pipeline and the
//! HTTP server; and takes it down in the right order.
//!
//! Shutdown order: stop accepting connections and let in-flight requests finish (long-polls
//! are woken and return), then seal and commit whatever is staged, then stop Raft. Nothing
//! acknowledged is lost at any step: acknowledgement already implies upload and commit.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use silt_bookie::cache::{ChunkCache, ChunkReader, DiskCache};
use silt_bookie::store::faulty::{FaultConfig, FaultControl};
use silt_bookie::store::open_store;
use silt_bookie::wal::{SealPolicy, SegmentSpool};
use silt_metadata::MetadataClient;
use silt_metadata::{MetadataNode, NodeConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server;
use crate::state::AppState;
use crate::write::WritePipeline;
use crate::write::partitioner::StickyPartitioner;
use crate::write::pipeline::PipelineParts;
use crate::write::recovery::recover_spool;
use crate::write::topic_cache::TopicCache;

/// How long shutdown waits for staged records to be sealed, uploaded and committed.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running node (`silt dev`: broker and embedded metadata in one process).
pub struct RunningNode {
    /// The address the HTTP server listens on.
    pub addr: SocketAddr,
    /// The object store URL in use.
    pub object_store_url: String,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    pipeline: WritePipeline,
    metadata: MetadataNode,
    disk_cache: Option<Arc<DiskCache>>,
}

/// Starts everything; returns once the server accepts connections.
pub async fn start(config: Config) -> anyhow::Result<RunningNode> {
    let data_dir = &config.storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create storage.data_dir {}", data_dir.display()))?;
    let object_store_url = config.object_store_url()?;
    let mut store = open_store(&object_store_url)
        .with_context(|| format!("cannot open object store {object_store_url}"))?;
    if let Some(model) = FaultConfig::profile(&config.storage.simulated_latency) {
        tracing::warn!(
            model = %config.storage.simulated_latency,
            "adding simulated cloud latency to every object-store request (benchmarking only)"
        );
        store = store.with_faults(FaultControl::new(model));
    }
    let metadata_node = MetadataNode::open(NodeConfig {
        node_id: 1,
        data_dir: data_dir.join("metadata"),
    })
    .await
    .context("cannot start the embedded metadata service")?;
    let metadata: Arc<dyn MetadataClient> = Arc::new(metadata_node.client());
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
    let parts = Arc::new(PipelineParts {
        store: store.clone(),
        spool: spool.clone(),
        metadata: metadata.clone(),
        cache,
        metrics: metrics.clone(),
        spool_budget: config.wal.max_spool_bytes,
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
        shutdown,
        server,
        pipeline,
        metadata: metadata_node,
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
        self.metadata
            .shutdown()
            .await
            .context("metadata service shutdown")?;
        Ok(())
    }
}
