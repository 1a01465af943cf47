//! The metadata cluster over TLS, through real processes: three `silt metadata` voters
//! serving HTTPS with certificates from a CA the test makes, reaching each other over
//! HTTPS, elect a leader; a broker given the CA (`cluster.tls_ca`) and `https://` metadata
//! URLs commits and serves records; plain HTTP to a node is never answered; a broker or a
//! `silt membership` command trusting another CA is refused, saying that the certificate
//! is not trusted and which setting to check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Producer, ProducerConfig};
use silt_tests::harness::{
    IssuedFiles, KillOnDrop, TestCa, free_port, silt_binary, strip_test_env,
};

/// 40 bytes of cluster secret.
const SECRET: &str = "metadata-tls-test-secret-0123456789abcdef";

/// One voter of `peers`, serving `files` and trusting `ca`; output to `log`.
fn metadata(id: u64, port: u16, peers: &str, dir: &Path, files: &IssuedFiles, ca: &Path) -> Child {
    let log = std::fs::File::create(dir.join(format!("meta-{id}.log"))).unwrap();
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    command
        .args(["metadata", "--id", &id.to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--peers", peers])
        .arg("--data-dir")
        .arg(dir.join(format!("meta-{id}")))
        .arg("--cluster-secret-file")
        .arg(dir.join("cluster.secret"))
        .arg("--tls-cert")
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .arg("--tls-ca")
        .arg(ca)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start silt metadata")
}

/// A `silt broker` of the cluster at `metadata`, trusting `ca`, once it listens; and its
/// URL.
fn broker(dir: &Path, name: &str, metadata: &str, ca: &Path) -> (Child, String) {
    let log = dir.join(format!("{name}.log"));
    let mut command = Command::new(silt_binary());
    strip_test_env(&mut command);
    command
        .args(["broker", "--listen", "127.0.0.1:0", "--metadata", metadata])
        .arg("--cache-dir")
        .arg(dir.join(name))
        .arg("--object-store")
        .arg(format!("file://{}", dir.join("objects").display()))
        .env("SILT_CLUSTER_SECRET_FILE", dir.join("cluster.secret"))
        .env("SILT_CLUSTER_TLS_CA", ca)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
    let mut child = command.spawn().expect("start silt broker");
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("silt broker listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        let err = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
        let exited = child.try_wait().unwrap().is_some();
        assert!(
            !exited && Instant::now() < deadline,
            "{name} did not start: {text}{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (child, url)
}

/// An HTTPS client trusting `ca` and presenting the cluster secret.
fn cluster_http(ca: &Path) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = reqwest::Certificate::from_pem_bundle(&std::fs::read(ca).unwrap()).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {SECRET}");
    headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().unwrap());
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .default_headers(headers)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Waits (bounded) until one of `ports` reports itself leader over HTTPS.
async fn wait_for_leader(http: &reqwest::Client, ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for port in ports {
            let url = format!("https://127.0.0.1:{port}/meta/v1/status");
            let Ok(answer) = http.get(&url).send().await else {
                continue;
            };
            let status: serde_json::Value = answer.json().await.unwrap_or_default();
            if status["state"] == "Leader" && status["voters"].as_array().map(Vec::len) == Some(3) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no leader over HTTPS within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_cluster_over_tls_serves_brokers_that_trust_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("cluster.secret"), SECRET).unwrap();
    let ca = TestCa::new(dir, "cluster").unwrap();
    let other = TestCa::new(dir, "other").unwrap();
    let files = ca.issue(dir, "metadata").unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port("127.0.0.1")).collect();
    let peers: Vec<String> = (0..3)
        .map(|i| format!("{}=127.0.0.1:{}", i + 1, ports[i]))
        .collect();
    let peers = peers.join(",");
    let _nodes: Vec<KillOnDrop> = (0..3)
        .map(|i| {
            KillOnDrop(metadata(
                i as u64 + 1,
                ports[i],
                &peers,
                dir,
                &files,
                &ca.ca_file,
            ))
        })
        .collect();
    wait_for_leader(&cluster_http(&ca.ca_file), &ports).await;

    // Plain HTTP to a node gets no answer.
    let plain = silt_tests::harness::http_client()
        .get(format!("http://127.0.0.1:{}/meta/v1/status", ports[0]))
        .bearer_auth(SECRET)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // A broker trusting the CA commits and serves records.
    let metadata = ports
        .iter()
        .map(|p| format!("https://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let (good, url) = broker(dir, "broker-good", &metadata, &ca.ca_file);
    let _good = KillOnDrop(good);
    let client = Client::new(url.clone()).unwrap();
    Admin::new(client.clone())
        .create_topic("over-tls", 1, TopicConfig::default())
        .await
        .unwrap();
    let producer = Producer::new(client, "over-tls", ProducerConfig::default());
    let record = ProduceRecord {
        value: Some(serde_json::json!("committed through https")),
        ..ProduceRecord::default()
    };
    let ack = producer.send(record).await.unwrap().await.unwrap();
    assert_eq!(ack.offset, 0);

    // A broker trusting another CA reaches no node, and says why.
    let (bad, bad_url) = broker(dir, "broker-bad", &metadata, &other.ca_file);
    let _bad = KillOnDrop(bad);
    let config = ClientConfig {
        max_attempts: 1,
        ..ClientConfig::new(bad_url)
    };
    let error = Admin::new(Client::with_config(config).unwrap())
        .create_topic("never", 1, TopicConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("certificate") && error.contains("cluster.tls_ca"),
        "{error}"
    );

    // `silt membership show` with the right CA is served; with another, refused clearly.
    let https = format!("https://127.0.0.1:{}", ports[0]);
    let membership = |ca: &Path| {
        let mut command = Command::new(silt_binary());
        strip_test_env(&mut command);
        command
            .args(["membership", "show", "--metadata", &https])
            .arg("--cluster-secret-file")
            .arg(dir.join("cluster.secret"))
            .arg("--tls-ca")
            .arg(ca)
            .output()
            .unwrap()
    };
    let shown = membership(&ca.ca_file);
    assert!(shown.status.success(), "{shown:?}");
    assert!(String::from_utf8_lossy(&shown.stdout).contains("voters"));
    let refused = membership(&other.ca_file);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("certificate") && stderr.contains("--tls-ca"),
        "{stderr}"
    );
}
