//! Cost per topic on `/metrics` of a real `silt dev` on the S3-compatible server: two
//! topics produced concurrently into shared segments (while a primer segment of a third
//! uploads slowly) in a 3:1 proportion of bytes, without compression. Per-topic PUT bytes must add up to the cluster-wide PUT bytes and
//! follow the proportion, stored bytes must match what was written, GETs must be billed to
//! the topic read, and a deleted topic's series must disappear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, call, http_client, s3_env};

/// Produce rounds; each sends one request per topic at the same time.
const ROUNDS: usize = 6;
/// Records per request.
const PER_REQUEST: usize = 20;
/// Value size of topic `a` in hex characters (compression is off).
const SIZE_A: usize = 1500;
/// Value size of topic `b`: a third of `a`'s.
const SIZE_B: usize = 500;

/// The samples of `/metrics` as `"name{labels}" -> value`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// One sample's value, 0 when absent.
fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// Scrapes `/metrics` until `ready` holds (bounded by 30 s); returns the samples.
async fn scrape_until(
    silt: &Silt,
    ready: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = http_client()
            .get(format!("{}/metrics", silt.url))
            .send()
            .await;
        let parsed = samples(&response.unwrap().text().await.unwrap());
        if ready(&parsed) || Instant::now() > deadline {
            return parsed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes every object-store request of `silt` take 500 ms longer.
async fn slow_object_store(silt: &Silt) {
    let body = json!({"extra_latency_ms": 500});
    let (status, answer) = call(silt, "PUT", "/v1/admin/faults", Some(body)).await;
    assert!((200..300).contains(&status), "{status} {answer}");
}

/// Waits (bounded) until a segment is uploading.
async fn wait_for_upload(silt: &Silt) {
    let m = scrape_until(silt, |m| value(m, "silt_uploads_in_flight") >= 1.0).await;
    assert!(
        value(&m, "silt_uploads_in_flight") >= 1.0,
        "no upload started"
    );
}

/// A pseudo-random hex string of `len` characters (differs per `seed`).
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_digit((state % 16) as u32, 16).unwrap()
        })
        .collect()
}

/// One produce of `PER_REQUEST` records of `size` characters to `topic`.
async fn produce(silt: &Silt, topic: &str, round: usize, size: usize) {
    let records: Vec<Value> = (0..PER_REQUEST)
        .map(|i| json!({"value": noise((round * 1000 + i) as u64 + size as u64, size)}))
        .collect();
    let path = format!("/v1/topics/{topic}/records");
    let (status, answer) = call(silt, "POST", &path, Some(json!({"records": records}))).await;
    assert_eq!(status, 200, "{answer}");
}

/// Reads topic `topic`'s one partition to its end; returns the records read.
async fn read_all(silt: &Silt, topic: &str) -> usize {
    let (mut offset, mut read) = (0, 0);
    loop {
        let path = format!("/v1/topics/{topic}/partitions/0/records?offset={offset}");
        let (status, answer) = call(silt, "GET", &path, None).await;
        assert_eq!(status, 200, "{answer}");
        read += answer["records"].as_array().unwrap().len();
        offset = answer["next_offset"].as_u64().unwrap();
        if offset >= answer["high_watermark"].as_u64().unwrap() {
            return read;
        }
    }
}

/// `silt_topic_<name>{topic="t"[,op="op"]}`
fn topic_series(name: &str, topic: &str, op: Option<&str>) -> String {
    match op {
        Some(op) => format!("silt_topic_{name}{{topic=\"{topic}\",op=\"{op}\"}}"),
        None => format!("silt_topic_{name}{{topic=\"{topic}\"}}"),
    }
}

