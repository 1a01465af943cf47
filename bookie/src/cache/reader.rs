//! [`ChunkReader`]: reads one chunk's bytes through the tiers: memory ([`ChunkCache`]),
//! then the local spool (for segments still on this broker's disk), then the local disk
//! cache ([`DiskCache`], if configured), then a ranged GET.
//!
//! Below memory, reads are coalesced ([`super::coalesce`]): concurrent reads of one chunk
//! make one read (one GET at most); the others await it. [`ChunkReader::prefetch`] warms
//! the tiers in the background with the same coalesced read, bounded by its own semaphore
//! (`max_prefetch` permits, requests dropped when saturated), so foreground reads never
//! wait for a prefetch permit and a foreground read of a chunk being prefetched joins that
//! read instead of issuing a second GET.
//!
//! Invariants: a chunk found in a lower tier is inserted into memory, and one read by a
//! GET into memory and the disk cache, only once its length and CRC32C check; a tier
//! answer of the wrong length is [`Error::Corrupt`]; a spool or disk-cache copy that does
//! not verify falls through to the bucket; bytes are returned raw (the caller verifies
//! them with [`crate::batch::decode_batch`]). Spool reads run on the blocking pool.
//!
//! Billing ([`crate::store::cost`]): a ranged GET is billed to the topic the caller names
//! ([`ChunkReader::read_topic_chunk`], [`ChunkReader::prefetch_topic`]; the cluster when
//! none), a whole-segment GET to every topic of the segment by its chunks' share.
//!
//! Counters: `memory_*` count foreground lookups; the lower tiers count the reads actually
//! made (one per coalesced group, prefetches included); `coalesced_reads` counts the reads
//! that were answered by another's read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tokio::sync::Semaphore;

use crate::batch::verify_batch;
use crate::cache::coalesce::{Flight, Inflight, rebuild_error};
use crate::cache::disk::DiskCache;
use crate::cache::memory::ChunkCache;
use crate::error::{Error, Result};
use crate::store::ObjectStoreHandle;
use crate::store::cost::{Shares, attributed};
use crate::store::paths::segment_id;
use crate::store::retry::{RetryPolicy, retrying};
use crate::wal::SegmentSpool;

/// Default bound on background prefetch reads in flight.
pub const DEFAULT_MAX_PREFETCH: usize = 8;

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
    /// Reads answered from the disk cache.
    pub disk_cache_hits: u64,
    /// Reads a configured disk cache could not answer (not counted without one).
    pub disk_cache_misses: u64,
    /// Reads answered by a ranged GET.
    pub object_store_hits: u64,
    /// Ranged GETs that failed.
    pub object_store_misses: u64,
    /// Bytes received from object storage.
    pub object_store_get_bytes: u64,
    /// Reads that missed memory and were answered by another read of the same chunk
    /// (joined while in flight, or finished just before).
    pub coalesced_reads: u64,
    /// Chunks a prefetch read warmed (read below memory and answered without error).
    pub prefetched_chunks: u64,
    /// Prefetch requests dropped because `max_prefetch` reads were already in flight.
    pub prefetch_dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    memory_hits: AtomicU64,
    memory_misses: AtomicU64,
    disk_hits: AtomicU64,
    disk_misses: AtomicU64,
    disk_cache_hits: AtomicU64,
    disk_cache_misses: AtomicU64,
    object_store_hits: AtomicU64,
    object_store_misses: AtomicU64,
    object_store_get_bytes: AtomicU64,
    coalesced_reads: AtomicU64,
    prefetched_chunks: AtomicU64,
    prefetch_dropped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Tiered chunk reader. Cheap to clone; clones share tiers, counters, reads in flight and
/// prefetch permits.
#[derive(Debug, Clone)]
pub struct ChunkReader {
    store: ObjectStoreHandle,
    cache: Arc<ChunkCache>,
    spool: Option<Arc<SegmentSpool>>,
    disk: Option<Arc<DiskCache>>,
    counters: Arc<Counters>,
    inflight: Arc<Inflight>,
    prefetch_permits: Arc<Semaphore>,
    max_prefetch: usize,
    whole_segments: bool,
}

/// Coalescing key position of a whole-segment read (no chunk starts there).
const WHOLE_OBJECT: u64 = u64::MAX;

/// One chunk to read, and the topic its GET is billed to (`None`: the cluster).
#[derive(Debug, Clone, Copy)]
struct ChunkAt<'a> {
    topic_id: Option<u64>,
    object: &'a str,
    position: u64,
    length: u32,
}

