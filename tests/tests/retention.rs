//! Retention against a real `silt dev` checking every half second
//! (`SILT_RETENTION_CHECK_INTERVAL`): whole index entries go from the front, `start_offset`
//! advances, a fetch below it answers 416 `offset_out_of_range` with the valid range while
//! later records stay readable at their offsets; byte retention keeps at least
//! `retention_bytes`; `PATCH /v1/topics/{topic}` changes a live topic's retention, and bad
//! changes are refused with a clear error and change nothing; a group consumer whose
//! committed offset fell below the start resumes at the start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_sdk::{Client, GroupConsumer, GroupConsumerConfig};
use silt_tests::harness::{Silt, SiltOptions, call, http_client, metric};

/// One hour ago, in ms since the Unix epoch: older than any retention the tests set.
fn an_hour_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap() - 3_600_000
}

/// `silt dev` enforcing retention every half second.
fn start(dir: &std::path::Path) -> Silt {
    let env = vec![(
        "SILT_RETENTION_CHECK_INTERVAL".to_owned(),
        "500ms".to_owned(),
    )];
    Silt::start(
        dir,
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// Produces one request (one chunk: the broker is idle) of `values` stamped `timestamp_ms`.
async fn produce(silt: &Silt, topic: &str, values: &[&str], timestamp_ms: Option<i64>) {
    let records: Vec<Value> = values
        .iter()
        .map(|v| match timestamp_ms {
            Some(ts) => json!({"value": v, "partition": 0, "timestamp_ms": ts}),
            None => json!({"value": v, "partition": 0}),
        })
        .collect();
    let path = format!("/v1/topics/{topic}/records");
    let (status, answer) = call(silt, "POST", &path, Some(json!({ "records": records }))).await;
    assert_eq!(status, 200, "{answer}");
}

/// Partition 0's `(start_offset, high_watermark)`.
async fn bounds(silt: &Silt, topic: &str) -> (u64, u64) {
    let (status, answer) = call(silt, "GET", &format!("/v1/topics/{topic}"), None).await;
    assert_eq!(status, 200, "{answer}");
    let p = &answer["partitions"][0];
    (
        p["start_offset"].as_u64().unwrap(),
        p["high_watermark"].as_u64().unwrap(),
    )
}

/// Waits (at most 30 s) until partition 0 starts at `start`.
async fn wait_for_start(silt: &Silt, topic: &str, start: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = bounds(silt, topic).await;
        if now.0 == start {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "start offset still {now:?}, want {start}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most 30 s) until `rounds` more retention rounds of this broker ended with
/// `outcome` (so a check that would have dropped something has run).
async fn wait_for_rounds(silt: &Silt, outcome: &str, rounds: u64) {
    let http = http_client();
    let sample = format!("silt_retention_rounds_total{{outcome=\"{outcome}\"}}");
    let first = metric(&http, &silt.url, &sample).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&http, &silt.url, &sample).await < first + rounds {
        assert!(
            Instant::now() < deadline,
            "fewer than {rounds} {outcome} rounds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fetch(silt: &Silt, topic: &str, offset: u64) -> (u16, Value) {
    let path = format!("/v1/topics/{topic}/partitions/0/records?offset={offset}");
    call(silt, "GET", &path, None).await
}

/// Old records (offsets 0-1 and 2-3, two chunks) then new ones (4-5).
async fn old_then_new(silt: &Silt, topic: &str) {
    let old = Some(an_hour_ago());
    produce(silt, topic, &["a", "b"], old).await;
    produce(silt, topic, &["c", "d"], old).await;
    produce(silt, topic, &["e", "f"], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_retention_set_on_a_live_topic_trims_whole_entries_and_a_fetch_below_is_416() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    let (status, _) = call(&silt, "POST", "/v1/topics", Some(json!({"name": "t"}))).await;
    assert_eq!(status, 201);
    old_then_new(&silt, "t").await;
    // No retention by default: rounds run and drop nothing.
    wait_for_rounds(&silt, "idle", 2).await;
    assert_eq!(bounds(&silt, "t").await, (0, 6));

    let patch = json!({"config": {"retention_ms": 600_000}});
    let (status, topic) = call(&silt, "PATCH", "/v1/topics/t", Some(patch)).await;
    assert_eq!(status, 200, "{topic}");
    assert_eq!(topic["config"]["retention_ms"], 600_000);
    assert_eq!(
        topic["config"]["retention_bytes"], -1,
        "the cluster default: no bound"
    );
    wait_for_start(&silt, "t", 4).await;
    assert_eq!(bounds(&silt, "t").await, (4, 6), "the high watermark stays");

    let (status, answer) = fetch(&silt, "t", 1).await;
    assert_eq!(status, 416, "{answer}");
    assert_eq!(answer["error"]["code"], "offset_out_of_range");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("4 to 6"), "the valid range: {message}");
    let (status, answer) = fetch(&silt, "t", 4).await;
    assert_eq!(status, 200, "{answer}");
    let records: Vec<(u64, String)> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["offset"].as_u64().unwrap(),
                r["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(records, [(4, "e".to_owned()), (5, "f".to_owned())]);
    let http = http_client();
    let trimmed = "silt_retention_trimmed_entries_total{topic=\"t\"}";
    assert_eq!(metric(&http, &silt.url, trimmed).await, 2);

    // New records keep their offsets after the trimmed ones.
    produce(&silt, "t", &["g"], None).await;
    assert_eq!(bounds(&silt, "t").await, (4, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_retention_keeps_at_least_retention_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    // Five one-record chunks of a bit over 1000 bytes each; keeping at least 2500 bytes
    // keeps the last three (two would be fewer than 2500).
    let create = json!({"name": "b", "config": {"retention_bytes": 2500}});
    let (status, topic) = call(&silt, "POST", "/v1/topics", Some(create)).await;
    assert_eq!(status, 201, "{topic}");
    assert_eq!(topic["config"]["retention_bytes"], 2500);
    let value = "x".repeat(1000);
    for _ in 0..5 {
        produce(&silt, "b", &[&value], None).await;
    }
    wait_for_start(&silt, "b", 2).await;
    // Later rounds drop nothing more.
    wait_for_rounds(&silt, "idle", 2).await;
    assert_eq!(bounds(&silt, "b").await, (2, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_retention_changes_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    let create = json!({"name": "k", "config": {"retention_ms": 3_600_000}});
    let (status, _) = call(&silt, "POST", "/v1/topics", Some(create)).await;
    assert_eq!(status, 201);
    produce(&silt, "k", &["a"], None).await;
    let before = call(&silt, "GET", "/v1/topics/k", None).await;

    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"config": {"retention_ms": -2}}),
            400,
            "invalid_config",
            "-2",
        ),
        (
            json!({"config": {"retention_ms": 0}}),
            400,
            "invalid_config",
            "retention_ms = 0",
        ),
        (
            json!({"config": {"retention_bytes": -7}}),
            400,
            "invalid_config",
            "-7",
        ),
        (
            json!({"config": {"retention_ms": 3_155_760_000_001_i64}}),
            400,
            "invalid_config",
            "3155760000001",
        ),
        (
            json!({"config": {"retention_bytes": 2_000_000_000_000_000_000_i64}}),
            400,
            "invalid_config",
            "2000000000000000000",
        ),
        (
            json!({"config": {"retention_ms": 1e30}}),
            400,
            "invalid_request",
            "retention_ms",
        ),
        (
            json!({"config": {"retention_ms": "1d"}}),
            400,
            "invalid_request",
            "1d",
        ),
        (
            json!({"config": {"retention_ms": true}}),
            400,
            "invalid_request",
            "retention_ms",
        ),
        (
            json!({"config": {"retention_ms": 1.5}}),
            400,
            "invalid_request",
            "1.5",
        ),
        (
            json!({"config": {"retention": 5}}),
            400,
            "invalid_request",
            "retention",
        ),
        (
            json!({"config": {"compression": "zstd"}}),
            400,
            "invalid_config",
            "compression",
        ),
        (
            json!({"partitions": 8, "config": {}}),
            400,
            "invalid_config",
            "partitions",
        ),
        (
            json!({"bogus": 1, "config": {}}),
            400,
            "invalid_request",
            "bogus",
        ),
        (json!({"config": 5}), 400, "invalid_request", "config"),
        (json!([1]), 400, "invalid_request", "JSON"),
    ];
    for (body, status, code, named) in cases {
        let (got, answer) = call(&silt, "PATCH", "/v1/topics/k", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(named),
            "{body}: {message} does not name {named:?}"
        );
    }
    let patch = json!({"config": {"retention_ms": 1000}});
    let (status, answer) = call(&silt, "PATCH", "/v1/topics/nope", Some(patch.clone())).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("topic_not_found"))
    );
    let (status, answer) = call(&silt, "PATCH", "/v1/topics/bad%20name", Some(patch)).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_topic_name"))
    );
    let (status, _) = call(&silt, "GET", "/v1/topics/nope", None).await;
    assert_eq!(status, 404, "a refused PATCH creates nothing");
    assert_eq!(call(&silt, "GET", "/v1/topics/k", None).await, before);
    // null returns a setting to the cluster default (for ever).
    let reset = json!({"config": {"retention_ms": null}});
    let (status, topic) = call(&silt, "PATCH", "/v1/topics/k", Some(reset)).await;
    assert_eq!(
        (status, &topic["config"]["retention_ms"]),
        (200, &json!(-1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_committed_offset_fell_below_the_start_resumes_at_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    let (status, _) = call(&silt, "POST", "/v1/topics", Some(json!({"name": "g"}))).await;
    assert_eq!(status, 201);
    old_then_new(&silt, "g").await;
    let commit = json!({"offsets": [{"topic": "g", "partition": 0, "offset": 1}]});
    let (status, answer) = call(&silt, "PUT", "/v1/groups/app/offsets", Some(commit)).await;
    assert_eq!(status, 200, "{answer}");
    let patch = json!({"config": {"retention_ms": 600_000}});
    assert_eq!(
        call(&silt, "PATCH", "/v1/topics/g", Some(patch)).await.0,
        200
    );
    wait_for_start(&silt, "g", 4).await;
    // The lag counts from the start offset: two records, not five.
    let (_, offsets) = call(&silt, "GET", "/v1/groups/app/offsets", None).await;
    assert_eq!(offsets["offsets"][0]["lag"], 2, "{offsets}");

    let client = Client::new(silt.url.clone()).unwrap();
    let config = GroupConsumerConfig::new("app", vec!["g".to_owned()]);
    let mut consumer = GroupConsumer::join(client, config).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut offsets = Vec::new();
    while offsets.len() < 2 {
        assert!(Instant::now() < deadline, "read only {offsets:?}");
        let records = consumer
            .poll()
            .await
            .expect("the consumer resumes at the start");
        offsets.extend(records.iter().map(|r| r.record.offset));
    }
    assert_eq!(offsets, [4, 5]);
    consumer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_consumer_on_a_partition_emptied_by_retention_moves_its_position_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    let (status, _) = call(&silt, "POST", "/v1/topics", Some(json!({"name": "e"}))).await;
    assert_eq!(status, 201);
    let old = Some(an_hour_ago());
    produce(&silt, "e", &["a", "b"], old).await;
    produce(&silt, "e", &["c", "d"], old).await;
    let commit = json!({"offsets": [{"topic": "e", "partition": 0, "offset": 1}]});
    assert_eq!(
        call(&silt, "PUT", "/v1/groups/idle/offsets", Some(commit))
            .await
            .0,
        200
    );
    let patch = json!({"config": {"retention_ms": 600_000}});
    assert_eq!(
        call(&silt, "PATCH", "/v1/topics/e", Some(patch)).await.0,
        200
    );
    wait_for_start(&silt, "e", 4).await;

    // Nothing is left to read, yet the position must leave the dropped offset: a commit
    // of offset 1 would be refused 416 (and with it every other partition's offset).
    let client = Client::new(silt.url.clone()).unwrap();
    let config = GroupConsumerConfig::new("idle", vec!["e".to_owned()]);
    let mut consumer = GroupConsumer::join(client, config).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.positions().offsets[0].offset != 4 {
        assert!(Instant::now() < deadline, "{:?}", consumer.positions());
        assert!(consumer.poll().await.unwrap().is_empty());
    }
    consumer
        .commit()
        .await
        .expect("the position is within the partition");
    let (_, offsets) = call(&silt, "GET", "/v1/groups/idle/offsets", None).await;
    assert_eq!(offsets["offsets"][0]["offset"], 4, "{offsets}");
    consumer.close().await.unwrap();
}
