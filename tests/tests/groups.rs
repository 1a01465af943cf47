//! Consumer groups through a real `silt dev` over HTTP: committed offsets read back with
//! their lag and survive a `kill -9`; resets to earliest, latest, a timestamp and an offset;
//! delete; and the bad-input matrix, each refusal with its status and stable code and the
//! group unchanged afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_sdk::{Client, Groups};
use silt_tests::harness::{Silt, SiltOptions, call, http_client};

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
        bad(
            "POST",
            reset,
            json!({"to": "earliest", "topics": []}),
            (400, "invalid_request"),
        ),
        bad(
            "POST",
            reset,
            json!({"to": {"timestamp_ms": -1}}),
            (400, "invalid_request"),
        ),
        bad(
            "POST",
            reset,
            json!({"to": {"offset": 1.5}}),
            (400, "invalid_request"),
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

/// Joins `group` reading `topics`; answers the member state.
async fn join(silt: &Silt, group: &str, body: Value) -> Value {
    let path = format!("/v1/groups/{group}/members");
    let (status, answer) = call(silt, "POST", &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A heartbeat of `member` naming `generation`: status and answer.
async fn heartbeat(silt: &Silt, group: &str, member: &str, generation: u64) -> (u16, Value) {
    let path = format!("/v1/groups/{group}/members/{member}/heartbeat");
    call(silt, "POST", &path, Some(json!({"generation": generation}))).await
}

/// The partitions of an answer's `assignment`.
fn assigned(answer: &Value) -> Vec<u64> {
    let assignment = answer["assignment"].as_array().unwrap();
    assignment
        .iter()
        .map(|tp| tp["partition"].as_u64().unwrap())
        .collect()
}

/// Heartbeats of `members` every 300 ms until the returned flag is set.
fn keep_alive(silt: &Silt, members: Vec<String>) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (flag, url) = (stop.clone(), silt.url.clone());
    tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            for member in &members {
                let path = format!("{url}/v1/groups/g/members/{member}/heartbeat");
                let _ = http_client().post(path).json(&json!({})).send().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    });
    stop
}

/// Polls `GET /v1/groups/g` (every 100 ms, at most 30 s) until it has `members` members.
async fn wait_for_members(silt: &Silt, members: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, described) = call(silt, "GET", "/v1/groups/g", None).await;
        assert_eq!(status, 200, "{described}");
        if described["members"].as_array().unwrap().len() == members {
            return described;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {described} after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn member_commit(member: &str, generation: u64, topic: &str) -> Value {
    json!({"offsets": [offset(topic, 0, 1)], "member_id": member, "generation": generation})
}

/// Expects `status` and `code` from `method path body`.
async fn refused(silt: &Silt, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
    let what = format!("{method} {path} {body:?}");
    let (status, answer) = call(silt, method, path, body).await;
    assert_eq!(status, want.0, "{what}: {answer}");
    assert_eq!(answer["error"]["code"], want.1, "{what}: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_twelve_partitions_and_a_silent_one_is_expired_and_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 12, &[3; 12]).await;
    topic_with_records(&silt, "other", 1, &[3]).await;
    let spec = json!({"topics": ["t"], "session_timeout_ms": 1500});
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            join(&silt, "g", spec.clone()).await["member_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (a, b, c) = (members[0].clone(), members[1].clone(), members[2].clone());
    let alive = keep_alive(&silt, vec![a.clone(), b.clone()]);
    let mut owned = Vec::new();
    for member in &members {
        let (status, answer) = heartbeat(&silt, "g", member, 3).await;
        assert_eq!(
            (status, answer["state"].as_str()),
            (200, Some("stable")),
            "{answer}"
        );
        assert_eq!(assigned(&answer).len(), 4, "{answer}");
        owned.extend(assigned(&answer));
    }
    owned.sort_unstable();
    assert_eq!(
        owned,
        (0..12).collect::<Vec<u64>>(),
        "every partition owned once"
    );
    // c goes silent: past its session timeout it is removed and its partitions move.
    let described = wait_for_members(&silt, 2).await;
    assert_eq!(described["generation"], 4, "{described}");
    let (status, answer) = heartbeat(&silt, "g", &a, 3).await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (200, Some("rebalance")),
        "{answer}"
    );
    assert_eq!(answer["generation"], 4);
    let (_, other) = heartbeat(&silt, "g", &b, 4).await;
    let mut owned = [assigned(&answer), assigned(&other)].concat();
    owned.sort_unstable();
    assert_eq!(owned, (0..12).collect::<Vec<u64>>(), "{answer} {other}");
    // Fencing: the expired member and a stale generation cannot commit.
    let commit = "/v1/groups/g/offsets";
    refused(
        &silt,
        "PUT",
        commit,
        Some(member_commit(&c, 3, "t")),
        (409, "unknown_member"),
    )
    .await;
    refused(
        &silt,
        "PUT",
        commit,
        Some(member_commit(&a, 3, "t")),
        (409, "stale_generation"),
    )
    .await;
    refused(
        &silt,
        "PUT",
        commit,
        Some(member_commit(&a, 4, "other")),
        (400, "invalid_request"),
    )
    .await;
    let (hb_status, _) = heartbeat(&silt, "g", &c, 3).await;
    assert_eq!(hb_status, 409);
    let (status, answer) = call(&silt, "PUT", commit, Some(member_commit(&a, 4, "t"))).await;
    assert_eq!(status, 200, "{answer}");
    let before = offsets_of(&silt, "g").await;
    // While members are active: no simple commit, no reset unless forced, no delete.
    let simple = json!({"offsets": [offset("t", 0, 2)]});
    refused(&silt, "PUT", commit, Some(simple), (409, "group_not_empty")).await;
    let reset = "/v1/groups/g/offsets/reset";
    refused(
        &silt,
        "POST",
        reset,
        Some(json!({"to": "latest"})),
        (409, "group_not_empty"),
    )
    .await;
    refused(
        &silt,
        "DELETE",
        "/v1/groups/g",
        None,
        (409, "group_not_empty"),
    )
    .await;
    assert_eq!(
        offsets_of(&silt, "g").await,
        before,
        "a refusal changed the offsets"
    );
    let forced = json!({"to": "latest", "force": true});
    let (status, answer) = call(&silt, "POST", reset, Some(forced)).await;
    assert_eq!(status, 200, "{answer}");
    // Without topics, a reset covers what the members read as well as what was committed.
    let latest: Vec<_> = (0..12).map(|p| row("t", p, 3, 0)).collect();
    assert_eq!(offsets_of(&silt, "g").await, latest);
    // b leaves: a owns everything; a leaves: the group is empty and can be deleted.
    alive.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, _) = call(&silt, "DELETE", &format!("/v1/groups/g/members/{b}"), None).await;
    assert_eq!(status, 204);
    let (_, answer) = heartbeat(&silt, "g", &a, 4).await;
    assert_eq!(assigned(&answer).len(), 12, "{answer}");
    let (status, _) = call(&silt, "DELETE", &format!("/v1/groups/g/members/{a}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&silt, "DELETE", "/v1/groups/g", None).await;
    assert_eq!(status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_survive_kill_9_and_then_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 2, &[5, 5]).await;
    let joined = join(
        &silt,
        "g",
        json!({"topics": ["t"], "session_timeout_ms": 1000}),
    )
    .await;
    let member = joined["member_id"].as_str().unwrap().to_owned();
    let commit = member_commit(&member, joined["generation"].as_u64().unwrap(), "t");
    let (status, answer) = call(&silt, "PUT", "/v1/groups/g/offsets", Some(commit)).await;
    assert_eq!(status, 200, "{answer}");
    silt.restart(Vec::new());
    let (_, described) = call(&silt, "GET", "/v1/groups/g", None).await;
    assert_eq!(
        described["members"][0]["member_id"],
        member.as_str(),
        "{described}"
    );
    assert_eq!(offsets_of(&silt, "g").await, vec![row("t", 0, 1, 4)]);
    // Nobody heartbeats after the restart: the member expires, the offsets stay.
    let described = wait_for_members(&silt, 0).await;
    assert_eq!(described["state"], "empty", "{described}");
    assert_eq!(offsets_of(&silt, "g").await, vec![row("t", 0, 1, 4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_membership_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 2, &[1, 1]).await;
    let joined = join(
        &silt,
        "g",
        json!({"topics": ["t"], "session_timeout_ms": 60000}),
    )
    .await;
    let member = joined["member_id"].as_str().unwrap().to_owned();
    let (_, before) = call(&silt, "GET", "/v1/groups/g", None).await;
    let members = "/v1/groups/g/members";
    let cases = [
        (
            "POST",
            members.to_owned(),
            json!({"topics": ["nope"]}),
            (404, "topic_not_found"),
        ),
        (
            "POST",
            members.to_owned(),
            json!({"topics": []}),
            (400, "invalid_request"),
        ),
        (
            "POST",
            members.to_owned(),
            json!({"topics": ["t"], "session_timeout_ms": 10}),
            (400, "invalid_request"),
        ),
        (
            "POST",
            members.to_owned(),
            json!({"topics": ["t"], "assignor": "roundrobin"}),
            (400, "invalid_request"),
        ),
        (
            "POST",
            members.to_owned(),
            json!({"topics": ["t"], "member_id": "ghost"}),
            (409, "unknown_member"),
        ),
        (
            "POST",
            format!("{members}/ghost/heartbeat"),
            json!({}),
            (409, "unknown_member"),
        ),
        (
            "POST",
            format!("{members}/{member}/heartbeat"),
            json!({"generation": 99}),
            (409, "stale_generation"),
        ),
        (
            "POST",
            "/v1/groups/none/members/x/heartbeat".to_owned(),
            json!({}),
            (409, "unknown_member"),
        ),
        (
            "POST",
            "/v1/groups/bad%20g/members".to_owned(),
            json!({"topics": ["t"]}),
            (400, "invalid_group_name"),
        ),
        (
            "DELETE",
            format!("{members}/ghost"),
            Value::Null,
            (409, "unknown_member"),
        ),
        (
            "DELETE",
            format!("{members}/{}", "m".repeat(300)),
            Value::Null,
            (409, "unknown_member"),
        ),
        (
            "POST",
            members.to_owned(),
            json!({"topics": ["t"], "assignor": "sticky"}),
            (409, "group_not_empty"),
        ),
    ];
    for (method, path, body, want) in cases {
        let body = (!body.is_null()).then_some(body);
        refused(&silt, method, &path, body, want).await;
        let (_, now) = call(&silt, "GET", "/v1/groups/g", None).await;
        assert_eq!(now, before, "{method} {path} changed the group");
    }
}

/// Each member's partitions after a heartbeat naming `generation`.
async fn assignments(silt: &Silt, members: &[String], generation: u64) -> Vec<Vec<u64>> {
    let mut all = Vec::new();
    for member in members {
        let (status, answer) = heartbeat(silt, "g", member, generation).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["generation"], generation, "{answer}");
        all.push(assigned(&answer));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sticky_assignor_only_a_leaving_members_partitions_move() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    topic_with_records(&silt, "t", 12, &[]).await;
    let spec = json!({"topics": ["t"], "assignor": "sticky", "session_timeout_ms": 60000});
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            join(&silt, "g", spec.clone()).await["member_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let before = assignments(&silt, &members, 3).await;
    let mut owned: Vec<u64> = before.concat();
    owned.sort_unstable();
    assert_eq!(owned, (0..12).collect::<Vec<u64>>(), "{before:?}");
    assert!(before.iter().all(|p| p.len() == 4), "{before:?}");
    // The middle member leaves: the others keep theirs and share its four.
    let leaving = members.remove(1);
    let path = format!("/v1/groups/g/members/{leaving}");
    let (status, _) = call(&silt, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    let after = assignments(&silt, &members, 4).await;
    for (kept, (old, new)) in [&before[0], &before[2]].iter().zip(&after).enumerate() {
        assert!(
            old.iter().all(|p| new.contains(p)),
            "member {kept} lost some of {old:?}: {new:?}"
        );
    }
    let mut owned: Vec<u64> = after.concat();
    owned.sort_unstable();
    assert_eq!(owned, (0..12).collect::<Vec<u64>>(), "{after:?}");
    assert!(after.iter().all(|p| p.len() == 6), "{after:?}");
    // A member joins again: it takes two from each, the others keep the rest.
    let newcomer = join(&silt, "g", spec).await;
    assert_eq!(assigned(&newcomer).len(), 4, "{newcomer}");
    let again = assignments(&silt, &members, 5).await;
    for (old, new) in after.iter().zip(&again) {
        assert!(new.iter().all(|p| old.contains(p)), "{old:?} -> {new:?}");
        assert_eq!(new.len(), 4, "{again:?}");
    }
}
