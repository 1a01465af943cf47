//! Three metadata nodes in one process, talking real HTTP on 127.0.0.1: the cluster
//! bootstraps once, a client follows the leader, commits survive the leader's loss, and a
//! watch wakes on another client's commit; the change feed names the partitions that changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::time::Duration;

use silt_metadata::types::{
    ChangeFeed, ChunkCommit, ChunkOutcome, PartitionChange, SegmentCommit, TopicSettings,
};
use silt_metadata::{ClusterConfig, HttpClient, MetadataClient, MetadataNode};
use tokio::task::JoinHandle;

struct Running {
    node: MetadataNode,
    server: JoinHandle<()>,
}

async fn start(
    id: u64,
    dir: &std::path::Path,
    peers: &BTreeMap<u64, String>,
    listener: tokio::net::TcpListener,
) -> Running {
    let node = MetadataNode::open_cluster(ClusterConfig {
        node_id: id,
        data_dir: dir.join(format!("node-{id}")),
        peers: peers.clone(),
        secret: None,
        tls: None,
    })
    .await
    .unwrap();
    let router = node.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Running { node, server }
}

/// Three nodes on OS-assigned ports, bootstrapped: their addresses and handles by id.
async fn start_cluster(dir: &std::path::Path) -> (BTreeMap<u64, String>, BTreeMap<u64, Running>) {
    let mut listeners = Vec::new();
    let mut peers = BTreeMap::new();
    for id in 1..=3u64 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        peers.insert(id, listener.local_addr().unwrap().to_string());
        listeners.push(listener);
    }
    let mut nodes = BTreeMap::new();
    for (id, listener) in (1..=3u64).zip(listeners) {
        nodes.insert(id, start(id, dir, &peers, listener).await);
    }
    let boot = nodes.values().map(|r| r.node.bootstrap(&peers));
    tokio::time::timeout(Duration::from_secs(20), futures::future::try_join_all(boot))
        .await
        .expect("bootstrap in time")
        .unwrap();
    (peers, nodes)
}

fn segment(object: &str, topic_id: u64) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: 10,
        sealed_at_ms: None,
        offset_commits: Vec::new(),
        chunks: vec![ChunkCommit {
            topic_id,
            partition: 0,
            position: 0,
            length: 10,
            record_count: 2,
            first_timestamp_ms: 1,
            max_timestamp_ms: 1,
            producer: None,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_the_loss_of_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let (peers, mut nodes) = start_cluster(dir.path()).await;

    let endpoints: Vec<String> = peers.values().cloned().collect();
    let client = HttpClient::connect(&endpoints).unwrap();
    let other = HttpClient::connect(&endpoints).unwrap();
    let topic = client
        .create_topic("t", 1, TopicSettings::default(), 1)
        .await
        .unwrap();
    let mut applied = other.subscribe_applied();
    let before = *applied.borrow_and_update();
    let first = client
        .commit_segments(vec![segment("a", topic.id)])
        .await
        .unwrap();
    assert_eq!(
        first[0].chunks,
        [ChunkOutcome::Committed { base_offset: 0 }]
    );
    tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|i| *i > before))
        .await
        .expect("the watch wakes on a commit made through another client")
        .unwrap();

    // Stop the leader; the other two elect a new one and the client follows.
    let status = client.status().await.unwrap();
    let leader = status.leader_id.unwrap();
    let running = nodes.remove(&leader).unwrap();
    running.server.abort();
    running.node.shutdown().await.unwrap();
    let second = tokio::time::timeout(
        Duration::from_secs(20),
        client.commit_segments(vec![segment("b", topic.id), segment("a", topic.id)]),
    )
    .await
    .expect("commit after failover in time")
    .unwrap();
    assert_eq!(
        second[0].chunks,
        [ChunkOutcome::Committed { base_offset: 2 }]
    );
    assert_eq!(
        second[1].chunks,
        [ChunkOutcome::Committed { base_offset: 0 }],
        "idempotent"
    );
    let slice = other.partition_slice("t", 0, 0, 10).await.unwrap();
    assert_eq!(slice.high_watermark, 4);
    let new_status = other.status().await.unwrap();
    assert_ne!(new_status.leader_id, Some(leader));
    assert_eq!(new_status.voters, vec![1, 2, 3]);

    for (_, running) in nodes {
        running.server.abort();
        running.node.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_from_many_brokers_share_raft_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (peers, nodes) = start_cluster(dir.path()).await;
    let endpoints: Vec<String> = peers.values().cloned().collect();
    let admin = HttpClient::connect(&endpoints).unwrap();
    let topic = admin
        .create_topic("t", 1, TopicSettings::default(), 1)
        .await
        .unwrap();
    let before = admin.status().await.unwrap().last_applied;
    // 64 "brokers" (clients) commit one segment each, all at once.
    let clients: Vec<HttpClient> = (0..64)
        .map(|_| HttpClient::connect(&endpoints).unwrap())
        .collect();
    let commits = clients.iter().enumerate().map(|(i, client)| {
        let object = format!("seg-{i}");
        async move {
            client
                .commit_segments(vec![segment(&object, topic.id)])
                .await
        }
    });
    let results = futures::future::try_join_all(commits).await.unwrap();
    let mut bases: Vec<u64> = results
        .iter()
        .map(|r| match r[0].chunks[0] {
            ChunkOutcome::Committed { base_offset } => base_offset,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    bases.sort_unstable();
    assert_eq!(
        bases,
        (0..64).map(|i| i * 2).collect::<Vec<u64>>(),
        "dense, each once"
    );
    let entries = admin.status().await.unwrap().last_applied - before;
    assert!(
        entries < 64,
        "64 concurrent commits took {entries} Raft entries: they were not grouped"
    );
    for running in nodes.into_values() {
        running.server.abort();
        running.node.shutdown().await.unwrap();
    }
}

/// Follows `client`'s change feed from `after` until `done` holds for what it collected
/// (within 20 s); returns the changes and the index to continue after.
async fn collect_changes(
    client: &HttpClient,
    mut after: u64,
    done: impl Fn(&[PartitionChange]) -> bool,
) -> (Vec<PartitionChange>, u64) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&seen) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed did not report it: {seen:?}"
        );
        match client
            .watch_changes(after, Duration::from_secs(1))
            .await
            .unwrap()
        {
            ChangeFeed::Changes { applied, changes } => {
                seen.extend(changes);
                after = applied;
            }
            ChangeFeed::Reset { applied } => panic!("unexpected reset at {applied}"),
        }
    }
    (seen, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_names_the_changed_partitions_and_deleted_topics() {
    let dir = tempfile::tempdir().unwrap();
    let (peers, _nodes) = start_cluster(dir.path()).await;
    let endpoints: Vec<String> = peers.values().cloned().collect();
    let client = HttpClient::connect(&endpoints).unwrap();
    let topic = client
        .create_topic("fed", 2, TopicSettings::default(), 1)
        .await
        .unwrap();
    client
        .commit_segments(vec![segment("a", topic.id)])
        .await
        .unwrap();
    let committed = |c: &PartitionChange| c.partition == 0 && c.high_watermark == 2;
    let (seen, after) = collect_changes(&client, 0, |seen| seen.iter().any(committed)).await;
    assert!(
        seen.iter()
            .all(|c| c.topic_id == topic.id && c.partition == 0 && !c.deleted),
        "only partition 0 changed: {seen:?}"
    );

    client.delete_topic("fed", None).await.unwrap();
    let both_deleted = |seen: &[PartitionChange]| seen.iter().filter(|c| c.deleted).count() == 2;
    let (seen, _) = collect_changes(&client, after, both_deleted).await;
    let mut deleted: Vec<u32> = seen
        .iter()
        .filter(|c| c.deleted)
        .map(|c| c.partition)
        .collect();
    deleted.sort_unstable();
    assert_eq!(deleted, [0, 1]);

    // The original watch answer (no `changes=true`) is unchanged: the applied index only.
    let url = format!("http://{}/meta/v1/watch?after=0&timeout_ms=0", endpoints[0]);
    let plain: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let keys: Vec<&String> = plain.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["applied"], "{plain}");
}

