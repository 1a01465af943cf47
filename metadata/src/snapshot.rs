//! Durable state machine snapshots: [`SnapshotStore`] keeps the snapshot data (the state
//! machine's encoded state, opaque here) with the log id it was taken at and the
//! membership as of then, as one file in the data directory.
//!
//! File format (`snapshots/snapshot-<20-digit key>.snap`, key = last log index + 1, 0 for
//! an empty snapshot): the line `silt-metadata-snapshot v1`, one line of JSON
//! [`SnapshotMeta`], then the snapshot data (the same bytes openraft ships to followers).
//!
//! Invariants:
//! - A snapshot file is complete or absent: it is written as `*.tmp`, fsync'd, renamed
//!   into place, and the directory fsync'd before openraft hears of it (and may purge the
//!   log behind it).
//! - Only the newest snapshot is kept; older files and stray `*.tmp` files are deleted
//!   after a newer one is durable. A save older than the current snapshot is ignored.
//! - At start the newest file is loaded; an unreadable newest file is an error, never a
//!   silent fallback (the log behind it may be purged).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::type_config::SnapshotMeta;

/// First line of every snapshot file.
const HEADER: &str = "silt-metadata-snapshot v1";
/// Snapshot file name prefix and suffix.
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".tmp";

/// A snapshot as stored: its metadata and its data.
pub(crate) type StoredSnapshot = (SnapshotMeta, Vec<u8>);

/// The snapshot files of one data directory.
#[derive(Debug)]
pub(crate) struct SnapshotStore {
    /// The directory holding the files.
    dir: PathBuf,
    /// The newest durable snapshot's metadata. Every file operation holds this lock.
    current: Mutex<Option<SnapshotMeta>>,
}

impl SnapshotStore {
    /// Opens (creating) `dir`, drops leftovers of interrupted saves, and returns the store
    /// with the newest snapshot (metadata and data), if any. Blocking.
    pub(crate) fn open(dir: PathBuf) -> io::Result<(Self, Option<StoredSnapshot>)> {
        fs::create_dir_all(&dir)?;
        let mut names = Vec::new();
        for dir_entry in fs::read_dir(&dir)? {
            let name = dir_entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
                fs::remove_file(dir.join(&name))?;
            } else if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
                names.push(name);
            }
        }
        // Zero-padded keys: the name order is the snapshot order.
        names.sort();
        let newest = match names.last() {
            Some(name) => Some(read_file(&dir.join(name))?),
            None => None,
        };
        let store = Self {
            current: Mutex::new(newest.as_ref().map(|(meta, _)| meta.clone())),
            dir,
        };
        if let Some((meta, _)) = &newest {
            store.remove_all_but(&file_name(meta))?;
        }
        Ok((store, newest))
    }

    /// Makes `data` taken at `meta` the current snapshot, durably, unless the current one
    /// is newer. Blocking.
    pub(crate) fn save(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = current.as_ref()
            && existing.last_log_id > meta.last_log_id
        {
            tracing::debug!(current = %existing, ignored = %meta, "older snapshot not saved");
            return Ok(());
        }
        let name = file_name(meta);
        let final_path = self.dir.join(&name);
        let tmp_path = self.dir.join(format!("{name}{TMP_SUFFIX}"));
        {
            let mut file = File::create(&tmp_path)?;
            write_file(&mut file, meta, data)?;
            file.sync_all()?;
        }
        fs::rename(&tmp_path, &final_path)?;
        File::open(&self.dir)?.sync_all()?;
        *current = Some(meta.clone());
        self.remove_all_but(&name)?;
        tracing::info!(snapshot = %meta, bytes = data.len(), "snapshot saved");
        Ok(())
    }

    /// The current snapshot's metadata and data, if any. Blocking.
    pub(crate) fn load_current(&self) -> io::Result<Option<StoredSnapshot>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match current.as_ref() {
            Some(meta) => read_file(&self.dir.join(file_name(meta))).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes every snapshot file but `keep`.
    fn remove_all_but(&self, keep: &str) -> io::Result<()> {
        for dir_entry in fs::read_dir(&self.dir)? {
            let name = dir_entry?.file_name().to_string_lossy().into_owned();
            if name != keep && name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
                fs::remove_file(self.dir.join(&name))?;
            }
        }
        Ok(())
    }
}

/// The file name of the snapshot taken at `meta`.
fn file_name(meta: &SnapshotMeta) -> String {
    let key = meta.last_log_id.map_or(0, |log_id| log_id.index + 1);
    format!("{PREFIX}{key:020}{SUFFIX}")
}

/// Writes one snapshot file's bytes (header, metadata line, data) to `out`.
pub(crate) fn write_file(out: &mut impl Write, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\n")?;
    serde_json::to_writer(&mut *out, meta)?;
    out.write_all(b"\n")?;
    out.write_all(data)
}

/// Reads and splits one snapshot file.
fn read_file(path: &Path) -> io::Result<StoredSnapshot> {
    parse_file(
        &fs::read(path)?,
        &format!("snapshot file {}", path.display()),
    )
}

/// Splits the bytes of a snapshot file (`what` names it in errors) into its metadata and
/// data.
pub(crate) fn parse_file(bytes: &[u8], what: &str) -> io::Result<StoredSnapshot> {
    let invalid =
        |problem: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {problem}"));
    let mut parts = bytes.splitn(3, |&byte| byte == b'\n');
    if parts.next() != Some(HEADER.as_bytes()) {
        return Err(invalid("unknown header"));
    }
    let meta_line = parts.next().ok_or_else(|| invalid("no metadata"))?;
    let meta: SnapshotMeta =
        serde_json::from_slice(meta_line).map_err(|e| invalid(&format!("metadata: {e}")))?;
    let data = parts.next().ok_or_else(|| invalid("no data"))?.to_vec();
    Ok((meta, data))
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, LogId};

    use super::*;

    fn meta(index: u64) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(1, 0), index)),
            last_membership: Default::default(),
            snapshot_id: format!("s{index}"),
        }
    }

    #[test]
    fn keeps_only_the_newest_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshots");
        let (store, newest) = SnapshotStore::open(path.clone()).unwrap();
        assert!(newest.is_none());
        store.save(&meta(5), b"five").unwrap();
        store.save(&meta(9), b"nine").unwrap();
        store.save(&meta(7), b"seven, ignored").unwrap();
        fs::write(path.join("snapshot-00000000000000000042.snap.tmp"), b"junk").unwrap();
        let files: Vec<_> = fs::read_dir(&path).unwrap().collect();
        assert_eq!(files.len(), 2, "the newest snapshot and the junk tmp file");
        drop(store);
        let (store, newest) = SnapshotStore::open(path.clone()).unwrap();
        assert_eq!(newest, Some((meta(9), b"nine".to_vec())));
        assert_eq!(
            store.load_current().unwrap(),
            Some((meta(9), b"nine".to_vec()))
        );
        assert_eq!(fs::read_dir(&path).unwrap().count(), 1);
    }
}
