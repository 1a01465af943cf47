//! One partition's index: the immutable [`IndexEntry`]s that map its offsets to chunks of
//! segment objects, and its bounds.
//!
//! Invariants: entries are keyed by `base_offset`; they are dense and contiguous from
//! `start_offset` to `high_watermark` (each entry's `end_offset()` is the next entry's
//! `base_offset`, the last one's is the high watermark); no entry is empty; an entry never
//! changes once appended.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::types::{ChunkCommit, IndexEntry, PartitionView};

/// A partition's offsets and its index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartitionIndex {
    /// First readable offset.
    pub(crate) start_offset: u64,
    /// Offset the next committed record gets.
    pub(crate) high_watermark: u64,
    /// Entries by base offset: a persistent map, so a clone of the state (a snapshot's)
    /// shares them and an append after it copies only the path it changes.
    pub(crate) entries: imbl::OrdMap<u64, IndexEntry>,
    /// Bytes of the chunks the entries reference (derived: not in snapshots, rebuilt by
    /// [`PartitionIndex::recount`] when one is decoded).
    #[serde(skip)]
    pub(crate) bytes: u64,
}

impl PartitionIndex {
    /// Appends `chunk` (stored in `object`) at the high watermark and returns the offset
    /// of its first record. A chunk without records gets the high watermark as its base
    /// offset and adds no entry (an empty offset range).
    pub(crate) fn append(&mut self, object: &Arc<str>, chunk: &ChunkCommit) -> u64 {
        let base_offset = self.high_watermark;
        debug_assert_eq!(
            self.entries
                .get_max()
                .map_or(self.start_offset, |(_, last)| last.end_offset()),
            base_offset,
            "the last entry must end at the high watermark"
        );
        if chunk.record_count == 0 {
            return base_offset;
        }
        let entry = IndexEntry {
            base_offset,
            record_count: chunk.record_count,
            object: Arc::clone(object),
            position: chunk.position,
            length: chunk.length,
            first_timestamp_ms: chunk.first_timestamp_ms,
            max_timestamp_ms: chunk.max_timestamp_ms,
        };
        self.high_watermark = entry.end_offset();
        self.bytes += u64::from(entry.length);
        self.entries.insert(base_offset, entry);
        base_offset
    }

    /// Recomputes the derived byte count from the entries.
    pub(crate) fn recount(&mut self) {
        self.bytes = self.entries.values().map(|e| u64::from(e.length)).sum();
    }

    /// Whether `offset` is where a trim may move the start: an entry's base offset or the
    /// high watermark, not below the start offset.
    pub(crate) fn is_boundary(&self, offset: u64) -> bool {
        offset >= self.start_offset
            && (offset == self.high_watermark || self.entries.contains_key(&offset))
    }

    /// Drops every entry below `start_offset` (a [boundary](Self::is_boundary) above the
    /// start) and makes it the start offset; returns the dropped entries.
    pub(crate) fn trim_to(&mut self, start_offset: u64) -> Vec<IndexEntry> {
        let (dropped, at_start, mut kept) = self.entries.split_lookup(&start_offset);
        if let Some(entry) = at_start {
            kept.insert(start_offset, entry);
        }
        self.entries = kept;
        self.start_offset = start_offset;
        let dropped: Vec<IndexEntry> = dropped.values().cloned().collect();
        let freed: u64 = dropped.iter().map(|e| u64::from(e.length)).sum();
        self.bytes = self.bytes.saturating_sub(freed);
        dropped
    }

    /// The start offset retention allows: the later of the time rule's and the byte
    /// rule's (each applied from the front on its own, as Kafka applies them).
    pub(crate) fn retained_start(&self, cutoff_ms: Option<i64>, keep_bytes: Option<u64>) -> u64 {
        let by_time = cutoff_ms.map_or(self.start_offset, |c| self.start_by_time(c));
        let by_bytes = keep_bytes.map_or(self.start_offset, |k| self.start_by_bytes(k));
        by_time.max(by_bytes)
    }

    /// Past every front entry whose newest record is older than `cutoff_ms`; the high
    /// watermark when every entry is.
    fn start_by_time(&self, cutoff_ms: i64) -> u64 {
        self.entries
            .values()
            .find(|entry| entry.max_timestamp_ms >= cutoff_ms)
            .map_or(self.high_watermark, |entry| entry.base_offset)
    }

    /// Past front entries while the bytes left stay at least `keep_bytes`.
    fn start_by_bytes(&self, keep_bytes: u64) -> u64 {
        let mut left = self.bytes;
        for entry in self.entries.values() {
            left = match left.checked_sub(u64::from(entry.length)) {
                Some(rest) if rest >= keep_bytes => rest,
                _ => return entry.base_offset,
            };
        }
        self.high_watermark
    }

    /// At most `max_entries` contiguous entries, starting with the one covering `offset`;
    /// empty when `offset` is outside `start_offset..high_watermark`.
    pub(crate) fn slice(&self, offset: u64, max_entries: usize) -> Vec<IndexEntry> {
        if offset < self.start_offset || offset >= self.high_watermark {
            return Vec::new();
        }
        let Some((&first_base, covering)) = self.entries.range(..=offset).next_back() else {
            return Vec::new();
        };
        debug_assert!(
            covering.end_offset() > offset,
            "index has a hole at {offset}"
        );
        self.entries
            .range(first_base..)
            .take(max_entries)
            .map(|(_, entry)| entry.clone())
            .collect()
    }

