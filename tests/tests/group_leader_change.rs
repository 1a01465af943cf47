//! Consumer-group heartbeats across a metadata leader change, on a real 3-node metadata
//! cluster: heartbeats are answered by the leader from memory, so killing it must neither
//! stop them for longer than the election nor expire a member that kept heartbeating (the
//! new leader gives every member a fresh session timeout); and the new leader's session
//! tracker still expires a member that stops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{Cluster, ClusterOptions, Role, http_client};

/// The members' session timeout: well above an election (0.8-1.6 s, bench/RESULTS.md).
const SESSION_TIMEOUT_MS: u64 = 4000;

/// The cluster's admin token (its brokers authenticate clients), set once it is up.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `method url` with a JSON body and the cluster's token: status and answer.
async fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http_client()
        .request(method, url)
        .timeout(Duration::from_secs(10));
    if let Some(token) = TOKEN.get() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Heartbeats `member` through `broker` every 500 ms until `stop`; counts the answers that
/// were not 200 in `failures` and the 200s in `oks`.
fn heartbeat_loop(
    broker: String,
    member: String,
    stop: Arc<AtomicBool>,
    (oks, failures): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let url = format!("{broker}/v1/groups/g/members/{member}/heartbeat");
        while !stop.load(Ordering::Relaxed) {
            let (status, _) = call("POST", &url, Some(json!({}))).await;
            let counter = if status == 200 { &oks } else { &failures };
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// The group as the broker describes it.
async fn describe(broker: &str) -> Value {
    let (status, described) = call("GET", &format!("{broker}/v1/groups/g"), None).await;
    assert_eq!(status, 200, "{described}");
    described
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_survive_a_metadata_leader_change_and_nobody_expires_because_of_it() {
    let options = ClusterOptions {
        brokers: 1,
        ..ClusterOptions::default()
    };
    let cluster = tokio::task::spawn_blocking(|| Cluster::up_with("groups-leader", options))
        .await
        .expect("cluster task")
        .expect("cluster up");
    if let Some(token) = cluster.token() {
        let _ = TOKEN.set(token);
    }
    let broker = cluster.broker_url(1);
    let topic = json!({"name": "t", "partitions": 6});
    let (status, answer) = call("POST", &format!("{broker}/v1/topics"), Some(topic)).await;
    assert_eq!(status, 201, "{answer}");
    let join = json!({"topics": ["t"], "session_timeout_ms": SESSION_TIMEOUT_MS});
    let mut members = Vec::new();
    for _ in 0..2 {
        let url = format!("{broker}/v1/groups/g/members");
        let (status, joined) = call("POST", &url, Some(join.clone())).await;
        assert_eq!(status, 200, "{joined}");
        members.push(joined["member_id"].as_str().unwrap().to_owned());
    }
    let counters = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (stop_first, stop_second) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let loops = [
        heartbeat_loop(
            broker.clone(),
            members[0].clone(),
            stop_first.clone(),
            counters.clone(),
        ),
        heartbeat_loop(
            broker.clone(),
            members[1].clone(),
            stop_second.clone(),
            counters.clone(),
        ),
    ];
    let generation = describe(&broker).await["generation"].clone();
    assert_eq!(generation, 2);

    // Kill the metadata leader; a new one is elected.
    let leader = cluster
        .wait_for_leader(Duration::from_secs(20))
        .await
        .unwrap();
    assert!(cluster.kill9(Role::Metadata, leader).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let new_leader = loop {
        match cluster.metadata_leader().await {
            Some(new) if new != leader => break new,
            _ => assert!(Instant::now() < deadline, "no new leader within 30 s"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Heartbeats go on against the new leader for three session timeouts.
    let oks_at_change = counters.0.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(3 * SESSION_TIMEOUT_MS)).await;
    assert!(
        counters.0.load(Ordering::Relaxed) > oks_at_change + 4,
        "heartbeats stopped after the leader change ({} failures)\n{}",
        counters.1.load(Ordering::Relaxed),
        cluster.diagnostics(20)
    );
    let described = describe(&broker).await;
    assert_eq!(
        described["generation"], generation,
        "a member was expired: {described}"
    );
    assert_eq!(
        described["members"].as_array().unwrap().len(),
        2,
        "{described}"
    );

    // The new leader's tracker still expires a member that stops.
    stop_second.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = describe(&broker).await;
        if described["members"].as_array().unwrap().len() == 1 {
            assert_eq!(described["members"][0]["member_id"], members[0].as_str());
            assert_eq!(
                described["members"][0]["assignment"]
                    .as_array()
                    .unwrap()
                    .len(),
                6
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the silent member never expired on node {new_leader}: {described}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_first.store(true, Ordering::Relaxed);
    for handle in loops {
        handle.await.unwrap();
    }
}