/// Asserts `a / b` is within 5 % of `expected`.
fn assert_ratio(a: f64, b: f64, expected: f64, what: &str) {
    let ratio = a / b;
    assert!(
        (ratio / expected - 1.0).abs() < 0.05,
        "{what}: {a} / {b} = {ratio}, expected about {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_topic_costs_follow_each_topics_share() {
    let s3 = s3_env();
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        // A linger long enough that both topics' requests share segments while one uploads.
        ("SILT_WAL_LINGER".to_owned(), "200ms".to_owned()),
        ("SILT_CLUSTER_FAULT_INJECTION".to_owned(), "true".to_owned()),
        (
            "SILT_METRICS_COST_REFRESH_INTERVAL".to_owned(),
            "200ms".to_owned(),
        ),
    ];
    let options = SiltOptions {
        object_store: Some(s3.url_for("topic-cost")),
        env: env.clone(),
    };
    let mut silt = Silt::start(dir.path(), options);
    for topic in ["a", "b", "c"] {
        let body = json!({"name": topic, "partitions": 1, "config": {"compression": "none"}});
        let (status, answer) = call(&silt, "POST", "/v1/topics", Some(body)).await;
        assert_eq!(status, 201, "{answer}");
    }
    slow_object_store(&silt).await;
    for round in 0..ROUNDS {
        // A primer to topic `c` seals alone and uploads (slowly); `a` and `b`, sent while
        // it uploads, wait in the open segment and seal together.
        let pair = async {
            wait_for_upload(&silt).await;
            tokio::join!(
                produce(&silt, "a", round, SIZE_A),
                produce(&silt, "b", round, SIZE_B)
            )
        };
        tokio::join!(produce(&silt, "c", round, 10), pair);
    }
    let written = |size: usize| (ROUNDS * PER_REQUEST * size) as f64;

    // Stored bytes: the chunks' lengths from the index, written bytes plus framing (once a
    // refresh has seen every write).
    let (stored_a, stored_b) = (
        topic_series("stored_bytes", "a", None),
        topic_series("stored_bytes", "b", None),
    );
    let all_seen = |m: &HashMap<String, f64>| {
        value(m, &stored_a) >= written(SIZE_A) && value(m, &stored_b) >= written(SIZE_B)
    };
    let m = scrape_until(&silt, all_seen).await;
    for (topic, size) in [("a", SIZE_A), ("b", SIZE_B)] {
        let bytes = value(&m, &topic_series("stored_bytes", topic, None));
        let records = (ROUNDS * PER_REQUEST) as f64;
        assert!(
            bytes >= written(size) && bytes <= written(size) + records * 64.0 + 4096.0,
            "topic {topic}: {bytes} stored bytes for {} value bytes",
            written(size)
        );
        let objects = value(&m, &topic_series("stored_objects", topic, None));
        assert!(objects >= 1.0, "topic {topic}: {objects} objects");
    }
    // Every segment of `a` also holds `b` (and `c`'s are their own).
    let objects = |t: &str| value(&m, &topic_series("stored_objects", t, None));
    let segments = value(&m, "silt_segments_uploaded_total");
    assert_eq!(objects("a"), ROUNDS as f64, "segments of a");
    assert_eq!(objects("b"), ROUNDS as f64, "segments of b");
    assert_eq!(
        segments,
        objects("c") + ROUNDS as f64,
        "a and b share their segments"
    );

    // PUTs: the per-topic shares and `_cluster` (the bucket's cluster marker, written by the
    // garbage collector) add up to the cluster-wide counters, and `a` and `b` follow their
    // 3:1 proportion.
    let put_bytes = |t: &str| {
        value(
            &m,
            &topic_series("object_store_bytes_total", t, Some("put")),
        )
    };
    let put_requests = |t: &str| {
        value(
            &m,
            &topic_series("object_store_requests_total", t, Some("put")),
        )
    };
    let total_bytes = value(&m, "silt_object_store_bytes_total{op=\"put\"}");
    let total_requests = value(&m, "silt_object_store_requests_total{op=\"put\"}");
    let bytes_sum = put_bytes("a") + put_bytes("b") + put_bytes("c") + put_bytes("_cluster");
    assert!(
        (bytes_sum - total_bytes).abs() < 1e-6 * total_bytes,
        "PUT bytes by topic {bytes_sum}, cluster-wide {total_bytes}"
    );
    let requests_sum =
        put_requests("a") + put_requests("b") + put_requests("c") + put_requests("_cluster");
    assert!(
        (requests_sum - total_requests).abs() < 1e-6 * total_requests,
        "PUT requests by topic {requests_sum}, cluster-wide {total_requests}"
    );
    assert_ratio(put_bytes("a"), put_bytes("b"), 3.0, "PUT bytes a:b");
    assert_ratio(
        put_requests("a"),
        put_requests("b"),
        3.0,
        "PUT requests a:b",
    );

    // GETs: a restart empties the memory cache; with no disk cache and ranged reads, every
    // chunk of `a` read comes from the bucket and is billed to `a` alone (the marker the
    // garbage collector reads at start-up is billed to `_cluster`).
    let mut env = env;
    env.push(("SILT_CACHE_DISK_BYTES".to_owned(), "0".to_owned()));
    env.push((
        "SILT_CACHE_WHOLE_SEGMENT_READS".to_owned(),
        "false".to_owned(),
    ));
    silt.restart(env);
    assert_eq!(read_all(&silt, "a").await, ROUNDS * PER_REQUEST);
    let get_a = topic_series("object_store_bytes_total", "a", Some("get"));
    let m = scrape_until(&silt, |m| value(m, &get_a) > 0.0).await;
    let total_get = value(&m, "silt_object_store_bytes_total{op=\"get\"}");
    assert!(total_get > 0.0, "no GET reached the bucket");
    let get_b = topic_series("object_store_bytes_total", "b", Some("get"));
    // Besides `a`'s chunks, only the garbage collector's read of the cluster marker.
    let get_cluster = value(
        &m,
        &topic_series("object_store_bytes_total", "_cluster", Some("get")),
    );
    assert_eq!(
        value(&m, &get_a) + get_cluster,
        total_get,
        "GET bytes billed to a"
    );
    assert_eq!(value(&m, &get_b), 0.0, "GET bytes billed to b");
    let stored_a = value(&m, &topic_series("stored_bytes", "a", None));
    assert_eq!(value(&m, &get_a), stored_a, "a's chunks are read once each");

    // A deleted topic's series disappear.
    let (status, answer) = call(&silt, "DELETE", "/v1/topics/b", None).await;
    assert!(status == 200 || status == 204, "{status} {answer}");
    let gone = |m: &HashMap<String, f64>| !m.keys().any(|k| k.contains("topic=\"b\""));
    let m = scrape_until(&silt, gone).await;
    let left: Vec<&String> = m.keys().filter(|k| k.contains("topic=\"b\"")).collect();
    assert!(left.is_empty(), "series of deleted topic b: {left:?}");
    assert!(value(&m, &topic_series("stored_bytes", "a", None)) > 0.0);
}
