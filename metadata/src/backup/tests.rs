#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::types::{SegmentCommit, TopicSettings};
use crate::{MetadataClient, MetadataNode, NodeConfig};

use super::*;

fn commit(topic_id: u64, object: &str, partition: u32) -> SegmentCommit {
    SegmentCommit::for_test(object, topic_id, partition)
}

/// A node with topic `t` (2 partitions, 6 segments committed) and its backup.
async fn backed_up_node(dir: &Path) -> (MetadataNode, String, Backup) {
    let config = NodeConfig {
        node_id: 7,
        data_dir: dir.to_owned(),
    };
    let node = MetadataNode::open(config).await.unwrap();
    let client = node.client();
    let cluster_id = client.cluster_id().await.unwrap();
    let topic = client
        .create_topic("t", 2, TopicSettings::default(), 42)
        .await
        .unwrap();
    for i in 0..6u32 {
        let segment = commit(topic.id, &format!("a-{i}"), i % 2);
        client.commit_segments(vec![segment]).await.unwrap();
    }
    let backup = client.backup().await.unwrap();
    (node, cluster_id, backup)
}

fn target(dir: &Path) -> RestoreTarget {
    RestoreTarget {
        data_dir: dir.to_owned(),
        node_id: 1,
        addr: String::new(),
    }
}

#[test]
fn object_names_sort_by_index_and_parse_back() {
    assert_eq!(object_name(42), "snapshot-00000000000000000042.snap");
    assert_eq!(index_of(&object_name(42)), Some(42));
    assert_eq!(index_of(&object_name(u64::MAX)), Some(u64::MAX));
    assert!(object_name(9) < object_name(10));
    for other in [
        "cluster",
        "snapshot-42.snap",
        "snapshot-0000000000000000004x.snap",
        "",
    ] {
        assert_eq!(index_of(other), None, "{other}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_directory_serves_the_backed_up_index_and_goes_on() {
    let old = tempfile::tempdir().unwrap();
    let (node, cluster_id, backup) = backed_up_node(old.path()).await;
    let client = node.client();
    let before = client.partition_slice("t", 1, 0, 100).await.unwrap();
    // Written after the backup: beyond the recovery point.
    let topic = client.describe_topic("t").await.unwrap();
    client
        .commit_segments(vec![commit(topic.id, "late", 1)])
        .await
        .unwrap();
    node.shutdown().await.unwrap();

    let new = tempfile::tempdir().unwrap();
    let restored_dir = new.path().join("metadata");
    let info = restore(&backup.file, Some(&cluster_id), &target(&restored_dir))
        .await
        .unwrap();
    assert_eq!(info.index, backup.index);
    assert_eq!(info.cluster_id.as_deref(), Some(cluster_id.as_str()));
    assert_eq!((info.topics, info.partitions), (1, 2));

    let config = NodeConfig {
        node_id: 1,
        data_dir: restored_dir,
    };
    let node = MetadataNode::open(config).await.unwrap();
    let client = node.client();
    assert_eq!(client.cluster_id().await.unwrap(), cluster_id);
    let after = client.partition_slice("t", 1, 0, 100).await.unwrap();
    assert_eq!(after, before, "the index as it was in the backup");
    let results = client
        .commit_segments(vec![commit(topic.id, "next", 1)])
        .await
        .unwrap();
    let expected = crate::types::ChunkOutcome::Committed {
        base_offset: before.high_watermark,
    };
    assert_eq!(
        results[0].chunks[0], expected,
        "offsets go on from the backup"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_bad_input_and_writes_nothing() {
    let old = tempfile::tempdir().unwrap();
    let (node, cluster_id, backup) = backed_up_node(old.path()).await;
    node.shutdown().await.unwrap();
    let new = tempfile::tempdir().unwrap();
    let dir = new.path().join("metadata");

    let error = restore(b"not a snapshot", None, &target(&dir))
        .await
        .unwrap_err();
    assert!(matches!(error, BackupError::Invalid(_)), "{error}");
    let mut truncated = backup.file.clone();
    truncated.truncate(truncated.len() - 10);
    let error = restore(&truncated, None, &target(&dir)).await.unwrap_err();
    assert!(error.to_string().contains("backup"), "{error}");
    let error = restore(&backup.file, Some("another-cluster"), &target(&dir))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&cluster_id) && error.to_string().contains("another-cluster"),
        "{error}"
    );
    assert!(!dir.exists(), "nothing written");

    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("raft-log.redb"), b"old").unwrap();
    let error = restore(&backup.file, Some(&cluster_id), &target(&dir))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("raft-log.redb"), "{error}");
    assert_eq!(std::fs::read(dir.join("raft-log.redb")).unwrap(), b"old");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_leaves_no_staging_directory_behind_and_replaces_an_empty_one() {
    let old = tempfile::tempdir().unwrap();
    let (node, cluster_id, backup) = backed_up_node(old.path()).await;
    node.shutdown().await.unwrap();
    let new = tempfile::tempdir().unwrap();
    let dir = new.path().join("metadata");
    std::fs::create_dir(&dir).unwrap();
    restore(&backup.file, Some(&cluster_id), &target(&dir))
        .await
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(new.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["metadata"], "no staging directory left");
    let mut inside: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    inside.sort();
    assert_eq!(inside, ["raft-log.redb", "snapshots"]);
}
