//! Backup objects in the bucket: `<prefix>/metadata/snapshot-<20-digit log index>.snap`
//! (names sort in index order; the format is the metadata snapshot file, see
//! `bookie/FORMAT.md`). Only the newest is kept: older ones are deleted once a newer one
//! is in the bucket, so a restore, which takes the newest, never meets a backup older than
//! the one the garbage collector counts on.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use silt_bookie::store::ObjectStoreHandle;
use silt_metadata::backup::{BACKUP_DIR, index_of, object_name};

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

/// Every backup under the prefix, oldest first: its index and path.
pub(crate) async fn list(store: &ObjectStoreHandle) -> object_store::Result<Vec<(u64, Path)>> {
    let listed: Vec<_> = store
        .store
        .list(Some(&root(&store.prefix)))
        .try_collect()
        .await?;
    let mut backups: Vec<(u64, Path)> = listed
        .into_iter()
        .filter_map(|meta| {
            let name = meta.location.filename()?.to_owned();
            index_of(&name).map(|index| (index, meta.location))
        })
        .collect();
    backups.sort_by_key(|(index, _)| *index);
    Ok(backups)
}

/// Deletes every backup but the newest.
pub(crate) async fn prune(store: &ObjectStoreHandle) -> object_store::Result<()> {
    let mut backups = list(store).await?;
    backups.pop();
    for (_, path) in backups {
        match store.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
