//! Crashes of a real process: `kill -9` while producers run, a crash at the exact point
//! between upload and commit (fail point), and a clean SIGTERM. After a restart on the same
//! data dir the checker must find every acknowledged record at its offset exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Producer, ProducerConfig};
use silt_tests::checker::History;
use silt_tests::harness::{Silt, SiltOptions};
use silt_tests::workload::{ProduceJob, produce_requests, read_back_and_check};

/// A client that does not retry, so a crash shows up as a failed request.
fn no_retry(url: &str) -> Client {
    Client::with_config(ClientConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::new(url)
    })
    .unwrap()
}

/// Segment files in the spool (its `.lock` file is not one).
fn spool_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits (bounded) until the background recovery has emptied the spool; returns how many
/// segment files are left.
async fn recovered_spool(dir: &std::path::Path) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while spool_files(dir) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    spool_files(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_producing_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(dir.path(), SiltOptions::default());
    Admin::new(no_retry(&silt.url))
        .create_topic("crash", 3, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let mut acknowledged = 0;
    // Three rounds of: producers running, then kill -9 without warning, then restart.
    for round in 0..3 {
        let client = no_retry(&silt.url);
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let job = ProduceJob {
                    topic: "crash".into(),
                    producer: format!("r{round}p{p}"),
                    partitions: 3,
                    requests: 100_000,
                    per_request: 5,
                    big_every: None,
                    stop_on_error: true,
                };
                tokio::spawn(produce_requests(client.clone(), job, history.clone()))
            })
            .collect();
        let target = acknowledged + 500;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while history_acks(&history) < target as usize && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        silt.kill9();
        for producer in producers {
            acknowledged += producer.await.unwrap();
        }
        assert!(
            acknowledged >= target,
            "only {acknowledged} acknowledged by round {round}"
        );
        // Recovery runs in the background, while the next round produces.
        silt.restart(Vec::new());
    }
    assert_eq!(
        recovered_spool(dir.path()).await,
        0,
        "recovery left spool files behind"
    );
    let client = Client::new(&silt.url).unwrap();
    let report = read_back_and_check(&client, "crash", &history).await;
    assert!(report.ok(), "{report}");
    assert_eq!(report.acknowledged as u64, acknowledged);
}

fn history_acks(history: &Arc<Mutex<History>>) -> usize {
    history
        .lock()
        .unwrap()
        .check(&Default::default())
        .acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_upload_and_commit_is_recovered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(dir.path(), SiltOptions::default());
    let client = no_retry(&silt.url);
    Admin::new(client.clone())
        .create_topic("torn", 1, TopicConfig::default())
        .await
        .unwrap();
    let producer = Producer::new(client.clone(), "torn", ProducerConfig::default());
    let first = producer
        .send_batch(vec![ProduceRecord {
            value: Some(json!("before")),
            ..ProduceRecord::default()
        }])
        .await
        .unwrap();
    assert_eq!(first[0].offset, 0);
    // The spool file of a committed segment is removed just after its answer: wait for it,
    // so the kill below leaves only the torn segment behind.
    assert_eq!(recovered_spool(dir.path()).await, 0);

    // Restart with a fail point that aborts the process after the segment is uploaded and
    // before it is committed: the request must fail, never be acknowledged.
    silt.restart(vec![(
        "SILT_FAILPOINTS".into(),
        "commit.before_send".into(),
    )]);
    let client = no_retry(&silt.url);
    let producer = Producer::new(client.clone(), "torn", ProducerConfig::default());
    let torn = producer
        .send_batch(vec![ProduceRecord {
            value: Some(json!("torn")),
            ..ProduceRecord::default()
        }])
        .await;
    assert!(
        torn.is_err(),
        "a crash before commit must not acknowledge: {torn:?}"
    );
    assert!(
        silt.wait_exit(Duration::from_secs(20)),
        "the fail point did not stop silt"
    );
    assert_eq!(
        spool_files(dir.path()),
        1,
        "the sealed segment should wait in the spool"
    );

    // Restart normally: recovery commits the sealed segment exactly once.
    silt.restart(Vec::new());
    assert_eq!(recovered_spool(dir.path()).await, 0);
    let client = Client::new(&silt.url).unwrap();
    let consumer = silt_sdk::Consumer::new(
        client.clone(),
        "torn",
        0,
        0,
        silt_sdk::ConsumerConfig {
            wait: Duration::ZERO,
            ..Default::default()
        },
    );
    let all = consumer.fetch(0, Duration::ZERO).await.unwrap();
    let values: Vec<_> = all.records.iter().map(|r| r.value.clone()).collect();
    assert_eq!(values, vec![Some(json!("before")), Some(json!("torn"))]);
    // A second restart must not commit it again.
    silt.restart(Vec::new());
    let client = Client::new(&silt.url).unwrap();
    let again = Admin::new(client.clone())
        .describe_topic("torn")
        .await
        .unwrap();
    assert_eq!(again.partitions[0].high_watermark, 2);
    let producer = Producer::new(client, "torn", ProducerConfig::default());
    let next = producer
        .send_batch(vec![ProduceRecord {
            value: Some(json!("after")),
            ..ProduceRecord::default()
        }])
        .await
        .unwrap();
    assert_eq!(next[0].offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_producing_exits_cleanly_and_keeps_every_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(dir.path(), SiltOptions::default());
    let client = no_retry(&silt.url);
    Admin::new(client.clone())
        .create_topic("graceful", 2, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let job = ProduceJob {
                topic: "graceful".into(),
                producer: format!("p{p}"),
                partitions: 2,
                requests: 100_000,
                per_request: 3,
                big_every: None,
                stop_on_error: true,
            };
            tokio::spawn(produce_requests(client.clone(), job, history.clone()))
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while history_acks(&history) < 60 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(silt.terminate(), "silt did not exit cleanly on SIGTERM");
    for producer in producers {
        producer.await.unwrap();
    }
    silt.restart(Vec::new());
    assert_eq!(recovered_spool(dir.path()).await, 0);
    let client = Client::new(&silt.url).unwrap();
    let report = read_back_and_check(&client, "graceful", &history).await;
    assert!(report.ok(), "{report}");
}
