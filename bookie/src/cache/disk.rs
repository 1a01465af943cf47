//! [`DiskCache`]: the local-disk tier of chunk bytes, the one adapter over `foyer`.
//!
//! It owns a foyer block engine on a directory (one file per block of at most 16 MiB) and
//! keeps chunk bytes keyed by `(object path, position)`. foyer is pinned (`=0.22.6`) and
//! used only here: a foyer upgrade touches this file alone.
//!
//! foyer's hybrid cache is used with its in-memory tier switched off (every memory
//! insert is rejected by the filter, so entries are "phantom" and hold no memory):
//! [`super::ChunkCache`] already is the memory tier. `HybridCachePolicy::WriteOnInsertion`
//! queues every insert for the disk at once; until it is flushed, foyer's keeper answers
//! reads of it from memory.
//!
//! **Restarts.** The cache survives restarts (`RecoverMode::Quiet`): at open foyer reads
//! each block's small blob index (4 KiB per blob), not the data, so recovery is cheap, and
//! an entry that does not parse is skipped. Surviving is safe because chunk bytes are
//! immutable once committed and the reader checks every disk answer's length and CRC32C
//! ([`crate::batch::verify_batch`]) before use; foyer also checksums each entry.
//!
//! Invariants: the cache is best effort: `get` turns every foyer error into a miss
//! (logged) and `insert` may drop entries (queue full, entry larger than a block); a hit is
//! only returned for the exact key asked (foyer indexes by a 64-bit hash, so the key read
//! back is compared). One directory belongs to one `DiskCache` at a time.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use foyer::{
    BlockEngineConfig, Code, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder,
    HybridCachePolicy, RecoverMode,
};

use crate::error::{Error, Result};

/// Largest block (foyer's eviction unit and the largest cacheable chunk).
const MAX_BLOCK_BYTES: u64 = 16 << 20;
/// Smallest block, for small test caches.
const MIN_BLOCK_BYTES: u64 = 256 << 10;
/// foyer's alignment for block sizes and device capacity.
const PAGE_BYTES: u64 = 4 << 10;
/// Smallest accepted capacity: four of the smallest blocks.
const MIN_CAPACITY_BYTES: u64 = 4 * MIN_BLOCK_BYTES;

/// Key of one chunk: its object's path and its byte position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChunkKey {
    object: String,
    position: u64,
}

impl Code for ChunkKey {
    fn encode(&self, writer: &mut impl Write) -> foyer::Result<()> {
        self.position.encode(writer)?;
        self.object.encode(writer)
    }

    fn decode(reader: &mut impl Read) -> foyer::Result<Self> {
        let position = u64::decode(reader)?;
        let object = String::decode(reader)?;
        Ok(ChunkKey { object, position })
    }

    fn estimated_size(&self) -> usize {
        self.position.estimated_size() + self.object.estimated_size()
    }
}

/// Local-disk cache of chunk bytes (foyer block engine).
pub struct DiskCache {
    hybrid: HybridCache<ChunkKey, Bytes>,
    dir: PathBuf,
    capacity_bytes: u64,
    block_bytes: u64,
}

impl fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskCache")
            .field("dir", &self.dir)
            .field("capacity_bytes", &self.capacity_bytes)
            .field("block_bytes", &self.block_bytes)
            .finish_non_exhaustive()
    }
}

fn foyer_error(context: String, error: foyer::Error) -> Error {
    Error::io(context, std::io::Error::other(error))
}

impl DiskCache {
    /// Opens (creating it if needed) a disk cache of `capacity_bytes` under `dir`,
    /// recovering the entries an earlier run left there. Must run inside a tokio runtime
    /// (foyer spawns its flushers on it). A capacity below 1 MiB is rejected.
    pub async fn open(dir: PathBuf, capacity_bytes: u64) -> Result<DiskCache> {
        if capacity_bytes < MIN_CAPACITY_BYTES {
            return Err(Error::io(
                format!(
                    "opening disk cache {}: capacity {capacity_bytes} bytes is below the minimum {MIN_CAPACITY_BYTES}",
                    dir.display()
                ),
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            ));
        }
        let capacity_bytes = capacity_bytes - capacity_bytes % PAGE_BYTES;
        let block_bytes = block_bytes_for(capacity_bytes);
        std::fs::create_dir_all(&dir).map_err(|error| {
            Error::io(
                format!("creating disk cache directory {}", dir.display()),
                error,
            )
        })?;
        let device = FsDeviceBuilder::new(&dir)
            .with_capacity(usize::try_from(capacity_bytes).unwrap_or(usize::MAX))
            .build()
            .map_err(|error| {
                foyer_error(
                    format!("opening disk cache device {}", dir.display()),
                    error,
                )
            })?;
        let engine = BlockEngineConfig::new(device)
            .with_block_size(usize::try_from(block_bytes).unwrap_or(usize::MAX))
            // foyer's default flush buffer (16 MiB, submit queue 2x) is most of its memory;
            // a block's worth is enough to keep the disk busy, and inserts past it are
            // dropped (a cache may skip an insert).
            .with_buffer_pool_size(
                usize::try_from(block_bytes)
                    .unwrap_or(usize::MAX)
                    .min(8 << 20),
            );
        let hybrid = HybridCacheBuilder::new()
            .with_name("silt-chunks")
            .with_policy(HybridCachePolicy::WriteOnInsertion)
            // The memory tier is `ChunkCache`; foyer's keeps nothing (every entry phantom).
            .memory(64)
            .with_shards(1)
            .with_filter(|_: &ChunkKey, _: &Bytes| false)
            .storage()
            .with_engine_config(engine)
            .with_recover_mode(RecoverMode::Quiet)
            .build()
            .await
            .map_err(|error| foyer_error(format!("opening disk cache {}", dir.display()), error))?;
        Ok(DiskCache {
            hybrid,
            dir,
            capacity_bytes,
            block_bytes,
        })
    }