impl<'a> ChunkAt<'a> {
    /// The chunk at `position` (`length` bytes) of `object`, of topic `topic_id`.
    fn new(topic_id: Option<u64>, object: &'a str, position: u64, length: u32) -> Self {
        ChunkAt {
            topic_id,
            object,
            position,
            length,
        }
    }
}

impl ChunkReader {
    /// A reader over `store`, with `cache` as the memory tier and `spool` (if any) as the
    /// local copy of segments not yet uploaded or just uploaded.
    pub fn new(
        store: ObjectStoreHandle,
        cache: Arc<ChunkCache>,
        spool: Option<Arc<SegmentSpool>>,
    ) -> Self {
        Self {
            store,
            cache,
            spool,
            disk: None,
            counters: Arc::new(Counters::default()),
            inflight: Arc::new(Inflight::default()),
            prefetch_permits: Arc::new(Semaphore::new(DEFAULT_MAX_PREFETCH)),
            max_prefetch: DEFAULT_MAX_PREFETCH,
            whole_segments: false,
        }
    }

    /// On a miss in every local tier, GET the whole segment (one request) instead of the
    /// one chunk, and cache every chunk of it. A segment holds many partitions' chunks, so
    /// readers catching up on several partitions (and the next fetches of one partition's
    /// neighbours) then cost one GET per segment instead of one per chunk; the price is
    /// reading the other partitions' bytes, which S3 does not bill in-region. Concurrent
    /// misses on chunks of one segment share its one GET. Call before cloning the reader.
    pub fn with_whole_segment_reads(mut self, enabled: bool) -> Self {
        self.whole_segments = enabled;
        self
    }

    /// Adds `disk` as the tier between the spool and the ranged GET. Call before cloning
    /// the reader: clones made earlier keep their tiers.
    pub fn with_disk_cache(mut self, disk: Arc<DiskCache>) -> Self {
        self.disk = Some(disk);
        self
    }

    /// Bounds background prefetch reads in flight (default [`DEFAULT_MAX_PREFETCH`]).
    /// Call before cloning the reader.
    pub fn with_max_prefetch(mut self, max_prefetch: usize) -> Self {
        self.prefetch_permits = Arc::new(Semaphore::new(max_prefetch));
        self.max_prefetch = max_prefetch;
        self
    }

    /// The memory tier.
    pub fn cache(&self) -> &Arc<ChunkCache> {
        &self.cache
    }

    /// The disk-cache tier, if configured.
    pub fn disk_cache(&self) -> Option<&Arc<DiskCache>> {
        self.disk.as_ref()
    }

    /// The raw bytes of the chunk at `position` (`length` bytes) of `object`; a ranged GET
    /// it makes is billed to the cluster (see [`read_topic_chunk`](Self::read_topic_chunk)).
    pub async fn read_chunk(&self, object: &str, position: u64, length: u32) -> Result<Bytes> {
        self.read_topic_chunk(None, object, position, length).await
    }

    /// [`read_chunk`](Self::read_chunk) of a chunk of topic `topic_id`: a ranged GET of it
    /// is billed to that topic ([`crate::store::cost`]); a whole-segment GET is billed to
    /// the segment's topics by share whatever the topic.
    pub async fn read_topic_chunk(
        &self,
        topic_id: Option<u64>,
        object: &str,
        position: u64,
        length: u32,
    ) -> Result<Bytes> {
        if let Some(bytes) = self.read_memory(object, position, length)? {
            return Ok(bytes);
        }
        bump(&self.counters.memory_misses);
        let chunk = ChunkAt::new(topic_id, object, position, length);
        self.read_coalesced(chunk).await
    }

    /// The chunk from the memory tier alone, without waiting: `None` on a miss (not
    /// counted as one: a [`read_chunk`](Self::read_chunk) that follows counts it). Lets a
    /// caller serve hot chunks before queueing for the slower tiers.
    pub fn read_memory(&self, object: &str, position: u64, length: u32) -> Result<Option<Bytes>> {
        let Some(bytes) = self.cache.get(object, position) else {
            return Ok(None);
        };
        check_len(&bytes, object, position, length)?;
        bump(&self.counters.memory_hits);
        Ok(Some(bytes))
    }