    /// At most `max_entries` contiguous entries, starting with the first (in offset order)
    /// holding a record stamped at or after `timestamp_ms` (its `max_timestamp_ms` reaches
    /// it); empty when no record does. Timestamps need not grow with offsets, so this is
    /// the entry of the first such record, as Kafka's offset lookup by time answers. One
    /// pass over the entries in memory; no chunk is read.
    pub(crate) fn slice_at_time(&self, timestamp_ms: i64, max_entries: usize) -> Vec<IndexEntry> {
        let Some(first) = self
            .entries
            .values()
            .find(|entry| entry.max_timestamp_ms >= timestamp_ms)
        else {
            return Vec::new();
        };
        self.slice(first.base_offset, max_entries)
    }

    /// The partition's bounds as served to clients.
    pub(crate) fn view(&self, partition: u32) -> PartitionView {
        PartitionView {
            partition,
            start_offset: self.start_offset,
            high_watermark: self.high_watermark,
        }
    }

    #[cfg(test)]
    /// Whether the entries tile `start_offset..high_watermark` without gaps or overlaps.
    fn is_contiguous(&self) -> bool {
        let mut next = self.start_offset;
        for (&base_offset, entry) in &self.entries {
            if base_offset != next || entry.base_offset != base_offset || entry.record_count == 0 {
                return false;
            }
            next = entry.end_offset();
        }
        next == self.high_watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(record_count: u32) -> ChunkCommit {
        ChunkCommit {
            topic_id: 1,
            partition: 0,
            position: 10,
            length: 100,
            record_count,
            first_timestamp_ms: 1,
            max_timestamp_ms: 2,
            producer: None,
        }
    }

    #[test]
    fn append_assigns_dense_offsets() {
        let object: Arc<str> = Arc::from("seg-1");
        let mut index = PartitionIndex::default();
        assert_eq!(index.append(&object, &chunk(3)), 0);
        assert_eq!(index.append(&object, &chunk(2)), 3);
        assert_eq!(index.high_watermark, 5);
        assert!(index.is_contiguous());
    }

    #[test]
    fn empty_chunk_adds_no_entry() {
        let object: Arc<str> = Arc::from("seg-1");
        let mut index = PartitionIndex::default();
        index.append(&object, &chunk(3));
        assert_eq!(index.append(&object, &chunk(0)), 3);
        assert_eq!(index.entries.len(), 1);
        assert_eq!(index.high_watermark, 3);
    }

    fn stamped(max_timestamp_ms: i64) -> ChunkCommit {
        ChunkCommit {
            max_timestamp_ms,
            ..chunk(2)
        }
    }

    #[test]
    fn retention_drops_whole_entries_from_the_front() {
        let object: Arc<str> = Arc::from("seg-1");
        let mut index = PartitionIndex::default();
        for at in [10, 30, 20, 40] {
            index.append(&object, &stamped(at));
        }
        assert_eq!(index.bytes, 400);
        // Time: stops at the first entry not expired, even if a later one is.
        assert_eq!(index.retained_start(Some(25), None), 2);
        assert_eq!(index.retained_start(Some(41), None), 8);
        assert_eq!(index.retained_start(None, None), 0);
        // Bytes: keeps at least the bound.
        assert_eq!(index.retained_start(None, Some(250)), 2);
        assert_eq!(index.retained_start(None, Some(200)), 4);
        assert_eq!(index.retained_start(None, Some(1)), 6);
        assert_eq!(index.retained_start(Some(25), Some(150)), 4);
        assert!(index.is_boundary(4) && index.is_boundary(8) && !index.is_boundary(3));
        let dropped = index.trim_to(4);
        assert_eq!(dropped.len(), 2);
        assert_eq!((index.start_offset, index.bytes), (4, 200));
        assert!(index.is_contiguous());
        assert!(index.slice(3, 10).is_empty());
        assert_eq!(index.slice(5, 10).len(), 2);
        assert!(!index.is_boundary(2));
        index.trim_to(8);
        assert!(index.entries.is_empty() && index.is_contiguous());
        assert_eq!(index.append(&object, &chunk(1)), 8);
        assert!(index.is_contiguous());
    }

    #[test]
    fn slice_starts_at_the_covering_entry() {
        let object: Arc<str> = Arc::from("seg-1");
        let mut index = PartitionIndex::default();
        for count in [3, 2, 4] {
            index.append(&object, &chunk(count));
        }
        let bases = |offset, max| -> Vec<u64> {
            index
                .slice(offset, max)
                .iter()
                .map(|e| e.base_offset)
                .collect()
        };
        assert_eq!(bases(0, 10), vec![0, 3, 5]);
        assert_eq!(bases(4, 10), vec![3, 5]);
        assert_eq!(bases(4, 1), vec![3]);
        assert_eq!(bases(8, 10), vec![5]);
        assert!(bases(9, 10).is_empty());
        assert!(bases(100, 10).is_empty());
        assert!(bases(0, 0).is_empty());
    }
}
