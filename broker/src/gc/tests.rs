//! Unit tests of the collector over the in-memory store and the embedded metadata node:
//! what is due when, the lease, and the foreign-prefix refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use silt_bookie::clock::SystemClock;
use silt_metadata::limits::COMMIT_HORIZON_MS;
use silt_metadata::types::{ChunkCommit, PartitionTrim, SegmentCommit, TopicSettings};
use silt_metadata::{MetadataNode, NodeConfig};

use std::sync::Arc;

use silt_bookie::clock::Clock;
use silt_bookie::store::ObjectStoreHandle;
use silt_metadata::MetadataClient;

use super::*;
use crate::lease::Job;
use crate::metrics::Metrics;

const GRACE: Duration = Duration::from_secs(60);

fn sweeper(metadata: &Arc<dyn MetadataClient>, store: &ObjectStoreHandle, id: &str) -> Sweeper {
    Sweeper {
        job: Job {
            metadata: metadata.clone(),
            store: store.clone(),
            metrics: Arc::new(Metrics::default()),
            clock: Arc::new(SystemClock),
            broker_id: id.to_owned(),
            interval: Duration::from_secs(60),
            ours: AtomicBool::new(false),
        },
        grace: GRACE,
        after_backup: false,
        cursor: listing::Cursor::default(),
        backups_checked: AtomicBool::new(false),
    }
}

async fn put(store: &ObjectStoreHandle, name: &str) {
    let payload = PutPayload::from_static(b"segment");
    store.store.put(&Path::from(name), payload).await.unwrap();
}

/// An embedded metadata node in `dir`, and a client of it.
async fn metadata_node(dir: &std::path::Path) -> (MetadataNode, Arc<dyn MetadataClient>) {
    let data_dir = dir.join("metadata");
    let node = MetadataNode::open(NodeConfig {
        node_id: 1,
        data_dir,
    })
    .await
    .unwrap();
    let metadata: Arc<dyn MetadataClient> = Arc::new(node.client());
    (node, metadata)
}

async fn exists(store: &ObjectStoreHandle, name: &str) -> bool {
    store.store.head(&Path::from(name)).await.is_ok()
}

/// Commits `a.seg` and `b.seg` to `t`/0, trims `a.seg` away (released now) and records
/// `o.seg` as an orphan now; every object is in the store.
async fn garbage(metadata: &dyn MetadataClient, store: &ObjectStoreHandle, now_ms: i64) {
    let topic = metadata
        .create_topic("t", 1, TopicSettings::default(), 0)
        .await
        .unwrap();
    for name in [
        "segments/00/a.seg",
        "segments/00/b.seg",
        "segments/00/o.seg",
    ] {
        put(store, name).await;
    }
    for name in ["segments/00/a.seg", "segments/00/b.seg"] {
        commit_one(metadata, topic.id, name).await;
    }
    trim_first_entry(metadata, topic.id, now_ms).await;
    let orphans = vec!["segments/00/o.seg".to_owned()];
    metadata.record_orphans(orphans, now_ms).await.unwrap();
}

/// Commits `name` as a segment of one 7-byte chunk of partition 0 of `topic_id`.
async fn commit_one(metadata: &dyn MetadataClient, topic_id: u64, name: &str) {
    let chunk = ChunkCommit {
        topic_id,
        partition: 0,
        position: 0,
        length: 7,
        record_count: 1,
        first_timestamp_ms: 5,
        max_timestamp_ms: 5,
        producer: None,
    };
    let segment = SegmentCommit {
        object: name.to_owned(),
        size: 7,
        chunks: vec![chunk],
        sealed_at_ms: None,
        offset_commits: Vec::new(),
    };
    metadata.commit_segments(vec![segment]).await.unwrap();
}

/// Trims partition 0 of `topic_id` to offset 1 (its first entry goes) at `at_ms`.
async fn trim_first_entry(metadata: &dyn MetadataClient, topic_id: u64, at_ms: i64) {
    let trim = PartitionTrim {
        topic_id,
        partition: 0,
        start_offset: 1,
    };
    metadata.trim_partitions(vec![trim], at_ms).await.unwrap();
}

