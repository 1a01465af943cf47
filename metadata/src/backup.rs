//! Backups of the metadata state in the bucket, and restoring a data directory from one.
//!
//! A backup is the bytes of a snapshot file ([`crate::snapshot`]: header line, metadata
//! line, CBOR+zstd state) of the leader's state at a log index, built on request
//! ([`crate::MetadataClient::backup`]) without holding up apply. Brokers upload it as
//! `<prefix>/metadata/snapshot-<20-digit index>.snap` (`broker/src/backup/`), next to the
//! cluster marker `<prefix>/cluster`.
//!
//! [`restore`] turns one into a metadata data directory of a single voter: the snapshot
//! file with the membership replaced by that voter, and a Raft log holding only a vote in
//! the backup's term (so the voter's first election is in a later term than every entry
//! the backup covers). openraft starts such a directory from the snapshot.
//!
//! Invariants: a restore writes only into an empty (or absent) directory, and only after
//! the backup decoded to a state; a backup of another cluster than the one asked for is
//! refused before anything is written; the directory appears complete or not at all (it
//! is written as a `.NAME.restore-PID` sibling and renamed into place).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, Membership, Vote};
use serde::{Deserialize, Serialize};

use crate::log_store::{self, LogStore};
use crate::snapshot::{self, SnapshotStore};
use crate::state::MetadataState;
use crate::type_config::{SnapshotMeta, StoredMembership};

/// The folder of backups under the cluster's prefix.
pub const BACKUP_DIR: &str = "metadata";
/// A backup object's name prefix and suffix.
const NAME_PREFIX: &str = "snapshot-";
const NAME_SUFFIX: &str = ".snap";

/// A backup: the state as of log `index`, as the bytes of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The log index of the last entry applied to the state.
    pub index: u64,
    /// The snapshot file's bytes.
    pub file: Vec<u8>,
}

/// A backup as it crosses the wire (`POST /meta/v1/backup`): the file in base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BackupWire {
    /// See [`Backup::index`].
    index: u64,
    /// [`Backup::file`], base64 (standard alphabet, padded).
    file: String,
}

impl From<Backup> for BackupWire {
    fn from(backup: Backup) -> Self {
        let file = base64::engine::general_purpose::STANDARD.encode(&backup.file);
        BackupWire {
            index: backup.index,
            file,
        }
    }
}

impl TryFrom<BackupWire> for Backup {
    type Error = base64::DecodeError;

    fn try_from(wire: BackupWire) -> Result<Self, Self::Error> {
        let file = base64::engine::general_purpose::STANDARD.decode(wire.file)?;
        Ok(Backup {
            index: wire.index,
            file,
        })
    }
}

/// The object name (under [`BACKUP_DIR`]) of the backup taken at `index`: names sort in
/// index order.
pub fn object_name(index: u64) -> String {
    format!("{NAME_PREFIX}{index:020}{NAME_SUFFIX}")
}

/// The index of a backup object named `name` (its last path segment); `None` for any
/// other name.
pub fn index_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    let all_digits = digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| digits.parse().ok()).flatten()
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The log index it was taken at.
    pub index: u64,
    /// The cluster id in its state (`None`: a state from before the cluster had one).
    pub cluster_id: Option<String>,
    /// Topics in it.
    pub topics: u64,
    /// Partitions over all its topics.
    pub partitions: u64,
}

/// Why a backup could not be read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The bytes are not a snapshot file, or its state does not decode.
    #[error("{0}")]
    Invalid(String),
    /// The backup belongs to another cluster than the bucket's marker names.
    #[error(
        "the backup is of cluster {found:?}, but the bucket's cluster marker names {expected:?}"
    )]
    ForeignCluster {
        /// The marker's cluster id.
        expected: String,
        /// The backup's.
        found: String,
    },
    /// The target directory already holds something.
    #[error(
        "{} is not empty (it holds {entry:?}): restore writes only into an empty directory; move it away or give another --data-dir",
        dir.display()
    )]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
        /// One entry found in it.
        entry: String,
    },
    /// Reading or writing the directory failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The Raft log could not be written.
    #[error("cannot write the raft log: {0}")]
    Log(String),
}

/// The voter a restored directory starts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreTarget {
    /// The metadata data directory to write (created; must be empty if it exists).
    pub data_dir: PathBuf,
    /// The voter's node id.
    pub node_id: u64,
    /// The voter's `host:port` (empty for the embedded node of `silt dev`).
    pub addr: String,
}

/// Splits and decodes a backup file: its snapshot metadata, data and state.
fn open_file(file: &[u8]) -> Result<(SnapshotMeta, Vec<u8>, MetadataState), BackupError> {
    let invalid = |e: &dyn std::fmt::Display| BackupError::Invalid(e.to_string());
    let (meta, data) = snapshot::parse_file(file, "backup").map_err(|e| invalid(&e))?;
    let state = MetadataState::decode(&data).map_err(|e| invalid(&format!("backup: {e}")))?;
    Ok((meta, data, state))
}

