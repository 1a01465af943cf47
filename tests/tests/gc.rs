//! Garbage collection against a real `silt dev` on the shared S3-compatible server, with
//! retention checked and garbage swept every second and a two-second grace
//! (`SILT_RETENTION_CHECK_INTERVAL`, `SILT_GC_INTERVAL`, `SILT_GC_GRACE`): the objects
//! retention released leave the bucket while every record at or above the start offset
//! stays readable, a deleted topic's objects leave the bucket, and a prefix whose cluster
//! marker names another cluster is left untouched; an upload nothing recorded (a broker
//! that died before committing or recording it) is found by listing the bucket and deleted
//! once its ULID time is past the commit horizon plus the grace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{Value, json};
use silt_bookie::store::open_store;
use silt_bookie::store::paths::segment_path;
use silt_tests::harness::{Silt, SiltOptions, call, http_client, metric, s3_env};
use silt_tests::lifecycle::{self, exists, segments};

/// One hour ago, in ms since the Unix epoch: older than the retention the tests set.
fn an_hour_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap() - 3_600_000
}

/// `silt dev` on `url`, checking retention, sweeping and uploading a metadata backup every
/// second (a released object waits for a backup newer than its release), with a 2 s grace
/// (and so a 2 s request timeout: the grace may not be shorter).
fn start(dir: &std::path::Path, url: &str) -> Silt {
    start_with(dir, url, &[])
}

/// [`start`] with `extra` environment.
fn start_with(dir: &std::path::Path, url: &str, extra: &[(&str, &str)]) -> Silt {
    let env = [
        ("SILT_RETENTION_CHECK_INTERVAL", "1s"),
        ("SILT_GC_INTERVAL", "1s"),
        ("SILT_GC_GRACE", "2s"),
        ("SILT_BACKUP_INTERVAL", "1s"),
        ("SILT_SERVER_REQUEST_TIMEOUT", "2s"),
        ("SILT_WAL_LINGER", "5ms"),
    ];
    let env = env.iter().chain(extra);
    let env = env
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let object_store = Some(url.to_owned());
    Silt::start(dir, SiltOptions { object_store, env })
}

