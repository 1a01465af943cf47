//! [`SegmentSpool`]: sealed segment files on local disk, awaiting upload and commit.
//!
//! Files are `<dir>/<ULID>.seg`. A write goes to `<ULID>.seg.tmp`, is fsynced (unless the
//! spool was opened [`SegmentSpool::with_sync`]`(false)`), renamed to its final name and the
//! directory is fsynced, so after a process crash a `.seg` file is always complete;
//! `.tmp` leftovers of a crash are removed by [`SegmentSpool::open`]. Files are removed
//! only after their segment is committed. I/O here is blocking `std::fs`: call it from
//! `spawn_blocking` on a busy runtime.
//!
//! One process at a time: [`SegmentSpool::open`] takes an exclusive advisory lock on
//! `<dir>/.lock` and holds it until the spool is dropped, so a second process on the same
//! directory fails at start instead of recovering (and committing) files the first one is
//! still uploading or has failed.
//!
//! A segment may have a sidecar (`<ULID>.req`, `sidecar`), written before its file and
//! removed with it.
//!
//! The spool is stamped with the id of the cluster whose commits its files await, and files
//! of another cluster are set aside (`stamp`).
//!
//! Invariant: `bytes_on_disk` counts the `.seg` files written or found at open and not
//! yet removed (the write-ahead cache's disk budget reads it).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ulid::Ulid;

use crate::error::{Error, Result};

mod sidecar;
mod stamp;

const SEGMENT_SUFFIX: &str = ".seg";
const TMP_SUFFIX: &str = ".tmp";
/// The lock file held for the life of an open spool.
const LOCK_FILE: &str = ".lock";

/// A directory of sealed segment files.
#[derive(Debug)]
pub struct SegmentSpool {
    dir: PathBuf,
    bytes_on_disk: AtomicU64,
    sync: bool,
    /// Holds the exclusive lock on `<dir>/.lock` while the spool is open.
    _lock: File,
}

impl SegmentSpool {
    /// Opens (creating) the spool directory, locks it against other processes and removes
    /// `*.tmp` leftovers.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .map_err(|error| Error::io(format!("creating spool {}", dir.display()), error))?;
        let lock = lock_dir(&dir)?;
        let mut bytes_on_disk = 0;
        for entry in read_dir(&dir)? {
            let entry = entry
                .map_err(|error| Error::io(format!("listing spool {}", dir.display()), error))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(TMP_SUFFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|error| {
                    Error::io(format!("removing leftover {}", path.display()), error)
                })?;
                tracing::info!(file = %path.display(), "removed unfinished spool file");
            } else if parse_segment_name(&name).is_some() {
                let metadata = entry.metadata().map_err(|error| {
                    Error::io(
                        format!("reading metadata of {}", entry.path().display()),
                        error,
                    )
                })?;
                bytes_on_disk += metadata.len();
            }
        }
        Ok(Self {
            dir,
            bytes_on_disk: AtomicU64::new(bytes_on_disk),
            sync: true,
            _lock: lock,
        })
    }

    /// Whether writes are fsync'd (default true). Without fsync a power loss can leave a
    /// torn file; recovery verifies every chunk's CRC and drops such a file, which is safe
    /// because nothing in a spooled segment was acknowledged before its commit.
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of segment `id`'s file.
    pub fn segment_file(&self, id: Ulid) -> PathBuf {
        self.dir.join(format!("{id}{SEGMENT_SUFFIX}"))
    }

    /// Durably writes a sealed segment (tmp file, fsync, rename, fsync directory). On any
    /// error nothing of it is left behind: a half-written segment must never be found by
    /// recovery and committed after its requests were failed.
    pub fn write_sealed(&self, id: Ulid, bytes: &[u8]) -> Result<()> {
        let result = self.write_sealed_inner(id, bytes);
        if result.is_err() {
            let _ = fs::remove_file(self.dir.join(format!("{id}{SEGMENT_SUFFIX}{TMP_SUFFIX}")));
            // Counted in `bytes_on_disk` only on success, so nothing to subtract here.
            let _ = fs::remove_file(self.segment_file(id));
        }
        result
    }

    fn write_sealed_inner(&self, id: Ulid, bytes: &[u8]) -> Result<()> {
        let final_path = self.segment_file(id);
        let tmp_path = self.dir.join(format!("{id}{SEGMENT_SUFFIX}{TMP_SUFFIX}"));
        let context = |what: &str| format!("{what} {}", tmp_path.display());
        let mut file =
            File::create(&tmp_path).map_err(|error| Error::io(context("creating"), error))?;
        file.write_all(bytes)
            .map_err(|error| Error::io(context("writing"), error))?;
        if self.sync {
            file.sync_all()
                .map_err(|error| Error::io(context("fsyncing"), error))?;
        }
        drop(file);
        let replaced = fs::metadata(&final_path).map(|m| m.len()).ok();
        fs::rename(&tmp_path, &final_path)
            .map_err(|error| Error::io(format!("renaming to {}", final_path.display()), error))?;
        if self.sync {
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|error| Error::io(format!("fsyncing {}", self.dir.display()), error))?;
        }
        if let Some(old) = replaced {
            self.bytes_on_disk.fetch_sub(old, Ordering::Relaxed);
        }
        self.bytes_on_disk
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Ids of the sealed segments present, oldest first (ULID order).
    pub fn pending(&self) -> Result<Vec<Ulid>> {
        let mut ids = Vec::new();
        for entry in read_dir(&self.dir)? {
            let entry = entry.map_err(|error| {
                Error::io(format!("listing spool {}", self.dir.display()), error)
            })?;
            if let Some(id) = parse_segment_name(&entry.file_name().to_string_lossy()) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The whole segment file, or `None` if absent.
    pub fn read(&self, id: Ulid) -> Result<Option<Bytes>> {
        let path = self.segment_file(id);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(format!("reading {}", path.display()), error)),
        }
    }

    /// `length` bytes at `position` of the segment file, or `None` if the file is absent.
    /// A range past the end of the file is [`Error::Corrupt`].
    pub fn read_range(&self, id: Ulid, position: u64, length: u32) -> Result<Option<Bytes>> {
        let path = self.segment_file(id);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io(format!("opening {}", path.display()), error)),
        };
        let file_len = file
            .metadata()
            .map_err(|error| Error::io(format!("reading metadata of {}", path.display()), error))?
            .len();
        if position.saturating_add(u64::from(length)) > file_len {
            return Err(Error::corrupt(format!(
                "range {position}+{length} lies outside {} ({file_len} bytes)",
                path.display()
            )));
        }
        file.seek(SeekFrom::Start(position))
            .map_err(|error| Error::io(format!("seeking in {}", path.display()), error))?;
        let mut buf = vec![0u8; length as usize];
        file.read_exact(&mut buf)
            .map_err(|error| Error::io(format!("reading {}", path.display()), error))?;
        Ok(Some(Bytes::from(buf)))
    }

    /// Removes a committed segment's file and its sidecar (absent is fine).
    pub fn remove(&self, id: Ulid) -> Result<()> {
        self.remove_sidecar(id)?;
        let path = self.segment_file(id);
        let len = match fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(Error::io(
                    format!("reading metadata of {}", path.display()),
                    error,
                ));
            }
        };
        match fs::remove_file(&path) {
            Ok(()) => {
                self.bytes_on_disk.fetch_sub(len, Ordering::Relaxed);
                Ok(())
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::io(format!("removing {}", path.display()), error)),
        }
    }

    /// Bytes of sealed segment files in the spool.
    pub fn bytes_on_disk(&self) -> u64 {
        self.bytes_on_disk.load(Ordering::Relaxed)
    }
}

