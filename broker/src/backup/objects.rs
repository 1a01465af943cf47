//! Backup objects in the bucket: `<prefix>/metadata/snapshot-<20-digit log index>.snap`
//! (names sort in index order; the format is the metadata snapshot file, see
//! `bookie/FORMAT.md`). Only objects directly under `<prefix>/metadata/` with that exact
//! name shape are backups; nothing in a sub-folder (another cluster's prefix may nest
//! there) is listed or deleted. After an upload, the older backups are deleted, never a
//! newer one: a newer name this broker did not write (a stray copy, another cluster's) is
//! left alone and reported, and `silt restore` takes the newest backup that decodes and
//! belongs to the cluster.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use silt_bookie::store::ObjectStoreHandle;
use silt_metadata::backup::{BACKUP_DIR, index_of, object_name};

/// One backup object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// The log index its name carries.
    pub(crate) index: u64,
    /// Where it is.
    pub(crate) path: Path,
    /// When it was written, in ms since the Unix epoch (the store's clock).
    pub(crate) written_ms: i64,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// `<prefix>/metadata`.
pub(crate) fn root(prefix: &Path) -> Path {
    prefix.clone().join(BACKUP_DIR)
}

/// Uploads the backup taken at `index`.
pub(crate) async fn put(
    store: &ObjectStoreHandle,
    index: u64,
    file: Vec<u8>,
) -> object_store::Result<()> {
    let path = root(&store.prefix).join(object_name(index));
    store.store.put(&path, PutPayload::from(file)).await?;
    Ok(())
}

/// Every backup directly under `<prefix>/metadata/`, oldest first.
pub(crate) async fn list(store: &ObjectStoreHandle) -> object_store::Result<Vec<Listed>> {
    let root = root(&store.prefix);
    let mut backups: Vec<Listed> = store
        .store
        .list_with_delimiter(Some(&root))
        .await?
        .objects
        .into_iter()
        .filter_map(|meta| {
            let index = index_of(meta.location.filename()?)?;
            Some(Listed {
                index,
                written_ms: meta.last_modified.timestamp_millis(),
                size: meta.size,
                path: meta.location,
            })
        })
        .collect();
    backups.sort_by_key(|backup| backup.index);
    Ok(backups)
}

/// Deletes the backups older than `uploaded` (the one just written); answers the
/// indexes of backups newer than it, which this broker did not write.
pub(crate) async fn prune(
    store: &ObjectStoreHandle,
    uploaded: u64,
) -> object_store::Result<Vec<u64>> {
    let backups = list(store).await?;
    for backup in backups.iter().filter(|backup| backup.index < uploaded) {
        match store.store.delete(&backup.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    let newer = backups.iter().filter(|backup| backup.index > uploaded);
    Ok(newer.map(|backup| backup.index).collect())
}

/// Deletes every backup (backups are off: they would only grow stale); how many went.
pub(crate) async fn delete_all(store: &ObjectStoreHandle) -> object_store::Result<usize> {
    let backups = list(store).await?;
    for backup in &backups {
        match store.store.delete(&backup.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(backups.len())
}
