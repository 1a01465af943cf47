//! A full disk under the embedded metadata service: once its Raft log write fails the
//! service is dead for good (openraft stops on a storage error), so `silt dev` must say so
//! (`/healthz` 503) or exit non-zero, never keep answering ok; after the space is freed, a
//! restart (what a supervisor does) serves every record acknowledged before.
//!
//! Linux only, and needs permission to mount a tmpfs (root in CI); skipped with a message
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use silt_tests::harness::{Silt, SiltOptions, Tmpfs, http_client};

/// A client that does not retry: a failure shows at once.
fn no_retry(url: &str) -> Client {
    Client::with_config(ClientConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(5),
        ..ClientConfig::new(url)
    })
    .unwrap()
}

/// Produces one-record requests, from number `first`, until one fails or `limit` were
/// acknowledged; returns the acknowledged values.
async fn produce_until_failure(url: &str, first: usize, limit: usize) -> Vec<String> {
    let producer = Producer::new(no_retry(url), "t", ProducerConfig::default());
    let mut acked = Vec::new();
    for i in first..first + limit {
        let value = format!("v{i}-{}", "x".repeat(200));
        let record = ProduceRecord {
            value: Some(json!(value)),
            ..ProduceRecord::default()
        };
        match producer.send_batch(vec![record]).await {
            Ok(_) => acked.push(value),
            Err(_) => return acked,
        }
    }
    acked
}

/// Whether, within 60 s, the process exited or its `/healthz` answered 503.
async fn reports_failure(silt: &mut Silt) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if silt.wait_exit(Duration::from_millis(10)) {
            return true;
        }
        let health = http_client()
            .get(format!("{}/healthz", silt.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if health.is_ok_and(|h| h.status() == 503) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_the_metadata_log_is_reported_and_a_restart_serves_what_was_acknowledged()
{
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("tmpfs"), "16m") else {
        eprintln!("skipped: mounting a tmpfs is not permitted here");
        return;
    };
    let data_dir = tmpfs.dir().join("data");
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let options = SiltOptions {
        object_store: Some(format!("file://{}", objects.display())),
        env: vec![("SILT_CACHE_DISK_BYTES".into(), "0".into())],
    };
    let mut silt = Silt::start(&data_dir, options);
    Admin::new(no_retry(&silt.url))
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let mut acked = produce_until_failure(&silt.url, 0, 50).await;
    assert_eq!(acked.len(), 50, "produce failed before the disk was full");
    tmpfs.fill().unwrap();
    let on_full_disk = produce_until_failure(&silt.url, 50, 20_000).await;
    assert!(
        on_full_disk.len() < 20_000,
        "20000 produces succeeded on a full disk"
    );
    acked.extend(on_full_disk);
    assert!(
        reports_failure(&mut silt).await,
        "the metadata log write failed after {} acknowledged produces, yet silt dev neither exited nor failed /healthz; output:\n{}",
        acked.len(),
        silt.output().join("\n")
    );

    let output = silt.output().join("\n");
    assert!(output.contains("metadata"), "no cause logged:\n{output}");
    tmpfs.free().unwrap();
    silt.restart(vec![("SILT_CACHE_DISK_BYTES".into(), "0".into())]);
    let consumer = Consumer::new(
        Client::new(&silt.url).unwrap(),
        "t",
        0,
        0,
        ConsumerConfig {
            wait: Duration::ZERO,
            ..Default::default()
        },
    );
    let mut read = Vec::new();
    let mut offset = 0;
    loop {
        let batch = consumer.fetch(offset, Duration::ZERO).await.unwrap();
        if batch.records.is_empty() {
            break;
        }
        offset += batch.records.len() as u64;
        read.extend(batch.records.into_iter().filter_map(|r| r.value));
    }
    let read: Vec<String> = read
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for value in &acked {
        assert!(read.contains(value), "acknowledged {value:.10} is missing");
    }
    drop(silt);
    drop(tmpfs);
}
