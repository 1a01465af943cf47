//! [`StateMachineStore`]: the openraft adapter of [`MetadataState`]. It applies log
//! entries to the state, keeps it with the log id and membership it is at
//! ([`AppliedState`]), shares it with local readers ([`SharedState`]), builds and installs
//! snapshots through [`crate::snapshot`], and announces each applied batch.
//!
//! Invariants:
//! - The state readers see ([`SharedState`]) always pairs the state with the log id of the
//!   last entry applied to it; locks on it are short and never held across an `.await`.
//! - The state machine is the only writer of the shared state.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, Snapshot, StorageIOError};
use tokio::sync::watch;

use crate::changes::SharedChanges;
use crate::snapshot::SnapshotStore;
use crate::state::{EncodingError, MetadataState};
use crate::state_metrics::SnapshotStats;
use crate::type_config::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::types::{Command, CommandResult, PartitionChange};

/// The state as of a log id: what readers and snapshots see.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppliedState {
    /// The last entry applied to `state` (`None`: nothing applied yet).
    last_applied: Option<LogId>,
    /// The cluster membership of the last membership entry applied.
    last_membership: StoredMembership,
    /// The metadata, with every entry up to `last_applied` applied.
    pub(crate) state: MetadataState,
}

impl AppliedState {
    /// The state a snapshot holds, as of the log id it was taken at.
    fn from_snapshot(meta: &SnapshotMeta, data: &[u8]) -> Result<Self, EncodingError> {
        Ok(Self {
            state: MetadataState::decode(data)?,
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership.clone(),
        })
    }

    /// Applies one log entry; a command's result is what its proposer receives, Raft's
    /// own entries (blank, membership) have none. Also returns the partitions it changed.
    fn apply_entry(&mut self, entry: Entry) -> (Option<CommandResult>, Vec<PartitionChange>) {
        self.last_applied = Some(entry.log_id);
        match entry.payload {
            EntryPayload::Blank => (None, Vec::new()),
            EntryPayload::Normal(command) => {
                let (result, changes) = self.apply_command(entry.log_id.index, &command);
                (Some(result), changes)
            }
            EntryPayload::Membership(membership) => {
                self.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                (None, Vec::new())
            }
        }
    }

    /// Applies the command of entry `index`, noting the partitions it changed (none when
    /// it was refused: a refused command changes nothing).
    fn apply_command(
        &mut self,
        index: u64,
        command: &Command,
    ) -> (CommandResult, Vec<PartitionChange>) {
        let touched = self.state.touched_partitions(command);
        let result = self.state.apply_at(index, command);
        if matches!(result, CommandResult::Rejected(_)) {
            return (result, Vec::new());
        }
        (result, self.state.partition_changes(index, touched))
    }

    /// The index of the last entry applied, if any.
    fn applied_index(&self) -> Option<u64> {
        self.last_applied.map(|log_id| log_id.index)
    }

    /// A backup of this state: the bytes of a snapshot file of it. Blocking (encodes).
    pub(crate) fn backup(&self) -> std::io::Result<crate::backup::Backup> {
        let meta = self.snapshot_meta();
        let data = self.state.encode()?;
        let mut file = Vec::with_capacity(data.len() + 512);
        crate::snapshot::write_file(&mut file, &meta, &data)?;
        let index = self.applied_index().unwrap_or(0);
        Ok(crate::backup::Backup { index, file })
    }

    /// The metadata of a snapshot of this state; its id names the last applied log id.
    fn snapshot_meta(&self) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_id: self
                .last_applied
                .map_or_else(|| "empty".to_owned(), |log_id| log_id.to_string()),
        }
    }
}

/// The applied state, shared by the state machine (the only writer) and local readers,
/// with the stats of the snapshots built from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedState {
    /// The applied state.
    applied: Arc<RwLock<AppliedState>>,
    /// The snapshots built so far.
    snapshots: Arc<SnapshotStats>,
}

impl SharedState {
    /// Locks for reading. A poisoned lock is still read: writers only run infallible,
    /// panic-free steps under it, so poison cannot mean a half-applied entry.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, AppliedState> {
        self.applied.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for writing.
    fn write(&self) -> RwLockWriteGuard<'_, AppliedState> {
        self.applied.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stats of the snapshots built.
    pub(crate) fn snapshot_stats(&self) -> &SnapshotStats {
        &self.snapshots
    }
}

/// The openraft state machine: applies entries to the [`SharedState`], builds, installs
/// and serves snapshots through the [`SnapshotStore`], records the partitions each entry
/// changed in the [`SharedChanges`] ring, and announces each applied batch on a watch
/// channel (the value is the last applied log index) once its changes are recorded.
pub(crate) struct StateMachineStore {
    /// The applied state; local readers share it.
    shared: SharedState,
    /// The durable snapshot files, shared with the snapshot builders.
    snapshots: Arc<SnapshotStore>,
    /// Bumped after each applied batch.
    applied_tx: Arc<watch::Sender<u64>>,
    /// The recent partition changes (not replicated, not in snapshots).
    changes: SharedChanges,
}