/// Creates `topic` keeping records ten minutes.
async fn create(silt: &Silt, topic: &str) {
    let body = json!({"name": topic, "config": {"retention_ms": 600_000}});
    let (status, answer) = call(silt, "POST", "/v1/topics", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
}

/// Produces one request (one segment: the broker is idle) of `value` to partition 0.
async fn produce(silt: &Silt, topic: &str, value: &str, timestamp_ms: Option<i64>) {
    let record = match timestamp_ms {
        Some(ts) => json!({"value": value, "partition": 0, "timestamp_ms": ts}),
        None => json!({"value": value, "partition": 0}),
    };
    let path = format!("/v1/topics/{topic}/records");
    let body = json!({ "records": [record] });
    let (status, answer) = call(silt, "POST", &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
}

/// Partition 0's start offset.
async fn start_offset(silt: &Silt, topic: &str) -> u64 {
    let (status, answer) = call(silt, "GET", &format!("/v1/topics/{topic}"), None).await;
    assert_eq!(status, 200, "{answer}");
    answer["partitions"][0]["start_offset"].as_u64().unwrap()
}

/// Polls `check` until it holds; panics naming `what` after 60 s.
async fn wait_until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    lifecycle::wait_until(what, Duration::from_secs(60), check).await;
}

/// The values of partition 0 from `offset`, with their offsets.
async fn read_from(silt: &Silt, topic: &str, offset: u64) -> Vec<(u64, String)> {
    let path = format!("/v1/topics/{topic}/partitions/0/records?offset={offset}");
    let (status, answer) = call(silt, "GET", &path, None).await;
    assert_eq!(status, 200, "{answer}");
    let records = answer["records"].as_array().unwrap();
    let record = |r: &Value| {
        let value = r["value"].as_str().unwrap().to_owned();
        (r["offset"].as_u64().unwrap(), value)
    };
    records.iter().map(record).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_and_deleted_topics_objects_leave_the_bucket() {
    let url = s3_env().url_for("gc");
    let store = open_store(&url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &url);
    create(&silt, "t").await;
    for value in ["a", "b", "c"] {
        produce(&silt, "t", value, Some(an_hour_ago())).await;
    }
    produce(&silt, "t", "new", None).await;
    wait_until("retention trims the old records", || async {
        start_offset(&silt, "t").await == 3
    })
    .await;
    wait_until("only the live segment is left", || async {
        segments(&store).await.len() == 1
    })
    .await;
    assert_eq!(read_from(&silt, "t", 3).await, [(3, "new".to_owned())]);

    create(&silt, "gone").await;
    produce(&silt, "gone", "x", None).await;
    produce(&silt, "gone", "y", None).await;
    assert_eq!(segments(&store).await.len(), 3);
    let (status, answer) = call(&silt, "DELETE", "/v1/topics/gone", None).await;
    assert!(status == 204 || status == 200, "{status} {answer}");
    wait_until("the deleted topic's segments are gone", || async {
        segments(&store).await.len() == 1
    })
    .await;
    assert_eq!(read_from(&silt, "t", 3).await, [(3, "new".to_owned())]);
    let http = http_client();
    let deleted = "silt_gc_deleted_objects_total";
    // Counted when the round ends, just after the deletes.
    wait_until("five deletes are counted", || async {
        metric(&http, &silt.url, deleted).await == 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_marked_by_another_cluster_is_left_untouched() {
    let url = s3_env().url_for("gc-foreign");
    let store = open_store(&url).unwrap();
    let marker = store.prefix.clone().join("cluster");
    let body = PutPayload::from_static(br#"{"cluster_id":"another-cluster"}"#);
    store.store.put(&marker, body).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &url);
    create(&silt, "t").await;
    produce(&silt, "t", "a", Some(an_hour_ago())).await;
    produce(&silt, "t", "b", Some(an_hour_ago())).await;
    wait_until("retention trims the old records", || async {
        start_offset(&silt, "t").await == 2
    })
    .await;
    // Rounds past the grace of the released objects.
    let http = http_client();
    let refused = "silt_gc_rounds_total{outcome=\"refused\"}";
    let first = metric(&http, &silt.url, refused).await;
    wait_until("four refused rounds", || async {
        metric(&http, &silt.url, refused).await >= first + 4
    })
    .await;
    assert_eq!(segments(&store).await.len(), 2, "nothing deleted");
    let reason = "silt_gc_refused_total{reason=\"foreign_cluster\"}";
    assert!(metric(&http, &silt.url, reason).await >= 4);
    let kept = store
        .store
        .get(&marker)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&kept[..], br#"{"cluster_id":"another-cluster"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrecorded_upload_past_the_horizon_is_found_by_listing_and_deleted() {
    let url = s3_env().url_for("gc-listing");
    let store = open_store(&url).unwrap();
    let now = u64::try_from(an_hour_ago() + 3_600_000).unwrap();
    // Segment-shaped objects no broker recorded: sealed an hour ago (past the 15-minute
    // commit horizon plus the grace), and just now.
    let old = segment_path(&store.prefix, ulid::Ulid::from_parts(now - 3_600_000, 1));
    let new = segment_path(&store.prefix, ulid::Ulid::from_parts(now, 2));
    for path in [&old, &new] {
        let body = PutPayload::from_static(b"not committed");
        store.store.put(path, body).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &url);
    create(&silt, "t").await;
    produce(&silt, "t", "a", None).await;
    produce(&silt, "t", "b", None).await;
    wait_until("the old unrecorded upload is deleted", || async {
        !exists(&store, &old).await
    })
    .await;
    // Two more rounds, each listing the whole prefix.
    let http = http_client();
    let rounds = "silt_gc_rounds_total{outcome=\"idle\"}";
    let first = metric(&http, &silt.url, rounds).await;
    wait_until("two more rounds", || async {
        metric(&http, &silt.url, rounds).await >= first + 2
    })
    .await;
    assert!(exists(&store, &new).await, "within the horizon: kept");
    assert_eq!(
        segments(&store).await.len(),
        3,
        "the new upload and two committed segments"
    );
    let read = read_from(&silt, "t", 0).await;
    assert_eq!(read, [(0, "a".to_owned()), (1, "b".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_commit_horizon_lets_the_listing_delete_a_recent_unrecorded_upload() {
    let url = s3_env().url_for("gc-test-horizon");
    let store = open_store(&url).unwrap();
    let now = u64::try_from(an_hour_ago() + 3_600_000).unwrap();
    // Sealed 20 s ago: past a 1 s test horizon plus the 2 s grace, far within the real one.
    let recent = segment_path(&store.prefix, ulid::Ulid::from_parts(now - 20_000, 1));
    let body = PutPayload::from_static(b"not committed");
    store.store.put(&recent, body).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let horizon = [("SILT_TEST_COMMIT_HORIZON_MS", "1000")];
    let silt = start_with(dir.path(), &url, &horizon);
    create(&silt, "t").await;
    produce(&silt, "t", "a", None).await;
    wait_until("the 20 s old unrecorded upload is deleted", || async {
        !exists(&store, &recent).await
    })
    .await;
    assert_eq!(read_from(&silt, "t", 0).await, [(0, "a".to_owned())]);
}