    /// Warms the tiers with `(object, position, length)` chunks in the background, so a
    /// later [`read_chunk`](Self::read_chunk) hits memory. Never blocks: chunks already in
    /// memory are skipped, and requests beyond `max_prefetch` reads in flight are dropped
    /// (counted in `prefetch_dropped`), as are all of them outside a tokio runtime.
    pub fn prefetch(&self, chunks: Vec<(String, u64, u32)>) {
        self.prefetch_topic(None, chunks);
    }

    /// [`prefetch`](Self::prefetch) of chunks of topic `topic_id`, billed to it as
    /// [`read_topic_chunk`](Self::read_topic_chunk) bills.
    pub fn prefetch_topic(&self, topic_id: Option<u64>, chunks: Vec<(String, u64, u32)>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.counters
                .prefetch_dropped
                .fetch_add(chunks.len() as u64, Ordering::Relaxed);
            return;
        };
        for (object, position, length) in chunks {
            if self.cache.peek(&object, position).is_some() {
                continue;
            }
            let Ok(permit) = Arc::clone(&self.prefetch_permits).try_acquire_owned() else {
                bump(&self.counters.prefetch_dropped);
                continue;
            };
            let reader = self.clone();
            runtime.spawn(async move {
                let _permit = permit;
                let chunk = ChunkAt::new(topic_id, &object, position, length);
                match reader.read_coalesced(chunk).await {
                    Ok(_) => bump(&reader.counters.prefetched_chunks),
                    Err(error) => {
                        tracing::debug!(%error, object, position, "prefetch read failed");
                    }
                }
            });
        }
    }

    /// Waits until no prefetch read is in flight (shutdown, tests).
    pub async fn prefetch_idle(&self) {
        let all = u32::try_from(self.max_prefetch).unwrap_or(u32::MAX);
        // An error only means the semaphore is closed, which this reader never does.
        let _ = self.prefetch_permits.acquire_many(all).await;
    }

    /// Reads below memory, joining a read of the same chunk in flight.
    async fn read_coalesced(&self, chunk: ChunkAt<'_>) -> Result<Bytes> {
        let ChunkAt {
            topic_id,
            object,
            position,
            length,
        } = chunk;
        let key = (object.to_owned(), position);
        let flight = self.inflight.join_or_start(
            key,
            || self.cache.peek(object, position),
            || {
                let reader = self.clone();
                let object = object.to_owned();
                async move {
                    let chunk = ChunkAt::new(topic_id, &object, position, length);
                    reader.read_lower(chunk).await
                }
            },
        );
        let shared = match flight {
            Flight::Started(shared) => shared,
            Flight::Joined(shared) => {
                bump(&self.counters.coalesced_reads);
                shared
            }
            Flight::Ready(bytes) => {
                bump(&self.counters.coalesced_reads);
                check_len(&bytes, object, position, length)?;
                return Ok(bytes);
            }
        };
        let bytes = shared.await.map_err(|error| rebuild_error(&error))?;
        // A joined read may have been asked for another length.
        check_len(&bytes, object, position, length)?;
        Ok(bytes)
    }

    /// Spool, then disk cache, then a ranged GET; the one read of a coalesced group.
    async fn read_lower(&self, chunk: ChunkAt<'_>) -> Result<Bytes> {
        let ChunkAt {
            topic_id,
            object,
            position,
            length,
        } = chunk;
        let counters = &self.counters;
        let path = Path::parse(object).map_err(|error| Error::ObjectStore(error.into()))?;
        // The spool is a local copy; the bucket is authoritative. A spool read that fails or
        // does not verify falls through instead of failing the read.
        match self.read_spool(&path, position, length).await {
            Ok(Some(bytes)) if verified(&bytes, object, position, length) => {
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

        if let Some(disk) = &self.disk {
            match disk.get(object, position).await {
                Some(bytes) if verified(&bytes, object, position, length) => {
                    bump(&counters.disk_cache_hits);
                    self.cache.insert(object, position, bytes.clone());
                    return Ok(bytes);
                }
                Some(_) => {
                    tracing::warn!(
                        object,
                        position,
                        "disk cache copy of a chunk fails its checksum; reading the bucket"
                    );
                }
                None => {}
            }
            bump(&counters.disk_cache_misses);
        }

        if self.whole_segments && segment_id(&path).is_some() {
            return self.read_via_segment(object, position, length).await;
        }
        let end = position.saturating_add(u64::from(length));
        let get = retrying(
            "chunk GET",
            RetryPolicy::for_bytes(u64::from(length)),
            || self.store.store.get_range(&path, position..end),
        );
        let shares = |_: &_| topic_id.map(Shares::one).unwrap_or_default();
        let bytes = self.counted_get(attributed(self.store.stats.costs(), get, shares).await)?;
        check_len(&bytes, object, position, length)?;
        // Only verified chunks enter the caches; a corrupt one is returned for the
        // caller's decode to reject, and is read again next time.
        if verify_batch(&bytes).is_ok() {
            self.cache.insert(object, position, bytes.clone());
            if let Some(disk) = &self.disk {
                disk.insert(object, position, bytes.clone());
            }
        }
        Ok(bytes)
    }

    /// Counts a GET's outcome and bytes.
    fn counted_get(&self, result: object_store::Result<Bytes>) -> Result<Bytes> {
        let counters = &self.counters;
        match result {
            Ok(bytes) => {
                bump(&counters.object_store_hits);
                counters
                    .object_store_get_bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                Ok(bytes)
            }
            Err(error) => {
                bump(&counters.object_store_misses);
                Err(error.into())
            }
        }
    }

    /// One chunk out of its whole segment, fetched (or joined) with one GET.
    async fn read_via_segment(&self, object: &str, position: u64, length: u32) -> Result<Bytes> {
        let flight = self.inflight.join_or_start(
            (object.to_owned(), WHOLE_OBJECT),
            || None,
            || {
                let reader = self.clone();
                let object = object.to_owned();
                async move { reader.fetch_segment(&object).await }
            },
        );
        let segment = match flight {
            Flight::Started(shared) => shared.await.map_err(|error| rebuild_error(&error))?,
            Flight::Joined(shared) => {
                bump(&self.counters.coalesced_reads);
                shared.await.map_err(|error| rebuild_error(&error))?
            }
            // Whole-segment reads are never "ready" (their `ready` answers None).
            Flight::Ready(segment) => segment,
        };
        let start = usize::try_from(position).unwrap_or(usize::MAX);
        let end = start.saturating_add(length as usize);
        if end > segment.len() {
            return Err(Error::corrupt(format!(
                "chunk {object}:{position} (+{length}) lies past the end of its {}-byte segment",
                segment.len()
            )));
        }
        Ok(Bytes::copy_from_slice(&segment[start..end]))
    }

    /// GETs a whole segment and puts every chunk that verifies into memory and the disk
    /// cache (each a copy, so no cached chunk pins the segment buffer).
    async fn fetch_segment(&self, object: &str) -> Result<Bytes> {
        let path = Path::parse(object).map_err(|error| Error::ObjectStore(error.into()))?;
        let get = retrying("segment GET", RetryPolicy::for_bytes(8 << 20), || async {
            self.store.store.get(&path).await?.bytes().await
        });
        let shares = |got: &object_store::Result<Bytes>| {
            got.as_ref()
                .map_or_else(|_| Shares::default(), |bytes| Shares::of_segment(bytes))
        };
        let segment = attributed(self.store.stats.costs(), get, shares).await;
        let segment = self.counted_get(segment)?;
        let chunks = crate::segment::read_footer(&segment)?;
        for chunk in &chunks {
            let bytes = Bytes::copy_from_slice(crate::segment::chunk_bytes(&segment, chunk)?);
            if verify_batch(&bytes).is_ok() {
                if let Some(disk) = &self.disk {
                    disk.insert(object, chunk.position, bytes.clone());
                }
                self.cache.insert(object, chunk.position, bytes);
            }
        }
        Ok(segment)
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
            disk_cache_hits: load(&counters.disk_cache_hits),
            disk_cache_misses: load(&counters.disk_cache_misses),
            object_store_hits: load(&counters.object_store_hits),
            object_store_misses: load(&counters.object_store_misses),
            object_store_get_bytes: load(&counters.object_store_get_bytes),
            coalesced_reads: load(&counters.coalesced_reads),
            prefetched_chunks: load(&counters.prefetched_chunks),
            prefetch_dropped: load(&counters.prefetch_dropped),
        }
    }
}

