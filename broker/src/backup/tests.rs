#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;

use object_store::ObjectStoreExt;
use silt_bookie::clock::SystemClock;
use silt_bookie::store::ObjectStoreHandle;
use silt_metadata::{MetadataNode, NodeConfig};

use super::*;
use crate::gc::marker;
use crate::lease::Job;
use crate::metrics::Metrics;

async fn uploader(store: &ObjectStoreHandle, dir: &std::path::Path) -> (MetadataNode, Uploader) {
    let config = NodeConfig {
        node_id: 1,
        data_dir: dir.to_owned(),
    };
    let node = MetadataNode::open(config).await.unwrap();
    let uploader = Uploader {
        job: Job {
            metadata: Arc::new(node.client()),
            store: store.clone(),
            metrics: Arc::new(Metrics::default()),
            clock: Arc::new(SystemClock),
            broker_id: "b1".to_owned(),
            interval: Duration::from_secs(1),
            ours: AtomicBool::new(false),
        },
    };
    (node, uploader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_upload_replaces_the_older_backup_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStoreHandle::in_memory();
    let (node, uploader) = uploader(&store, dir.path()).await;
    let first = uploader.upload().await.unwrap();
    uploader.round().await;
    let backups = objects::list(&store).await.unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].index > first, "the round's backup is newer");
    let recorded = uploader.job.metadata.record_backup(0).await.unwrap();
    assert_eq!(
        recorded,
        Some(backups[0].index),
        "the newest upload is recorded"
    );
    let file = store
        .store
        .get(&backups[0].path)
        .await
        .unwrap()
        .bytes()
        .await;
    let info = silt_metadata::backup::inspect(&file.unwrap()).unwrap();
    assert_eq!(info.index, backups[0].index);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_newer_backup_or_one_in_a_sub_folder_never_costs_the_clusters_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStoreHandle::in_memory();
    let (node, uploader) = uploader(&store, dir.path()).await;
    let root = objects::root(&store.prefix);
    let stray = root
        .clone()
        .join(silt_metadata::backup::object_name(u64::MAX - 1));
    let nested = root
        .clone()
        .join("metadata")
        .join(silt_metadata::backup::object_name(1));
    for path in [&stray, &nested] {
        let payload = object_store::PutPayload::from_static(b"junk");
        store.store.put(path, payload).await.unwrap();
    }
    let first = uploader.upload().await.unwrap();
    let second = uploader.upload().await.unwrap();
    let listed: Vec<u64> = objects::list(&store)
        .await
        .unwrap()
        .iter()
        .map(|b| b.index)
        .collect();
    assert_eq!(
        listed,
        [second, u64::MAX - 1],
        "the older own one went ({first}), the stray stays"
    );
    assert!(
        store.store.head(&nested).await.is_ok(),
        "a sub-folder is not ours"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_uploaded_under_another_clusters_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStoreHandle::in_memory();
    marker::claim(&store, "someone-else").await.unwrap();
    let (node, uploader) = uploader(&store, dir.path()).await;
    let error = uploader.upload().await.unwrap_err();
    assert!(
        matches!(error, BackupError::Foreign(ref id) if id == "someone-else"),
        "{error}"
    );
    assert!(objects::list(&store).await.unwrap().is_empty());
    node.shutdown().await.unwrap();
}
