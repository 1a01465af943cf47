//! [`SegmentBuilder`]: stages records per partition and seals them into one segment.
//!
//! Invariants: all records of one `(topic_id, partition)` appended to a builder become ONE
//! chunk, in append order, so the offset delta returned by [`SegmentBuilder::append`] is
//! the index of the first appended record in that chunk. Chunks are written in
//! `(topic_id, partition)` order. Records are encoded at append time (the builder holds
//! bytes, not `Record`s), so [`SegmentBuilder::staged_bytes`] is exact.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::batch::{BatchInfo, Compression, frame_batch};
use crate::error::Result;
use crate::record::{Record, encode_record};
use crate::segment::footer::{ChunkInfo, encode_footer};

/// One partition's staged chunk.
#[derive(Debug)]
struct StagedChunk {
    compression: Compression,
    payload: Vec<u8>,
    info: BatchInfo,
}

/// Builds one segment from many partitions' records.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    chunks: BTreeMap<(u64, u32), StagedChunk>,
    staged_bytes: usize,
    record_count: usize,
}

/// A sealed segment: the object's bytes and its chunk index (as in its footer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    /// The whole segment object.
    pub bytes: Bytes,
    /// Chunks in object order (`(topic_id, partition)` order).
    pub chunks: Vec<ChunkInfo>,
}

impl SegmentBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `records` for `(topic_id, partition)`; returns the offset delta of the first
    /// of them within that partition's chunk. The compression of a partition's first
    /// append applies to the whole chunk.
    pub fn append(
        &mut self,
        topic_id: u64,
        partition: u32,
        compression: Compression,
        records: &[Record],
    ) -> u32 {
        let chunk = self
            .chunks
            .entry((topic_id, partition))
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

    /// Records staged so far.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// True when no record is staged.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Frames every staged chunk, appends footer and trailer.
    pub fn finish(self) -> Result<SealedSegment> {
        let mut out = Vec::with_capacity(self.staged_bytes + 64 * (self.chunks.len() + 1));
        let mut chunks = Vec::with_capacity(self.chunks.len());
        for ((topic_id, partition), staged) in self.chunks {
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
            });
        }
        encode_footer(&chunks, &mut out)?;
        Ok(SealedSegment {
            bytes: Bytes::from(out),
            chunks,
        })
    }
}
