//! The spool's cluster stamp: `<dir>/cluster-id` holds the id of the metadata cluster whose
//! commits the spooled segments await. A broker that finds its spool stamped by another
//! cluster (a reused cache directory or volume) sets that cluster's segments aside in
//! `<dir>/foreign-<id>/` instead of committing them into whatever topic has their topic id.
//!
//! Invariant: the stamp file is replaced whole (written as `cluster-id.tmp`, fsynced,
//! renamed, directory fsynced), so it is either the old id or the new one; an unfinished
//! `.tmp` is removed when the spool opens, like any other.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use ulid::Ulid;

use super::{SEGMENT_SUFFIX, SegmentSpool, TMP_SUFFIX};
use crate::error::{Error, Result};

/// The stamp file in the spool directory.
const STAMP_FILE: &str = "cluster-id";
/// Most characters of a stamp used in a folder name.
const MAX_FOLDER_ID: usize = 64;

impl SegmentSpool {
    /// The cluster id the spool is stamped with; `None` when it is not stamped (a new
    /// spool, or one written before stamps existed).
    pub fn cluster_stamp(&self) -> Result<Option<String>> {
        let path = self.dir.join(STAMP_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(format!("reading {}", path.display()), error)),
        }
    }

    /// Stamps the spool with `cluster_id`, durably (tmp file, fsync, rename, fsync of the
    /// directory), whatever the spool's sync setting.
    pub fn stamp_cluster(&self, cluster_id: &str) -> Result<()> {
        let path = self.dir.join(STAMP_FILE);
        let tmp = self.dir.join(format!("{STAMP_FILE}{TMP_SUFFIX}"));
        write_synced(&tmp, cluster_id.as_bytes())?;
        fs::rename(&tmp, &path)
            .map_err(|error| Error::io(format!("renaming to {}", path.display()), error))?;
        sync_dir(&self.dir)
    }

    /// Moves the files of segments `ids` out of the spool into `<dir>/foreign-<cluster>/`
    /// (an absent file is skipped); returns that folder.
    pub fn set_aside(&self, ids: &[Ulid], cluster: &str) -> Result<PathBuf> {
        let folder = self.dir.join(foreign_folder(cluster));
        fs::create_dir_all(&folder)
            .map_err(|error| Error::io(format!("creating {}", folder.display()), error))?;
        for &id in ids {
            self.move_into(id, &folder)?;
        }
        sync_dir(&folder)?;
        sync_dir(&self.dir)?;
        Ok(folder)
    }

    /// Moves segment `id`'s file into `folder`, out of the spool's byte count.
    fn move_into(&self, id: Ulid, folder: &Path) -> Result<()> {
        let from = self.segment_file(id);
        let len = match fs::metadata(&from) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(Error::io(format!("reading {}", from.display()), error)),
        };
        let to = folder.join(format!("{id}{SEGMENT_SUFFIX}"));
        fs::rename(&from, &to)
            .map_err(|error| Error::io(format!("moving {} aside", from.display()), error))?;
        self.bytes_on_disk.fetch_sub(len, Ordering::Relaxed);
        Ok(())
    }
}

/// `foreign-<cluster>`, keeping only the id's ASCII letters, digits, `-` and `_`.
fn foreign_folder(cluster: &str) -> String {
    let safe = |c: &char| c.is_ascii_alphanumeric() || *c == '-' || *c == '_';
    let id: String = cluster.chars().filter(safe).take(MAX_FOLDER_ID).collect();
    format!("foreign-{id}")
}

/// Writes `bytes` to a new file at `path` and fsyncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let context = |what: &str| format!("{what} {}", path.display());
    let mut file = File::create(path).map_err(|error| Error::io(context("creating"), error))?;
    file.write_all(bytes)
        .map_err(|error| Error::io(context("writing"), error))?;
    file.sync_all()
        .map_err(|error| Error::io(context("fsyncing"), error))
}

/// Fsyncs directory `dir`, so renames into and out of it are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| Error::io(format!("fsyncing {}", dir.display()), error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_read_back_and_foreign_segments_leave_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SegmentSpool::open(dir.path()).unwrap();
        assert_eq!(spool.cluster_stamp().unwrap(), None);
        spool.stamp_cluster("old").unwrap();
        assert_eq!(spool.cluster_stamp().unwrap().as_deref(), Some("old"));
        let (a, b) = (Ulid::new(), Ulid::new());
        spool.write_sealed(a, b"aaaa").unwrap();
        spool.write_sealed(b, b"bb").unwrap();
        let folder = spool.set_aside(&[a, Ulid::new()], "o/../ld").unwrap();
        assert_eq!(folder, dir.path().join("foreign-old"));
        assert!(folder.join(format!("{a}.seg")).exists());
        assert_eq!(spool.pending().unwrap(), [b]);
        assert_eq!(spool.bytes_on_disk(), 2);
        spool.stamp_cluster("new").unwrap();
        drop(spool);
        let reopened = SegmentSpool::open(dir.path()).unwrap();
        assert_eq!(reopened.cluster_stamp().unwrap().as_deref(), Some("new"));
        assert_eq!(
            (reopened.pending().unwrap(), reopened.bytes_on_disk()),
            (vec![b], 2)
        );
    }
}
