//! Offsets by time (Kafka's ListOffsets): the first offset of a partition whose record is
//! stamped at or after a timestamp, and the partition's earliest and latest offsets.
//!
//! The metadata service names the first index entry (in offset order) whose
//! `max_timestamp_ms` reaches the timestamp, from memory; the broker then reads that one
//! chunk (memory first, then the lower tiers with a read slot) and finds the record in it.
//! Timestamps need not grow with offsets, so this is the first such record by offset.

use std::time::Duration;

use super::ReadError;
use super::fetcher::{Fetcher, Position};

/// What an offset lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetFound {
    /// The offset: of the first record at or after the timestamp (the high watermark
    /// when none is), or the bound asked for.
    pub(crate) offset: u64,
    /// The timestamp of the record at `offset`, for a lookup by time that found one.
    pub(crate) timestamp_ms: Option<i64>,
    /// The partition's first readable offset.
    pub(crate) start_offset: u64,
    /// The partition's high watermark.
    pub(crate) high_watermark: u64,
    /// The id of the topic read.
    pub(crate) topic_id: u64,
}

/// Which bound of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The first readable offset.
    Earliest,
    /// The high watermark (the offset the next record gets).
    Latest,
}

impl Fetcher {
    /// The first offset of `at`'s partition whose record is stamped at or after
    /// `timestamp_ms` (linearizable; at most one chunk read, within `read_timeout`).
    pub(crate) async fn offset_at_time(
        &self,
        at: &Position<'_>,
        timestamp_ms: i64,
        read_timeout: Duration,
    ) -> Result<OffsetFound, ReadError> {
        let metadata = self.metadata("time_slice");
        let slice = metadata
            .time_slice(at.topic, at.partition, timestamp_ms, 1)
            .await?;
        at.check_topic_id(slice.topic_id)?;
        let mut found = OffsetFound {
            offset: slice.high_watermark,
            timestamp_ms: None,
            start_offset: slice.start_offset,
            high_watermark: slice.high_watermark,
            topic_id: slice.topic_id,
        };
        let Some(entry) = slice.entries.into_iter().next() else {
            return Ok(found);
        };
        let base = entry.base_offset;
        let records = self.read_one(slice.topic_id, entry, read_timeout).await?;
        let (index, stamp) = records
            .iter()
            .enumerate()
            .find(|(_, record)| record.timestamp_ms >= timestamp_ms)
            .map(|(index, record)| (index as u64, record.timestamp_ms))
            .ok_or_else(|| no_record_at(at, base, timestamp_ms))?;
        found.offset = base + index;
        found.timestamp_ms = Some(stamp);
        Ok(found)
    }

    /// The partition's earliest or latest offset (linearizable).
    pub(crate) async fn offset_at_bound(
        &self,
        at: &Position<'_>,
        bound: Bound,
    ) -> Result<OffsetFound, ReadError> {
        let metadata = self.metadata("partition_slice");
        let slice = metadata
            .partition_slice(at.topic, at.partition, 0, 1)
            .await?;
        at.check_topic_id(slice.topic_id)?;
        let offset = match bound {
            Bound::Earliest => slice.start_offset,
            Bound::Latest => slice.high_watermark,
        };
        Ok(OffsetFound {
            offset,
            timestamp_ms: None,
            start_offset: slice.start_offset,
            high_watermark: slice.high_watermark,
            topic_id: slice.topic_id,
        })
    }
}

/// The error of a chunk whose index entry promised a record at or after the timestamp
/// that it does not hold.
fn no_record_at(at: &Position<'_>, base: u64, timestamp_ms: i64) -> ReadError {
    ReadError::Corrupt(format!(
        "the index entry at offset {base} of partition {} of topic {:?} reaches timestamp {timestamp_ms} but its chunk holds no such record",
        at.partition, at.topic
    ))
}
