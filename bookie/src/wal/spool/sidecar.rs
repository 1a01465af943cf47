//! A segment's sidecar: `<dir>/<ULID>.req`, opaque bytes a segment's commit needs beyond its
//! footer (the broker keeps its requests' offset commits there). It is written before the
//! segment file, the same way (tmp file, fsync unless disabled, rename), so a `.seg` file
//! recovery finds has its sidecar if it ever had one; [`SegmentSpool::remove`] removes both.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use ulid::Ulid;

use super::{SegmentSpool, TMP_SUFFIX};
use crate::error::{Error, Result};

/// The sidecar's suffix.
const SIDECAR_SUFFIX: &str = ".req";

impl SegmentSpool {
    /// Path of segment `id`'s sidecar.
    pub fn sidecar_file(&self, id: Ulid) -> PathBuf {
        self.dir.join(format!("{id}{SIDECAR_SUFFIX}"))
    }

    /// Writes segment `id`'s sidecar; call it before [`SegmentSpool::write_sealed`]. On
    /// error nothing of it is left behind.
    pub fn write_sidecar(&self, id: Ulid, bytes: &[u8]) -> Result<()> {
        let tmp_path = self.dir.join(format!("{id}{SIDECAR_SUFFIX}{TMP_SUFFIX}"));
        let result = self.write_sidecar_via(&tmp_path, id, bytes);
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        result
    }

    /// Writes `bytes` to `tmp_path`, syncs it if the spool syncs, renames it into place.
    fn write_sidecar_via(&self, tmp_path: &PathBuf, id: Ulid, bytes: &[u8]) -> Result<()> {
        let context = |what: &str| format!("{what} {}", tmp_path.display());
        let mut file =
            File::create(tmp_path).map_err(|error| Error::io(context("creating"), error))?;
        file.write_all(bytes)
            .map_err(|error| Error::io(context("writing"), error))?;
        if self.sync {
            file.sync_all()
                .map_err(|error| Error::io(context("fsyncing"), error))?;
        }
        let final_path = self.sidecar_file(id);
        fs::rename(tmp_path, &final_path)
            .map_err(|error| Error::io(format!("renaming to {}", final_path.display()), error))
    }

    /// Segment `id`'s sidecar, or `None` if it has none.
    pub fn read_sidecar(&self, id: Ulid) -> Result<Option<Bytes>> {
        let path = self.sidecar_file(id);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(format!("reading {}", path.display()), error)),
        }
    }

    /// Removes segment `id`'s sidecar (absent is fine).
    pub(super) fn remove_sidecar(&self, id: Ulid) -> Result<()> {
        let path = self.sidecar_file(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::io(format!("removing {}", path.display()), error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_reads_back_and_goes_with_its_segment() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SegmentSpool::open(dir.path().join("spool")).unwrap();
        let id = Ulid::from_parts(1, 1);
        assert_eq!(spool.read_sidecar(id).unwrap(), None);
        spool.write_sidecar(id, b"facts").unwrap();
        spool.write_sealed(id, b"segment").unwrap();
        assert_eq!(spool.read_sidecar(id).unwrap().unwrap(), &b"facts"[..]);
        assert_eq!(spool.pending().unwrap(), [id], "a sidecar is not a segment");
        spool.remove(id).unwrap();
        assert_eq!(spool.read_sidecar(id).unwrap(), None);
    }
}
