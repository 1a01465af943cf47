//! Poison pills through real HTTP: a JSON-kind key or value that a strict JSON reader
//! cannot read back (a lone surrogate escape, invalid UTF-8, nesting deeper than 64) is
//! refused at produce with 400 `invalid_record` naming the record, writes nothing, and so
//! can never stop a consumer; every good record sent around the refused ones is read back
//! by the SDK consumer and by `silt consume`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use silt_sdk::wire::binary::{self, BinaryRecord, Kind};
use silt_sdk::{Client, Consumer, ConsumerConfig};
use silt_tests::harness::{Silt, SiltOptions, get_json, http_client, silt_binary};

/// The topic every case writes to; one partition, so offsets count every good record.
const RECORDS: &str = "/v1/topics/poison/records";

/// `n` nested arrays around `0`: `[[0]]` for 2.
fn nested(n: usize) -> String {
    format!("{}0{}", "[".repeat(n), "]".repeat(n))
}

/// Posts `body` with `content_type`; the status and the JSON answer.
async fn post(silt: &Silt, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = http_client()
        .post(format!("{}{RECORDS}", silt.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts a JSON body given as text (so it can hold escapes `serde_json` would not write).
async fn post_json(silt: &Silt, text: &str) -> (u16, Value) {
    post(silt, "application/json", text.as_bytes().to_vec()).await
}

/// Partition 0's high watermark.
async fn high_watermark(silt: &Silt) -> u64 {
    let topic: Value = get_json(&http_client(), &format!("{}/v1/topics/poison", silt.url)).await;
    topic["partitions"][0]["high_watermark"].as_u64().unwrap()
}

/// Sends a refused body and checks the answer names the record and nothing was written.
async fn refused(silt: &Silt, content_type: &str, body: Vec<u8>, needle: &str) {
    let before = high_watermark(silt).await;
    let (status, answer) = post(silt, content_type, body).await;
    assert_eq!(status, 400, "{needle}: {answer}");
    assert_eq!(answer["error"]["code"], "invalid_record", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
    assert_eq!(
        high_watermark(silt).await,
        before,
        "{needle}: something was written"
    );
}

/// A binary body of one record whose JSON-kind value is `value`.
fn binary_json_value(value: &[u8]) -> Vec<u8> {
    binary::encode(&[BinaryRecord {
        value: (Kind::Json, value),
        ..BinaryRecord::bytes(b"")
    }])
}

/// Every record of partition 0, read by the SDK consumer from offset 0 to `end`.
async fn consume_all(silt: &Silt, end: u64) -> Vec<Value> {
    let client = Client::new(silt.url.clone()).unwrap();
    let mut consumer = Consumer::new(client, "poison", 0, 0, ConsumerConfig::default());
    let mut values = Vec::new();
    while consumer.position() < end {
        for record in consumer.poll().await.unwrap() {
            values.push(record.value.unwrap_or(Value::Null));
        }
    }
    values
}

/// `silt consume poison --from-beginning --exit-at-end --format json`, one JSON record per
/// line.
fn cli_consume(url: &str) -> Vec<Value> {
    let output = Command::new(silt_binary())
        .args([
            "consume",
            "poison",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "json",
        ])
        .env("SILT_BROKER", url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "silt consume failed: {stderr}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["value"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_pills_are_refused_and_every_good_record_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let created = http_client()
        .post(format!("{}/v1/topics", silt.url))
        .json(&json!({"name": "poison", "partitions": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let (status, answer) = post_json(&silt, r#"{"records":[{"value":"good 0"}]}"#).await;
    assert_eq!(status, 200, "{answer}");

    let json = "application/json";
    let lone_value = r#"{"records":[{"value":1},{"value":"\ud800"}]}"#;
    refused(&silt, json, lone_value.into(), "record 1 value").await;
    refused(&silt, json, lone_value.into(), "\\ud800").await;
    let lone_key = r#"{"records":[{"key":"a\udc00","value":1}]}"#;
    refused(&silt, json, lone_key.into(), "record 0 key").await;
    let unpaired = r#"{"records":[{"value":{"k":"\ud800\u0041"}}]}"#;
    refused(&silt, json, unpaired.into(), "record 0 value").await;
    let too_deep = format!(r#"{{"records":[{{"value":{}}}]}}"#, nested(65));
    refused(&silt, json, too_deep.into(), "deeper than 64").await;

    let binary = binary::CONTENT_TYPE;
    refused(
        &silt,
        binary,
        binary_json_value(b"\"\xff\""),
        "record 0 value",
    )
    .await;
    refused(&silt, binary, binary_json_value(b"\"\\udfff\""), "\\udfff").await;
    refused(
        &silt,
        binary,
        binary_json_value(nested(65).as_bytes()),
        "64",
    )
    .await;

    let deepest = format!(r#"{{"records":[{{"value":{}}}]}}"#, nested(64));
    let (status, answer) = post_json(&silt, &deepest).await;
    assert_eq!(status, 200, "64 levels are allowed: {answer}");
    let paired = r#"{"records":[{"value":"\ud83d\ude00 good 2"}]}"#;
    let (status, answer) = post_json(&silt, paired).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&silt, binary, binary_json_value(b"\"good 3\"")).await;
    assert_eq!(status, 200, "{answer}");

    let expected = vec![
        json!("good 0"),
        serde_json::from_str::<Value>(&nested(64)).unwrap(),
        json!("\u{1F600} good 2"),
        json!("good 3"),
    ];
    assert_eq!(high_watermark(&silt).await, 4);
    let sdk = tokio::time::timeout(Duration::from_secs(60), consume_all(&silt, 4)).await;
    assert_eq!(sdk.unwrap(), expected);
    let url = silt.url.clone();
    let cli = tokio::task::spawn_blocking(move || cli_consume(&url)).await;
    assert_eq!(cli.unwrap(), expected);
}
