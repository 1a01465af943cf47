//! The metadata HTTP API does not trust its callers: the raw commands of the hardening
//! report, posted to `/meta/v1/write` of a real node (a topic named `../../x`, 0, 5,000 and
//! 4,294,967,295 partitions, an unknown compression, a chunk outside its segment), are
//! refused with a clear error, and nothing is created. The 4,294,967,295-partition topic
//! used to make every replica allocate ~170 GB at apply.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use silt_metadata::{ClusterConfig, MetadataNode};

/// One bootstrapped node serving HTTP on an OS-assigned port: the node and its address.
async fn start_node(dir: &std::path::Path) -> (MetadataNode, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peers = BTreeMap::from([(1, addr.clone())]);
    let node = MetadataNode::open_cluster(ClusterConfig {
        node_id: 1,
        data_dir: dir.join("node-1"),
        peers: peers.clone(),
        secret: None,
        tls: None,
    })
    .await
    .unwrap();
    let router = node.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    tokio::time::timeout(Duration::from_secs(20), node.bootstrap(&peers))
        .await
        .expect("bootstrap in time")
        .unwrap();
    (node, addr)
}

fn create_topic(name: &str, partitions: u64, compression: Option<&str>) -> Value {
    json!({"CreateTopic": {
        "name": name,
        "partitions": partitions,
        "settings": {"compression": compression},
        "created_at_ms": 1_700_000_000_000i64,
    }})
}

async fn post(http: &reqwest::Client, url: String, body: &Value) -> Value {
    let response = http.post(url).json(body).send().await.unwrap();
    assert_eq!(response.status(), 200, "every /meta/v1 reply is a 200");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_invalid_commands_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (node, addr) = start_node(dir.path()).await;
    let http = reqwest::Client::new();
    let write = format!("http://{addr}/meta/v1/write");
    let read = format!("http://{addr}/meta/v1/read");
    // A valid topic, so the commit case has a real topic id to aim at.
    let created = post(&http, write.clone(), &create_topic("t", 1, None)).await;
    let topic_id = created["Ok"]["Topic"]["id"]
        .as_u64()
        .expect("topic t created");

    let bad_chunk = json!({"CommitSegments": {"segments": [{
        "object": "segments/00/bad.seg",
        "size": 100,
        "chunks": [{
            "topic_id": topic_id, "partition": 0, "position": 90, "length": 4_000_000_000u64,
            "record_count": 1, "first_timestamp_ms": 1, "max_timestamp_ms": 1,
        }],
    }]}});
    // The ~170 GB allocation comes last: before the fix it aborted the process.
    let cases: [(&str, Value, &str); 6] = [
        (
            "path-like name",
            create_topic("../../x", 1, None),
            "InvalidTopicName",
        ),
        (
            "0 partitions",
            create_topic("zero", 0, None),
            "InvalidPartitionCount",
        ),
        (
            "5000 partitions",
            create_topic("many", 5_000, None),
            "InvalidPartitionCount",
        ),
        (
            "unknown compression",
            create_topic("lz", 1, Some("lz5")),
            "InvalidCommand",
        ),
        ("chunk outside its segment", bad_chunk, "InvalidCommand"),
        (
            "4294967295 partitions",
            create_topic("huge", u64::from(u32::MAX), None),
            "InvalidPartitionCount",
        ),
    ];
    let mut failures = Vec::new();
    for (name, command, variant) in cases {
        let reply = post(&http, write.clone(), &command).await;
        let refusal = &reply["Err"]["Rejected"][variant];
        eprintln!("{name}: {reply}");
        if refusal.is_null() {
            failures.push(format!("{name}: expected a {variant} refusal, got {reply}"));
        }
    }
    // Nothing was created: only "t", with no entries.
    let topics = post(&http, read.clone(), &json!("ListTopics")).await;
    let names: Vec<&str> = topics["Ok"]["Topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|topic| topic["name"].as_str().unwrap())
        .collect();
    if names != ["t"] {
        failures.push(format!("topics after the refusals: {names:?}"));
    }
    let slice = json!({"PartitionSlice": {
        "topic": "t", "partition": 0, "offset": 0, "max_entries": 10,
    }});
    let slice = post(&http, read.clone(), &slice).await;
    if slice["Ok"]["Slice"]["high_watermark"] != 0 {
        failures.push(format!("partition t/0 after the refusals: {slice}"));
    }
    // Reads are bounded too.
    let unbounded = json!({"PartitionSlice": {
        "topic": "t", "partition": 0, "offset": 0, "max_entries": u64::MAX,
    }});
    let reply = post(&http, read, &unbounded).await;
    if reply["Err"]["Rejected"]["InvalidCommand"].is_null() {
        failures.push(format!("unbounded partition slice: {reply}"));
    }
    node.shutdown().await.unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