/// What the backup `file` holds, once it decoded.
pub fn inspect(file: &[u8]) -> Result<BackupInfo, BackupError> {
    let (meta, _, state) = open_file(file)?;
    Ok(info(&meta, &state))
}

/// The summary of a decoded backup.
fn info(meta: &SnapshotMeta, state: &MetadataState) -> BackupInfo {
    let usage = state.usage();
    BackupInfo {
        index: meta.last_log_id.map_or(0, |log_id| log_id.index),
        cluster_id: state.backup_cluster_id().map(str::to_owned),
        topics: usage.topics,
        partitions: usage.partitions,
    }
}

/// Writes a metadata data directory for `target` from the backup `file`, which must be of
/// `cluster_id` when given (the bucket's marker). Nothing is written unless the backup
/// decoded, is of that cluster, and the directory is empty or absent.
pub async fn restore(
    file: &[u8],
    cluster_id: Option<&str>,
    target: &RestoreTarget,
) -> Result<BackupInfo, BackupError> {
    let (meta, data, state) = open_file(file)?;
    let info = info(&meta, &state);
    check_cluster(cluster_id, info.cluster_id.as_deref())?;
    check_empty(&target.data_dir)?;
    let meta = single_voter(meta, target);
    let staging = staging_dir(&target.data_dir)?;
    let written = write_dir(&staging, &meta, data, target.node_id).await;
    let moved = written.and_then(|()| move_into_place(&staging, &target.data_dir));
    if moved.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    moved?;
    Ok(info)
}

/// A fresh sibling of `data_dir` to write in, so that a restore cut short (a crash, a full
/// disk) leaves no half-written data directory, only a `.restore-…` one to delete.
fn staging_dir(data_dir: &Path) -> Result<PathBuf, BackupError> {
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = data_dir.file_name().map_or_else(
        || "metadata".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let staging = parent.join(format!(".{name}.restore-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    Ok(staging)
}

/// Writes the snapshot and the Raft log into `dir`.
async fn write_dir(
    dir: &Path,
    meta: &SnapshotMeta,
    data: Vec<u8>,
    node_id: u64,
) -> Result<(), BackupError> {
    write_snapshot(dir, meta, data).await?;
    write_vote(dir, meta, node_id).await
}

/// Renames the complete `staging` directory to `data_dir` (an empty one is replaced), and
/// makes the rename durable.
fn move_into_place(staging: &Path, data_dir: &Path) -> Result<(), BackupError> {
    if data_dir.exists() {
        std::fs::remove_dir(data_dir)?;
    }
    std::fs::rename(staging, data_dir)?;
    if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Refuses a backup of another cluster than `expected`.
fn check_cluster(expected: Option<&str>, found: Option<&str>) -> Result<(), BackupError> {
    match (expected, found) {
        (Some(expected), Some(found)) if expected != found => Err(BackupError::ForeignCluster {
            expected: expected.to_owned(),
            found: found.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a directory that exists and holds anything.
fn check_empty(dir: &Path) -> Result<(), BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    if let Some(entry) = entries.into_iter().next() {
        let entry = entry?.file_name().to_string_lossy().into_owned();
        return Err(BackupError::NotEmpty {
            dir: dir.to_owned(),
            entry,
        });
    }
    Ok(())
}

/// `meta` with its membership replaced by `target` as the only voter (same log id).
fn single_voter(meta: SnapshotMeta, target: &RestoreTarget) -> SnapshotMeta {
    let voters = vec![BTreeSet::from([target.node_id])];
    let node = BasicNode {
        addr: target.addr.clone(),
    };
    let nodes = BTreeMap::from([(target.node_id, node)]);
    let membership_log_id = *meta.last_membership.log_id();
    SnapshotMeta {
        last_membership: StoredMembership::new(membership_log_id, Membership::new(voters, nodes)),
        ..meta
    }
}

/// Saves the snapshot file into `<data_dir>/snapshots`.
async fn write_snapshot(
    data_dir: &Path,
    meta: &SnapshotMeta,
    data: Vec<u8>,
) -> Result<(), BackupError> {
    let dir = data_dir.join(crate::node::SNAPSHOT_DIR);
    let meta = meta.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let (snapshots, _) = SnapshotStore::open(dir)?;
        snapshots.save(&meta, &data)
    });
    saved.await.map_err(io::Error::other)??;
    Ok(())
}

/// Creates the Raft log with a vote for `node_id` in the term of the backup's last entry
/// and that entry as committed.
async fn write_vote(data_dir: &Path, meta: &SnapshotMeta, node_id: u64) -> Result<(), BackupError> {
    let path = data_dir.join(log_store::FILE_NAME);
    let log_error = |e: &dyn std::fmt::Display| BackupError::Log(e.to_string());
    let mut log = LogStore::open(&path).await.map_err(|e| log_error(&e))?;
    let term = meta.last_log_id.map_or(0, |log_id| log_id.leader_id.term);
    let vote = Vote::new(term, node_id);
    log.save_vote(&vote).await.map_err(|e| log_error(&e))?;
    log.save_committed(meta.last_log_id)
        .await
        .map_err(|e| log_error(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
