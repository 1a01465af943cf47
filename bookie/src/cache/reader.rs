//! [`ChunkReader`]: reads one chunk's bytes through the tiers: memory ([`ChunkCache`]),
//! then the local spool (for segments still on this broker's disk), then a ranged GET.
//!
//! Invariants: a chunk found in a lower tier is inserted into memory; a tier answer of the
//! wrong length is [`Error::Corrupt`]; bytes are returned raw (the caller verifies them
//! with [`crate::batch::decode_batch`]). Spool reads run on the blocking pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::batch::verify_batch;
use crate::cache::memory::ChunkCache;
use crate::error::{Error, Result};
use crate::store::ObjectStoreHandle;
use crate::store::paths::segment_id;
use crate::wal::SegmentSpool;

/// Per-tier counters of a [`ChunkReader`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatsSnapshot {
    /// Reads answered from memory.
    pub memory_hits: u64,
    /// Reads memory could not answer.
    pub memory_misses: u64,
    /// Reads answered from the local spool.
    pub disk_hits: u64,
    /// Reads the spool could not answer (no spool, not a segment, or file gone).
    pub disk_misses: u64,
    /// Reads answered by a ranged GET.
    pub object_store_hits: u64,
    /// Ranged GETs that failed.
    pub object_store_misses: u64,
    /// Bytes received from object storage.
    pub object_store_get_bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    memory_hits: AtomicU64,
    memory_misses: AtomicU64,
    disk_hits: AtomicU64,
    disk_misses: AtomicU64,
    object_store_hits: AtomicU64,
    object_store_misses: AtomicU64,
    object_store_get_bytes: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Tiered chunk reader.
#[derive(Debug, Clone)]
pub struct ChunkReader {
    store: ObjectStoreHandle,
    cache: Arc<ChunkCache>,
    spool: Option<Arc<SegmentSpool>>,
    counters: Arc<Counters>,
}

impl ChunkReader {
    /// A reader over `store`, with `cache` as the memory tier and `spool` (if any) as the
    /// local disk tier.
    pub fn new(
        store: ObjectStoreHandle,
        cache: Arc<ChunkCache>,
        spool: Option<Arc<SegmentSpool>>,
    ) -> Self {
        Self {
            store,
            cache,
            spool,
            counters: Arc::new(Counters::default()),
        }
    }

    /// The memory tier.
    pub fn cache(&self) -> &Arc<ChunkCache> {
        &self.cache
    }

    /// The raw bytes of the chunk at `position` (`length` bytes) of `object`.
    pub async fn read_chunk(&self, object: &str, position: u64, length: u32) -> Result<Bytes> {
        let counters = &self.counters;
        if let Some(bytes) = self.cache.get(object, position) {
            check_len(&bytes, object, position, length)?;
            bump(&counters.memory_hits);
            return Ok(bytes);
        }
        bump(&counters.memory_misses);

        let path = Path::parse(object).map_err(|error| Error::ObjectStore(error.into()))?;
        // The spool is a local copy; the bucket is authoritative. A spool read that fails or
        // does not verify falls through to the ranged GET instead of failing the read.
        match self.read_spool(&path, position, length).await {
            Ok(Some(bytes))
                if check_len(&bytes, object, position, length).is_ok()
                    && verify_batch(&bytes).is_ok() =>
            {
                bump(&counters.disk_hits);
                self.cache.insert(object, position, bytes.clone());
                return Ok(bytes);
            }
            Ok(None) => {}
            Ok(Some(_)) => {
                tracing::warn!(
                    object,
                    position,
                    "spool copy of a chunk fails its checksum; reading the bucket"
                );
            }
            Err(error) => {
                tracing::warn!(%error, object, position, "spool read failed; reading the bucket");
            }
        }
        bump(&counters.disk_misses);

        let end = position.saturating_add(u64::from(length));
        let bytes = match self.store.store.get_range(&path, position..end).await {
            Ok(bytes) => bytes,
            Err(error) => {
                bump(&counters.object_store_misses);
                return Err(error.into());
            }
        };
        bump(&counters.object_store_hits);
        counters
            .object_store_get_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        check_len(&bytes, object, position, length)?;
        // Only verified chunks enter the memory tier; a corrupt one is returned for the
        // caller's decode to reject, and is read again next time.
        if verify_batch(&bytes).is_ok() {
            self.cache.insert(object, position, bytes.clone());
        }
        Ok(bytes)
    }

    async fn read_spool(&self, path: &Path, position: u64, length: u32) -> Result<Option<Bytes>> {
        let (Some(spool), Some(id)) = (&self.spool, segment_id(path)) else {
            return Ok(None);
        };
        let spool = Arc::clone(spool);
        tokio::task::spawn_blocking(move || spool.read_range(id, position, length))
            .await
            .map_err(|error| Error::io("joining a spool read", std::io::Error::other(error)))?
    }

