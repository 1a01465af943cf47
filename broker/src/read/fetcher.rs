//! [`Fetcher`]: reads records of one partition from an offset.
//!
//! It asks the metadata service for the index entries that cover the offset (a
//! linearizable read, so a record acknowledged before the fetch began is visible), takes
//! the chunks the memory tier holds at once, and only if some are missing waits for a
//! read slot and reads those through the lower tiers (the local spool, the disk cache,
//! then a GET, several chunks at once), all within `server.request_timeout`. It verifies
//! each chunk's checksum and record count, and trims to the offset and the limits. At the
//! high watermark it waits on its partition's wake-up channel ([`Wakeups`]), not by
//! polling, until a record commits to that partition, `wait` passes, or the broker shuts
//! down; commits to other partitions do not make it read again.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use silt_bookie::batch::decode_batch;
use silt_bookie::cache::ChunkReader;
use silt_bookie::record::Record;
use silt_metadata::MetadataClient;
use silt_metadata::types::{CommandError, IndexEntry, PartitionSlice};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::read::ReadError;
use crate::read::wakeups::{Waiter, Wakeups};

/// Chunks read at once by one fetch.
const PARALLEL_CHUNK_READS: usize = 8;
/// Chunks read ahead past what one fetch returns.
const READ_AHEAD_CHUNKS: usize = 4;
/// Index entries asked for per lookup.
const ENTRIES_PER_LOOKUP: usize = 256;

/// What a fetch found: records with their offsets, in offset order.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// `(offset, record)` pairs.
    pub(crate) records: Vec<(u64, Record)>,
    /// The offset to fetch next.
    pub(crate) next_offset: u64,
    /// The partition's high watermark.
    pub(crate) high_watermark: u64,
    /// The id of the topic read.
    pub(crate) topic_id: u64,
    /// Bytes of keys, values and headers returned.
    pub(crate) bytes: u64,
    /// The read slot, released when the response has been encoded (held, never read:
    /// dropping it frees the slot).
    #[allow(dead_code)]
    pub(crate) slot: Option<OwnedSemaphorePermit>,
}

/// What one fetch may return and how long it may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits {
    /// Most records.
    pub(crate) max_records: u32,
    /// Most bytes of keys, values and headers; at least one record is returned anyway.
    pub(crate) max_bytes: u64,
    /// Long-poll wait at the high watermark.
    pub(crate) wait: Duration,
    /// Time for the read phase (waiting for a read slot, then reading the chunks), from
    /// the end of the wait: `server.request_timeout`.
    pub(crate) read_timeout: Duration,
}

/// A planned index entry and its chunk, if the memory tier already had it.
type Planned = (IndexEntry, Option<Bytes>);

/// Reads partitions.
#[derive(Clone)]
pub(crate) struct Fetcher {
    metadata: Arc<dyn MetadataClient>,
    reader: Arc<ChunkReader>,
    read_slots: Arc<Semaphore>,
    wakeups: Arc<Wakeups>,
    metrics: Arc<Metrics>,
}

impl Fetcher {
    /// A fetcher over the metadata service and a chunk reader; `read_slots` admits fetches
    /// to the read-and-encode phase; long-polls wait on `wakeups`; `metrics` counts its
    /// metadata reads.
    pub(crate) fn new(
        metadata: Arc<dyn MetadataClient>,
        reader: Arc<ChunkReader>,
        read_slots: Arc<Semaphore>,
        wakeups: Arc<Wakeups>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Fetcher {
            metadata,
            reader,
            read_slots,
            wakeups,
            metrics,
        }
    }

