//! Bounded metadata through a real `silt dev`: with snapshots taken every few entries
//! (`SILT_METADATA_SNAPSHOT_ENTRIES`), several snapshots are built while producers write,
//! the newest is in the binary encoding, and after a `kill -9` and a restart from it (and
//! the log after it) every acknowledged record reads back, with a clean history. With a
//! short `SILT_METADATA_PRODUCER_EXPIRY`, an idle producer id expires: its requests answer
//! 404 `producer_not_found`, the producer-id quota has room again, and the SDK's idempotent
//! producer carries on under a new id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, Producer, ProducerConfig};
use silt_tests::checker::History;
use silt_tests::harness::{Silt, SiltOptions, http_client};
use silt_tests::workload::{ProduceJob, produce_requests, read_back_and_check};

/// The newest snapshot file of the embedded metadata node under `data_dir`, if any.
fn newest_snapshot(data_dir: &Path) -> Option<PathBuf> {
    let dir = data_dir.join("metadata").join("snapshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "snap"))
        .collect();
    files.sort();
    files.pop()
}

/// The log index + 1 a snapshot file name carries (`snapshot-<20 digits>.snap`).
fn snapshot_key(path: &Path) -> u64 {
    let name = path.file_stem().unwrap().to_string_lossy();
    name.trim_start_matches("snapshot-").parse().unwrap()
}

/// Waits (bounded) until the newest snapshot covers at least `index` entries.
fn wait_for_snapshot(data_dir: &Path, index: u64) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(path) = newest_snapshot(data_dir).filter(|p| snapshot_key(p) >= index) {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot covering {index} entries; newest: {:?}",
            newest_snapshot(data_dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_several_snapshots_reads_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let options = SiltOptions {
        object_store: None,
        env: vec![
            ("SILT_WAL_LINGER".into(), "1ms".into()),
            ("SILT_METADATA_SNAPSHOT_ENTRIES".into(), "20".into()),
        ],
    };
    let mut silt = Silt::start(dir.path(), options.clone());
    let client = Client::new(&silt.url).unwrap();
    Admin::new(client.clone())
        .create_topic("snap", 3, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let job = ProduceJob {
        topic: "snap".into(),
        producer: "p".into(),
        partitions: 3,
        requests: 150,
        per_request: 4,
        big_every: None,
        stop_on_error: false,
    };
    let acknowledged = produce_requests(client.clone(), job, history.clone()).await;
    assert_eq!(acknowledged, 600);
    // One entry per commit at least: 150 commits passed several snapshot thresholds.
    let snapshot = wait_for_snapshot(dir.path(), 100);
    let bytes = std::fs::read(&snapshot).unwrap();
    let data = bytes.splitn(3, |b| *b == b'\n').nth(2).unwrap();
    assert!(data.starts_with(b"SILTSNAP\x01"), "{snapshot:?}");
    silt.kill9();
    silt.restart(options.env.clone());
    let client = Client::new(&silt.url).unwrap();
    let report = read_back_and_check(&client, "snap", &history).await;
    assert!(report.ok(), "{report}");
    assert_eq!(report.read, 600, "{report}");
}

/// `POST /v1/producers` for a new id: the status and the body.
async fn new_producer_id(url: &str) -> (u16, Value) {
    let response = http_client()
        .post(format!("{url}/v1/producers"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Produces one record to `idle` tagged `(id, epoch 0, sequence)`: the status and body.
async fn tagged_produce(url: &str, id: u64, sequence: u64) -> (u16, Value) {
    let body = json!({
        "records": [{"value": format!("{id}-{sequence}")}],
        "producer": {"id": id, "epoch": 0, "sequence": sequence},
    });
    let response = http_client()
        .post(format!("{url}/v1/topics/idle/records"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Waits (bounded) until producer `id` is gone: a request with a sequence it never sent
/// is refused as out of order while the id lives (nothing written, and not a use of it),
/// and as `producer_not_found` once it expired.
async fn wait_until_expired(url: &str, id: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = tagged_produce(url, id, 1_000).await;
        if status == 404 {
            assert_eq!(body["error"]["code"], "producer_not_found", "{body}");
            return;
        }
        assert_eq!(
            body["error"]["code"], "out_of_order_sequence",
            "{status} {body}"
        );
        assert!(Instant::now() < deadline, "producer {id} never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The values of partition 0 of `idle`, in offset order.
async fn values(url: &str) -> Vec<String> {
    let body: Value = http_client()
        .get(format!(
            "{url}/v1/topics/idle/partitions/0/records?offset=0"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = body["records"].as_array().cloned().unwrap_or_default();
    records
        .iter()
        .map(|r| r["value"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_producer_expires_frees_its_quota_and_the_sdk_takes_a_new_id() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(
        dir.path(),
        SiltOptions {
            object_store: None,
            env: vec![
                ("SILT_WAL_LINGER".into(), "1ms".into()),
                ("SILT_METADATA_PRODUCER_EXPIRY".into(), "2s".into()),
                ("SILT_SERVER_MAX_PRODUCER_IDS".into(), "2".into()),
            ],
        },
    );
    let client = Client::new(&silt.url).unwrap();
    Admin::new(client.clone())
        .create_topic("idle", 1, TopicConfig::default())
        .await
        .unwrap();
    let config = ProducerConfig {
        idempotent: true,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(client.clone(), "idle", config);
    let record = |value: &str| ProduceRecord {
        value: Some(json!(value)),
        ..ProduceRecord::default()
    };
    producer
        .send(record("before"))
        .await
        .unwrap()
        .await
        .unwrap();
    let first = producer.producer_id().unwrap();
    // The quota (2 ids) is full with the SDK's id and this one.
    let (status, body) = new_producer_id(&silt.url).await;
    assert_eq!(status, 200, "{body}");
    let raw = body["producer_id"].as_u64().unwrap();
    let (status, body) = new_producer_id(&silt.url).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("quota_exceeded")),
        "{body}"
    );
    assert_eq!(tagged_produce(&silt.url, raw, 0).await.0, 200);
    // Both go unused; once expired, their requests are refused and the quota has room.
    wait_until_expired(&silt.url, raw).await;
    wait_until_expired(&silt.url, first).await;
    let (status, body) = new_producer_id(&silt.url).await;
    assert_eq!(status, 200, "the expired ids no longer count: {body}");
    // The SDK producer's next record goes through under a new id.
    producer.send(record("after")).await.unwrap().await.unwrap();
    let second = producer.producer_id().unwrap();
    assert_ne!(first, second);
    let expected = vec!["before".to_owned(), format!("{raw}-0"), "after".to_owned()];
    assert_eq!(values(&silt.url).await, expected);
}
