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

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, Snapshot, StorageIOError};
use tokio::sync::watch;

use crate::snapshot::{SnapshotBuilder, SnapshotStore};
use crate::state::MetadataState;
use crate::type_config::{LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::types::CommandResult;

/// The state as of a log id: what readers and snapshots see.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppliedState {
    /// The last entry applied to `state`.
    pub(crate) last_applied: Option<LogId>,
    /// The last membership applied.
    pub(crate) last_membership: StoredMembership,
    /// The metadata.
    pub(crate) state: MetadataState,
}

/// The applied state, shared by the state machine (the only writer) and local readers.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedState(Arc<RwLock<AppliedState>>);

impl SharedState {
    /// Locks for reading. A poisoned lock is still read: writers only run infallible,
    /// panic-free steps under it, so poison cannot mean a half-applied entry.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, AppliedState> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for writing.
    fn write(&self) -> RwLockWriteGuard<'_, AppliedState> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The openraft state machine: applies entries to the [`SharedState`], builds, installs
/// and serves snapshots through the [`SnapshotStore`], and announces each applied batch
/// on a watch channel (the value is the last applied log index).
pub(crate) struct StateMachineStore {
    /// The applied state.
    shared: SharedState,
    /// Durable snapshots.
    snapshots: Arc<SnapshotStore>,
    /// Bumped after each applied batch.
    applied_tx: Arc<watch::Sender<u64>>,
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
            Some((meta, data)) => AppliedState {
                state: MetadataState::decode(&data)
                    .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?,
                last_applied: meta.last_log_id,
                last_membership: meta.last_membership,
            },
            None => AppliedState::default(),
        };
        let applied_index = applied.last_applied.map_or(0, |log_id| log_id.index);
        let (applied_tx, _) = watch::channel(applied_index);
        Ok(Self {
            shared: SharedState(Arc::new(RwLock::new(applied))),
            snapshots: Arc::new(snapshots),
            applied_tx: Arc::new(applied_tx),
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
        I: IntoIterator<Item = crate::type_config::Entry> + Send,
        I::IntoIter: Send,
    {
        let mut results = Vec::new();
        let last_index = {
            let mut applied = self.shared.write();
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let result = match entry.payload {
                    EntryPayload::Blank => None,
                    EntryPayload::Normal(command) => Some(applied.state.apply(&command)),
                    EntryPayload::Membership(membership) => {
                        applied.last_membership =
                            StoredMembership::new(Some(entry.log_id), membership);
                        None
                    }
                };
                results.push(result);
            }
            applied.last_applied.map(|log_id| log_id.index)
        };
        self.announce_applied(last_index);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let applied = self.shared.read().clone();
        SnapshotBuilder::new(applied, Arc::clone(&self.snapshots))
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
        let state = MetadataState::decode(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let snapshots = Arc::clone(&self.snapshots);
        let saved_meta = meta.clone();
        tokio::task::spawn_blocking(move || snapshots.save(&saved_meta, &data))
            .await
            .map_err(|join| StorageIOError::write_snapshot(Some(meta.signature()), &join))?
            .map_err(|io| StorageIOError::write_snapshot(Some(meta.signature()), &io))?;
        {
            let mut applied = self.shared.write();
            applied.state = state;
            applied.last_applied = meta.last_log_id;
            applied.last_membership = meta.last_membership.clone();
        }
        self.announce_applied(meta.last_log_id.map(|log_id| log_id.index));
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
