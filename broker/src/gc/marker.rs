//! The cluster marker: `<prefix>/cluster`, a small JSON object naming the cluster whose
//! objects live under the prefix, written once (PUT if absent) by the first broker that
//! knows the cluster id. The garbage collector deletes nothing under a prefix whose marker
//! names another cluster: that prefix's objects are another cluster's, which this
//! cluster's metadata knows nothing about.

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use silt_bookie::store::ObjectStoreHandle;

use super::GcError;

/// The marker's name under the prefix.
pub(crate) const MARKER_NAME: &str = "cluster";

/// The marker's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterMarker {
    /// The id of the cluster owning the prefix (`MetadataClient::cluster_id`).
    pub(crate) cluster_id: String,
}

/// Whose the prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// This cluster's (the marker was there, or has just been written).
    Ours,
    /// Another cluster's: the id the marker names.
    Foreign(String),
}

/// `<prefix>/cluster`.
pub(crate) fn marker_path(prefix: &Path) -> Path {
    prefix.clone().join(MARKER_NAME)
}

/// Writes the marker naming `cluster_id` if there is none, and says whose the prefix is.
pub(crate) async fn claim(store: &ObjectStoreHandle, cluster_id: &str) -> Result<Owner, GcError> {
    let path = marker_path(&store.prefix);
    let marker = ClusterMarker {
        cluster_id: cluster_id.to_owned(),
    };
    let body = serde_json::to_vec(&marker).map_err(GcError::Marker)?;
    let create = PutOptions::from(PutMode::Create);
    match store
        .store
        .put_opts(&path, PutPayload::from(body), create)
        .await
    {
        Ok(_) => Ok(Owner::Ours),
        Err(object_store::Error::AlreadyExists { .. }) => {
            owner(store.store.as_ref(), &path, cluster_id).await
        }
        Err(error) => Err(GcError::Store(error)),
    }
}

/// Whose the prefix is, by the marker already at `path`.
async fn owner(store: &dyn ObjectStore, path: &Path, cluster_id: &str) -> Result<Owner, GcError> {
    let found = read_at(store, path).await?;
    Ok(match found.cluster_id == cluster_id {
        true => Owner::Ours,
        false => Owner::Foreign(found.cluster_id),
    })
}

/// The cluster id the prefix's marker names; `None` if there is no marker.
pub(crate) async fn read(store: &ObjectStoreHandle) -> Result<Option<String>, GcError> {
    match read_at(store.store.as_ref(), &marker_path(&store.prefix)).await {
        Ok(marker) => Ok(Some(marker.cluster_id)),
        Err(GcError::Store(object_store::Error::NotFound { .. })) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The marker at `path`.
async fn read_at(store: &dyn ObjectStore, path: &Path) -> Result<ClusterMarker, GcError> {
    let bytes = store.get(path).await?.bytes().await?;
    serde_json::from_slice(&bytes).map_err(GcError::Marker)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn the_first_claim_writes_the_marker_and_another_cluster_is_foreign() {
        let store = ObjectStoreHandle::in_memory();
        assert_eq!(claim(&store, "a").await.unwrap(), Owner::Ours);
        assert_eq!(claim(&store, "a").await.unwrap(), Owner::Ours);
        assert_eq!(
            claim(&store, "b").await.unwrap(),
            Owner::Foreign("a".to_owned())
        );
        let path = marker_path(&store.prefix);
        let body = store.store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&body[..], br#"{"cluster_id":"a"}"#);
    }
}
