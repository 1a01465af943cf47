//! [`Fetcher`]: reads records of one partition from an offset.
//!
//! It asks the metadata service for the index entries that cover the offset (a
//! linearizable read, so a record acknowledged before the fetch began is visible), reads
//! the chunks through the tiered reader (memory, then the local spool, then a ranged GET,
//! several chunks at once), verifies each chunk's checksum and record count, and trims to
//! the offset and the limits. At the high watermark it waits on the metadata service's
//! applied-entry signal, not by polling, until a record commits, `wait` passes, or the
//! broker shuts down.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use silt_bookie::batch::decode_batch;
use silt_bookie::cache::ChunkReader;
use silt_bookie::record::Record;
use silt_metadata::MetadataClient;
use silt_metadata::types::IndexEntry;
use silt_sdk::wire::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::http::ApiError;

/// Chunks read at once by one fetch.
const PARALLEL_CHUNK_READS: usize = 8;
/// Chunks read ahead past what one fetch returns.
const READ_AHEAD_CHUNKS: usize = 4;
/// Index entries asked for per lookup.
const ENTRIES_PER_LOOKUP: usize = 256;

/// What a fetch found: records with their offsets, in offset order.
#[derive(Debug)]
pub struct Fetched {
    /// `(offset, record)` pairs.
    pub records: Vec<(u64, Record)>,
    /// The offset to fetch next.
    pub next_offset: u64,
    /// The partition's high watermark.
    pub high_watermark: u64,
    /// Bytes of keys, values and headers returned.
    pub bytes: u64,
    /// The read slot, released when the response has been encoded.
    pub slot: Option<OwnedSemaphorePermit>,
}

/// What one fetch may return and how long it may wait.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Most records.
    pub max_records: u32,
    /// Most bytes of keys, values and headers; at least one record is returned anyway.
    pub max_bytes: u64,
    /// Long-poll wait at the high watermark.
    pub wait: Duration,
}

/// Reads partitions.
#[derive(Clone)]
pub struct Fetcher {
    metadata: Arc<dyn MetadataClient>,
    reader: Arc<ChunkReader>,
    read_slots: Arc<Semaphore>,
}

impl Fetcher {
    /// A fetcher over the metadata service and a chunk reader; `read_slots` admits fetches
    /// to the read-and-encode phase.
    pub fn new(
        metadata: Arc<dyn MetadataClient>,
        reader: Arc<ChunkReader>,
        read_slots: Arc<Semaphore>,
    ) -> Self {
        Fetcher {
            metadata,
            reader,
            read_slots,
        }
    }

    /// Records of `topic`/`partition` from `offset`.
    pub async fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Fetched, ApiError> {
        let mut applied = self.metadata.subscribe_applied();
        let deadline = Instant::now() + limits.wait;
        let slice = loop {
            applied.borrow_and_update();
            let slice = self
                .metadata
                .partition_slice(topic, partition, offset, ENTRIES_PER_LOOKUP)
                .await?;
            if offset < slice.start_offset || offset > slice.high_watermark {
                return Err(ApiError::new(
                    ErrorCode::OffsetOutOfRange,
                    format!(
                        "offset {offset} is outside partition {partition} of topic {topic:?}: readable offsets are {} to {} (the high watermark)",
                        slice.start_offset, slice.high_watermark
                    ),
                ));
            }
            if offset < slice.high_watermark || Instant::now() >= deadline || *shutdown.borrow() {
                break slice;
            }
            tokio::select! {
                changed = applied.changed() => {
                    if changed.is_err() {
                        break slice;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break slice;
                    }
                }
            }
        };
        let high_watermark = slice.high_watermark;
        // Reads take a slot only once there is something to read; the slot is held until
        // the response is encoded (it travels in `Fetched`).
        let slot = if offset < high_watermark {
            Some(
                self.read_slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ApiError::unavailable("broker is shutting down"))?,
            )
        } else {
            None
        };
        let entries = plan(&slice.entries, offset, limits);
        // Read-ahead: a sequential reader's next fetch wants the chunks after these; warm
        // them in the background (the reader bounds and drops prefetches under load).
        let ahead: Vec<(String, u64, u32)> = slice
            .entries
            .iter()
            .filter(|e| {
                entries
                    .last()
                    .is_some_and(|last| e.base_offset >= last.end_offset())
            })
            .take(READ_AHEAD_CHUNKS)
            .map(|e| (e.object.to_string(), e.position, e.length))
            .collect();
        if !ahead.is_empty() {
            self.reader.prefetch(ahead);
        }
        if offset < high_watermark && entries.first().is_none_or(|e| e.base_offset > offset) {
            return Err(ApiError::new(
                ErrorCode::CorruptData,
                format!(
                    "the index of partition {partition} of topic {topic:?} has no entry for offset {offset} below the high watermark {high_watermark}"
                ),
            ));
        }
        let mut chunks = futures::stream::iter(entries.into_iter().map(|entry| {
            let reader = self.reader.clone();
            async move { read_entry(&reader, entry).await }
        }))
        .buffered(PARALLEL_CHUNK_READS);
        let mut records = Vec::new();
        let mut bytes = 0u64;
        let mut next_offset = offset;
        'chunks: while let Some(chunk) = chunks.next().await {
            let (entry, decoded) = chunk?;
            for (position, record) in decoded.into_iter().enumerate() {
                let record_offset = entry.base_offset + position as u64;
                if record_offset < next_offset {
                    continue;
                }
                if record_offset != next_offset {
                    return Err(ApiError::new(
                        ErrorCode::CorruptData,
                        format!(
                            "the index of partition {partition} of topic {topic:?} skips offsets {next_offset} to {}",
                            record_offset - 1
                        ),
                    ));
                }
                let size = record.key.as_ref().map_or(0, |k| k.data.len() as u64)
                    + record.value.data.len() as u64
                    + record
                        .headers
                        .iter()
                        .map(|(k, v)| (k.len() + v.len()) as u64)
                        .sum::<u64>();
                if records.len() as u32 >= limits.max_records
                    || (!records.is_empty() && bytes + size > limits.max_bytes)
                {
                    break 'chunks;
                }
                bytes += size;
                records.push((record_offset, record));
                next_offset = record_offset + 1;
            }
        }
        Ok(Fetched {
            records,
            next_offset,
            high_watermark,
            bytes,
            slot,
        })
    }
}

/// Reads and verifies one index entry's chunk.
async fn read_entry(
    reader: &ChunkReader,
    entry: IndexEntry,
) -> Result<(IndexEntry, Vec<Record>), ApiError> {
    {
        let span =
            tracing::debug_span!("read_chunk", object = %entry.object, position = entry.position);
        let bytes = reader
            .read_chunk(&entry.object, entry.position, entry.length)
            .instrument(span)
            .await?;
        let records = decode_batch(&bytes)?;
        if records.len() != entry.record_count as usize {
            return Err(ApiError::new(
                ErrorCode::CorruptData,
                format!(
                    "chunk at {}:{} holds {} records but the index says {}",
                    entry.object,
                    entry.position,
                    records.len(),
                    entry.record_count
                ),
            ));
        }
        Ok((entry, records))
    }
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