#[tokio::test]
async fn released_objects_go_after_the_grace_orphans_after_the_horizon_too_and_one_broker_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let store = ObjectStoreHandle::in_memory();
    let now = SystemClock.now_ms();
    garbage(metadata.as_ref(), &store, now).await;
    let (a, b) = (
        sweeper(&metadata, &store, "a"),
        sweeper(&metadata, &store, "b"),
    );
    let grace = GRACE.as_millis() as i64;

    assert_eq!(a.sweep(now + grace - 1).await.unwrap(), Round::Idle);
    assert!(exists(&store, "segments/00/a.seg").await);
    assert_eq!(b.sweep(now + grace + 1).await.unwrap(), Round::Standby);
    assert!(exists(&store, "segments/00/a.seg").await);

    assert_eq!(a.sweep(now + grace + 1).await.unwrap(), Round::Deleted);
    assert!(
        !exists(&store, "segments/00/a.seg").await,
        "released and past its grace"
    );
    assert!(exists(&store, "segments/00/b.seg").await, "referenced");
    assert!(
        exists(&store, "segments/00/o.seg").await,
        "an orphan within the horizon"
    );

    let past_horizon = now + COMMIT_HORIZON_MS + grace + 1;
    assert_eq!(a.sweep(past_horizon).await.unwrap(), Round::Deleted);
    assert!(!exists(&store, "segments/00/o.seg").await);
    assert!(exists(&store, "segments/00/b.seg").await);
    assert_eq!(a.sweep(past_horizon).await.unwrap(), Round::Idle);
    assert_eq!(a.job.metrics.gc_deleted_objects.get(), 2);
    assert_eq!(
        metadata
            .garbage(i64::MAX, i64::MAX, 10, false)
            .await
            .unwrap()
            .backlog,
        0
    );
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_prefix_marked_by_another_cluster_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let store = ObjectStoreHandle::in_memory();
    marker::claim(&store, "another-cluster").await.unwrap();
    let now = SystemClock.now_ms();
    garbage(metadata.as_ref(), &store, now).await;
    let a = sweeper(&metadata, &store, "a");

    let long_after = now + COMMIT_HORIZON_MS + 10 * GRACE.as_millis() as i64;
    assert_eq!(a.sweep(long_after).await.unwrap(), Round::Refused);
    for name in [
        "segments/00/a.seg",
        "segments/00/b.seg",
        "segments/00/o.seg",
    ] {
        assert!(exists(&store, name).await, "{name}");
    }
    let label = crate::metrics::Reason {
        reason: "foreign_cluster",
    };
    assert_eq!(a.job.metrics.gc_refused.get_or_create(&label).get(), 1);
    node.shutdown().await.unwrap();
}

/// The name of a segment sealed at `ms`.
fn segment(store: &ObjectStoreHandle, ms: i64, random: u128) -> String {
    let id = ulid::Ulid::from_parts(ms as u64, random);
    silt_bookie::store::paths::segment_path(&store.prefix, id).to_string()
}

