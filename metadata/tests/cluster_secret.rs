//! The metadata service only talks to the cluster: three nodes on 127.0.0.1 run with a
//! cluster secret. Every cluster route refuses a request without it, or with another one,
//! with 401 and a JSON body naming the problem, and changes nothing — the report's raw
//! `/meta/v1/write` command and its `members/learner` then `members/voters` pair
//! included — while the nodes (which present the secret to each other) bootstrap,
//! replicate and commit, and a client holding the secret is served. The probes
//! (`/healthz`, `/readyz`, `/metrics`) stay open, and `/metrics` counts the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use silt_metadata::types::TopicSettings;
use silt_metadata::{ClusterConfig, ClusterSecret, HttpClient, MetadataClient, MetadataNode};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-the-test-cluster";

/// Three bootstrapped nodes requiring [`SECRET`]: the nodes and their addresses.
async fn start_cluster(dir: &std::path::Path) -> (Vec<MetadataNode>, Vec<String>) {
    let secret = ClusterSecret::from_bytes(SECRET).unwrap();
    let mut listeners = Vec::new();
    let mut peers = BTreeMap::new();
    for id in 1..=3u64 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        peers.insert(id, listener.local_addr().unwrap().to_string());
        listeners.push(listener);
    }
    let mut nodes = Vec::new();
    for (id, listener) in (1..=3u64).zip(listeners) {
        let node = MetadataNode::open_cluster(ClusterConfig {
            node_id: id,
            data_dir: dir.join(format!("node-{id}")),
            peers: peers.clone(),
            secret: Some(secret.clone()),
            tls: None,
        })
        .await
        .unwrap();
        let router = node.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        nodes.push(node);
    }
    let boot = nodes.iter().map(|node| node.bootstrap(&peers));
    tokio::time::timeout(Duration::from_secs(20), futures::future::try_join_all(boot))
        .await
        .expect("bootstrap in time")
        .unwrap();
    (nodes, peers.into_values().collect())
}

/// Every cluster route with a body that would be acted on if admitted.
fn cluster_requests() -> Vec<(&'static str, &'static str, Value)> {
    let create = json!({"CreateTopic": {
        "name": "stolen", "partitions": 1, "settings": {}, "created_at_ms": 1,
    }});
    vec![
        ("POST", "/meta/v1/write", create),
        (
            "POST",
            "/meta/v1/members/learner",
            json!({"node_id": 9, "addr": "127.0.0.1:9"}),
        ),
        (
            "POST",
            "/meta/v1/members/voters",
            json!({"voters": [1, 2, 3, 9]}),
        ),
        ("POST", "/meta/v1/read", json!("ListTopics")),
        ("GET", "/meta/v1/status", Value::Null),
        ("GET", "/meta/v1/watch?after=0&timeout_ms=0", Value::Null),
        ("POST", "/raft/vote", json!({})),
        ("POST", "/raft/append", json!({})),
        ("POST", "/raft/snapshot", json!({})),
    ]
}

/// Sends one request to `addr`, with `token` as its bearer token if any.
async fn send(
    http: &reqwest::Client,
    addr: &str,
    (method, path, body): &(&str, &str, Value),
    token: Option<&str>,
) -> reqwest::Response {
    let url = format!("http://{addr}{path}");
    let mut request = match *method {
        "GET" => http.get(url),
        _ => http.post(url).json(body),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Sends every cluster request to every node with `token`; each must be refused with
/// 401 and `code`.
async fn assert_all_refused(addrs: &[String], token: Option<&str>, code: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for addr in addrs {
        for request in cluster_requests() {
            let response = send(&http, addr, &request, token).await;
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(
                status, 401,
                "{} {} answered {status}: {body}",
                request.0, request.1
            );
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.len() > 20)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_routes_refuse_requests_without_the_secret_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, addrs) = start_cluster(dir.path()).await;
    let secret = ClusterSecret::from_bytes(SECRET).unwrap();
    let admin = HttpClient::connect_with_secret(&addrs, Some(&secret)).unwrap();
    let before = admin.status().await.unwrap();

    assert_all_refused(&addrs, None, "missing_cluster_secret").await;
    let wrong = "0123456789abcdef0123456789abcdef-another-cluster";
    assert_all_refused(&addrs, Some(wrong), "wrong_cluster_secret").await;

    // Nothing changed: the membership is the same, no topic was created.
    let after = admin.status().await.unwrap();
    assert_eq!(
        (after.voters, after.learners),
        (before.voters, before.learners)
    );
    assert!(admin.list_topics().await.unwrap().is_empty());
    // A client without the secret is told why, at once.
    let anonymous = HttpClient::connect(&addrs).unwrap();
    let refused = anonymous.list_topics().await.unwrap_err().to_string();
    assert!(
        refused.contains("401") && refused.contains("cluster secret"),
        "{refused}"
    );
    // The cluster still commits, for a client holding the secret.
    let topic = admin
        .create_topic("t", 1, TopicSettings::default(), 1)
        .await
        .unwrap();
    assert_eq!(admin.list_topics().await.unwrap()[0].id, topic.id);

    // The probes stay open, and the metrics count the refusals.
    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let response = http
            .get(format!("http://{}{path}", addrs[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let metrics = http
        .get(format!("http://{}/metrics", addrs[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = cluster_requests().len();
    for reason in ["missing", "wrong"] {
        let line = format!("silt_metadata_unauthorized_requests_total{{reason=\"{reason}\"}} ");
        let value = metrics.lines().find_map(|l| l.strip_prefix(line.as_str()));
        let value: usize = value.expect("refusal counter").parse().unwrap();
        assert!(value >= count, "{reason}: {value} < {count}\n{metrics}");
    }
    for node in nodes {
        node.shutdown().await.unwrap();
    }
}
