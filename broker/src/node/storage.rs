//! The broker's local and remote storage, opened from the configuration: the object store
//! (with the test-only fault layer when compiled in and asked for), the write-ahead spool,
//! the memory and disk read caches, and the tiered chunk reader over them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context;
use silt_bookie::cache::{ChunkCache, ChunkReader, DiskCache};
use silt_bookie::clock::Clock;
use silt_bookie::store::{ObjectStoreHandle, open_store};
use silt_bookie::wal::SegmentSpool;
use silt_metadata::MetadataClient;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::write::pipeline::{HeldBytes, PipelineParts};

/// Everything the broker stores or caches.
pub(super) struct Storage {
    pub(super) store: ObjectStoreHandle,
    pub(super) spool: Arc<SegmentSpool>,
    pub(super) cache: Arc<ChunkCache>,
    pub(super) disk_cache: Option<Arc<DiskCache>>,
    pub(super) reader: Arc<ChunkReader>,
    /// `wal.max_spool_bytes`, shared with the fault endpoint (which may lower it).
    pub(super) spool_budget: Arc<AtomicU64>,
    #[cfg(feature = "fault-injection")]
    pub(super) faults: Option<crate::state::FaultInjection>,
}

impl Storage {
    /// Opens every store and cache under `storage.data_dir`.
    pub(super) async fn open(config: &Config) -> anyhow::Result<Storage> {
        create_data_dir(config)?;
        let store = open_object_store(config)?;
        let spool_budget = Arc::new(AtomicU64::new(config.wal.max_spool_bytes));
        #[cfg(feature = "fault-injection")]
        let (store, faults) = with_faults(store, config, &spool_budget);
        let spool = open_spool(config)?;
        let cache = memory_cache(config);
        let disk_cache = open_disk_cache(config).await?;
        let reader = ChunkReader::new(store.clone(), cache.clone(), Some(spool.clone()));
        let reader = with_config(reader, config, disk_cache.clone());
        Ok(Storage {
            store,
            spool,
            cache,
            disk_cache,
            reader,
            spool_budget,
            #[cfg(feature = "fault-injection")]
            faults,
        })
    }

    /// The parts the write pipeline shares.
    pub(super) fn pipeline_parts(
        &self,
        metadata: &Arc<dyn MetadataClient>,
        metrics: &Arc<Metrics>,
        clock: &Arc<dyn Clock>,
    ) -> PipelineParts {
        PipelineParts {
            store: self.store.clone(),
            spool: self.spool.clone(),
            metadata: metadata.clone(),
            cache: self.cache.clone(),
            held: HeldBytes::new(
                self.cache.capacity_bytes() as u64,
                metrics.uploaded_bytes_in_memory.clone(),
            ),
            metrics: metrics.clone(),
            spool_budget: self.spool_budget.clone(),
            in_doubt: Arc::default(),
            clock: clock.clone(),
        }
    }
}

/// Creates `storage.data_dir` if it does not exist.
fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    let data_dir = &config.storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create storage.data_dir {}", data_dir.display()))
}

/// The object store the configuration names.
fn open_object_store(config: &Config) -> anyhow::Result<ObjectStoreHandle> {
    let object_store_url = config.object_store_url()?;
    open_store(&object_store_url)
        .with_context(|| format!("cannot open object store {object_store_url}"))
}

/// The memory tier, `cache.memory_bytes` large.
fn memory_cache(config: &Config) -> Arc<ChunkCache> {
    let bytes = usize::try_from(config.cache.memory_bytes).unwrap_or(usize::MAX);
    Arc::new(ChunkCache::new(bytes))
}

/// The chunk reader with `cache.whole_segment_reads` and the disk cache, if there is one.
fn with_config(
    reader: ChunkReader,
    config: &Config,
    disk_cache: Option<Arc<DiskCache>>,
) -> Arc<ChunkReader> {
    let reader = reader.with_whole_segment_reads(config.cache.whole_segment_reads);
    Arc::new(match disk_cache {
        Some(disk) => reader.with_disk_cache(disk),
        None => reader,
    })
}

/// No fsync: a spooled segment was never acknowledged, and recovery drops a file torn by a
/// power loss (it checks every CRC); after a process crash the page cache still has it.
fn open_spool(config: &Config) -> anyhow::Result<Arc<SegmentSpool>> {
    let data_dir = &config.storage.data_dir;
    let spool = SegmentSpool::open(data_dir.join("wal")).with_context(|| {
        format!(
            "cannot open the write-ahead cache under {}",
            data_dir.display()
        )
    })?;
    Ok(Arc::new(spool.with_sync(false)))
}

/// The disk tier under `storage.data_dir/cache`, unless `cache.disk_bytes` is 0.
async fn open_disk_cache(config: &Config) -> anyhow::Result<Option<Arc<DiskCache>>> {
    if config.cache.disk_bytes == 0 {
        return Ok(None);
    }
    let dir = config.storage.data_dir.join("cache");
    let cache = DiskCache::open(dir.clone(), config.cache.disk_bytes)
        .await
        .with_context(|| format!("cannot open the disk cache under {}", dir.display()))?;
    Ok(Some(Arc::new(cache)))
}

/// Puts the fault layer under the store when a latency model (`storage.simulated_latency`)
/// or the fault endpoint (`cluster.fault_injection`) asks for it; only the endpoint may
/// change faults at run time.
#[cfg(feature = "fault-injection")]
fn with_faults(
    store: ObjectStoreHandle,
    config: &Config,
    spool_budget: &Arc<AtomicU64>,
) -> (ObjectStoreHandle, Option<crate::state::FaultInjection>) {
    use silt_bookie::store::faults::{FaultConfig, FaultControl};
    let profile = FaultConfig::profile(&config.storage.simulated_latency);
    if profile.is_some() {
        tracing::warn!(
            model = %config.storage.simulated_latency,
            "adding simulated cloud latency to every object-store request (benchmarking only)"
        );
    }
    let endpoint = config.cluster.fault_injection;
    if endpoint {
        tracing::warn!("fault injection enabled: PUT /v1/admin/faults is served (testing only)");
    }
    if profile.is_none() && !endpoint {
        return (store, None);
    }
    let control = FaultControl::new(profile.unwrap_or_default());
    let store = store.with_faults(control.clone());
    let faults = endpoint.then(|| crate::state::FaultInjection {
        control,
        spool_budget: spool_budget.clone(),
    });
    (store, faults)
}
