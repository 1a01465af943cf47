//! Retention in the state: changing a topic's retention settings, planning which front
//! index entries retention drops ([`MetadataState::retention_plan`], a read), dropping them
//! ([`Command::TrimPartitions`](crate::types::Command::TrimPartitions)), and the objects
//! that no index entry references any more (released, for a later garbage collector).
//!
//! Invariants: a trim only drops whole entries from the front of a partition, never moves
//! the start offset back nor past the high watermark, and is a no-op when stale (its topic
//! gone, or the start already at or past it), so replaying it changes nothing; an object
//! is released exactly when the last index entry referencing it is dropped (a trim or a
//! topic delete), with the time the command carries, and is never referenced again (its
//! commit is remembered by name, so it cannot be committed twice).

use std::sync::Arc;

use crate::state::MetadataState;
use crate::state::index::PartitionIndex;
use crate::state::topics::Topic;
use crate::types::{
    CommandError, CommandResult, IndexEntry, PartitionTrim, PlannedTrim, RetentionDefaults,
    TopicSettingsPatch, TrimOutcome,
};

/// How many index entries reference each object (derived: rebuilt when a snapshot is
/// decoded).
pub(crate) type ObjectRefs = imbl::OrdMap<Arc<str>, u64>;

impl MetadataState {
    /// Changes a topic's retention settings ([`Command::AlterTopic`](crate::types::Command::AlterTopic)).
    pub(super) fn alter_topic(&mut self, name: &str, patch: &TopicSettingsPatch) -> CommandResult {
        match self.topics.get_mut(name) {
            Some(topic) => {
                topic.settings = patch.applied_to(&topic.settings);
                CommandResult::Topic(topic.view())
            }
            None => CommandResult::Rejected(super::missing_topic(name)),
        }
    }

    /// Applies [`Command::TrimPartitions`](crate::types::Command::TrimPartitions): refused
    /// whole if any trim is past its high watermark or inside an entry, else each trim
    /// applied (or skipped when stale).
    pub(super) fn trim_partitions(&mut self, trims: &[PartitionTrim], at_ms: i64) -> CommandResult {
        if let Some(refusal) = trims.iter().find_map(|trim| self.bad_trim(trim)) {
            return CommandResult::Rejected(refusal);
        }
        let outcomes = trims.iter().map(|trim| self.trim(trim, at_ms)).collect();
        CommandResult::Trimmed(outcomes)
    }

    /// Why `trim` may not be applied: its partition does not exist in a live topic, or its
    /// start is not an entry boundary (inside an entry, or past the high watermark). A trim
    /// of a deleted topic or below the start offset is stale, not bad.
    fn bad_trim(&self, trim: &PartitionTrim) -> Option<CommandError> {
        let topic = self.topics.get_by_id(trim.topic_id)?;
        let Some(index) = topic.partition(trim.partition) else {
            return Some(CommandError::PartitionNotFound {
                topic: topic.name.clone(),
                partition: trim.partition,
                partitions: topic.partition_count(),
            });
        };
        let fits = trim.start_offset <= index.start_offset || index.is_boundary(trim.start_offset);
        (!fits).then(|| {
            CommandError::InvalidCommand(format!(
                "trim of {}/{} to {} is not the start of an index entry within {}..={}",
                topic.name,
                trim.partition,
                trim.start_offset,
                index.start_offset,
                index.high_watermark
            ))
        })
    }

    /// Applies one checked trim; a stale one drops nothing.
    fn trim(&mut self, trim: &PartitionTrim, at_ms: i64) -> TrimOutcome {
        let dropped = self
            .topics
            .get_by_id_mut(trim.topic_id)
            .and_then(|topic| topic.partition_mut(trim.partition))
            .filter(|index| trim.start_offset > index.start_offset)
            .map(|index| index.trim_to(trim.start_offset))
            .unwrap_or_default();
        let bytes = dropped.iter().map(|e| u64::from(e.length)).sum();
        self.release(&dropped, at_ms);
        TrimOutcome {
            trim: *trim,
            entries: dropped.len() as u64,
            bytes,
        }
    }