    /// Per-tier counters.
    pub fn stats(&self) -> CacheStatsSnapshot {
        let counters = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStatsSnapshot {
            memory_hits: load(&counters.memory_hits),
            memory_misses: load(&counters.memory_misses),
            disk_hits: load(&counters.disk_hits),
            disk_misses: load(&counters.disk_misses),
            object_store_hits: load(&counters.object_store_hits),
            object_store_misses: load(&counters.object_store_misses),
            object_store_get_bytes: load(&counters.object_store_get_bytes),
        }
    }
}

fn check_len(bytes: &Bytes, object: &str, position: u64, length: u32) -> Result<()> {
    if bytes.len() == length as usize {
        Ok(())
    } else {
        Err(Error::corrupt(format!(
            "chunk {object}@{position} is {} bytes, expected {length}",
            bytes.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use object_store::PutPayload;
    use ulid::Ulid;

    use super::*;
    use crate::batch::{Compression, decode_batch};
    use crate::record::{Payload, Record};
    use crate::segment::SegmentBuilder;
    use crate::store::paths::segment_path;
    use crate::upload::upload_segment;

    fn segment() -> crate::segment::SealedSegment {
        let mut builder = SegmentBuilder::new();
        let record = Record {
            timestamp_ms: 5,
            key: None,
            value: Payload::bytes(&b"v"[..]),
            headers: vec![],
        };
        builder.append(1, 0, Compression::None, std::slice::from_ref(&record));
        builder.append(1, 1, Compression::Zstd, &[record]);
        builder.finish().unwrap()
    }

    #[tokio::test]
    async fn tiers_are_tried_in_order_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(SegmentSpool::open(dir.path()).unwrap());
        let store = ObjectStoreHandle::in_memory();
        let cache = Arc::new(ChunkCache::new(1 << 20));
        let reader = ChunkReader::new(store.clone(), Arc::clone(&cache), Some(Arc::clone(&spool)));
        let sealed = segment();
        let id = Ulid::from_parts(10, 10);
        let path = segment_path(&store.prefix, id);
        let object = path.to_string();
        spool.write_sealed(id, &sealed.bytes).unwrap();
        upload_segment(&store, &path, sealed.bytes.clone())
            .await
            .unwrap();
        let [first, second] = [sealed.chunks[0], sealed.chunks[1]];

        // 1. On local disk: spool tier, then memory.
        let bytes = reader
            .read_chunk(&object, first.position, first.length)
            .await
            .unwrap();
        assert_eq!(decode_batch(&bytes).unwrap().len(), 1);
        let again = reader
            .read_chunk(&object, first.position, first.length)
            .await
            .unwrap();
        assert_eq!(bytes, again);
        // 2. Removed from the spool: object storage, then memory.
        spool.remove(id).unwrap();
        let gets_before = store.stats.snapshot().gets;
        let bytes = reader
            .read_chunk(&object, second.position, second.length)
            .await
            .unwrap();
        assert_eq!(decode_batch(&bytes).unwrap().len(), 1);
        reader
            .read_chunk(&object, second.position, second.length)
            .await
            .unwrap();
        assert_eq!(store.stats.snapshot().gets, gets_before + 1);

        let stats = reader.stats();
        assert_eq!(stats.memory_hits, 2);
        assert_eq!(stats.memory_misses, 2);
        assert_eq!(stats.disk_hits, 1);
        assert_eq!(stats.disk_misses, 1);
        assert_eq!(stats.object_store_hits, 1);
        assert_eq!(stats.object_store_get_bytes, u64::from(second.length));
    }

    #[tokio::test]
    async fn non_segment_objects_skip_the_spool_and_missing_objects_fail() {
        let store = ObjectStoreHandle::in_memory();
        let reader = ChunkReader::new(store.clone(), Arc::new(ChunkCache::new(1024)), None);
        let path = Path::from("compacted/x.bin");
        store
            .store
            .put(&path, PutPayload::from_static(b"0123456789"))
            .await
            .unwrap();
        let bytes = reader.read_chunk("compacted/x.bin", 2, 3).await.unwrap();
        assert_eq!(&bytes[..], b"234");
        let error = reader.read_chunk("missing/y.bin", 0, 1).await.unwrap_err();
        assert!(error.is_not_found());
        // A range past the end is short: corrupt, not silently truncated data.
        let error = reader
            .read_chunk("compacted/x.bin", 8, 5)
            .await
            .unwrap_err();
        assert!(
            error.is_corrupt() || error.code() == "object_store",
            "{error}"
        );
        let stats = reader.stats();
        assert_eq!(stats.disk_hits, 0);
        assert_eq!(stats.object_store_hits + stats.object_store_misses, 3);
    }
}