/// True when a local copy has the expected length and passes its checksum.
fn verified(bytes: &Bytes, object: &str, position: u64, length: u32) -> bool {
    check_len(bytes, object, position, length).is_ok() && verify_batch(bytes).is_ok()
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
        builder.append(1, 0, Compression::None, None, std::slice::from_ref(&record));
        builder.append(1, 1, Compression::Zstd, None, &[record]);
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

        // 1. On local disk: spool tier, then memory (the memory-only read waits for
        // nothing and finds it only afterwards).
        assert!(
            reader
                .read_memory(&object, first.position, first.length)
                .unwrap()
                .is_none()
        );
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
        let hot = reader.read_memory(&object, first.position, first.length);
        assert_eq!(hot.unwrap(), Some(bytes));
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
        assert_eq!(stats.memory_hits, 3);
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

#[cfg(test)]
mod coalescing_and_prefetch_tests {
    use ulid::Ulid;

    use super::*;
    use crate::batch::{Compression, decode_batch};
    use crate::record::{Payload, Record};
    use crate::segment::{SealedSegment, SegmentBuilder};
    use crate::store::paths::segment_path;
    use crate::upload::upload_segment;

    /// A segment of three one-record chunks, uploaded; its object name.
    async fn uploaded(store: &ObjectStoreHandle) -> (String, SealedSegment) {
        let mut builder = SegmentBuilder::new();
        for partition in 0..3 {
            let record = Record {
                timestamp_ms: 5,
                key: None,
                value: Payload::bytes(vec![partition as u8; 100]),
                headers: vec![],
            };
            builder.append(1, partition, Compression::None, None, &[record]);
        }
        let sealed = builder.finish().unwrap();
        let path = segment_path(&store.prefix, Ulid::from_parts(20, 20));
        upload_segment(store, &path, sealed.bytes.clone())
            .await
            .unwrap();
        (path.to_string(), sealed)
    }

    fn reader(store: &ObjectStoreHandle) -> ChunkReader {
        ChunkReader::new(store.clone(), Arc::new(ChunkCache::new(1 << 20)), None)
    }

    #[tokio::test]
    async fn whole_segment_reads_make_one_get_for_every_chunk_of_a_segment() {
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let reader = reader(&store).with_whole_segment_reads(true);
        let gets_before = store.stats.snapshot().gets;
        // Concurrent misses on different chunks of one segment share its one GET.
        let reads = sealed
            .chunks
            .iter()
            .map(|chunk| reader.read_chunk(&object, chunk.position, chunk.length));
        for (bytes, chunk) in futures::future::join_all(reads)
            .await
            .into_iter()
            .zip(&sealed.chunks)
        {
            let records = decode_batch(&bytes.unwrap()).unwrap();
            assert_eq!(records[0].value.data[0], chunk.partition as u8);
        }
        // Every chunk of it is now a memory hit.
        for chunk in &sealed.chunks {
            reader
                .read_chunk(&object, chunk.position, chunk.length)
                .await
                .unwrap();
        }
        assert_eq!(store.stats.snapshot().gets, gets_before + 1);
        assert_eq!(reader.stats().object_store_hits, 1);
        assert_eq!(reader.inflight.len(), 0);
        // A chunk range past the segment's end is corrupt data, not a panic.
        let error = reader_past_end(&store, &object).await;
        assert!(error.is_corrupt(), "{error}");
    }

    async fn reader_past_end(store: &ObjectStoreHandle, object: &str) -> Error {
        reader(store)
            .with_whole_segment_reads(true)
            .read_chunk(object, 1 << 30, 10)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn concurrent_reads_of_one_chunk_make_one_get() {
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let reader = reader(&store);
        let chunk = sealed.chunks[1];
        let gets_before = store.stats.snapshot().gets;
        let reads = (0..16).map(|_| reader.read_chunk(&object, chunk.position, chunk.length));
        let results = futures::future::join_all(reads).await;
        for bytes in results {
            assert_eq!(decode_batch(&bytes.unwrap()).unwrap().len(), 1);
        }
        assert_eq!(store.stats.snapshot().gets, gets_before + 1);
        let stats = reader.stats();
        assert_eq!(stats.object_store_hits, 1);
        assert_eq!(stats.memory_misses, 16);
        assert_eq!(stats.coalesced_reads, 15);
        assert_eq!(reader.inflight.len(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_tasks_make_one_get() {
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let reader = reader(&store);
        let chunk = sealed.chunks[0];
        let gets_before = store.stats.snapshot().gets;
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let reader = reader.clone();
                let object = object.clone();
                tokio::spawn(async move {
                    reader
                        .read_chunk(&object, chunk.position, chunk.length)
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // However the tasks interleave: memory hit, joined, or found in memory on joining.
        assert_eq!(store.stats.snapshot().gets, gets_before + 1);
        let stats = reader.stats();
        assert_eq!(stats.memory_hits + stats.coalesced_reads, 15);
    }

    #[tokio::test]
    async fn coalesced_failures_reach_every_reader_and_are_not_cached() {
        let store = ObjectStoreHandle::in_memory();
        let reader = reader(&store);
        let reads = (0..4).map(|_| reader.read_chunk("segments/missing.seg", 0, 10));
        for result in futures::future::join_all(reads).await {
            assert!(result.unwrap_err().is_not_found());
        }
        let stats = reader.stats();
        assert_eq!(stats.object_store_misses, 1);
        assert_eq!(stats.coalesced_reads, 3);
        assert!(
            reader
                .read_chunk("segments/missing.seg", 0, 10)
                .await
                .is_err()
        );
        assert_eq!(reader.stats().object_store_misses, 2);
    }

    #[tokio::test]
    async fn prefetched_chunks_are_memory_hits() {
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let reader = reader(&store);
        let chunk = sealed.chunks[2];
        let gets_before = store.stats.snapshot().gets;
        reader.prefetch(vec![(object.clone(), chunk.position, chunk.length)]);
        reader.prefetch_idle().await;
        assert_eq!(reader.stats().prefetched_chunks, 1);
        // Already in memory: skipped, no second GET.
        reader.prefetch(vec![(object.clone(), chunk.position, chunk.length)]);
        reader.prefetch_idle().await;
        let bytes = reader
            .read_chunk(&object, chunk.position, chunk.length)
            .await
            .unwrap();
        assert_eq!(decode_batch(&bytes).unwrap().len(), 1);
        assert_eq!(store.stats.snapshot().gets, gets_before + 1);
        let stats = reader.stats();
        assert_eq!(stats.memory_hits, 1);
        assert_eq!(stats.memory_misses, 0);
        assert_eq!(stats.prefetched_chunks, 1);
        assert_eq!(stats.prefetch_dropped, 0);
    }

    #[tokio::test]
    async fn prefetch_drops_requests_when_saturated_and_never_blocks_reads() {
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let reader = reader(&store).with_max_prefetch(1);
        let requests = sealed
            .chunks
            .iter()
            .map(|chunk| (object.clone(), chunk.position, chunk.length))
            .collect();
        // On this current-thread runtime the first prefetch task cannot run before
        // `prefetch` returns, so it holds the only permit and the other two are dropped.
        reader.prefetch(requests);
        assert_eq!(reader.stats().prefetch_dropped, 2);
        // A foreground read needs no prefetch permit.
        let last = sealed.chunks[2];
        reader
            .read_chunk(&object, last.position, last.length)
            .await
            .unwrap();
        reader.prefetch_idle().await;
        let stats = reader.stats();
        assert_eq!(stats.prefetched_chunks, 1);
        assert_eq!(stats.object_store_hits, 2);
    }

    #[tokio::test]
    async fn the_disk_cache_sits_between_spool_and_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(
            DiskCache::open(dir.path().join("disk"), 4 << 20)
                .await
                .unwrap(),
        );
        let store = ObjectStoreHandle::in_memory();
        let (object, sealed) = uploaded(&store).await;
        let chunk = sealed.chunks[0];
        let first = reader(&store).with_disk_cache(Arc::clone(&disk));
        first
            .read_chunk(&object, chunk.position, chunk.length)
            .await
            .unwrap();
        assert_eq!(first.stats().disk_cache_misses, 1);
        assert_eq!(first.stats().object_store_hits, 1);

        // A fresh memory tier (a restarted broker): the disk cache answers, no GET.
        disk.flush().await;
        let gets_before = store.stats.snapshot().gets;
        let second = reader(&store).with_disk_cache(Arc::clone(&disk));
        let bytes = second
            .read_chunk(&object, chunk.position, chunk.length)
            .await
            .unwrap();
        assert_eq!(decode_batch(&bytes).unwrap().len(), 1);
        assert_eq!(store.stats.snapshot().gets, gets_before);
        let stats = second.stats();
        assert_eq!((stats.disk_cache_hits, stats.disk_cache_misses), (1, 0));
        assert!(second.cache().peek(&object, chunk.position).is_some());

        // A disk copy that fails its checksum falls through to the bucket.
        let other = sealed.chunks[1];
        let garbage = Bytes::from(vec![0u8; other.length as usize]);
        disk.insert(&object, other.position, garbage);
        let bytes = second
            .read_chunk(&object, other.position, other.length)
            .await
            .unwrap();
        assert_eq!(decode_batch(&bytes).unwrap().len(), 1);
        let stats = second.stats();
        assert_eq!(stats.disk_cache_misses, 1);
        assert_eq!(stats.object_store_hits, 1);
        disk.close().await.unwrap();
    }
}
