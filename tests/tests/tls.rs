//! Broker TLS through real `silt dev` processes with certificates the test makes
//! ([`TestCa`]): the SDK, the CLI and `silt-loadgen` reach an `https://` broker when given
//! the CA, and fail with a clear error naming the fix when not; a renewed certificate is
//! served without a restart; the plain-HTTP listener is loopback only; a client that
//! connects and never finishes its handshake is cut off; bad TLS settings refuse to start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Error, Producer, ProducerConfig};
use silt_tests::harness::{IssuedFiles, Silt, SiltOptions, TestCa, silt_binary};

/// The settings of a broker serving `files`, plus `extra`.
fn tls_env(files: &IssuedFiles, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("SILT_SERVER_TLS_CERT".to_owned(), path(&files.cert)),
        ("SILT_SERVER_TLS_KEY".to_owned(), path(&files.key)),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// `path` as a string.
fn path(path: &Path) -> String {
    path.display().to_string()
}

/// A `silt dev` in `dir` with `env`.
fn start(dir: &Path, env: Vec<(String, String)>) -> Silt {
    Silt::start(
        &dir.join("data"),
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// An SDK admin for `url` trusting only `ca` (or the system's roots).
fn admin(url: &str, ca: Option<&Path>) -> Admin {
    let config = ClientConfig {
        ca_file: ca.map(Path::to_path_buf),
        max_attempts: 1,
        ..ClientConfig::new(url)
    };
    Admin::new(Client::with_config(config).unwrap())
}

/// Runs `silt ARGS` with `env`; whether it succeeded, and what it printed.
fn silt_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(silt_binary());
    command
        .args(args)
        .env_remove("SILT_TOKEN")
        .env_remove("SILT_CA_FILE");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_cli_and_loadgen_reach_an_https_broker_through_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "one").unwrap();
    let files = ca.issue(dir.path(), "broker").unwrap();
    let silt = start(dir.path(), tls_env(&files, &[]));
    assert!(silt.url.starts_with("https://127.0.0.1:"), "{}", silt.url);
    let url = silt.url.as_str();

    let admin = admin(url, Some(&ca.ca_file));
    admin
        .create_topic("tls", 1, TopicConfig::default())
        .await
        .unwrap();
    let client = Client::with_config(ClientConfig {
        ca_file: Some(ca.ca_file.clone()),
        ..ClientConfig::new(url)
    })
    .unwrap();
    let producer = Producer::new(client, "tls", ProducerConfig::default());
    let record = ProduceRecord {
        value: Some(serde_json::json!("over tls")),
        ..ProduceRecord::default()
    };
    let ack = producer.send(record).await.unwrap().await.unwrap();
    assert_eq!(ack.offset, 0);

    let ca_file = path(&ca.ca_file);
    let (ok, text) = silt_cli(
        &["topic", "list", "--broker", url, "--ca-file", &ca_file],
        &[],
    );
    assert!(ok && text.contains("tls"), "{text}");
    let (ok, text) = silt_cli(
        &["cluster", "status", "--broker", url],
        &[("SILT_CA_FILE", &ca_file)],
    );
    assert!(ok && text.contains("broker_id"), "{text}");
    let (ok, text) = silt_cli(
        &[
            "consume",
            "tls",
            "--from-beginning",
            "--exit-at-end",
            "--broker",
            url,
            "--ca-file",
            &ca_file,
        ],
        &[],
    );
    assert!(ok && text.contains("over tls"), "{text}");

    let loadgen = loadgen_binary();
    let out = Command::new(&loadgen)
        .args(["--broker", url, "--ca-file", &ca_file, "latency"])
        .args(["--topic", "tls-lat", "--count", "20"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");

    // Plain HTTP on the TLS port is refused, never served.
    let plain = url.replace("https://", "http://");
    let answer = silt_tests::harness::http_client()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(
        answer.is_err() || !answer.as_ref().unwrap().status().is_success(),
        "{answer:?}"
    );
}

/// `silt-loadgen`, next to the `silt` binary.
fn loadgen_binary() -> PathBuf {
    let silt = silt_binary();
    silt.with_file_name("silt-loadgen")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_right_ca_fails_with_an_error_that_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "right").unwrap();
    let other = TestCa::new(dir.path(), "other").unwrap();
    let files = ca.issue(dir.path(), "broker").unwrap();
    let silt = start(dir.path(), tls_env(&files, &[]));
    let url = silt.url.as_str();

    for trusted in [Some(other.ca_file.as_path()), None] {
        let error = admin(url, trusted).list_topics().await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Tls { .. }), "{error:?}");
        assert!(text.contains("certificate"), "{text}");
        assert!(
            text.contains("ca_file") && text.contains("--ca-file"),
            "{text}"
        );
        assert!(!error.is_retryable(), "{text}");
    }
    let (ok, text) = silt_cli(
        &[
            "topic",
            "list",
            "--broker",
            url,
            "--ca-file",
            &path(&other.ca_file),
        ],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("TLS with") && text.contains("UnknownIssuer") && text.contains("--ca-file"),
        "{text}"
    );

    // A CA file that is no CA file is refused before any request.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let config = ClientConfig {
        ca_file: Some(garbage),
        ..ClientConfig::new(url)
    };
    let error = Client::with_config(config).unwrap_err().to_string();
    assert!(
        error.contains("garbage.pem") && error.contains("no PEM certificate"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new(dir.path(), "old").unwrap();
    let new_ca = TestCa::new(dir.path(), "new").unwrap();
    let live = IssuedFiles {
        cert: dir.path().join("live.crt"),
        key: dir.path().join("live.key"),
    };
    let old = old_ca.issue(dir.path(), "old").unwrap();
    std::fs::copy(&old.cert, &live.cert).unwrap();
    std::fs::copy(&old.key, &live.key).unwrap();
    let silt = start(
        dir.path(),
        tls_env(&live, &[("SILT_SERVER_TLS_RELOAD_INTERVAL", "100ms")]),
    );
    let url = silt.url.as_str();
    admin(url, Some(&old_ca.ca_file))
        .list_topics()
        .await
        .unwrap();

    // A half-done replacement (the new key beside the old certificate) is refused and the
    // old certificate stays in force.
    let new = new_ca.issue(dir.path(), "new").unwrap();
    replace(&new.key, &live.key);
    wait_for_metric(
        url,
        &old_ca.ca_file,
        "silt_tls_reloads_total{outcome=\"error\"}",
    )
    .await;
    admin(url, Some(&old_ca.ca_file))
        .list_topics()
        .await
        .unwrap();

    replace(&new.cert, &live.cert);
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin(url, Some(&new_ca.ca_file))
        .list_topics()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error = admin(url, Some(&old_ca.ca_file))
        .list_topics()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
}

/// Replaces `to` with a copy of `from` in one rename.
fn replace(from: &Path, to: &Path) {
    let staged = to.with_extension("staged");
    std::fs::copy(from, &staged).unwrap();
    std::fs::rename(&staged, to).unwrap();
}

/// Waits (bounded) until `sample` on the broker's `/metrics` is at least 1.
async fn wait_for_metric(url: &str, ca: &Path, sample: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(ca).unwrap();
    let roots = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only(roots)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while silt_tests::harness::metric(&http, url, sample).await < 1 {
        assert!(Instant::now() < deadline, "{sample} never counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_finishes_its_handshake_is_closed() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "one").unwrap();
    let files = ca.issue(dir.path(), "broker").unwrap();
    let env = tls_env(&files, &[("SILT_SERVER_HEADER_READ_TIMEOUT", "500ms")]);
    let silt = start(dir.path(), env);
    let addr = silt.url.trim_start_matches("https://").to_owned();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0_u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(20), idle.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the silent connection stayed open: {read:?}"
    );
    wait_for_metric(
        &silt.url,
        &ca.ca_file,
        "silt_tls_handshakes_total{outcome=\"timeout\"}",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_listener_serves_loopback_beside_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "one").unwrap();
    let files = ca.issue(dir.path(), "broker").unwrap();
    let env = tls_env(&files, &[("SILT_SERVER_PLAIN_LISTEN", "127.0.0.1:0")]);
    let silt = start(dir.path(), env);
    let deadline = Instant::now() + Duration::from_secs(20);
    let plain = loop {
        let line = silt
            .output()
            .into_iter()
            .find_map(|l| l.strip_prefix("plain HTTP also on ").map(str::to_owned));
        if let Some(line) = line {
            break line.split_whitespace().next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no plain listener announced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(plain.starts_with("http://127.0.0.1:"), "{plain}");
    let topics = admin(&plain, None).list_topics().await.unwrap();
    assert!(topics.is_empty());
}

/// Settings given to `silt dev`, and what its refusal must say.
type Case<'a> = (Vec<(&'a str, String)>, &'a [&'a str]);

#[test]
fn bad_tls_settings_refuse_to_start_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "one").unwrap();
    let files = ca.issue(dir.path(), "broker").unwrap();
    let other = ca.issue(dir.path(), "other").unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let data = path(&dir.path().join("data"));
    let dev = [
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.as_str(),
    ];
    let (cert, key) = (path(&files.cert), path(&files.key));
    let cases: [Case; 5] = [
        (
            vec![("SILT_SERVER_TLS_CERT", cert.clone())],
            &["server.tls_cert and server.tls_key"],
        ),
        (
            vec![
                ("SILT_SERVER_TLS_CERT", path(&garbage)),
                ("SILT_SERVER_TLS_KEY", key.clone()),
            ],
            &["garbage.pem", "no PEM certificate"],
        ),
        (
            vec![
                ("SILT_SERVER_TLS_CERT", cert.clone()),
                ("SILT_SERVER_TLS_KEY", path(&other.key)),
            ],
            &["other.key", "broker.crt"],
        ),
        (
            vec![
                ("SILT_SERVER_TLS_CERT", cert.clone()),
                ("SILT_SERVER_TLS_KEY", key.clone()),
                ("SILT_SERVER_PLAIN_LISTEN", "0.0.0.0:0".to_owned()),
            ],
            &["server.plain_listen", "loopback"],
        ),
        (
            vec![("SILT_SERVER_PLAIN_LISTEN", "127.0.0.1:0".to_owned())],
            &["server.plain_listen", "server.tls_cert"],
        ),
    ];
    for (env, expected) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ok, text) = silt_cli(&dev, &env);
        assert!(!ok, "{env:?} started: {text}");
        for needle in expected {
            assert!(text.contains(needle), "{env:?}: no {needle:?} in {text}");
        }
    }
}
