//! Per-principal quotas through a real `silt dev` with a principals file: produce and
//! fetch past a principal's byte rate answer 429 `throttled` with `Retry-After` (a refused
//! produce writes nothing) while a principal without a quota goes on unaffected; creates
//! past a principal's topic, partition or producer-id count answer 409 `quota_exceeded`
//! naming the principal and the limit, and create nothing. `/metrics` shows it all per
//! principal. Under load from the real `silt-loadgen`, a throttled principal gets at most
//! its burst plus its rate, and an unthrottled one sees no 429.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::{Value, json};
use silt_tests::harness::{
    KillOnDrop, Silt, SiltOptions, http_client, loadgen_binary, metric, principal,
    principal_with_quota,
};

/// No quota: creates topics, produces and fetches freely.
const FREE: &str = "silt_test-free";
/// 256 bytes a second of produce.
const SLOW_WRITER: &str = "silt_test-slow-writer";
/// 256 bytes a second of fetch.
const SLOW_READER: &str = "silt_test-slow-reader";
/// At most 2 topics, 3 partitions and 1 producer id.
const CAPPED: &str = "silt_test-capped";

/// A body of one record whose value is a JSON string of `len` bytes.
fn body_of(len: usize) -> Value {
    json!({"records": [{"value": "a".repeat(len), "partition": 0}]})
}

