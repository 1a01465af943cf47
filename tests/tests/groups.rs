//! Consumer groups through a real `silt dev` over HTTP: committed offsets read back with
//! their lag and survive a `kill -9`; resets to earliest, latest, a timestamp and an offset;
//! delete; and the bad-input matrix, each refusal with its status and stable code and the
//! group unchanged afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_sdk::{Client, Groups};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// A request's status and JSON answer (`Null` for an empty body).
async fn call(silt: &Silt, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http_client().request(method, format!("{}{path}", silt.url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates `topic` with `partitions` partitions and writes `counts[p]` records to each
/// partition `p`.
async fn topic_with_records(silt: &Silt, topic: &str, partitions: u32, counts: &[u64]) {
    let body = json!({"name": topic, "partitions": partitions});
    let (status, answer) = call(silt, "POST", "/v1/topics", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    for (partition, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let records: Vec<Value> = (0..*count)
            .map(|i| json!({"value": i, "partition": partition, "timestamp_ms": 1000 + i}))
            .collect();
        let path = format!("/v1/topics/{topic}/records");
        let (status, answer) = call(silt, "POST", &path, Some(json!({"records": records}))).await;
        assert_eq!(status, 200, "{answer}");
    }
}

/// The committed offsets of `group` as `(topic, partition, offset, lag)`, in order.
async fn offsets_of(silt: &Silt, group: &str) -> Vec<(String, u64, u64, u64)> {
    let (status, answer) = call(silt, "GET", &format!("/v1/groups/{group}/offsets"), None).await;
    assert_eq!(status, 200, "{answer}");
    answer["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["topic"].as_str().unwrap().to_owned(),
                o["partition"].as_u64().unwrap(),
                o["offset"].as_u64().unwrap(),
                o["lag"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn offset(topic: &str, partition: u32, offset: u64) -> Value {
    json!({"topic": topic, "partition": partition, "offset": offset})
}

fn row(topic: &str, partition: u64, offset: u64, lag: u64) -> (String, u64, u64, u64) {
    (topic.to_owned(), partition, offset, lag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_read_back_with_lag_and_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 3, &[10, 5, 0]).await;
    let mut first = offset("t", 0, 4);
    first["metadata"] = json!("checkpoint-a");
    let commit = json!({"offsets": [first, offset("t", 1, 5)]});
    let (status, answer) = call(&silt, "PUT", "/v1/groups/g/offsets", Some(commit)).await;
    assert_eq!(status, 200, "{answer}");
    let expected = vec![row("t", 0, 4, 6), row("t", 1, 5, 0)];
    assert_eq!(offsets_of(&silt, "g").await, expected);
    let (_, listed) = call(&silt, "GET", "/v1/groups/g/offsets", None).await;
    assert_eq!(listed["offsets"][0]["metadata"], "checkpoint-a");
    assert_eq!(listed["offsets"][1]["metadata"], Value::Null);
    let (status, list) = call(&silt, "GET", "/v1/groups", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["groups"][0]["group"], "g", "{list}");
    let (status, described) = call(&silt, "GET", "/v1/groups/g", None).await;
    assert_eq!(status, 200, "{described}");
    assert_eq!(described["members"], json!([]), "{described}");
    assert_eq!(described["offsets"].as_array().unwrap().len(), 2);
    silt.restart(Vec::new());
    assert_eq!(offsets_of(&silt, "g").await, expected, "after kill -9");
    // The SDK reads the same.
    let groups = Groups::new(Client::new(&silt.url).unwrap());
    let read = groups.offsets("g").await.unwrap();
    assert_eq!(read.offsets[0].metadata.as_deref(), Some("checkpoint-a"));
    assert_eq!(read.offsets[0].lag, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_move_offsets_and_a_deleted_group_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 2, &[10, 4]).await;
    let commit = json!({"offsets": [offset("t", 0, 3)]});
    let (status, answer) = call(&silt, "PUT", "/v1/groups/g/offsets", Some(commit)).await;
    assert_eq!(status, 200, "{answer}");
    let reset = "/v1/groups/g/offsets/reset";
    let cases = [
        (json!({"to": "latest"}), vec![row("t", 0, 10, 0)]),
        (json!({"to": "earliest"}), vec![row("t", 0, 0, 10)]),
        (json!({"to": {"offset": 7}}), vec![row("t", 0, 7, 3)]),
        (
            json!({"to": {"timestamp_ms": 1005}}),
            vec![row("t", 0, 5, 5)],
        ),
        (
            json!({"to": {"timestamp_ms": 1002}, "topics": ["t"]}),
            vec![row("t", 0, 2, 8), row("t", 1, 2, 2)],
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = call(&silt, "POST", reset, Some(body.clone())).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(offsets_of(&silt, "g").await, expected, "{body}");
    }
    let (status, _) = call(&silt, "DELETE", "/v1/groups/g", None).await;
    assert_eq!(status, 204);
    let (status, answer) = call(&silt, "GET", "/v1/groups/g/offsets", None).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "group_not_found");
    let (_, list) = call(&silt, "GET", "/v1/groups", None).await;
    assert_eq!(list["groups"], json!([]), "{list}");
}

/// One bad request: what it sends and the status and code it gets.
struct Bad {
    method: &'static str,
    path: String,
    body: Value,
    status: u16,
    code: &'static str,
    /// Words the message must contain.
    says: &'static str,
}

fn bad(method: &'static str, path: &str, body: Value, answer: (u16, &'static str)) -> Bad {
    Bad {
        method,
        path: path.to_owned(),
        body,
        status: answer.0,
        code: answer.1,
        says: "",
    }
}

fn bad_commits() -> Vec<Bad> {
    let commit = "/v1/groups/g/offsets";
    let many: Vec<Value> = (0..10_001).map(|i| offset("t", 0, i % 3)).collect();
    let mut long = offset("t", 0, 1);
    long["metadata"] = json!("m".repeat(4097));
    vec![
        Bad {
            says: "valid range 0..=10",
            ..bad(
                "PUT",
                commit,
                json!({"offsets": [offset("t", 0, 11)]}),
                (416, "offset_out_of_range"),
            )
        },
        bad(
            "PUT",
            commit,
            json!({"offsets": [offset("nope", 0, 1)]}),
            (404, "topic_not_found"),
        ),
        bad(
            "PUT",
            commit,
            json!({"offsets": [offset("t", 9, 1)]}),
            (404, "partition_not_found"),
        ),
        Bad {
            says: "unknown member",
            ..bad(
                "PUT",
                commit,
                json!({"offsets": [offset("t", 0, 1)], "member_id": "m-1", "generation": 1}),
                (409, "unknown_member"),
            )
        },
        bad(
            "PUT",
            commit,
            json!({"offsets": [offset("t", 0, 1)], "generation": 1}),
            (400, "invalid_request"),
        ),
        bad(
            "PUT",
            commit,
            json!({"offsets": many}),
            (400, "invalid_request"),
        ),
        bad(
            "PUT",
            commit,
            json!({"offsets": [long]}),
            (400, "invalid_request"),
        ),
        bad(
            "PUT",
            commit,
            json!({"offsets": []}),
            (400, "invalid_request"),
        ),
        bad(
            "PUT",
            commit,
            json!({"offsets": [offset("t", 0, 1)], "extra": 1}),
            (400, "invalid_request"),
        ),
        bad(
            "PUT",
            "/v1/groups/bad%20name/offsets",
            json!({"offsets": [offset("t", 0, 1)]}),
            (400, "invalid_group_name"),
        ),
    ]
}

fn bad_group_calls() -> Vec<Bad> {
    let reset = "/v1/groups/g/offsets/reset";
    vec![
        bad(
            "GET",
            "/v1/groups/none/offsets",
            Value::Null,
            (404, "group_not_found"),
        ),
        bad(
            "GET",
            "/v1/groups/none",
            Value::Null,
            (404, "group_not_found"),
        ),
        bad(
            "DELETE",
            "/v1/groups/none",
            Value::Null,
            (404, "group_not_found"),
        ),
        bad(
            "POST",
            "/v1/groups/none/offsets/reset",
            json!({"to": "earliest"}),
            (404, "group_not_found"),
        ),
        Bad {
            says: "valid range 0..=10",
            ..bad(
                "POST",
                reset,
                json!({"to": {"offset": 99}}),
                (416, "offset_out_of_range"),
            )
        },
        bad(
            "POST",
            reset,
            json!({"to": "middle"}),
            (400, "invalid_request"),
        ),
        bad(
            "POST",
            reset,
            json!({"to": "earliest", "topics": ["nope"]}),
            (404, "topic_not_found"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_group_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 2, &[10, 0]).await;
    let commit = json!({"offsets": [offset("t", 0, 2)]});
    let (status, answer) = call(&silt, "PUT", "/v1/groups/g/offsets", Some(commit)).await;
    assert_eq!(status, 200, "{answer}");
    let before = offsets_of(&silt, "g").await;
    for case in bad_commits().into_iter().chain(bad_group_calls()) {
        let what = format!("{} {} {}", case.method, case.path, case.body);
        let what: String = what.chars().take(200).collect();
        let body = (!case.body.is_null()).then_some(case.body);
        let (status, answer) = call(&silt, case.method, &case.path, body).await;
        assert_eq!(status, case.status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], case.code, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(case.says), "{what}: {message}");
        assert_eq!(
            offsets_of(&silt, "g").await,
            before,
            "{what} changed the group"
        );
    }
    let (_, list) = call(&silt, "GET", "/v1/groups", None).await;
    assert_eq!(list["groups"].as_array().unwrap().len(), 1, "{list}");
}
