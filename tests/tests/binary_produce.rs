//! The binary produce body (`application/x-silt-records`) through real HTTP: records come
//! back from fetch as they were sent (JSON kinds as JSON, bytes as base64), and a malformed
//! body is refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, http_client};

fn record(
    out: &mut Vec<u8>,
    flags: u8,
    partition: Option<u32>,
    key: Option<&[u8]>,
    value: &[u8],
    headers: &[(&str, &str)],
) {
    out.push(flags);
    if let Some(p) = partition {
        out.extend_from_slice(&p.to_le_bytes());
    }
    if let Some(k) = key {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
    }
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    for (name, text) in headers {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
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
    let mut body = b"SLTR\x01".to_vec();
    body.extend_from_slice(&4u32.to_le_bytes());
    // JSON key and JSON value, partition 1
    record(
        &mut body,
        0b0_1110,
        Some(1),
        Some("\"ключ\"".as_bytes()),
        br#"{"n": [1, 2.5, null]}"#,
        &[("h", "ü")],
    );
    // bytes key, bytes value, partition 1
    record(
        &mut body,
        0b0_1001,
        Some(1),
        Some(&[0, 255]),
        &[1, 2, 3],
        &[],
    );
    // no key, empty bytes value, partition 1
    record(&mut body, 0b0_1000, Some(1), None, b"", &[]);
    // no key, exactly 1 MiB of bytes, partition 1
    record(&mut body, 0b0_1000, Some(1), None, &big, &[]);
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
    let mut not_json = b"SLTR\x01".to_vec();
    not_json.extend_from_slice(&1u32.to_le_bytes());
    record(&mut not_json, 0b0_0100, None, None, b"{nope", &[]);
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
    let topic: Value = http
        .get(url("/v1/topics/bin"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(topic["partitions"][1]["high_watermark"], json!(4));
    assert_eq!(topic["partitions"][0]["high_watermark"], json!(0));
}
