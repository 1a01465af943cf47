//! Backups in the state: the metadata state is uploaded to the bucket now and then (a
//! backup, `broker/src/backup/`), and `silt restore` rebuilds a cluster from the newest
//! one. A restored cluster serves the index as it was in that backup, so an object the
//! backup's index references must stay in the bucket even after this cluster released it:
//! a released object waits in `unbacked` (with the log index of the entry that released
//! it) until a backup taken at or after that index is recorded
//! ([`Command::RecordBackup`](crate::types::Command::RecordBackup)), and the garbage
//! collector, when backups are on, deletes only released objects no longer waiting.
//!
//! Invariants: an object released by the entry at index `i` waits until a backup of index
//! `>= i` is recorded; recording a backup never moves the recorded index back, and a
//! backup index beyond the entry recording it (a backup of a state not reached yet) is
//! ignored; forgetting garbage removes the object from the waiting list too.

use std::sync::Arc;

use crate::state::MetadataState;
use crate::types::CommandResult;

impl MetadataState {
    /// Notes that `object`, released by the entry being applied, waits for a backup.
    pub(super) fn await_backup(&mut self, object: &Arc<str>) {
        let index = self.applying;
        self.unbacked.entry(object.to_string()).or_insert(index);
    }

    /// Whether `object` was released after the newest backup recorded (a restore from
    /// that backup would still reference it).
    pub(super) fn awaits_backup(&self, object: &str) -> bool {
        self.unbacked.contains_key(object)
    }

    /// Applies [`Command::RecordBackup`](crate::types::Command::RecordBackup): a backup of
    /// the state at `index` is in the bucket. Answers the newest backup index recorded.
    pub(super) fn record_backup(&mut self, index: u64) -> CommandResult {
        let newer = self.backed_up.is_none_or(|current| index > current);
        if newer && index <= self.applying {
            self.backed_up = Some(index);
            let covered: Vec<String> = self
                .unbacked
                .iter()
                .filter(|(_, released)| **released <= index)
                .map(|(object, _)| object.clone())
                .collect();
            for object in covered {
                self.unbacked.remove(&object);
            }
        }
        CommandResult::BackedUp(self.backed_up)
    }
}

impl MetadataState {
    /// The cluster id this state belongs to, if it was ever set.
    pub(crate) fn backup_cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }
}