impl StateMachineStore {
    /// Opens the state machine with its snapshots in `snapshot_dir`, resuming from the
    /// newest snapshot there if any.
    pub(crate) async fn open(snapshot_dir: PathBuf) -> Result<Self, StorageError> {
        let (snapshots, newest) =
            tokio::task::spawn_blocking(move || SnapshotStore::open(snapshot_dir))
                .await
                .map_err(|join| StorageIOError::read_snapshot(None, &join))?
                .map_err(|io| StorageIOError::read_snapshot(None, &io))?;
        let applied = match newest {
            Some((meta, data)) => AppliedState::from_snapshot(&meta, &data)
                .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?,
            None => AppliedState::default(),
        };
        let index = applied.applied_index().unwrap_or(0);
        let (applied_tx, _) = watch::channel(index);
        Ok(Self {
            shared: SharedState {
                applied: Arc::new(RwLock::new(applied)),
                snapshots: Arc::default(),
            },
            snapshots: Arc::new(snapshots),
            applied_tx: Arc::new(applied_tx),
            changes: SharedChanges::new(index),
        })
    }

    /// The applied state, for readers.
    pub(crate) fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    /// The sender of the last applied log index; readers subscribe to it.
    pub(crate) fn applied_sender(&self) -> Arc<watch::Sender<u64>> {
        Arc::clone(&self.applied_tx)
    }

    /// The ring of recent partition changes; the watch reads it.
    pub(crate) fn changes(&self) -> SharedChanges {
        self.changes.clone()
    }

    /// Records what the entries just applied changed, in log order.
    fn record_changes(&self, changed: Vec<(u64, Vec<PartitionChange>)>) {
        let mut ring = self.changes.lock();
        for (index, changes) in changed {
            ring.record(index, changes);
        }
    }

    /// Announces that entries up to `index` are applied.
    fn announce_applied(&self, index: Option<u64>) {
        if let Some(index) = index {
            self.applied_tx.send_if_modified(|current| {
                let changed = *current != index;
                *current = index;
                changed
            });
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.read();
        Ok((applied.last_applied, applied.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<CommandResult>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let (results, changed, last_index) = {
            let mut applied = self.shared.write();
            let mut changed = Vec::new();
            let results: Vec<_> = entries
                .into_iter()
                .map(|entry| {
                    let index = entry.log_id.index;
                    let (result, changes) = applied.apply_entry(entry);
                    changed.push((index, changes));
                    result
                })
                .collect();
            (results, changed, applied.applied_index())
        };
        self.record_changes(changed);
        self.announce_applied(last_index);
        Ok(results)
    }

    /// A builder holding a clone of the state: cheap (O(topics + partitions)), since the
    /// large parts of the state are persistent maps the clone shares; apply goes on while
    /// the builder encodes.
    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let applied = self.shared.read().clone();
        SnapshotBuilder {
            applied,
            snapshots: Arc::clone(&self.snapshots),
            stats: Arc::clone(&self.shared.snapshots),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let installed = AppliedState::from_snapshot(meta, &data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let snapshots = Arc::clone(&self.snapshots);
        let saved_meta = meta.clone();
        tokio::task::spawn_blocking(move || snapshots.save(&saved_meta, &data))
            .await
            .map_err(|join| StorageIOError::write_snapshot(Some(meta.signature()), &join))?
            .map_err(|io| StorageIOError::write_snapshot(Some(meta.signature()), &io))?;
        let installed_index = installed.applied_index();
        *self.shared.write() = installed;
        self.changes.lock().restart_at(installed_index.unwrap_or(0));
        self.announce_applied(installed_index);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let current = tokio::task::spawn_blocking(move || snapshots.load_current())
            .await
            .map_err(|join| StorageIOError::read_snapshot(None, &join))?
            .map_err(|io| StorageIOError::read_snapshot(None, &io))?;
        Ok(current.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// Builds a snapshot of the state as it was when openraft asked for the builder.
pub(crate) struct SnapshotBuilder {
    /// The state to snapshot, cloned at a log id boundary.
    applied: AppliedState,
    /// Where to save it.
    snapshots: Arc<SnapshotStore>,
    /// Where to record its build time and size.
    stats: Arc<SnapshotStats>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = self.applied.snapshot_meta();
        let state = std::mem::take(&mut self.applied.state);
        let snapshots = Arc::clone(&self.snapshots);
        let saved_meta = meta.clone();
        let stats = Arc::clone(&self.stats);
        let data = tokio::task::spawn_blocking(move || {
            encode_and_save(&state, &saved_meta, &snapshots, &stats)
        })
        .await
        .map_err(|join| StorageIOError::write_snapshot(Some(meta.signature()), &join))?
        .map_err(|io| StorageIOError::write_snapshot(Some(meta.signature()), &io))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// Encodes `state` as snapshot data, saves it as the snapshot taken at `meta` and records
/// the time that took and the size in `stats`. Blocking.
fn encode_and_save(
    state: &MetadataState,
    meta: &SnapshotMeta,
    snapshots: &SnapshotStore,
    stats: &SnapshotStats,
) -> std::io::Result<Vec<u8>> {
    let _span = tracing::info_span!("metadata_snapshot", snapshot = %meta).entered();
    let started = Instant::now();
    let data = state.encode()?;
    snapshots.save(meta, &data)?;
    stats.built(started.elapsed(), data.len());
    tracing::info!(
        bytes = data.len(),
        seconds = started.elapsed().as_secs_f64(),
        "snapshot built"
    );
    Ok(data)
}
