//! Small disks of their own for test processes: a tmpfs mounted on a directory, so a test
//! can fill the file system under one process (`ENOSPC` on its next write) and free it
//! again, without touching the machine's disk.
//!
//! Mounting needs the permission to mount (root in CI); [`Tmpfs::mount`] answers `None`
//! where it is not permitted, and callers skip or fall back to plain directories.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// Name of the file that fills a disk, at the root of its mount.
const BALLAST: &str = "ballast";

/// A tmpfs mounted on a directory, unmounted (lazily) on drop.
#[derive(Debug)]
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `"16m"`) on `dir`, creating it;
    /// `None` if mounting is not permitted here.
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// The mounted directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fills the file system with a ballast file until a write fails; returns its size.
    pub fn fill(&self) -> Result<u64> {
        fill(&self.dir.join(BALLAST))
    }

    /// Deletes the ballast file (if any), freeing the space [`Tmpfs::fill`] took.
    pub fn free(&self) -> Result<()> {
        let ballast = self.dir.join(BALLAST);
        match std::fs::remove_file(&ballast) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", ballast.display())),
        }
    }

    /// Deletes everything in the directory (the mount point itself stays).
    pub fn wipe(&self) -> Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("cannot remove {}", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Writes `path` in 64 KiB blocks until a write fails (the file system is full); returns
/// the bytes written.
fn fill(path: &Path) -> Result<u64> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let block = vec![0u8; 64 << 10];
    let mut written = 0u64;
    while file.write_all(&block).is_ok() {
        written += block.len() as u64;
    }
    let _ = file.flush();
    Ok(written)
}
