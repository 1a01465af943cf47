//! The embedded metadata node through its public API: topics, commits, reads, and
//! reopening the same data directory.

use std::time::Duration;

use silt_metadata::types::{
    ChunkCommit, ChunkOutcome, CommandError, SegmentCommit, SegmentCommitResult, TopicSettings,
};
use silt_metadata::{Error, MetadataClient, MetadataNode, NodeConfig};

fn config(dir: &tempfile::TempDir) -> NodeConfig {
    NodeConfig {
        node_id: 1,
        data_dir: dir.path().join("metadata"),
    }
}

fn segment(object: &str, topic_id: u64, counts: &[(u32, u32)]) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: 1_000,
        sealed_at_ms: None,
        offset_commits: Vec::new(),
        chunks: counts
            .iter()
            .map(|&(partition, record_count)| ChunkCommit {
                topic_id,
                partition,
                position: 0,
                length: 100,
                record_count,
                first_timestamp_ms: 10,
                max_timestamp_ms: 20,
                producer: None,
            })
            .collect(),
    }
}

fn bases(results: &[SegmentCommitResult]) -> Vec<Vec<Option<u64>>> {
    results
        .iter()
        .map(|result| {
            result
                .chunks
                .iter()
                .map(|outcome| match outcome {
                    ChunkOutcome::Committed { base_offset } => Some(*base_offset),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_commits_and_reads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = MetadataNode::open(config(&dir)).await.unwrap();
    let client = node.client();
    assert!(client.is_ready().await);

    let topic = client
        .create_topic("orders", 2, TopicSettings::default(), 1_700_000_000_000)
        .await
        .unwrap();
    assert!(matches!(
        client.create_topic("orders", 1, TopicSettings::default(), 0).await,
        Err(Error::Rejected(CommandError::TopicAlreadyExists(name))) if name == "orders"
    ));

    let first = client
        .commit_segments(vec![
            segment("seg-1", topic.id, &[(0, 3), (1, 1)]),
            segment("seg-2", topic.id, &[(0, 2)]),
        ])
        .await
        .unwrap();
    assert_eq!(bases(&first), [vec![Some(0), Some(0)], vec![Some(3)]]);
    let second = client
        .commit_segments(vec![segment("seg-3", topic.id, &[(0, 4)])])
        .await
        .unwrap();
    assert_eq!(bases(&second), [vec![Some(5)]]);
    // A retried commit returns the original offsets and changes nothing.
    let retried = client
        .commit_segments(vec![segment("seg-1", topic.id, &[(0, 3), (1, 1)])])
        .await
        .unwrap();
    assert_eq!(retried[..], first[..1]);

    let slice = client.partition_slice("orders", 0, 4, 10).await.unwrap();
    assert_eq!(slice.high_watermark, 9);
    let slice_bases: Vec<u64> = slice.entries.iter().map(|e| e.base_offset).collect();
    assert_eq!(slice_bases, [3, 5]);
    assert_eq!(&*slice.entries[0].object, "seg-2");
    assert!(matches!(
        client.partition_slice("orders", 7, 0, 10).await,
        Err(Error::PartitionNotFound {
            partition: 7,
            partitions: 2,
            ..
        })
    ));

    client
        .create_topic("doomed", 1, TopicSettings::default(), 0)
        .await
        .unwrap();
    let doomed = client.describe_topic("doomed").await.unwrap();
    client.delete_topic("doomed", None).await.unwrap();
    assert!(matches!(
        client.delete_topic("doomed", None).await,
        Err(Error::Rejected(CommandError::TopicNotFound(_)))
    ));
    let late = client
        .commit_segments(vec![segment("seg-4", doomed.id, &[(0, 1)])])
        .await
        .unwrap();
    assert_eq!(late[0].chunks, [ChunkOutcome::TopicNotFound]);

    let topics_before = client.list_topics().await.unwrap();
    let slice_before = client.partition_slice("orders", 0, 0, 100).await.unwrap();
    node.shutdown().await.unwrap();
    assert!(matches!(
        client.list_topics().await,
        Err(Error::ShuttingDown | Error::Unavailable(_))
    ));

    let node = MetadataNode::open(config(&dir)).await.unwrap();
    let client = node.client();
    assert_eq!(client.list_topics().await.unwrap(), topics_before);
    assert_eq!(
        client.partition_slice("orders", 0, 0, 100).await.unwrap(),
        slice_before
    );
    // Idempotency survives the restart too, and offsets continue densely.
    let retried = client
        .commit_segments(vec![segment("seg-2", topic.id, &[(0, 2)])])
        .await
        .unwrap();
    assert_eq!(retried[..], first[1..]);
    let next = client
        .commit_segments(vec![segment("seg-5", topic.id, &[(0, 1)])])
        .await
        .unwrap();
    assert_eq!(bases(&next), [vec![Some(9)]]);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_watch_fires_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let node = MetadataNode::open(config(&dir)).await.unwrap();
    let client = node.client();
    let topic = client
        .create_topic("events", 1, TopicSettings::default(), 0)
        .await
        .unwrap();
    let mut applied = client.subscribe_applied();
    let before = *applied.borrow_and_update();

    let waiter = tokio::spawn(async move {
        applied.changed().await.unwrap();
        *applied.borrow_and_update()
    });
    client
        .commit_segments(vec![segment("seg-1", topic.id, &[(0, 1)])])
        .await
        .unwrap();
    let after = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(
        after > before,
        "applied index went from {before} to {after}"
    );
    node.shutdown().await.unwrap();
}

/// A delete whose reply was lost is proposed again; the topic was recreated under the same
/// name in between. The retry names the id the first attempt resolved, so it is refused and
/// the new topic keeps its records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delete_leaves_a_recreated_topic_intact() {
    let dir = tempfile::tempdir().unwrap();
    let node = MetadataNode::open(config(&dir)).await.unwrap();
    let client = node.client();
    let settings = TopicSettings::default();
    let old = client.create_topic("t", 1, settings.clone(), 0).await;
    let old = old.unwrap();
    client.delete_topic("t", Some(old.id)).await.unwrap();
    let new = client.create_topic("t", 1, settings, 0).await.unwrap();
    let seg = segment("seg-new", new.id, &[(0, 2)]);
    client.commit_segments(vec![seg]).await.unwrap();
    let retried = client.delete_topic("t", Some(old.id)).await;
    assert!(
        matches!(
            retried,
            Err(Error::Rejected(CommandError::TopicIdMismatch { .. }))
        ),
        "a retried delete of topic id {} answered {retried:?}",
        old.id
    );
    let kept = client.describe_topic("t").await.unwrap();
    assert_eq!((kept.id, kept.partitions[0].high_watermark), (new.id, 2));
    node.shutdown().await.unwrap();
}
