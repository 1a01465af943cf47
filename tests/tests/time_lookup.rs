//! Offsets by time (`GET /v1/topics/{t}/partitions/{p}/offsets`) through a real `silt dev`:
//! records stamped with random, non-monotonic timestamps over many index entries; for
//! random times the answer matches a scan of every record (the first offset, in offset
//! order, stamped at or after the time), before and after a restart with empty caches;
//! `at=earliest|latest` answer the bounds; bad lookups get clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_sdk::wire::{ErrorCode, OffsetLookup, TopicConfig};
use silt_sdk::{Admin, Client};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The first offset stamped at or after `t` by a scan of `stamps` (offset = index), or
/// `stamps.len()` (the high watermark) when none is.
fn scan(stamps: &[i64], t: i64) -> (u64, Option<i64>) {
    match stamps.iter().position(|s| *s >= t) {
        Some(i) => (i as u64, Some(stamps[i])),
        None => (stamps.len() as u64, None),
    }
}

/// Produces `requests` requests of `per_request` records to partition 0 of `topic`, each
/// stamped at random within a window that drifts forward, so timestamps mostly grow but
/// often step back; returns every record's timestamp in offset order.
async fn produce_stamped(url: &str, topic: &str, rng: &mut Rng, shape: (u64, u64)) -> Vec<i64> {
    let (requests, per_request) = shape;
    let http = http_client();
    let mut stamps = Vec::new();
    for request in 0..requests {
        let base = 1_700_000_000_000 + request as i64 * 1_000;
        let records: Vec<Value> = (0..per_request)
            .map(|_| {
                let stamp = base + rng.below(3_000) as i64 - 1_000;
                stamps.push(stamp);
                json!({"value": stamp, "partition": 0, "timestamp_ms": stamp})
            })
            .collect();
        let answer = http
            .post(format!("{url}/v1/topics/{topic}/records"))
            .json(&json!({"records": records}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    }
    stamps
}

/// Checks `samples` random lookups (and the edges) against the scan.
async fn check_lookups(admin: &Admin, topic: &str, stamps: &[i64], rng: &mut Rng, samples: u32) {
    let (min, max) = (*stamps.iter().min().unwrap(), *stamps.iter().max().unwrap());
    let mut times = vec![i64::MIN, min - 1, min, max, max + 1, i64::MAX];
    for _ in 0..samples {
        let pick = stamps[rng.below(stamps.len() as u64) as usize];
        times.push(pick);
        times.push(pick + rng.below(5) as i64 - 2);
    }
    for t in times {
        let found: OffsetLookup = admin.offset_for_time(topic, 0, t).await.unwrap();
        let (offset, stamp) = scan(stamps, t);
        assert_eq!(
            (found.offset, found.timestamp_ms),
            (offset, stamp),
            "time {t}"
        );
        assert_eq!(found.high_watermark, stamps.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_by_time_match_a_scan_of_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("SILT_WAL_LINGER".to_owned(), "1ms".to_owned())];
    let mut silt = Silt::start(
        &dir.path().join("data"),
        SiltOptions {
            env: env.clone(),
            ..SiltOptions::default()
        },
    );
    let admin = Admin::new(Client::new(silt.url.clone()).unwrap());
    admin
        .create_topic("clicks", 2, TopicConfig::default())
        .await
        .unwrap();
    let mut rng = Rng(0x005e_ed0f_713e);
    let stamps = produce_stamped(&silt.url, "clicks", &mut rng, (30, 17)).await;
    check_lookups(&admin, "clicks", &stamps, &mut rng, 40).await;

    let earliest = admin.offset_bound("clicks", 0, false).await.unwrap();
    let latest = admin.offset_bound("clicks", 0, true).await.unwrap();
    assert_eq!((earliest.offset, latest.offset), (0, stamps.len() as u64));
    assert_eq!(latest.timestamp_ms, None);
    // An empty partition: every lookup answers its high watermark, 0.
    let empty = admin.offset_for_time("clicks", 1, 0).await.unwrap();
    assert_eq!((empty.offset, empty.timestamp_ms), (0, None));

    // After a restart with empty memory and disk caches, the chunks come from the bucket.
    silt.kill9();
    let _ = std::fs::remove_dir_all(dir.path().join("data/cache"));
    silt.restart(env);
    let admin = Admin::new(Client::new(silt.url.clone()).unwrap());
    check_lookups(&admin, "clicks", &stamps, &mut rng, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lookups_are_refused_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(&dir.path().join("data"), SiltOptions::default());
    let admin = Admin::new(Client::new(silt.url.clone()).unwrap());
    let topic = admin
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let http = http_client();
    let base = format!("{}/v1/topics/t/partitions/0/offsets", silt.url);
    for (query, needle) in [
        ("", "exactly one of timestamp_ms"),
        ("?timestamp_ms=1&at=latest", "exactly one of timestamp_ms"),
        ("?at=newest", "\"earliest\" or \"latest\""),
        ("?timestamp_ms=yesterday", "must be an integer"),
        ("?timestamp_ms=99999999999999999999", "must be an integer"),
        ("?at=latest&offset=3", "unknown query parameter \"offset\""),
    ] {
        let answer = http.get(format!("{base}{query}")).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{query}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter", "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    let missing = admin.offset_for_time("nope", 0, 0).await.unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::TopicNotFound), "{missing}");
    let partition = admin.offset_for_time("t", 1, 0).await.unwrap_err();
    assert_eq!(
        partition.code(),
        Some(ErrorCode::PartitionNotFound),
        "{partition}"
    );
    // A topic id the name no longer has.
    let wrong_id = topic.id + 1;
    let answer = http
        .get(format!("{base}?at=earliest&topic_id={wrong_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert!(matches!(
        admin.offset_for_time("t", 0, 0).await,
        Ok(OffsetLookup { offset: 0, .. })
    ));
}
