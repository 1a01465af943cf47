//! Idempotent produce over real HTTP against `silt dev`: a retry of the same request gets
//! the original offsets, while a request that reuses a producer tag with other records or
//! partitions gets 409 `idempotency_mismatch` and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, get_json, http_client};

/// Posts `body` to `path` and returns the status and the JSON answer.
async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = http.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The high watermark of each partition of topic `t`.
async fn high_watermarks(http: &reqwest::Client, base: &str) -> Vec<u64> {
    let topic: Value = get_json(http, &format!("{base}/v1/topics/t")).await;
    topic["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["high_watermark"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_producer_tag_with_other_content_gets_409_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    let base = silt.url.clone();
    let (status, _) = post(
        &http,
        format!("{base}/v1/topics"),
        json!({"name": "t", "partitions": 2}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, producer) = post(&http, format!("{base}/v1/producers"), json!({})).await;
    assert_eq!(status, 200, "{producer}");
    let tag = json!({"id": producer["producer_id"], "epoch": producer["epoch"], "sequence": 0});
    let records = format!("{base}/v1/topics/t/records");
    let request = |records: Value| json!({"records": records, "producer": tag});
    let original = request(json!([{"value": "a", "partition": 1}]));
    let (status, first) = post(&http, records.clone(), original.clone()).await;
    assert_eq!(status, 200, "{first}");
    let before = high_watermarks(&http, &base).await;
    for other in [
        json!([{"value": "b", "partition": 1}]),
        json!([{"value": "a", "partition": 0}]),
        json!([{"value": "a", "partition": 1}, {"value": "a", "partition": 1}]),
    ] {
        let (status, body) = post(&http, records.clone(), request(other)).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "idempotency_mismatch", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("sequence 0"), "{message}");
    }
    assert_eq!(high_watermarks(&http, &base).await, before);
    let (status, retried) = post(&http, records, original).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["offsets"], first["offsets"]);
    assert_eq!(high_watermarks(&http, &base).await, before);
}