#[tokio::test]
async fn listing_deletes_old_unrecorded_uploads_but_not_referenced_or_recently_released_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let store = ObjectStoreHandle::in_memory();
    let now = SystemClock.now_ms();
    let an_hour_ago = now - 3_600_000;
    let (released, kept) = (
        segment(&store, an_hour_ago, 1),
        segment(&store, an_hour_ago, 2),
    );
    let (lost, fresh) = (segment(&store, an_hour_ago, 3), segment(&store, now, 4));
    let topic = metadata
        .create_topic("t", 1, TopicSettings::default(), 0)
        .await
        .unwrap();
    for name in [&released, &kept, &lost, &fresh] {
        put(&store, name).await;
    }
    for name in [&released, &kept] {
        commit_one(metadata.as_ref(), topic.id, name).await;
    }
    trim_first_entry(metadata.as_ref(), topic.id, now).await;
    let a = sweeper(&metadata, &store, "a");

    assert_eq!(a.sweep(now + 1).await.unwrap(), Round::Deleted);
    assert!(
        !exists(&store, &lost).await,
        "unrecorded, sealed past the horizon"
    );
    assert!(exists(&store, &released).await, "released within the grace");
    assert!(exists(&store, &kept).await, "referenced");
    assert!(exists(&store, &fresh).await, "sealed within the horizon");

    let grace = GRACE.as_millis() as i64;
    assert_eq!(a.sweep(now + grace + 1).await.unwrap(), Round::Deleted);
    assert!(!exists(&store, &released).await);
    assert!(exists(&store, &kept).await && exists(&store, &fresh).await);
    assert_eq!(a.sweep(now + grace + 1).await.unwrap(), Round::Idle);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_backups_on_a_released_object_stays_until_a_newer_backup_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let store = ObjectStoreHandle::in_memory();
    let now = SystemClock.now_ms();
    let before_release = metadata.backup().await.unwrap();
    garbage(metadata.as_ref(), &store, now).await;
    let mut sweeper = sweeper(&metadata, &store, "a");
    sweeper.after_backup = true;
    let long_after = now + COMMIT_HORIZON_MS + GRACE.as_millis() as i64 + 1;

    metadata.record_backup(before_release.index).await.unwrap();
    sweeper.sweep(long_after).await.unwrap();
    assert!(
        exists(&store, "segments/00/a.seg").await,
        "a restore from the backup taken before the release still reads it"
    );
    assert!(
        !exists(&store, "segments/00/o.seg").await,
        "orphans do not wait"
    );

    let after_release = metadata.backup().await.unwrap();
    metadata.record_backup(after_release.index).await.unwrap();
    assert_eq!(sweeper.sweep(long_after).await.unwrap(), Round::Deleted);
    assert!(!exists(&store, "segments/00/a.seg").await);
    assert!(exists(&store, "segments/00/b.seg").await, "referenced");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_outside_the_brokers_prefix_is_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let backend = Arc::new(object_store::memory::InMemory::new());
    let store = ObjectStoreHandle::new(backend, Path::from("elsewhere"), "memory://elsewhere");
    let now = SystemClock.now_ms();
    // The state names segments/…, as a cluster on the empty prefix would: this broker was
    // started on another prefix.
    garbage(metadata.as_ref(), &store, now).await;
    let unprefixed = ObjectStoreHandle::new(store.store.clone(), Path::default(), "memory://");
    put(&unprefixed, "segments/00/a.seg").await;
    let sweeper = sweeper(&metadata, &store, "a");
    let long_after = now + COMMIT_HORIZON_MS + GRACE.as_millis() as i64 + 1;
    let error = sweeper.sweep(long_after).await.unwrap_err();
    assert!(
        error.to_string().contains("segments/00/a.seg") && error.to_string().contains("elsewhere"),
        "{error}"
    );
    assert!(exists(&unprefixed, "segments/00/a.seg").await);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_backups_off_the_stale_backups_go_before_any_released_object() {
    let dir = tempfile::tempdir().unwrap();
    let (node, metadata) = metadata_node(dir.path()).await;
    let store = ObjectStoreHandle::in_memory();
    let stale =
        crate::backup::objects::root(&store.prefix).join(silt_metadata::backup::object_name(3));
    store
        .store
        .put(&stale, PutPayload::from_static(b"old"))
        .await
        .unwrap();
    let mut on = sweeper(&metadata, &store, "a");
    on.after_backup = true;
    on.sweep(SystemClock.now_ms()).await.unwrap();
    assert!(store.store.head(&stale).await.is_ok(), "backups on: kept");
    let off = sweeper(&metadata, &store, "a");
    off.sweep(SystemClock.now_ms()).await.unwrap();
    assert!(
        store.store.head(&stale).await.is_err(),
        "backups off: deleted"
    );
    node.shutdown().await.unwrap();
}