    /// Records from `at`: waits (up to `limits.wait`) at the high watermark, then reads the
    /// chunks that cover the offset.
    pub(crate) async fn fetch(
        &self,
        at: &Position<'_>,
        limits: FetchLimits,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Fetched, ReadError> {
        let slice = self.wait_for_records(at, limits.wait, shutdown).await?;
        let entries = plan(&slice.entries, at.offset, limits);
        self.read_ahead(slice.topic_id, &slice.entries, &entries);
        check_covered(at, &entries, slice.high_watermark)?;
        let deadline = Instant::now() + limits.read_timeout;
        let chunks = self.memory_chunks(entries)?;
        let slot = self.slot_for_misses(&chunks, deadline, limits).await?;
        let reading = self.read_records(at, slice.topic_id, chunks, limits);
        let taken = tokio::time::timeout_at(deadline, reading)
            .await
            .map_err(|_| past_deadline(limits))??;
        Ok(taken.into_fetched(&slice, slot))
    }

    /// The records of one index entry's chunk: from memory at once, else through the
    /// lower tiers after taking a read slot, all by `deadline` (`read_timeout` from the
    /// start, named in the error).
    pub(super) async fn read_one(
        &self,
        topic_id: u64,
        entry: IndexEntry,
        read_timeout: Duration,
    ) -> Result<Vec<Record>, ReadError> {
        let limits = FetchLimits {
            max_records: 1,
            max_bytes: 0,
            wait: Duration::ZERO,
            read_timeout,
        };
        let deadline = Instant::now() + read_timeout;
        let mut chunks = self.memory_chunks(vec![entry])?;
        let _slot = self.slot_for_misses(&chunks, deadline, limits).await?;
        let Some((entry, hot)) = chunks.pop() else {
            return Ok(Vec::new());
        };
        let reading = read_entry(&self.reader, topic_id, entry, hot);
        let (_, records) = tokio::time::timeout_at(deadline, reading)
            .await
            .map_err(|_| past_deadline(limits))??;
        Ok(records)
    }

    /// The metadata service, counting the request as `op`.
    pub(super) fn metadata(&self, op: &'static str) -> &dyn MetadataClient {
        self.metrics.metadata_request(op);
        self.metadata.as_ref()
    }

    /// Each planned entry with its chunk if the memory tier has it (without waiting).
    fn memory_chunks(&self, entries: Vec<IndexEntry>) -> Result<Vec<Planned>, ReadError> {
        entries
            .into_iter()
            .map(|e| Ok((self.reader.read_memory(&e.object, e.position, e.length)?, e)))
            .map(|planned| planned.map(|(hot, entry)| (entry, hot)))
            .collect()
    }

    /// A read slot if some chunk must come from below memory (spool, disk cache, bucket),
    /// waited for until `deadline`; none when every chunk is in memory. It is held until
    /// the response is encoded (it travels in `Fetched`).
    async fn slot_for_misses(
        &self,
        chunks: &[Planned],
        deadline: Instant,
        limits: FetchLimits,
    ) -> Result<Option<OwnedSemaphorePermit>, ReadError> {
        if chunks.iter().all(|(_, hot)| hot.is_some()) {
            return Ok(None);
        }
        let slots = self.read_slots.clone();
        let slot = tokio::time::timeout_at(deadline, slots.acquire_owned())
            .await
            .map_err(|_| past_deadline(limits))?;
        slot.map(Some).map_err(|_| ReadError::ShuttingDown)
    }

    /// The index entries from the offset, once the offset is below the high watermark or
    /// `wait` has passed (or the broker is shutting down). Waits on its partition's
    /// wake-up channel, not by polling: subscribes, reads again (so a commit made before
    /// it subscribed is not missed), and reads once more each time it is woken.
    async fn wait_for_records(
        &self,
        at: &Position<'_>,
        wait: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<PartitionSlice, ReadError> {
        let deadline = Instant::now() + wait;
        let mut waiter: Option<Waiter> = None;
        loop {
            let slice = self.lookup(at).await?;
            if at.offset < slice.high_watermark || Instant::now() >= deadline || *shutdown.borrow()
            {
                return Ok(slice);
            }
            match waiter.as_mut() {
                Some(w) if w.topic_id() == slice.topic_id => {
                    if !self.wait_once(w, at.offset, deadline, &mut shutdown).await {
                        return Ok(slice);
                    }
                }
                _ => waiter = Some(self.wakeups.subscribe(slice.topic_id, at.partition)),
            }
        }
    }

    /// Waits for the partition's high watermark to pass `offset` (or a delete or reset),
    /// the deadline or shutdown; `false` once the shutdown signal's sender is gone.
    async fn wait_once(
        &self,
        waiter: &mut Waiter,
        offset: u64,
        deadline: Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        self.metrics.long_polls_waiting.inc();
        let woken = tokio::select! {
            _ = waiter.past(offset) => true,
            () = tokio::time::sleep_until(deadline) => true,
            changed = shutdown.changed() => changed.is_ok(),
        };
        self.metrics.long_polls_waiting.dec();
        woken
    }

    /// One linearizable index lookup, refusing a topic that is not the one named by id and
    /// an offset outside the partition.
    async fn lookup(&self, at: &Position<'_>) -> Result<PartitionSlice, ReadError> {
        self.metrics.metadata_request("partition_slice");
        let slice = self
            .metadata
            .partition_slice(at.topic, at.partition, at.offset, ENTRIES_PER_LOOKUP)
            .await?;
        at.check_topic_id(slice.topic_id)?;
        if at.offset < slice.start_offset || at.offset > slice.high_watermark {
            return Err(at.out_of_range(&slice));
        }
        Ok(slice)
    }

    /// Read-ahead: a sequential reader's next fetch wants the chunks after these; warm them
    /// in the background (the reader bounds and drops prefetches under load), billing any
    /// GET to topic `topic_id`.
    fn read_ahead(&self, topic_id: u64, known: &[IndexEntry], planned: &[IndexEntry]) {
        let Some(last) = planned.last() else {
            return;
        };
        let ahead: Vec<(String, u64, u32)> = known
            .iter()
            .filter(|e| e.base_offset >= last.end_offset())
            .take(READ_AHEAD_CHUNKS)
            .map(|e| (e.object.to_string(), e.position, e.length))
            .collect();
        if !ahead.is_empty() {
            self.reader.prefetch_topic(Some(topic_id), ahead);
        }
    }

    /// Reads the planned chunks (several at once) and keeps the records from the offset
    /// within the limits; at least one record is returned whatever its size.
    async fn read_records(
        &self,
        at: &Position<'_>,
        topic_id: u64,
        entries: Vec<Planned>,
        limits: FetchLimits,
    ) -> Result<Taken, ReadError> {
        let mut chunks = self.read_chunks(topic_id, entries);
        let mut taken = Taken::new(at.offset, limits);
        while let Some(chunk) = chunks.next().await {
            let (entry, decoded) = chunk?;
            if !taken.add_chunk(at, &entry, decoded)? {
                break;
            }
        }
        Ok(taken)
    }

    /// The entries' chunks (those not already in memory read `PARALLEL_CHUNK_READS` at a
    /// time), decoded and yielded in order; GETs are billed to topic `topic_id`.
    fn read_chunks(
        &self,
        topic_id: u64,
        entries: Vec<Planned>,
    ) -> impl futures::Stream<Item = Result<(IndexEntry, Vec<Record>), ReadError>> + '_ {
        futures::stream::iter(entries.into_iter().map(move |(entry, hot)| {
            let reader = self.reader.clone();
            async move { read_entry(&reader, topic_id, entry, hot).await }
        }))
        .buffered(PARALLEL_CHUNK_READS)
    }
}

/// Refuses an index without an entry for an offset below the high watermark.
fn check_covered(
    at: &Position<'_>,
    entries: &[IndexEntry],
    high_watermark: u64,
) -> Result<(), ReadError> {
    let (topic, partition, offset) = (at.topic, at.partition, at.offset);
    if offset < high_watermark && entries.first().is_none_or(|e| e.base_offset > offset) {
        return Err(ReadError::Corrupt(format!(
            "the index of partition {partition} of topic {topic:?} has no entry for offset {offset} below the high watermark {high_watermark}"
        )));
    }
    Ok(())
}

/// Where a fetch reads.
pub(crate) struct Position<'a> {
    /// The topic's name.
    pub(super) topic: &'a str,
    /// The partition.
    pub(super) partition: u32,
    /// The first offset wanted.
    offset: u64,
    /// The topic's id, when the reader names it: a topic that now has another id (deleted
    /// and recreated) is refused instead of read.
    topic_id: Option<u64>,
}

