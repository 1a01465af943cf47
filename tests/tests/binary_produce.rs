//! The binary produce body (`application/x-silt-records`) through real HTTP: records come
//! back from fetch as they were sent (JSON kinds as JSON, bytes as base64), and a malformed
//! body is refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use silt_sdk::wire::binary::{self, BinaryRecord, Kind};
use silt_tests::harness::{Silt, SiltOptions, get_json, http_client};

/// A record on partition 1 with no timestamp.
fn on_partition_1<'a>(
    key: Option<(Kind, &'a [u8])>,
    value: (Kind, &'a [u8]),
    headers: &'a [(String, String)],
) -> BinaryRecord<'a> {
    BinaryRecord {
        key,
        value,
        headers,
        partition: Some(1),
        timestamp_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_records_round_trip_and_bad_bodies_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    let url = |path: &str| format!("{}{}", silt.url, path);
    let created = http
        .post(url("/v1/topics"))
        .json(&json!({"name": "bin", "partitions": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let headers = vec![("h".to_owned(), "ü".to_owned())];
    let body = binary::encode(&[
        // JSON key and JSON value
        on_partition_1(
            Some((Kind::Json, "\"ключ\"".as_bytes())),
            (Kind::Json, br#"{"n": [1, 2.5, null]}"#),
            &headers,
        ),
        // bytes key, bytes value
        on_partition_1(
            Some((Kind::Bytes, &[0, 255])),
            (Kind::Bytes, &[1, 2, 3]),
            &[],
        ),
        // no key, empty bytes value
        on_partition_1(None, (Kind::Bytes, b""), &[]),
        // no key, exactly 1 MiB of bytes
        on_partition_1(None, (Kind::Bytes, &big), &[]),
    ]);
    let response = http
        .post(url("/v1/topics/bin/records"))
        .header("content-type", "application/x-silt-records")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let acks: Value = response.json().await.unwrap();
    assert_eq!(
        acks["offsets"],
        json!([{"partition":1,"offset":0},{"partition":1,"offset":1},{"partition":1,"offset":2},{"partition":1,"offset":3}])
    );

    let fetched: Value = http
        .get(url(
            "/v1/topics/bin/partitions/1/records?offset=0&max_bytes=4194304",
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = fetched["records"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["key"], json!("ключ"));
    assert_eq!(records[0]["value"], json!({"n": [1, 2.5, null]}));
    assert_eq!(records[0]["headers"], json!({"h": "ü"}));
    assert_eq!(records[1]["key_b64"], json!(BASE64.encode([0u8, 255])));
    assert_eq!(records[1]["value_b64"], json!(BASE64.encode([1u8, 2, 3])));
    assert_eq!(records[2]["value_b64"], json!(""));
    assert_eq!(
        BASE64
            .decode(records[3]["value_b64"].as_str().unwrap())
            .unwrap(),
        big
    );

    // Malformed bodies: truncated, trailing bytes, a JSON-kind value that is not JSON,
    // bad magic. Each is 400 and leaves the partition as it was.
    let not_json = binary::encode(&[BinaryRecord {
        value: (Kind::Json, b"{nope"),
        ..BinaryRecord::bytes(b"")
    }]);
    let mut trailing = body.clone();
    trailing.push(7);
    for (name, bad, code) in [
        (
            "truncated",
            body[..body.len() - 3].to_vec(),
            "invalid_request",
        ),
        ("trailing", trailing, "invalid_request"),
        ("not json", not_json, "invalid_record"),
        (
            "bad magic",
            b"NOPE\x01\x01\x00\x00\x00".to_vec(),
            "invalid_request",
        ),
    ] {
        let response = http
            .post(url("/v1/topics/bin/records"))
            .header("content-type", "application/x-silt-records")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{name}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], json!(code), "{name}: {error}");
    }
    let topic: Value = get_json(&http, &url("/v1/topics/bin")).await;
    assert_eq!(topic["partitions"][1]["high_watermark"], json!(4));
    assert_eq!(topic["partitions"][0]["high_watermark"], json!(0));
}