/// A `silt dev` with the test's principals and 64 KiB request and fetch sizes, so a
/// bucket's burst (one second of quota, at least one largest request) is 64 KiB.
fn start(dir: &Path) -> Silt {
    let all = ["admin:*", "produce:*", "consume:*", "cluster:*"];
    let text = principal("free", FREE, &all)
        + &principal_with_quota(
            "slow-writer",
            SLOW_WRITER,
            &["produce:*", "consume:*"],
            Some("produce_bytes_per_second = 256"),
        )
        + &principal_with_quota(
            "slow-reader",
            SLOW_READER,
            &["consume:*"],
            Some("fetch_bytes_per_second = 256"),
        )
        + &principal_with_quota(
            "capped",
            CAPPED,
            &["admin:capped*", "produce:capped*"],
            Some("max_topics = 2, max_partitions = 3, max_producer_ids = 1"),
        );
    let file = dir.join("principals.toml");
    std::fs::write(&file, text).unwrap();
    let env = [
        ("SILT_AUTH_PRINCIPALS_FILE", file.display().to_string()),
        ("SILT_SERVER_MAX_REQUEST_BYTES", "65536".into()),
        ("SILT_SERVER_MAX_RECORD_BYTES", "65536".into()),
        ("SILT_SERVER_MAX_FETCH_BYTES", "65536".into()),
    ];
    let env = env.map(|(k, v)| (k.to_owned(), v)).to_vec();
    Silt::start(
        &dir.join("data"),
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// An answer: status, `Retry-After`, JSON body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

/// Sends `method path` with `token` and an optional JSON body.
async fn call(silt: &Silt, method: &str, path: &str, token: &str, body: Option<&Value>) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http_client()
        .request(method, format!("{}{path}", silt.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        retry_after,
        body,
    }
}

/// Creates `topic` (one partition) as the free principal.
async fn create(silt: &Silt, topic: &str) {
    let body = json!({"name": topic, "partitions": 1});
    let answer = call(silt, "POST", "/v1/topics", FREE, Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}

/// Partition 0's high watermark.
async fn high_watermark(silt: &Silt, topic: &str) -> u64 {
    let answer = call(silt, "GET", &format!("/v1/topics/{topic}"), FREE, None).await;
    answer.body["partitions"][0]["high_watermark"]
        .as_u64()
        .unwrap()
}

/// Checks a 429 `throttled` answer: `Retry-After` whole seconds of at least 1, and a
/// message naming the principal, the direction and the quota.
fn assert_throttled(answer: &Answer, principal: &str, direction: &str) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "throttled", "{}", answer.body);
    let wait: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait >= 1, "Retry-After {wait}");
    let message = answer.body["error"]["message"].as_str().unwrap();
    for part in [principal, direction, "256 bytes/s"] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[tokio::test]
async fn produce_past_the_quota_is_throttled_and_not_written_while_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    create(&silt, "rated").await;
    let path = "/v1/topics/rated/records";
    let record = body_of(40_000);
    // The burst (64 KiB) admits the first; the second is admitted at a positive balance
    // and puts the bucket in debt; the third finds it in debt (about 56 s at 256 B/s).
    for _ in 0..2 {
        let answer = call(&silt, "POST", path, SLOW_WRITER, Some(&record)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let refused = call(&silt, "POST", path, SLOW_WRITER, Some(&record)).await;
    assert_throttled(&refused, "slow-writer", "produce");
    assert_eq!(
        high_watermark(&silt, "rated").await,
        2,
        "the refused produce wrote nothing"
    );
    let free = call(&silt, "POST", path, FREE, Some(&record)).await;
    assert_eq!(
        free.status, 200,
        "another principal is unaffected: {}",
        free.body
    );
    assert_eq!(high_watermark(&silt, "rated").await, 3);
    let (http, url) = (http_client(), &silt.url);
    let throttled =
        r#"silt_principal_throttled_requests_total{principal="slow-writer",direction="produce"}"#;
    assert_eq!(metric(&http, url, throttled).await, 1);
    let waited = r#"silt_principal_throttle_wait_seconds_total{principal="slow-writer",direction="produce"}"#;
    assert!(metric(&http, url, waited).await >= 1);
    let bytes = r#"silt_principal_produce_bytes_total{principal="slow-writer"}"#;
    assert!(
        metric(&http, url, bytes).await >= 80_000,
        "two 40 kB records acknowledged"
    );
    let free = r#"silt_principal_throttled_requests_total{principal="free""#;
    assert_eq!(metric(&http, url, free).await, 0);
}

#[tokio::test]
async fn fetch_past_the_quota_is_throttled_while_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    create(&silt, "read").await;
    let record = body_of(40_000);
    for _ in 0..3 {
        let answer = call(
            &silt,
            "POST",
            "/v1/topics/read/records",
            FREE,
            Some(&record),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let path = "/v1/topics/read/partitions/0/records?offset=0&max_bytes=45000";
    // Each fetch returns at least one 40 kB record: two take the bucket (64 KiB) into
    // debt, so the third is refused at the latest.
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(call(&silt, "GET", path, SLOW_READER, None).await);
    }
    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    let refused = answers
        .iter()
        .find(|a| a.status != 200)
        .expect("a 429 within three fetches");
    assert_throttled(refused, "slow-reader", "fetch");
    let long_poll = "/v1/topics/read/partitions/0/records?offset=3&wait_ms=5000";
    let refused = call(&silt, "GET", long_poll, SLOW_READER, None).await;
    assert_throttled(&refused, "slow-reader", "fetch");
    let free = call(&silt, "GET", path, FREE, None).await;
    assert_eq!(
        free.status, 200,
        "another principal is unaffected: {}",
        free.body
    );
    let (http, url) = (http_client(), &silt.url);
    let throttled =
        r#"silt_principal_throttled_requests_total{principal="slow-reader",direction="fetch"}"#;
    assert_eq!(
        metric(&http, url, throttled).await,
        2,
        "a fetch and a long-poll"
    );
    let bytes = r#"silt_principal_fetch_bytes_total{principal="slow-reader"}"#;
    assert!(
        metric(&http, url, bytes).await >= 80_000,
        "two 40 kB records fetched"
    );
}

/// Creates `topic` of `partitions` partitions as `token`'s principal.
async fn create_as(silt: &Silt, token: &str, topic: &str, partitions: u32) -> Answer {
    let body = json!({"name": topic, "partitions": partitions});
    call(silt, "POST", "/v1/topics", token, Some(&body)).await
}

/// Checks a 409 `quota_exceeded` naming `capped` and `limit`.
fn assert_over(answer: &Answer, limit: &str) {
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "quota_exceeded");
    let message = answer.body["error"]["message"].as_str().unwrap();
    for part in ["\"capped\"", limit] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[tokio::test]
async fn topic_partition_and_producer_id_counts_hold_per_principal() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    assert_eq!(create_as(&silt, CAPPED, "capped-a", 2).await.status, 201);
    let over = create_as(&silt, CAPPED, "capped-b", 2).await;
    assert_over(&over, "max_partitions = 3");
    assert_eq!(create_as(&silt, CAPPED, "capped-b", 1).await.status, 201);
    let over = create_as(&silt, CAPPED, "capped-c", 1).await;
    assert_over(&over, "max_topics = 2");
    let gone = call(&silt, "GET", "/v1/topics/capped-c", FREE, None).await;
    assert_eq!(
        gone.status, 404,
        "the refused create made nothing: {}",
        gone.body
    );
    let first = call(&silt, "POST", "/v1/producers", CAPPED, Some(&json!({}))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let over = call(&silt, "POST", "/v1/producers", CAPPED, Some(&json!({}))).await;
    assert_over(&over, "max_producer_ids = 1");
    let id = &first.body["producer_id"];
    let bump = json!({"producer_id": id});
    let bumped = call(&silt, "POST", "/v1/producers", CAPPED, Some(&bump)).await;
    assert_eq!(
        bumped.status, 200,
        "bumping an owned id is no new id: {}",
        bumped.body
    );
    for topic in ["capped-x", "capped-y", "capped-z"] {
        let answer = create_as(&silt, FREE, topic, 2).await;
        assert_eq!(answer.status, 201, "others are unaffected: {}", answer.body);
    }
    for _ in 0..2 {
        let answer = call(&silt, "POST", "/v1/producers", FREE, Some(&json!({}))).await;
        assert_eq!(answer.status, 200, "others are unaffected: {}", answer.body);
    }
    let deleted = call(&silt, "DELETE", "/v1/topics/capped-a", FREE, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let room = create_as(&silt, CAPPED, "capped-c", 1).await;
    assert_eq!(
        room.status, 201,
        "a deleted topic frees its count: {}",
        room.body
    );
}

/// The throttled principal of the load test: 256 KiB/s of produce.
const LOAD_SLOW: &str = "silt_test-load-slow";
/// Its unthrottled neighbour.
const LOAD_FREE: &str = "silt_test-load-free";
/// The throttled rate, bytes per second.
const LOAD_RATE: u64 = 256 << 10;
/// `server.max_request_bytes` of the load test: the bucket's burst is one second of
/// quota or one largest body, whichever is more.
const LOAD_MAX_REQUEST: u64 = 256 << 10;

/// A `silt dev` for the load test.
fn start_for_load(dir: &Path) -> Silt {
    let text = principal_with_quota(
        "load-slow",
        LOAD_SLOW,
        &["admin:load-slow", "produce:load-slow"],
        Some(&format!("produce_bytes_per_second = {LOAD_RATE}")),
    ) + &principal(
        "load-free",
        LOAD_FREE,
        &["admin:load-free", "produce:load-free"],
    );
    let file = dir.join("principals.toml");
    std::fs::write(&file, text).unwrap();
    let env = [
        ("SILT_AUTH_PRINCIPALS_FILE", file.display().to_string()),
        (
            "SILT_SERVER_MAX_REQUEST_BYTES",
            LOAD_MAX_REQUEST.to_string(),
        ),
        ("SILT_SERVER_MAX_RECORD_BYTES", "65536".into()),
    ];
    let env = env.map(|(k, v)| (k.to_owned(), v)).to_vec();
    let options = SiltOptions {
        env,
        ..SiltOptions::default()
    };
    Silt::start(&dir.join("data"), options)
}

/// Starts `silt-loadgen produce` for `seconds` against `silt` as `token`'s principal on
/// `topic`, its JSON summary appended to `out`.
fn spawn_loadgen(silt: &Silt, token: &str, topic: &str, out: &Path) -> KillOnDrop {
    let mut command = std::process::Command::new(loadgen_binary());
    command
        .args(["--broker", &silt.url, "--token", token, "--json-out"])
        .arg(out)
        .args(["produce", "--topic", topic, "--partitions", "1"])
        .args(["--record-size", "1024", "--records-per-request", "32"])
        .args(["--concurrency", "4", "--seconds", "4"])
        .stdout(std::process::Stdio::null());
    KillOnDrop(command.spawn().unwrap())
}

/// Waits for loadgen to finish (bounded) and reads its JSON summary.
fn summary_of(mut loadgen: KillOnDrop, out: &Path) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = loadgen.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "silt-loadgen did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "silt-loadgen failed: {status}");
    let text = std::fs::read_to_string(out).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// A figure of loadgen's summary.
fn figure(summary: &Value, name: &str) -> f64 {
    summary[name]
        .as_f64()
        .unwrap_or_else(|| panic!("no {name} in {summary}"))
}

#[test]
fn under_load_the_throttled_principal_stays_near_its_quota_and_the_other_is_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start_for_load(dir.path());
    let (slow_out, free_out) = (dir.path().join("slow.json"), dir.path().join("free.json"));
    let slow = spawn_loadgen(&silt, LOAD_SLOW, "load-slow", &slow_out);
    let free = spawn_loadgen(&silt, LOAD_FREE, "load-free", &free_out);
    let (slow, free) = (summary_of(slow, &slow_out), summary_of(free, &free_out));
    eprintln!("throttled: {slow}\nunthrottled: {free}");
    let seconds = figure(&slow, "seconds");
    let acked = figure(&slow, "acked_body_bytes");
    let body = acked / (figure(&slow, "records") / 32.0).max(1.0);
    // The bucket starts full (its burst) and refills at the rate; a request is admitted
    // while the balance is not negative, so at most one body more gets through.
    let burst = LOAD_RATE.max(LOAD_MAX_REQUEST) as f64;
    let bound = burst + LOAD_RATE as f64 * seconds + body;
    assert!(acked <= bound, "{acked} acknowledged body bytes > {bound}");
    let floor = 0.3 * LOAD_RATE as f64 * seconds;
    assert!(
        acked >= floor,
        "{acked} acknowledged body bytes < 30 % of the quota ({floor})"
    );
    assert!(
        figure(&slow, "throttled") > 0.0,
        "the slow principal was never throttled"
    );
    assert_eq!(
        figure(&free, "throttled"),
        0.0,
        "the other principal was throttled"
    );
    assert_eq!(figure(&free, "errors"), 0.0);
    let free_acked = figure(&free, "acked_body_bytes");
    assert!(
        free_acked > acked,
        "the unthrottled principal ({free_acked}) outran the throttled ({acked})"
    );
}
