//! `silt metadata` is secure by default: on a non-loopback address it refuses to start
//! without a cluster secret (saying why) unless `--insecure`; it refuses a short secret;
//! with a secret made by `silt auth cluster-secret` its routes refuse a caller without it,
//! while `silt membership` given the same file is served. A cluster started by
//! `infra/local-cluster.sh` runs with a secret: the report's attack (a learner, then a voter
//! set naming it) and a raw command are refused, and the cluster still commits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{
    Cluster, ClusterOptions, KillOnDrop, free_port, http_client, silt_binary, strip_test_env,
};

/// `silt metadata` as one voter on `0.0.0.0:port`, data under `dir`, with `extra` flags;
/// its output is captured when `capture`, else dropped (a running node logs on).
fn metadata(port: u16, dir: &std::path::Path, extra: &[&str], capture: bool) -> Child {
    let output = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    command
        .args([
            "metadata",
            "--id",
            "1",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ])
        .arg("--peers")
        .arg(format!("1=127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("start silt metadata")
}

/// The output of `child` once it exited, or `None` (after killing it) if it still runs
/// after 20 s.
fn exited(mut child: Child) -> Option<Output> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().expect("poll the process").is_some() {
            return Some(child.wait_with_output().expect("read the output"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Polls `GET url` with `token` until it answers, within 20 s: its status.
async fn status_of(url: &str, token: Option<&str>) -> u16 {
    let http = http_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut request = http.get(url).timeout(Duration::from_secs(2));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => return response.status().as_u16(),
            Err(error) => assert!(Instant::now() < deadline, "{url} never answered: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `silt ARGS` to completion.
fn silt(args: &[&str]) -> Output {
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    command.args(args).output().expect("run silt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_a_public_address_needs_a_secret_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let node = metadata(free_port("0.0.0.0"), dir.path(), &[], true);
    let refused = exited(node).expect("it must not start without a secret");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("without a cluster secret") && stderr.contains("--insecure"),
        "{stderr}"
    );

    let port = free_port("0.0.0.0");
    let _node = KillOnDrop(metadata(port, dir.path(), &["--insecure"], false));
    let status = status_of(&format!("http://127.0.0.1:{port}/meta/v1/status"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_secret_is_refused_and_a_made_one_guards_the_routes() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "too short\n").unwrap();
    let flag = ["--cluster-secret-file", short.to_str().unwrap()];
    let node = metadata(free_port("0.0.0.0"), &dir.path().join("a"), &flag, true);
    let refused = exited(node).expect("it must not start with a short secret");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("at least 32") && stderr.contains("short"),
        "{stderr}"
    );

    let made = silt(&["auth", "cluster-secret"]);
    assert!(made.status.success());
    let secret = String::from_utf8(made.stdout).unwrap();
    assert_eq!(secret.trim().len(), 43, "{secret:?}");
    let file = dir.path().join("secret");
    std::fs::write(&file, &secret).unwrap();
    let port = free_port("0.0.0.0");
    let flag = ["--cluster-secret-file", file.to_str().unwrap()];
    let _node = KillOnDrop(metadata(port, &dir.path().join("b"), &flag, false));
    let status_url = format!("http://127.0.0.1:{port}/meta/v1/status");
    assert_eq!(status_of(&status_url, None).await, 401);
    assert_eq!(status_of(&status_url, Some(secret.trim())).await, 200);
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    assert_eq!(status_of(&healthz, None).await, 200);

    let url = format!("http://127.0.0.1:{port}");
    let anonymous = silt(&["membership", "show", "--metadata", &url]);
    assert!(!anonymous.status.success());
    let file = file.to_str().unwrap();
    let with = silt(&[
        "membership",
        "show",
        "--metadata",
        &url,
        "--cluster-secret-file",
        file,
    ]);
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
}

/// A one-broker cluster over a directory object store under `store`.
async fn small_cluster(store: &std::path::Path) -> Cluster {
    let options = ClusterOptions {
        brokers: 1,
        object_store: Some(format!("file://{}", store.display())),
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::up_with("metasec", options))
        .await
        .expect("cluster task")
        .expect("cluster up")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_attack_on_a_local_cluster_is_refused_and_it_still_commits() {
    let store = tempfile::tempdir().unwrap();
    let cluster = small_cluster(store.path()).await;
    let http = http_client();
    let attack = [
        (
            "/meta/v1/members/learner",
            json!({"node_id": 9, "addr": "127.0.0.1:9"}),
        ),
        ("/meta/v1/members/voters", json!({"voters": [1, 2, 3, 9]})),
        (
            "/meta/v1/write",
            json!({"CreateTopic": {"name": "x", "partitions": 1, "settings": {}, "created_at_ms": 1}}),
        ),
    ];
    let wrong = "a-secret-of-another-cluster-that-is-long-enough";
    for (path, body) in &attack {
        for token in [None, Some(wrong)] {
            let mut request = http
                .post(format!("{}{path}", cluster.metadata_url(1)))
                .timeout(Duration::from_secs(10))
                .json(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status(), 401, "{path} with {token:?}");
        }
    }
    let status = cluster
        .metadata_status(1)
        .await
        .expect("status with the secret");
    assert_eq!(status["voters"], json!([1, 2, 3]), "{status}");
    assert_eq!(status["learners"], json!([]), "{status}");
    let broker = cluster.broker_url(1);
    let http = cluster.authorized_http().expect("HTTP client");
    let created = http
        .post(format!("{broker}/v1/topics"))
        .json(&json!({"name": "after", "partitions": 1}))
        .send()
        .await
        .expect("create topic");
    assert_eq!(created.status(), 201);
    let produced: Value = http
        .post(format!("{broker}/v1/topics/after/records"))
        .json(&json!({"records": [{"value": 1}]}))
        .send()
        .await
        .expect("produce")
        .json()
        .await
        .expect("produce answer");
    assert_eq!(produced["offsets"][0]["offset"], 0, "{produced}");
    let topics: Value = http
        .get(format!("{broker}/v1/topics"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !topics.to_string().contains("\"x\""),
        "the raw command created a topic: {topics}"
    );
}
