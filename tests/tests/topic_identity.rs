//! Topic identity over real HTTP: a fetch answers the topic id it read, a fetch or a delete
//! naming an id the topic name no longer has is refused (404 `topic_not_found`, naming the
//! id), and a consumer never reads on into a topic recreated under its topic's name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_sdk::wire::ErrorCode;
use silt_sdk::{Client, Consumer, ConsumerConfig, Error};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// Sends `method path` with an optional JSON body; the status and the decoded JSON body.
async fn send(silt: &Silt, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http_client().request(method, format!("{}{path}", silt.url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Creates topic `t` with one partition and `count` records; its id.
async fn create_with_records(silt: &Silt, count: usize) -> u64 {
    let topic = json!({"name": "t", "partitions": 1});
    let (status, created) = send(silt, "POST", "/v1/topics", Some(topic)).await;
    assert_eq!(status, 201, "{created}");
    let records: Vec<Value> = (0..count).map(|n| json!({"value": n})).collect();
    let produce = Some(json!({ "records": records }));
    let (status, body) = send(silt, "POST", "/v1/topics/t/records", produce).await;
    assert_eq!(status, 200, "{body}");
    created["id"].as_u64().unwrap()
}

/// Asserts a 404 `topic_not_found` whose message names `id`.
fn assert_gone(what: &str, (status, body): &(u16, Value), id: u64) {
    assert_eq!(*status, 404, "{what}: {body}");
    assert_eq!(body["error"]["code"], "topic_not_found", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("id {id}")), "{what}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_never_reads_into_a_recreated_topic() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let old = create_with_records(&silt, 2).await;
    let fetch = "/v1/topics/t/partitions/0/records";
    let (status, body) = send(&silt, "GET", fetch, None).await;
    assert_eq!(
        (status, body["topic_id"].as_u64()),
        (200, Some(old)),
        "{body}"
    );
    let client = Client::new(&silt.url).unwrap();
    let config = ConsumerConfig {
        wait: std::time::Duration::ZERO,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(client, "t", 0, 0, config);
    assert_eq!(consumer.poll().await.unwrap().len(), 2);

    // A delete naming another id changes nothing.
    let wrong = format!("/v1/topics/t?topic_id={}", old + 10);
    assert_gone(
        "delete",
        &send(&silt, "DELETE", &wrong, None).await,
        old + 10,
    );
    assert_eq!(send(&silt, "GET", "/v1/topics/t", None).await.0, 200);

    let (status, _) = send(&silt, "DELETE", "/v1/topics/t", None).await;
    assert_eq!(status, 204);
    let new = create_with_records(&silt, 5).await;
    assert_ne!(old, new);

    let stale = format!("{fetch}?offset=0&topic_id={old}");
    assert_gone("fetch", &send(&silt, "GET", &stale, None).await, old);
    let polled = consumer.poll().await;
    assert!(
        matches!(
            &polled,
            Err(Error::Api {
                status: 404,
                code: ErrorCode::TopicNotFound,
                ..
            })
        ),
        "the consumer of topic id {old} read on into topic id {new}: {polled:?}"
    );
    let current = format!("{fetch}?offset=0&topic_id={new}");
    let (status, body) = send(&silt, "GET", &current, None).await;
    assert_eq!(
        (status, body["topic_id"].as_u64()),
        (200, Some(new)),
        "{body}"
    );
    assert_eq!(body["records"].as_array().map(Vec::len), Some(5));
}
