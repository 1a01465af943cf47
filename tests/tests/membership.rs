//! Membership changes of the metadata cluster with the documented commands: a fourth node
//! started with `--join` is added with `silt membership add` (learner, caught up, voter),
//! then an original voter is removed with `silt membership remove`; the cluster keeps
//! committing through a broker, and the removed node's loss no longer matters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{
    Cluster, ClusterOptions, KillOnDrop, Role, free_port, silt_binary, strip_test_env,
};

/// Runs `silt membership …` with the cluster secret `secret` and returns its JSON output
/// (the leader's status).
fn membership(secret: &std::path::Path, args: &[&str]) -> Value {
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    let output = command
        .env("SILT_CLUSTER_SECRET_FILE", secret)
        .arg("membership")
        .args(args)
        .output()
        .expect("run silt membership");
    assert!(
        output.status.success(),
        "silt membership {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON status")
}

fn voters(status: &Value) -> Vec<u64> {
    status["voters"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

async fn produce(http: &reqwest::Client, broker: &str, value: u64) -> u64 {
    let answer: Value = http
        .post(format!("{broker}/v1/topics/m/records"))
        .json(&json!({"records": [{"value": value}]}))
        .send()
        .await
        .expect("produce")
        .json()
        .await
        .expect("produce answer");
    answer["offsets"][0]["offset"]
        .as_u64()
        .unwrap_or_else(|| panic!("no offset in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_and_a_voter_leaves() {
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::up_with(
            "membership",
            ClusterOptions {
                brokers: 1,
                ..ClusterOptions::default()
            },
        )
    })
    .await
    .expect("cluster task")
    .expect("cluster up");
    let http = cluster.authorized_http().expect("HTTP client");
    let broker = cluster.broker_url(1);
    let created = http
        .post(format!("{broker}/v1/topics"))
        .json(&json!({"name": "m", "partitions": 1}))
        .send()
        .await
        .expect("create topic");
    assert_eq!(created.status(), 201);
    assert_eq!(produce(&http, &broker, 0).await, 0);

    // Node 4 joins.
    let port = free_port("127.0.0.1");
    let addr = format!("127.0.0.1:{port}");
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    let joiner = KillOnDrop(
        command
            .args(["metadata", "--id", "4", "--listen", &addr, "--join"])
            .arg("--cluster-secret-file")
            .arg(cluster.secret_file())
            .arg("--peers")
            .arg(format!("4={addr}"))
            .arg("--data-dir")
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node 4"),
    );
    let any = cluster.metadata_url(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let added = loop {
        // Node 4 may still be binding its port: retry until it answers.
        let mut command = Command::new(silt_binary());
        strip_test_env(&mut command);
        let output = command
            .env("SILT_CLUSTER_SECRET_FILE", cluster.secret_file())
            .args([
                "membership",
                "add",
                "--id",
                "4",
                "--addr",
                &addr,
                "--metadata",
                &any,
            ])
            .output()
            .expect("run silt membership add");
        if output.status.success() {
            break serde_json::from_slice::<Value>(&output.stdout).expect("JSON status");
        }
        assert!(
            Instant::now() < deadline,
            "membership add never succeeded: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(voters(&added), [1, 2, 3, 4]);
    assert_eq!(produce(&http, &broker, 1).await, 1);
    // Node 4 applies the log. Membership changes only wait for a majority of the new
    // voters, so node 4 may still be catching up when they return: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = match http
            .get(format!("http://{addr}/meta/v1/status"))
            .bearer_auth(cluster.secret().expect("the cluster secret"))
            .send()
            .await
        {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if status
            .as_ref()
            .is_some_and(|s| s["last_applied"].as_u64().unwrap_or(0) > 0)
        {
            break;
        }
        let status = status.unwrap_or(Value::Null);
        assert!(
            Instant::now() < deadline,
            "node 4 never applied the log: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Node 1 leaves; then it can die without costing a majority of the new voter set.
    let secret = cluster.secret_file();
    let removed = membership(
        &secret,
        &[
            "remove",
            "--id",
            "1",
            "--metadata",
            &cluster.metadata_url(2),
        ],
    );
    assert_eq!(voters(&removed), [2, 3, 4]);
    let shown = membership(&secret, &["show", "--metadata", &cluster.metadata_url(3)]);
    assert_eq!(voters(&shown), [2, 3, 4]);
    let c = std::sync::Arc::new(cluster);
    let killer = c.clone();
    tokio::task::spawn_blocking(move || killer.kill9(Role::Metadata, 1))
        .await
        .expect("kill task")
        .expect("kill node 1");
    // Node 1 is no longer a voter, so losing node 2 as well leaves {3, 4}: still a
    // majority of the voters {2, 3, 4}. (Before the change, losing 1 and 2 would have
    // stopped the cluster.)
    let killer = c.clone();
    tokio::task::spawn_blocking(move || killer.kill9(Role::Metadata, 2))
        .await
        .expect("kill task")
        .expect("kill node 2");
    let offset = tokio::time::timeout(Duration::from_secs(30), produce(&http, &broker, 2))
        .await
        .expect("a commit with nodes 3 and 4 only");
    assert_eq!(offset, 2);
    drop(joiner);
}