impl<'a> Position<'a> {
    /// `offset` of `topic`/`partition`, of the topic with `topic_id` if given.
    pub(crate) fn new(topic: &'a str, partition: u32, offset: u64, topic_id: Option<u64>) -> Self {
        Position {
            topic,
            partition,
            offset,
            topic_id,
        }
    }

    /// Refuses a topic whose id is not the one the reader named.
    pub(super) fn check_topic_id(&self, current: u64) -> Result<(), ReadError> {
        match self.topic_id {
            Some(wanted) if wanted != current => Err(silt_metadata::Error::Rejected(
                CommandError::TopicIdMismatch {
                    name: self.topic.to_owned(),
                    topic_id: wanted,
                    current,
                },
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// The error for an offset outside `slice`'s partition.
    fn out_of_range(&self, slice: &PartitionSlice) -> ReadError {
        ReadError::OffsetOutOfRange {
            topic: self.topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
            start_offset: slice.start_offset,
            high_watermark: slice.high_watermark,
        }
    }

    /// The error for an index whose entries jump from `expected` to `found`.
    fn skipped(&self, expected: u64, found: u64) -> ReadError {
        ReadError::Corrupt(format!(
            "the index of partition {} of topic {:?} skips offsets {} to {}",
            self.partition,
            self.topic,
            expected,
            found - 1
        ))
    }
}

/// The records a fetch keeps, as chunks arrive in offset order.
struct Taken {
    records: Vec<(u64, Record)>,
    bytes: u64,
    next_offset: u64,
    limits: FetchLimits,
}

impl Taken {
    fn new(offset: u64, limits: FetchLimits) -> Self {
        Taken {
            records: Vec::new(),
            bytes: 0,
            next_offset: offset,
            limits,
        }
    }

    /// Keeps the chunk's records from the next offset on; `false` once a limit is reached.
    fn add_chunk(
        &mut self,
        at: &Position<'_>,
        entry: &IndexEntry,
        decoded: Vec<Record>,
    ) -> Result<bool, ReadError> {
        for (position, record) in decoded.into_iter().enumerate() {
            let record_offset = entry.base_offset + position as u64;
            if record_offset < self.next_offset {
                continue;
            }
            if record_offset != self.next_offset {
                return Err(at.skipped(self.next_offset, record_offset));
            }
            let size = record_size(&record);
            if self.full(size) {
                return Ok(false);
            }
            self.bytes += size;
            self.records.push((record_offset, record));
            self.next_offset = record_offset + 1;
        }
        Ok(true)
    }

    /// Whether one more record of `size` bytes would pass a limit (the first record is
    /// always kept, whatever its size).
    fn full(&self, size: u64) -> bool {
        self.records.len() as u32 >= self.limits.max_records
            || (!self.records.is_empty() && self.bytes + size > self.limits.max_bytes)
    }

    /// The fetch's answer: the records kept, with the slice's watermark and topic id, and
    /// the read slot.
    fn into_fetched(self, slice: &PartitionSlice, slot: Option<OwnedSemaphorePermit>) -> Fetched {
        Fetched {
            records: self.records,
            next_offset: self.next_offset,
            high_watermark: slice.high_watermark,
            topic_id: slice.topic_id,
            bytes: self.bytes,
            slot,
        }
    }
}

/// Bytes of a record's key, value and headers.
fn record_size(record: &Record) -> u64 {
    record.key.as_ref().map_or(0, |k| k.data.len() as u64)
        + record.value.data.len() as u64
        + record
            .headers
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>()
}

/// Reads (unless `hot` already holds it) and verifies one index entry's chunk.
async fn read_entry(
    reader: &ChunkReader,
    topic_id: u64,
    entry: IndexEntry,
    hot: Option<Bytes>,
) -> Result<(IndexEntry, Vec<Record>), ReadError> {
    let bytes = match hot {
        Some(bytes) => bytes,
        None => read_cold(reader, topic_id, &entry).await?,
    };
    let records = decode_batch(&bytes)?;
    check_count(&entry, &records)?;
    Ok((entry, records))
}

/// Reads one entry's chunk (of topic `topic_id`) through the tiers below memory.
async fn read_cold(
    reader: &ChunkReader,
    topic_id: u64,
    entry: &IndexEntry,
) -> Result<Bytes, ReadError> {
    let span =
        tracing::debug_span!("read_chunk", object = %entry.object, position = entry.position);
    let (object, position, length) = (&entry.object, entry.position, entry.length);
    let read = reader.read_topic_chunk(Some(topic_id), object, position, length);
    Ok(read.instrument(span).await?)
}

/// The error of a fetch whose slot wait and reads passed `limits.read_timeout`.
fn past_deadline(limits: FetchLimits) -> ReadError {
    ReadError::DeadlineExceeded(limits.read_timeout)
}

/// Refuses a chunk whose record count differs from its index entry's.
fn check_count(entry: &IndexEntry, records: &[Record]) -> Result<(), ReadError> {
    let (object, position, count) = (&entry.object, entry.position, entry.record_count);
    let held = records.len();
    if held == count as usize {
        return Ok(());
    }
    Err(ReadError::Corrupt(format!(
        "chunk at {object}:{position} holds {held} records but the index says {count}"
    )))
}

/// The entries worth reading for `limits`, judged by their stored sizes.
fn plan(entries: &[IndexEntry], offset: u64, limits: FetchLimits) -> Vec<IndexEntry> {
    let mut planned = Vec::new();
    let mut records = 0u64;
    let mut bytes = 0u64;
    for entry in entries {
        if entry.end_offset() <= offset {
            continue;
        }
        planned.push(entry.clone());
        records += entry.end_offset() - offset.max(entry.base_offset);
        bytes += u64::from(entry.length);
        if records >= u64::from(limits.max_records) || bytes >= limits.max_bytes {
            break;
        }
    }
    planned
}
