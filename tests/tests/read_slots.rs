//! Read slots against a slow object store: a fetch served from memory does not wait
//! behind a cold read that holds the only read slot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// One read slot (the old default on two cores), no disk cache (a restart leaves only the
/// bucket), fault injection on, and `extra` settings.
fn options(extra: &[(&str, &str)]) -> SiltOptions {
    let env = [
        ("SILT_SERVER_FETCH_READ_CONCURRENCY", "1"),
        ("SILT_CACHE_DISK_BYTES", "0"),
        ("SILT_CLUSTER_FAULT_INJECTION", "true"),
    ];
    let env = env.iter().chain(extra);
    SiltOptions {
        env: env.map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        ..SiltOptions::default()
    }
}

/// A broker whose partition 0 holds one record that only the bucket has (written, then
/// a clean restart emptied memory).
async fn broker_with_a_cold_partition(
    http: &reqwest::Client,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Silt {
    let mut silt = Silt::start(dir, options(extra));
    let created = http
        .post(format!("{}/v1/topics", silt.url))
        .json(&json!({"name": "t", "partitions": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    produce_one(http, &silt.url, 0).await;
    assert!(silt.terminate());
    Silt::start(dir, options(extra))
}

/// Makes every object-store request of the broker at `url` take 3 s.
async fn slow_object_store(http: &reqwest::Client, url: &str) {
    let faults = http
        .put(format!("{url}/v1/admin/faults"))
        .json(&json!({"extra_latency_ms": 3000}))
        .send()
        .await
        .unwrap();
    assert!(faults.status().is_success(), "{:?}", faults.text().await);
}

/// Produces one record to `partition` of topic `t`.
async fn produce_one(http: &reqwest::Client, url: &str, partition: u32) {
    let response = http
        .post(format!("{url}/v1/topics/t/records"))
        .json(&json!({"records": [{"value": partition, "partition": partition}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Fetches `partition` from offset 0: the status and the records.
async fn fetch(http: reqwest::Client, url: String, partition: u32) -> (u16, Value) {
    let response = http
        .get(format!(
            "{url}/v1/topics/t/partitions/{partition}/records?offset=0"
        ))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The broker's memory-cache misses so far (`/metrics`).
async fn memory_misses(http: &reqwest::Client, url: &str) -> u64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with("silt_cache_requests_total")
                && l.contains("tier=\"memory\",result=\"miss\"")
        })
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// Polls until a fetch has missed the memory tier (it then holds the read slot and waits
/// on the slow bucket), within a bounded deadline.
async fn wait_for_cold_read(http: &reqwest::Client, url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while memory_misses(http, url).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the cold read never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// With one read slot held by a fetch waiting 3 s on the bucket, a fetch of a record
/// still in memory returns first (completion order, not a time bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hit_does_not_wait_behind_a_cold_read() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    let silt = broker_with_a_cold_partition(&http, dir.path(), &[]).await;
    produce_one(&http, &silt.url, 1).await;
    slow_object_store(&http, &silt.url).await;
    let cold = tokio::spawn(fetch(http.clone(), silt.url.clone(), 0));
    wait_for_cold_read(&http, &silt.url).await;
    let (status, hot) = fetch(http.clone(), silt.url.clone(), 1).await;
    assert_eq!(status, 200, "{hot}");
    assert_eq!(hot["records"][0]["value"], 1, "{hot}");
    assert!(
        !cold.is_finished(),
        "the memory hit returned only after the cold read: it waited for the read slot"
    );
    let (status, cold) = cold.await.unwrap();
    assert_eq!(status, 200, "{cold}");
    assert_eq!(cold["records"][0]["value"], 0, "{cold}");
}

/// A cold read that cannot finish within `server.request_timeout` answers 503
/// `unavailable` naming the limit, instead of holding the request (and its slot) longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_past_the_request_timeout_answers_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    let timeout = [("SILT_SERVER_REQUEST_TIMEOUT", "1s")];
    let silt = broker_with_a_cold_partition(&http, dir.path(), &timeout).await;
    slow_object_store(&http, &silt.url).await;
    let (status, answer) = fetch(http.clone(), silt.url.clone(), 0).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("server.request_timeout"), "{message}");
}