/// Takes the exclusive lock on `<dir>/.lock`; fails, naming the directory, if another
/// process (or another open spool) holds it.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| Error::io(format!("opening lock file {}", path.display()), error))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::io(
            format!(
                "spool directory {} is in use by another silt process (it holds {}); give each broker its own data directory",
                dir.display(),
                path.display()
            ),
            std::io::Error::from(std::io::ErrorKind::WouldBlock),
        )),
        Err(fs::TryLockError::Error(error)) => {
            Err(Error::io(format!("locking {}", path.display()), error))
        }
    }
}

fn read_dir(dir: &Path) -> Result<fs::ReadDir> {
    fs::read_dir(dir).map_err(|error| Error::io(format!("listing spool {}", dir.display()), error))
}

fn parse_segment_name(name: &str) -> Option<Ulid> {
    let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
    Ulid::from_string(stem).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_pending_read_remove() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SegmentSpool::open(dir.path().join("spool")).unwrap();
        let older = Ulid::from_parts(1_000, 7);
        let newer = Ulid::from_parts(2_000, 1);
        spool.write_sealed(newer, b"newer segment").unwrap();
        spool.write_sealed(older, b"older").unwrap();
        assert_eq!(spool.pending().unwrap(), vec![older, newer]);
        assert_eq!(spool.bytes_on_disk(), 18);
        assert_eq!(&spool.read(older).unwrap().unwrap()[..], b"older");
        assert_eq!(
            &spool.read_range(newer, 6, 7).unwrap().unwrap()[..],
            b"segment"
        );
        assert!(spool.read_range(newer, 6, 100).unwrap_err().is_corrupt());
        spool.remove(older).unwrap();
        spool.remove(older).unwrap(); // idempotent
        assert_eq!(spool.read(older).unwrap(), None);
        assert_eq!(spool.read_range(older, 0, 1).unwrap(), None);
        assert_eq!(spool.pending().unwrap(), vec![newer]);
        assert_eq!(spool.bytes_on_disk(), 13);
    }

    #[test]
    fn open_removes_tmp_leftovers_and_counts_existing() {
        let dir = tempfile::tempdir().unwrap();
        let id = Ulid::from_parts(5, 5);
        {
            let spool = SegmentSpool::open(dir.path()).unwrap();
            spool.write_sealed(id, b"12345").unwrap();
        }
        let leftover = dir
            .path()
            .join(format!("{}.seg.tmp", Ulid::from_parts(6, 6)));
        fs::write(&leftover, b"half").unwrap();
        fs::write(dir.path().join("unrelated.txt"), b"x").unwrap();
        let spool = SegmentSpool::open(dir.path()).unwrap();
        assert!(!leftover.exists());
        assert_eq!(spool.pending().unwrap(), vec![id]);
        assert_eq!(spool.bytes_on_disk(), 5);
    }

    #[test]
    fn a_second_open_of_a_held_spool_fails_naming_the_directory_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = SegmentSpool::open(dir.path()).unwrap();
        let second = SegmentSpool::open(dir.path()).unwrap_err();
        let message = second.to_string();
        assert!(message.contains("in use by another"), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        drop(first);
        SegmentSpool::open(dir.path()).unwrap();
    }
}
