//! [`SegmentBuilder`]: stages records per partition and seals them into one segment.
//!
//! Invariants: all records of one `(topic_id, partition, producer)` appended to a builder
//! become ONE chunk, in append order, so the offset delta returned by
//! [`SegmentBuilder::append`] is the index of the first appended record in that chunk.
//! Records without a producer (`None`) of a partition share one chunk; each producer batch
//! ([`ProducerTag`]) gets its own. Chunks are written in `(topic_id, partition, producer)`
//! order (`None` first). Records are encoded at append time (the builder holds bytes, not
//! `Record`s), so [`SegmentBuilder::staged_bytes`] is exact.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::batch::{BatchInfo, Compression, frame_batch};
use crate::error::Result;
use crate::record::{Record, encode_record};
use crate::segment::footer::{ChunkInfo, ProducerTag, encode_footer};

/// Key of a staged chunk: `(topic_id, partition, producer)`, in object order.
type ChunkKey = (u64, u32, Option<ProducerTag>);

/// One staged chunk (one partition, one producer batch or none).
#[derive(Debug)]
struct StagedChunk {
    compression: Compression,
    payload: Vec<u8>,
    info: BatchInfo,
}

/// Builds one segment from many partitions' records.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    chunks: BTreeMap<ChunkKey, StagedChunk>,
    staged_bytes: usize,
    record_count: usize,
}

/// A sealed segment: the object's bytes and its chunk index (as in its footer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    /// The whole segment object.
    pub bytes: Bytes,
    /// Chunks in object order (`(topic_id, partition, producer)` order).
    pub chunks: Vec<ChunkInfo>,
}

impl SegmentBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `records` for `(topic_id, partition)`, written by the producer batch
    /// `producer` (`None`: no producer); returns the offset delta of the first of them
    /// within their chunk, i.e. the records already in that chunk before this append.
    ///
    /// Chunks are keyed by `(topic_id, partition, producer)`: appends without a producer
    /// to one partition share one chunk, and each producer batch forms its own chunk
    /// (appending the same tag again extends that chunk). The compression of a chunk's
    /// first append applies to the whole chunk. A tag with `producer_id` 0 (never a valid
    /// id) makes [`SegmentBuilder::finish`] fail.
    pub fn append(
        &mut self,
        topic_id: u64,
        partition: u32,
        compression: Compression,
        producer: Option<ProducerTag>,
        records: &[Record],
    ) -> u32 {
        let chunk = self
            .chunks
            .entry((topic_id, partition, producer))
            .or_insert_with(|| StagedChunk {
                compression,
                payload: Vec::new(),
                info: BatchInfo {
                    record_count: 0,
                    first_timestamp_ms: 0,
                    max_timestamp_ms: i64::MIN,
                },
            });
        if chunk.info.record_count == 0
            && let Some(first) = records.first()
        {
            // Timestamps of the chunk are encoded relative to its first record.
            chunk.info.first_timestamp_ms = first.timestamp_ms;
        }
        let first_delta = chunk.info.record_count;
        let before = chunk.payload.len();
        for record in records {
            encode_record(record, chunk.info.first_timestamp_ms, &mut chunk.payload);
            chunk.info.max_timestamp_ms = chunk.info.max_timestamp_ms.max(record.timestamp_ms);
        }
        let appended = u32::try_from(records.len()).unwrap_or(u32::MAX);
        chunk.info.record_count = chunk.info.record_count.saturating_add(appended);
        self.staged_bytes += chunk.payload.len() - before;
        self.record_count += records.len();
        first_delta
    }

    /// Encoded (uncompressed) record bytes staged so far.
    pub fn staged_bytes(&self) -> usize {
        self.staged_bytes
    }

    /// Chunks staged so far (one per topic, partition and producer request).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Records staged so far.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// True when no record is staged.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Frames every staged chunk in `(topic_id, partition, producer)` order, appends footer
    /// and trailer (footer version 1 when no chunk has a producer, version 2 otherwise).
    ///
    /// Fails when a chunk's producer tag has `producer_id` 0.
    pub fn finish(self) -> Result<SealedSegment> {
        let mut out = Vec::with_capacity(self.staged_bytes + 64 * (self.chunks.len() + 1));
        let mut chunks = Vec::with_capacity(self.chunks.len());
        for ((topic_id, partition, producer), staged) in self.chunks {
            if staged.info.record_count == 0 {
                continue; // an append of zero records creates no chunk
            }
            let position = out.len();
            frame_batch(&staged.payload, &staged.info, staged.compression, &mut out)?;
            chunks.push(ChunkInfo {
                topic_id,
                partition,
                position: position as u64,
                length: u32::try_from(out.len() - position).unwrap_or(u32::MAX),
                record_count: staged.info.record_count,
                first_timestamp_ms: staged.info.first_timestamp_ms,
                max_timestamp_ms: staged.info.max_timestamp_ms,
                producer,
            });
        }
        encode_footer(&chunks, &mut out)?;
        Ok(SealedSegment {
            bytes: Bytes::from(out),
            chunks,
        })
    }
}
