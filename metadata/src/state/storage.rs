//! Stored bytes and objects per topic, read from the partition indexes, and the
//! garbage-collection backlog: the figures behind the brokers' cost metrics.
//!
//! Invariants: a read changes nothing; one page visits only its topics' index entries,
//! at most [`MAX_STORAGE_PAGE`] topics and (past the first topic)
//! [`MAX_STORAGE_PAGE_ENTRIES`] entries, so its cost is bounded whatever the cluster holds.

use std::collections::HashSet;

use crate::error::Result;
use crate::limits::{MAX_STORAGE_PAGE, MAX_STORAGE_PAGE_ENTRIES};
use crate::state::MetadataState;
use crate::state::topics::Topic;
use crate::types::{CommandError, StoragePage, TopicStorage};

impl MetadataState {
    /// One page of [`TopicStorage`] after `after`, in name order, and the GC backlog.
    pub(crate) fn storage_page(&self, after: Option<&str>, limit: usize) -> Result<StoragePage> {
        check_limit(limit)?;
        let mut rest = self.topics.after(after).peekable();
        let (mut topics, mut entries) = (Vec::new(), 0);
        while let Some(topic) = rest.next_if(|t| fits(topics.len(), entries, limit, t)) {
            entries += entry_count(topic);
            topics.push(topic_storage(topic));
        }
        let next_after = rest.peek().and(topics.last()).map(|t| t.name.clone());
        Ok(StoragePage {
            topics,
            next_after,
            gc_backlog_objects: (self.orphans.len() + self.released.len()) as u64,
            gc_backlog_bytes: 0,
        })
    }
}

/// Refuses a page limit outside 1 to [`MAX_STORAGE_PAGE`].
fn check_limit(limit: usize) -> Result<()> {
    if (1..=MAX_STORAGE_PAGE).contains(&limit) {
        return Ok(());
    }
    let message = format!("storage page limit {limit} must be 1 to {MAX_STORAGE_PAGE}");
    Err(CommandError::InvalidCommand(message).into())
}

/// Whether `topic` joins a page holding `count` topics of `entries` index entries.
fn fits(count: usize, entries: usize, limit: usize, topic: &Topic) -> bool {
    count == 0 || (count < limit && entries + entry_count(topic) <= MAX_STORAGE_PAGE_ENTRIES)
}

/// Index entries over the topic's partitions.
fn entry_count(topic: &Topic) -> usize {
    topic.partitions.iter().map(|p| p.entries.len()).sum()
}

/// The topic's chunk bytes and the distinct objects holding them.
fn topic_storage(topic: &Topic) -> TopicStorage {
    let entries = topic.partitions.iter().flat_map(|p| p.entries.values());
    let (mut bytes, mut objects) = (0_u64, HashSet::new());
    for entry in entries {
        bytes += u64::from(entry.length);
        objects.insert(&*entry.object);
    }
    TopicStorage {
        name: topic.name.clone(),
        id: topic.id,
        bytes,
        objects: objects.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChunkCommit, Command, SegmentCommit};

    /// Creates topic `name` with two partitions; its id.
    fn create(state: &mut MetadataState, name: &str) -> u64 {
        crate::state::test_support::create_topic(state, name, 2).id
    }

    /// A chunk of `length` bytes of partition `partition` of topic `topic_id`.
    fn chunk(topic_id: u64, partition: u32, length: u32) -> ChunkCommit {
        ChunkCommit {
            topic_id,
            partition,
            position: 0,
            length,
            record_count: 1,
            first_timestamp_ms: 1,
            max_timestamp_ms: 1,
            producer: None,
        }
    }

    /// Commits one segment `object` of `chunks`.
    fn commit(state: &mut MetadataState, object: &str, chunks: Vec<ChunkCommit>) {
        let segment = SegmentCommit {
            object: object.to_owned(),
            size: 1000,
            sealed_at_ms: None,
            offset_commits: Vec::new(),
            chunks,
        };
        let segments = vec![segment];
        state.apply(&Command::CommitSegments {
            segments,
            at_ms: None,
        });
    }

    #[test]
    fn pages_sum_chunk_bytes_and_count_each_object_once_per_topic() {
        let mut state = MetadataState::default();
        let (a, b) = (create(&mut state, "a"), create(&mut state, "b"));
        create(&mut state, "empty");
        commit(
            &mut state,
            "s1",
            vec![chunk(a, 0, 300), chunk(a, 1, 50), chunk(b, 0, 100)],
        );
        commit(&mut state, "s2", vec![chunk(a, 0, 7)]);
        state.apply(&Command::RecordOrphans {
            objects: vec!["lost".to_owned()],
            at_ms: 1,
        });
        let page = state.storage_page(None, 2).unwrap();
        let figures: Vec<_> = page
            .topics
            .iter()
            .map(|t| (&*t.name, t.bytes, t.objects))
            .collect();
        assert_eq!(figures, [("a", 357, 2), ("b", 100, 1)]);
        assert_eq!(page.next_after.as_deref(), Some("b"));
        assert_eq!(page.gc_backlog_objects, 1);
        // A topic delete releases the objects only it referenced: they join the backlog.
        commit(&mut state, "only-b", vec![chunk(b, 0, 5)]);
        state.apply(&Command::DeleteTopic {
            name: "b".to_owned(),
            topic_id: Some(b),
            request_id: None,
            at_ms: Some(2),
        });
        assert_eq!(state.storage_page(None, 2).unwrap().gc_backlog_objects, 2);
        let last = state.storage_page(Some("b"), 2).unwrap();
        assert_eq!(last.topics[0].bytes, 0);
        assert_eq!(last.next_after, None);
        let refused = state.storage_page(None, MAX_STORAGE_PAGE + 1).unwrap_err();
        assert!(refused.to_string().contains("101"), "{refused}");
    }
}
