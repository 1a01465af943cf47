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
        self.entries.insert(base_offset, entry);
        base_offset
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