/// Polls `group_heartbeat` on every survivor until one leads and answers; the answer.
async fn first_leader_answer(
    nodes: &BTreeMap<u64, Running>,
    member_id: &str,
    generation: u64,
) -> silt_metadata::Result<silt_metadata::types::HeartbeatView> {
    let clients: Vec<_> = nodes.values().map(|r| r.node.client()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        for client in &clients {
            match client
                .group_heartbeat("g", member_id, Some(generation))
                .await
            {
                Err(silt_metadata::Error::NotLeader { .. }) => {}
                answer => return answer,
            }
        }
        tokio::task::yield_now().await;
    }
    panic!("no survivor led within 20 s");
}

/// A member that joined through the old leader just before it died is known to the new
/// leader's first heartbeat answer, even before the new leader has applied its
/// predecessor's last entries (a refusal there made the member rejoin and the whole group
/// rebalance for nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_does_not_refuse_a_member_its_predecessor_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let (peers, mut nodes) = start_cluster(dir.path()).await;
    let endpoints: Vec<String> = peers.values().cloned().collect();
    let client = HttpClient::connect(&endpoints).unwrap();
    client
        .create_topic("t", 4, TopicSettings::default(), 1)
        .await
        .unwrap();
    let leader = client.status().await.unwrap().leader_id.unwrap();
    let join = silt_metadata::types::MemberJoin {
        member_id: String::new(),
        new: true,
        client_id: None,
        topics: vec!["t".to_owned()],
        session_timeout_ms: 30_000,
        assignor: silt_metadata::types::Assignor::Range,
    };
    let joined = client.join_group("g", join).await.unwrap();
    // Kill the leader at once: the followers hold the join but may not know it committed.
    let running = nodes.remove(&leader).unwrap();
    running.server.abort();
    running.node.shutdown().await.unwrap();
    let answer = first_leader_answer(&nodes, &joined.member_id, joined.generation).await;
    let view = answer.expect("the new leader knows the member");
    assert_eq!(view.member.member_id, joined.member_id);
    assert_eq!(view.member.assignment.len(), 4);
    for (_, running) in nodes {
        running.server.abort();
        running.node.shutdown().await.unwrap();
    }
}