    /// The directory holding the cache files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The capacity in bytes (rounded down to 4 KiB).
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// The largest chunk the cache keeps (one foyer block, less its headers).
    pub fn block_bytes(&self) -> u64 {
        self.block_bytes
    }

    /// The cached bytes of the chunk at `position` of `object`, if any. Errors are
    /// logged and answered as a miss: the bucket is authoritative.
    pub async fn get(&self, object: &str, position: u64) -> Option<Bytes> {
        let key = ChunkKey {
            object: object.to_owned(),
            position,
        };
        match self.hybrid.get(&key).await {
            Ok(Some(entry)) if *entry.key() == key => Some(entry.value().clone()),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, object, position, "disk cache read failed; treating as a miss");
                None
            }
        }
    }

    /// Queues the chunk at `position` of `object` for the disk. Best effort: foyer may
    /// drop it (write queue full, chunk larger than a block).
    pub fn insert(&self, object: &str, position: u64, bytes: Bytes) {
        let key = ChunkKey {
            object: object.to_owned(),
            position,
        };
        // The returned entry is phantom: dropping it frees nothing but the handle.
        drop(self.hybrid.insert(key, bytes));
    }

    /// Waits until every queued insert is on disk.
    pub async fn flush(&self) {
        self.hybrid.storage().wait().await;
    }

    /// Flushes queued inserts and stops foyer's background tasks. Reads after `close`
    /// miss.
    pub async fn close(&self) -> Result<()> {
        self.hybrid.close().await.map_err(|error| {
            foyer_error(format!("closing disk cache {}", self.dir.display()), error)
        })
    }
}

/// A quarter of the capacity, within 256 KiB to 16 MiB, 4 KiB-aligned: at least four
/// blocks, so foyer always has a clean block to write into while reclaiming another.
fn block_bytes_for(capacity_bytes: u64) -> u64 {
    let block = (capacity_bytes / 4).clamp(MIN_BLOCK_BYTES, MAX_BLOCK_BYTES);
    block - block % PAGE_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_and_misses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path().join("disk"), 4 << 20)
            .await
            .unwrap();
        assert_eq!(cache.block_bytes(), 1 << 20);
        cache.insert("seg/a", 0, Bytes::from_static(b"chunk-a"));
        cache.insert("seg/a", 7, Bytes::from_static(b"chunk-b"));
        assert_eq!(cache.get("seg/a", 0).await.unwrap(), &b"chunk-a"[..]);
        cache.flush().await;
        assert_eq!(cache.get("seg/a", 7).await.unwrap(), &b"chunk-b"[..]);
        assert_eq!(cache.get("seg/a", 0).await.unwrap(), &b"chunk-a"[..]);
        assert!(cache.get("seg/a", 1).await.is_none());
        assert!(cache.get("seg/b", 0).await.is_none());
        cache.close().await.unwrap();
    }

    #[tokio::test]
    async fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        let chunk = Bytes::from(vec![9u8; 100_000]);
        {
            let cache = DiskCache::open(path.clone(), 4 << 20).await.unwrap();
            cache.insert("seg/a", 42, chunk.clone());
            cache.close().await.unwrap();
        }
        let cache = DiskCache::open(path, 4 << 20).await.unwrap();
        assert_eq!(cache.get("seg/a", 42).await.unwrap(), chunk);
        assert!(cache.get("seg/a", 0).await.is_none());
        cache.close().await.unwrap();
    }

    #[tokio::test]
    async fn rejects_tiny_capacities() {
        let dir = tempfile::tempdir().unwrap();
        let error = DiskCache::open(dir.path().to_path_buf(), 1000)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("below the minimum"), "{error}");
    }

    #[test]
    fn block_size_follows_capacity() {
        assert_eq!(block_bytes_for(1 << 20), 256 << 10);
        assert_eq!(block_bytes_for(10 << 20), (10 << 20) / 4);
        assert_eq!(block_bytes_for(10 << 30), 16 << 20);
    }
}
