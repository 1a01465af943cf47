//! Long-polls wake only for their own partition: commits to other topics or partitions do
//! not make a waiting fetch re-read its partition (counted on the broker's `/metrics`),
//! and a commit to its partition still wakes every fetch waiting there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client};
use silt_tests::harness::{Silt, SiltOptions, http_client, metric};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The metadata index reads the broker's fetches made.
const SLICE_READS: &str = "silt_metadata_client_requests_total{op=\"partition_slice\"}";
/// Long-polls waiting at the high watermark.
const WAITING: &str = "silt_long_polls_waiting";
/// How long the waiting fetches may wait (`server.max_fetch_wait`, longer than the test).
const LONG_WAIT_MS: u64 = 60_000;
/// How long a condition the test waits for may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Polls until `metric` reaches `at_least`, within [`PATIENCE`].
async fn wait_for_metric(http: &reqwest::Client, base: &str, sample: &str, at_least: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = metric(http, base, sample).await;
        if value >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sample} stayed at {value}, below {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a long-poll of `topic`/`partition` from offset 0; resolves to its JSON answer.
fn long_poll(http: &reqwest::Client, base: &str, topic: &str, partition: u32) -> JoinHandle<Value> {
    let url = format!(
        "{base}/v1/topics/{topic}/partitions/{partition}/records?offset=0&wait_ms={LONG_WAIT_MS}"
    );
    let http = http.clone();
    tokio::spawn(async move {
        let response = http.get(&url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap()
    })
}

/// Produces one record to `topic`/`partition` and waits for its acknowledgement.
async fn produce(http: &reqwest::Client, base: &str, topic: &str, partition: u32, n: u32) {
    let body = json!({"records": [{"partition": partition, "value": {"n": n}}]});
    let response = http
        .post(format!("{base}/v1/topics/{topic}/records"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// `silt dev` with topics `names` of `partitions` partitions each.
async fn silt_with_topics(dir: &std::path::Path, names: &[&str], partitions: u32) -> Silt {
    let silt = Silt::start(dir, SiltOptions::default());
    let admin = Admin::new(Client::new(&silt.url).unwrap());
    for name in names {
        admin
            .create_topic(name, partitions, TopicConfig::default())
            .await
            .unwrap();
    }
    silt
}

/// Waits for every long-poll and checks that each returned the record at offset 0.
async fn all_see_the_first_record(polls: Vec<JoinHandle<Value>>) {
    for poll in polls {
        let answer = tokio::time::timeout(PATIENCE, poll)
            .await
            .expect("a long-poll was not woken by a commit to its partition")
            .unwrap();
        assert_eq!(answer["records"][0]["offset"], 0, "{answer}");
        assert_eq!(answer["records"][0]["value"], json!({"n": 0}), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_to_another_topic_do_not_make_idle_long_polls_reread() {
    let dir = tempfile::tempdir().unwrap();
    let silt = silt_with_topics(dir.path(), &["idle", "busy"], 1).await;
    let (http, base) = (http_client(), silt.url.clone());
    let polls: Vec<_> = (0..200)
        .map(|_| long_poll(&http, &base, "idle", 0))
        .collect();
    wait_for_metric(&http, &base, WAITING, 200).await;
    let reads_before = metric(&http, &base, SLICE_READS).await;
    for n in 0..100 {
        produce(&http, &base, "busy", 0, n).await;
    }
    let reads = metric(&http, &base, SLICE_READS).await - reads_before;
    assert!(
        reads <= 10,
        "100 commits to another topic made the 200 idle long-polls read their partition {reads} times"
    );
    produce(&http, &base, "idle", 0, 0).await;
    all_see_the_first_record(polls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_not_woken_by_commits_to_another_partition() {
    let dir = tempfile::tempdir().unwrap();
    let silt = silt_with_topics(dir.path(), &["pair"], 2).await;
    let (http, base) = (http_client(), silt.url.clone());
    let poll = long_poll(&http, &base, "pair", 0);
    wait_for_metric(&http, &base, WAITING, 1).await;
    let reads_before = metric(&http, &base, SLICE_READS).await;
    for n in 0..20 {
        produce(&http, &base, "pair", 1, n).await;
    }
    let reads = metric(&http, &base, SLICE_READS).await - reads_before;
    assert_eq!(
        reads, 0,
        "20 commits to partition 1 made the long-poll on partition 0 read {reads} times"
    );
    assert!(!poll.is_finished(), "the long-poll on partition 0 returned");
    produce(&http, &base, "pair", 0, 0).await;
    all_see_the_first_record(vec![poll]).await;
}