    /// Drops the references of `entries`, recording each object left unreferenced as
    /// released at `at_ms`.
    pub(super) fn release(&mut self, entries: &[IndexEntry], at_ms: i64) {
        for entry in entries {
            let Some(count) = self.refs.get_mut(&entry.object) else {
                continue;
            };
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.refs.remove(&entry.object);
                self.released
                    .entry(entry.object.to_string())
                    .or_insert(at_ms);
                self.await_backup(&entry.object);
            }
        }
    }

    /// Counts one more index entry referencing `object`.
    pub(super) fn hold(&mut self, object: &Arc<str>) {
        *self.refs.entry(Arc::clone(object)).or_default() += 1;
    }

    /// Releases every object only `topic` (now deleted) referenced, at `at_ms`.
    pub(super) fn release_topic(&mut self, topic: Topic, at_ms: i64) {
        for index in topic.partitions {
            let entries: Vec<IndexEntry> = index.entries.values().cloned().collect();
            self.release(&entries, at_ms);
        }
    }

    /// Rebuilds what is derived from the indexes (byte counts, object references) after
    /// the state was decoded.
    pub(super) fn rebuild_derived(&mut self) {
        let mut refs = ObjectRefs::new();
        for topic in self.topics.iter_mut() {
            for index in &mut topic.partitions {
                index.recount();
                for entry in index.entries.values() {
                    *refs.entry(Arc::clone(&entry.object)).or_default() += 1;
                }
            }
        }
        self.refs = refs;
    }

    /// The trims retention calls for at `at_ms` (every topic's own settings, else
    /// `defaults`), at most `limit` (1 to
    /// [`MAX_TRIMS_PER_COMMAND`](crate::limits::MAX_TRIMS_PER_COMMAND)), in topic name order.
    pub(crate) fn retention_plan(
        &self,
        at_ms: i64,
        defaults: RetentionDefaults,
        limit: usize,
    ) -> crate::error::Result<Vec<PlannedTrim>> {
        super::validate::trim_count(limit)?;
        Ok(self
            .topics
            .iter()
            .flat_map(|topic| topic_trims(topic, at_ms, defaults))
            .take(limit)
            .collect())
    }

    /// Objects no index entry references any more, with when they were released.
    #[cfg(test)]
    pub(crate) fn released(&self) -> &imbl::OrdMap<String, i64> {
        &self.released
    }
}

/// The trims of `topic`'s partitions retention calls for at `at_ms`.
fn topic_trims(
    topic: &Topic,
    at_ms: i64,
    defaults: RetentionDefaults,
) -> impl Iterator<Item = PlannedTrim> + '_ {
    let (cutoff, keep) = bounds(topic, at_ms, defaults);
    (0u32..)
        .zip(&topic.partitions)
        .filter_map(move |(partition, index)| {
            let start_offset = planned_start(index, cutoff, keep)?;
            let trim = PartitionTrim {
                topic_id: topic.id,
                partition,
                start_offset,
            };
            let topic = topic.name.clone();
            Some(PlannedTrim { topic, trim })
        })
}

/// The new start offset of `index`, if retention moves it.
fn planned_start(index: &PartitionIndex, cutoff: Option<i64>, keep: Option<u64>) -> Option<u64> {
    let start = index.retained_start(cutoff, keep);
    (start > index.start_offset).then_some(start)
}

/// The timestamp cutoff and the bytes to keep for `topic` at `at_ms`.
fn bounds(topic: &Topic, at_ms: i64, defaults: RetentionDefaults) -> (Option<i64>, Option<u64>) {
    let ms = effective(topic.settings.retention_ms, defaults.ms);
    let bytes = effective(topic.settings.retention_bytes, defaults.bytes);
    let cutoff = ms.map(|ms| at_ms.saturating_sub(i64::try_from(ms).unwrap_or(i64::MAX)));
    (cutoff, bytes)
}

/// A topic's setting, else the default; -1 (or any negative) is no bound.
pub(crate) fn effective(setting: Option<i64>, default: Option<u64>) -> Option<u64> {
    match setting {
        Some(value) => u64::try_from(value).ok(),
        None => default,
    }
}
