//! A produce request carrying a consumer-group offset commit, through a real `silt dev`
//! over HTTP: the records and the offsets are committed together or neither is (a stale
//! generation, a simple commit on a group with members and an offset out of range write
//! no record and commit nothing), an idempotent retry answers its original offsets
//! without committing again, and a commit without a producer is refused as bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, call, http_client};

/// A `silt dev` with topic `in` (one partition, 10 records) and empty topic `out`.
async fn pipeline_topics(dir: &std::path::Path) -> Silt {
    let silt = Silt::start(dir, SiltOptions::default());
    for name in ["in", "out"] {
        let body = json!({"name": name, "partitions": 1});
        let (status, answer) = call(&silt, "POST", "/v1/topics", Some(body)).await;
        assert_eq!(status, 201, "{answer}");
    }
    let records: Vec<Value> = (0..10).map(|i| json!({"value": i})).collect();
    let body = json!({"records": records});
    let (status, answer) = call(&silt, "POST", "/v1/topics/in/records", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    silt
}

/// A new idempotent producer's `{id, epoch}` at sequence `sequence`.
async fn producer(silt: &Silt) -> Value {
    let (status, answer) = call(silt, "POST", "/v1/producers", Some(json!({}))).await;
    assert_eq!(status, 200, "{answer}");
    json!({"id": answer["producer_id"], "epoch": answer["epoch"], "sequence": 0})
}

/// A produce body of two records to `out`, as `producer` at `sequence`, committing
/// `in`/0 at `offset` for `group` (with `member`: `(member_id, generation)`).
fn body(
    producer: &Value,
    sequence: u64,
    group: &str,
    offset: u64,
    member: Option<(&str, u64)>,
) -> Value {
    let mut producer = producer.clone();
    producer["sequence"] = json!(sequence);
    let mut commit = json!({
        "group": group,
        "offsets": [{"topic": "in", "partition": 0, "offset": offset}],
    });
    if let Some((member_id, generation)) = member {
        commit["member_id"] = json!(member_id);
        commit["generation"] = json!(generation);
    }
    json!({"records": [{"value": "a"}, {"value": "b"}], "producer": producer, "commit": commit})
}

/// `out`'s high watermark.
async fn written(silt: &Silt) -> u64 {
    let (status, answer) = call(silt, "GET", "/v1/topics/out", None).await;
    assert_eq!(status, 200, "{answer}");
    answer["partitions"][0]["high_watermark"].as_u64().unwrap()
}

/// `group`'s committed offset of `in`/0, if any.
async fn committed(silt: &Silt, group: &str) -> Option<u64> {
    let (status, answer) = call(silt, "GET", &format!("/v1/groups/{group}/offsets"), None).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{answer}");
    answer["offsets"][0]["offset"].as_u64()
}

/// Produces `body` to `out`: status and answer.
async fn produce(silt: &Silt, body: Value) -> (u16, Value) {
    call(silt, "POST", "/v1/topics/out/records", Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simple_commit_rides_with_the_records_and_a_retry_commits_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let silt = pipeline_topics(dir.path()).await;
    let producer = producer(&silt).await;
    let first = body(&producer, 0, "g", 4, None);
    let (status, answer) = produce(&silt, first.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["offsets"][0]["offset"], 0, "{answer}");
    assert_eq!(committed(&silt, "g").await, Some(4));
    assert_eq!(written(&silt).await, 2);
    // The group moves on with the next request; then the first is retried: its original
    // offsets come back, nothing is appended and the group stays where it is.
    let (status, answer) = produce(&silt, body(&producer, 1, "g", 8, None)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, retried) = produce(&silt, first).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["offsets"][0]["offset"], 0, "{retried}");
    assert_eq!(committed(&silt, "g").await, Some(8));
    assert_eq!(written(&silt).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_commit_writes_no_record_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = pipeline_topics(dir.path()).await;
    let producer = producer(&silt).await;
    let join = json!({"topics": ["in"], "session_timeout_ms": 60000});
    let (status, joined) = call(&silt, "POST", "/v1/groups/m/members", Some(join)).await;
    assert_eq!(status, 200, "{joined}");
    let member = joined["member_id"].as_str().unwrap().to_owned();
    let generation = joined["generation"].as_u64().unwrap();
    let cases = [
        (
            body(&producer, 0, "m", 4, Some((&member, generation + 1))),
            (409, "stale_generation", "stale generation"),
        ),
        (
            body(&producer, 0, "m", 4, Some(("nobody", generation))),
            (409, "unknown_member", "nobody"),
        ),
        (
            body(&producer, 0, "m", 4, None),
            (409, "group_not_empty", "simple commit"),
        ),
        (
            body(&producer, 0, "g", 11, None),
            (416, "offset_out_of_range", "offset 11"),
        ),
    ];
    for (request, (status, code, named)) in cases {
        let (got, answer) = produce(&silt, request.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{request}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{request}: {message}");
        assert_eq!(written(&silt).await, 0, "{request} wrote records");
        assert_eq!(committed(&silt, "g").await, None, "{request}");
    }
    let (_, group) = call(&silt, "GET", "/v1/groups/m/offsets", None).await;
    assert_eq!(group["offsets"], json!([]), "{group}");
    // The refused requests used no sequence: the same one with the right generation is
    // accepted, records and offsets together.
    let good = body(&producer, 0, "m", 4, Some((&member, generation)));
    let (status, answer) = produce(&silt, good).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(committed(&silt, "m").await, Some(4));
    assert_eq!(written(&silt).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_without_a_producer_or_with_a_bad_group_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let silt = pipeline_topics(dir.path()).await;
    let producer = producer(&silt).await;
    let mut plain = body(&producer, 0, "g", 4, None);
    plain.as_object_mut().unwrap().remove("producer");
    let bad_group = body(&producer, 0, "no/slash", 4, None);
    let mut no_offsets = body(&producer, 0, "g", 4, None);
    no_offsets["commit"]["offsets"] = json!([]);
    let cases = [
        (
            plain,
            (400, "invalid_request", "needs an idempotent producer"),
        ),
        (bad_group, (400, "invalid_group_name", "no/slash")),
        (no_offsets, (400, "invalid_request", "offsets")),
    ];
    for (request, (status, code, named)) in cases {
        let (got, answer) = produce(&silt, request.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{request}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{request}: {message}");
    }
    assert_eq!(written(&silt).await, 0);
    assert_eq!(committed(&silt, "g").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_sends_records_and_a_commit_in_one_call() {
    use silt_sdk::wire::{OffsetToCommit, ProduceCommit, ProduceRecord};
    use silt_sdk::{Client, Groups, Producer, ProducerConfig};
    let dir = tempfile::tempdir().unwrap();
    let silt = pipeline_topics(dir.path()).await;
    let client = Client::new(&silt.url).unwrap();
    let commit = |offset| ProduceCommit {
        group: "g".to_owned(),
        generation: None,
        member_id: None,
        offsets: vec![OffsetToCommit {
            topic: "in".to_owned(),
            partition: 0,
            offset,
            metadata: None,
        }],
    };
    let records = || {
        vec![ProduceRecord {
            value: Some(json!("x")),
            ..ProduceRecord::default()
        }]
    };
    let config = ProducerConfig {
        idempotent: true,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(client.clone(), "out", config);
    let offsets = producer
        .send_with_commit(records(), commit(6))
        .await
        .unwrap();
    assert_eq!(offsets[0].offset, 0);
    let committed = Groups::new(client.clone()).offsets("g").await.unwrap();
    assert_eq!(committed.offsets[0].offset, 6);
    // A refused commit fails the call and writes nothing; the producer goes on.
    let refused = producer.send_with_commit(records(), commit(99)).await;
    let error = refused.unwrap_err();
    assert_eq!(
        error.code(),
        Some(silt_sdk::wire::ErrorCode::OffsetOutOfRange),
        "{error}"
    );
    let offsets = producer
        .send_with_commit(records(), commit(7))
        .await
        .unwrap();
    assert_eq!(offsets[0].offset, 1);
    assert_eq!(written(&silt).await, 2);
    // A plain producer cannot carry a commit.
    let plain = Producer::new(client, "out", ProducerConfig::default());
    let error = plain
        .send_with_commit(records(), commit(8))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("idempotent"), "{error}");
}

/// Segment files in the spool of the `silt dev` in `dir`.
fn spool_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal")).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_upload_and_commit_recovers_records_and_offsets_together() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = pipeline_topics(dir.path()).await;
    let producer = producer(&silt).await;
    // Wait for the committed segments' spool files to go, so only the torn one is left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while spool_files(dir.path()) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    silt.restart(vec![(
        "SILT_FAILPOINTS".into(),
        "commit.before_send".into(),
    )]);
    let request = http_client()
        .post(format!("{}/v1/topics/out/records", silt.url))
        .json(&body(&producer, 0, "g", 4, None))
        .send()
        .await;
    assert!(
        request.is_err() || !request.as_ref().unwrap().status().is_success(),
        "a crash before the commit must not acknowledge: {request:?}"
    );
    assert!(
        silt.wait_exit(std::time::Duration::from_secs(20)),
        "the fail point did not stop silt"
    );
    assert_eq!(
        spool_files(dir.path()),
        1,
        "the sealed segment waits in the spool"
    );
    // Recovery commits the spooled segment: its records and its offsets, together.
    silt.restart(Vec::new());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while spool_files(dir.path()) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        spool_files(dir.path()),
        0,
        "recovery did not commit the segment"
    );
    assert_eq!(written(&silt).await, 2);
    assert_eq!(
        committed(&silt, "g").await,
        Some(4),
        "records recovered without their offsets"
    );
}
