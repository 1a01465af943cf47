//! A large commit backlog must not wedge the metadata cluster (hardening item 7).
//!
//! One broker with tiny segments keeps producing, over many partitions, while the metadata
//! majority is down, so minutes' worth of uploaded segments (many MB of commit metadata)
//! wait for their commit. The majority comes back and the backlog commits; then every
//! metadata node is stopped and started again, and the cluster must elect a leader,
//! converge and commit new writes. The history of every send is checked: no acknowledged
//! record lost, nothing invented, nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client, ClientConfig, Producer, ProducerConfig};
use silt_tests::checker::History;
use silt_tests::harness::{Cluster, ClusterOptions, Role};
use silt_tests::workload::{SharedHistory, read_back_and_check, record};

const TOPIC: &str = "backlog";
/// Partitions: each request puts one record in every one, so each segment commits this
/// many chunks.
const PARTITIONS: u32 = 256;
/// Producers sending at once while the metadata majority is down.
const PRODUCERS: usize = 32;
/// How long they send into the outage.
const OUTAGE: Duration = Duration::from_secs(20);
/// How long the backlog, and later the restarted cluster, may take to commit.
const RECOVERY: Duration = Duration::from_secs(120);

fn cluster_options() -> ClusterOptions {
    let env = [
        // Every request seals a segment of its own: many segments, many chunks each.
        ("SILT_WAL_MAX_SEGMENT_BYTES", "4096"),
        ("SILT_WAL_LINGER", "1ms"),
        // Requests stuck behind the outage answer soon, so the producers keep sending.
        ("SILT_SERVER_REQUEST_TIMEOUT", "2s"),
    ];
    ClusterOptions {
        brokers: 1,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ClusterOptions::default()
    }
}

/// A client of `base` (the broker's URL and the cluster's token) that gives up on a
/// request after one attempt of `timeout`.
fn client(base: &ClientConfig, timeout: Duration) -> Client {
    Client::with_config(ClientConfig {
        request_timeout: timeout,
        max_attempts: 1,
        ..base.clone()
    })
    .unwrap()
}

/// Sends one request of a record per partition as `producer`'s `request`th; records the
/// outcome (a failure as indeterminate). Returns whether it was acknowledged.
async fn send_one(
    sender: &Producer,
    producer: &str,
    request: u64,
    history: &SharedHistory,
) -> bool {
    let mut records = Vec::new();
    let mut ids = Vec::new();
    for partition in 0..PARTITIONS {
        let sequence = request * u64::from(PARTITIONS) + u64::from(partition);
        let (mut record, sent) = record(producer, sequence, PARTITIONS, false);
        record.partition = Some(partition);
        ids.push(sent.id.clone());
        history.lock().unwrap().sent(sent);
        records.push(record);
    }
    match sender.send_batch(records).await {
        Ok(offsets) => {
            let mut h = history.lock().unwrap();
            for (id, offset) in ids.iter().zip(offsets) {
                h.acknowledged(id, offset.partition, offset.offset);
            }
            true
        }
        Err(error) => {
            let mut h = history.lock().unwrap();
            for id in &ids {
                h.indeterminate(id, &error.to_string());
            }
            false
        }
    }
}

/// One producer sending requests one at a time until `until`.
async fn produce_until(
    base: ClientConfig,
    producer: String,
    until: Instant,
    history: SharedHistory,
) {
    let sender = Producer::new(
        client(&base, Duration::from_secs(5)),
        TOPIC,
        ProducerConfig::default(),
    );
    let mut request = 0;
    while Instant::now() < until {
        send_one(&sender, &producer, request, &history).await;
        request += 1;
    }
}

/// Sends requests as `producer` until one is acknowledged, within [`RECOVERY`]; panics
/// with `what` otherwise.
async fn produce_until_acknowledged(
    base: &ClientConfig,
    producer: &str,
    history: &SharedHistory,
    what: &str,
) {
    let sender = Producer::new(
        client(base, Duration::from_secs(10)),
        TOPIC,
        ProducerConfig::default(),
    );
    let deadline = Instant::now() + RECOVERY;
    let mut request = 0;
    while !send_one(&sender, producer, request, history).await {
        request += 1;
        assert!(
            Instant::now() < deadline,
            "{what}: no write committed within {RECOVERY:?}"
        );
    }
}

/// Runs `f` on the blocking pool (cluster process control blocks).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_commits_and_the_cluster_survives_a_full_restart() {
    let cluster = Arc::new(
        blocking(|| Cluster::up_with("raft-backlog", cluster_options()))
            .await
            .expect("cluster up"),
    );
    let url = cluster.client_config(cluster.broker_url(1));
    let admin = Admin::new(client(&url, Duration::from_secs(10)));
    admin
        .create_topic(TOPIC, PARTITIONS, TopicConfig::default())
        .await
        .expect("create topic");
    let history: SharedHistory = Arc::new(Mutex::new(History::default()));
    produce_until_acknowledged(&url, "before", &history, "before the outage").await;

    // The metadata majority goes away; the broker keeps uploading segments it cannot commit.
    for i in [2, 3] {
        let c = cluster.clone();
        blocking(move || c.kill9(Role::Metadata, i)).await.unwrap();
    }
    let until = Instant::now() + OUTAGE;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let task = produce_until(url.clone(), format!("outage-{p}"), until, history.clone());
            tokio::spawn(task)
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }

    // The majority returns: the backlog commits, then a new write.
    for i in [2, 3] {
        let c = cluster.clone();
        blocking(move || c.start(Role::Metadata, i)).await.unwrap();
    }
    produce_until_acknowledged(&url, "after-backlog", &history, "after the outage").await;

    // Every metadata node restarts: the cluster must converge and commit again.
    for i in 1..=3 {
        let c = cluster.clone();
        blocking(move || c.stop(Role::Metadata, i)).await.unwrap();
    }
    for i in 1..=3 {
        let c = cluster.clone();
        blocking(move || c.start(Role::Metadata, i)).await.unwrap();
    }
    cluster
        .wait_for_leader(RECOVERY)
        .await
        .expect("a leader after the restart");
    produce_until_acknowledged(&url, "after-restart", &history, "after a full restart").await;

    let report = read_back_and_check(&client(&url, Duration::from_secs(30)), TOPIC, &history).await;
    assert!(report.ok(), "{report}");
}
