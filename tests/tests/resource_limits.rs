//! Resource limits of one `silt dev` under hostile bodies: memory is bounded by the
//! configured limits, not by what a client sends, and a normal request is still served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// The largest body the broker accepts by default (`server.max_request_bytes`).
const MAX_BODY: usize = 16 << 20;

/// A JSON produce body of `MAX_BODY` bytes or just under: nothing but empty records.
fn empty_records_body() -> Vec<u8> {
    let (head, tail) = (&b"{\"records\":["[..], &b"{}]}"[..]);
    let count = (MAX_BODY - head.len() - tail.len()) / 3;
    let mut body = Vec::with_capacity(MAX_BODY);
    body.extend_from_slice(head);
    for _ in 0..count {
        body.extend_from_slice(b"{},");
    }
    body.extend_from_slice(tail);
    assert!(body.len() <= MAX_BODY);
    body
}

/// The peak resident set (`VmHWM`) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Sends `body` as a produce to `topic` and returns the status and the JSON answer.
async fn produce(http: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, Value) {
    let response = http
        .post(format!("{url}/v1/topics/t/records"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Four concurrent 16 MiB bodies of empty records are refused with 413
/// `too_many_records` without the broker's memory growing with the record count, and a
/// one-record produce sent while they are parsed succeeds.
///
/// The bound: four bodies buffered at once are 64 MiB; parsing stops after
/// `server.max_records_per_request` (10 000) records, a few MiB; the rest of the broker
/// (metadata node, caches, which start empty) stays well under 100 MiB. Before parsing
/// was bounded, each body grew the heap by about 700 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_bodies_do_not_grow_memory_or_block_produce() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    let created = http
        .post(format!("{}/v1/topics", silt.url))
        .json(&json!({"name": "t", "partitions": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body = empty_records_body();
    let hostile: Vec<_> = (0..4)
        .map(|_| tokio::spawn(produce_owned(http.clone(), silt.url.clone(), body.clone())))
        .collect();
    let one = serde_json::to_vec(&json!({"records": [{"value": 1}]})).unwrap();
    let (status, answer) = produce(&http, &silt.url, one).await;
    assert_eq!(
        status, 200,
        "one-record produce during the hostile bodies: {answer}"
    );
    for task in hostile {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["error"]["code"], "too_many_records", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("10000"), "{message}");
    }
    let peak = peak_rss(silt.pid());
    eprintln!("peak RSS of the broker: {} MiB", peak >> 20);
    assert!(
        peak < 300 << 20,
        "peak RSS {} MiB: parsing grew with the body, not the record limit",
        peak >> 20
    );
}

/// [`produce`] with owned arguments, for a spawned task.
async fn produce_owned(http: reqwest::Client, url: String, body: Vec<u8>) -> (u16, Value) {
    produce(&http, &url, body).await
}

/// Polls `produce` of one record until it answers `want`, within a bounded deadline;
/// returns the last status and answer.
async fn produce_until(
    http: &reqwest::Client,
    url: &str,
    want: u16,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = http
            .post(format!("{url}/v1/topics/t/records"))
            .json(&json!({"records": [{"value": 1}]}))
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == want || std::time::Instant::now() > deadline {
            return (status, answer, headers);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A body whose bytes do not fit in `server.max_request_bytes_in_flight` is refused at
/// once with 503 `unavailable` and `Retry-After` while another body holds the budget,
/// and served once that body's connection goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bytes_in_flight_are_bounded() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let budget = 1 << 20;
    let options = SiltOptions {
        env: vec![(
            "SILT_SERVER_MAX_REQUEST_BYTES_IN_FLIGHT".into(),
            budget.to_string(),
        )],
        ..SiltOptions::default()
    };
    let silt = Silt::start(dir.path(), options);
    let http = http_client();
    let created = http
        .post(format!("{}/v1/topics", silt.url))
        .json(&json!({"name": "t", "partitions": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // A body that declares the whole budget and then sends nothing holds it. The broker
    // takes the budget when the request's headers are in; the holder has it once it is
    // left waiting for its body without an answer (no request of ours races it here).
    let address = silt.url.trim_start_matches("http://");
    let mut holder = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/topics/t/records HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {budget}\r\n\r\n{{\"records\":["
    );
    holder.write_all(head.as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let answered = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut holder, &mut byte),
    )
    .await;
    assert!(answered.is_err(), "the holder was answered instead of held");
    let (status, answer, headers) = produce_until(&http, &silt.url, 503).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("server.max_request_bytes_in_flight"),
        "{message}"
    );
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    drop(holder);
    let (status, answer, _) = produce_until(&http, &silt.url, 200).await;
    assert_eq!(status, 200, "after the holder left: {answer}");
}
