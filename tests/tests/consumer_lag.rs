//! Consumer lag on `/metrics` of a real `silt dev`, on a controlled workload: records with
//! known timestamps, offsets committed at known points; `silt_consumer_lag_records` must be
//! the distance to the high watermark and `silt_consumer_lag_seconds` the age of the record
//! at the committed offset (0 when caught up).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// A request's status and JSON answer.
async fn call(silt: &Silt, method: &str, path: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let request = http_client().request(method, format!("{}{path}", silt.url));
    let response = request.json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// The value of the series `name{group,topic="t",partition}` in the metrics text.
fn series(text: &str, name: &str, group: &str, partition: u32) -> Option<f64> {
    let labels = format!("{name}{{group=\"{group}\",topic=\"t\",partition=\"{partition}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&labels))?;
    line[labels.len()..].trim().parse().ok()
}

/// Scrapes `/metrics` until `ready` holds for it (bounded); returns the text.
async fn scrape_until(silt: &Silt, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = http_client()
            .get(format!("{}/metrics", silt.url))
            .send()
            .await;
        let text = response.unwrap().text().await.unwrap();
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_metrics_match_the_committed_distance_and_age() {
    let dir = tempfile::tempdir().unwrap();
    // A short refresh (the setting's default is 5 s) so the figures follow each step fast.
    let options = SiltOptions {
        env: vec![("SILT_GROUPS_LAG_REFRESH_INTERVAL".into(), "200ms".into())],
        ..SiltOptions::default()
    };
    let silt = Silt::start(dir.path(), options);
    let (status, answer) = call(
        &silt,
        "POST",
        "/v1/topics",
        json!({"name": "t", "partitions": 2}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    // Partition 0: 10 records, one request each, 1000 s old and one second apart;
    // partition 1: 5 records.
    let base = now_ms() - 1_000_000;
    for (partition, count) in [(0, 10), (1, 5)] {
        for i in 0..count {
            let record =
                json!({"value": i, "partition": partition, "timestamp_ms": base + i * 1000});
            let body = json!({"records": [record]});
            let (status, answer) = call(&silt, "POST", "/v1/topics/t/records", body).await;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let commit = |offsets: Value| json!({"offsets": offsets});
    let g = commit(
        json!([{"topic": "t", "partition": 0, "offset": 4}, {"topic": "t", "partition": 1, "offset": 5}]),
    );
    let h = commit(json!([{"topic": "t", "partition": 0, "offset": 0}]));
    let committed_at = now_ms();
    for (group, body) in [("g", g), ("h", h)] {
        let (status, answer) =
            call(&silt, "PUT", &format!("/v1/groups/{group}/offsets"), body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let text = scrape_until(&silt, |text| {
        series(text, "silt_consumer_lag_records", "h", 0).is_some()
    })
    .await;
    let scraped_at = now_ms();
    let records = |group, partition| series(&text, "silt_consumer_lag_records", group, partition);
    let seconds = |group, partition| series(&text, "silt_consumer_lag_seconds", group, partition);
    assert_eq!(records("g", 0), Some(6.0), "{text}");
    assert_eq!(records("g", 1), Some(0.0), "{text}");
    assert_eq!(records("h", 0), Some(10.0), "{text}");
    assert_eq!(seconds("g", 1), Some(0.0), "caught up: {text}");
    // The age of the record at the committed offset, as of the refresh (which ran between
    // the commit and the scrape).
    let age_bounds = |offset: i64| {
        let at = base + offset * 1000;
        (
            (committed_at - at) as f64 / 1000.0,
            (scraped_at - at) as f64 / 1000.0,
        )
    };
    for (group, offset) in [("g", 4), ("h", 0)] {
        let (low, high) = age_bounds(offset);
        let age = seconds(group, 0).unwrap();
        assert!(
            (low..=high).contains(&age),
            "{group}: {age} s not in {low}..={high}: {text}"
        );
    }
}
