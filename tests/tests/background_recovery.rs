//! Start-up recovery runs in the background: a broker restarted with a sealed segment in
//! its spool while the metadata service is down starts and answers `/healthz` instead of
//! failing start-up (and crash-looping), and once the metadata service is back the segment
//! is committed, exactly once. A spool left by another cluster (a reused cache directory) is
//! never committed into the new cluster's topics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use silt_tests::harness::{get_json, http_client, silt_binary, strip_test_env};

/// A `silt` child process, killed on drop, with its output lines.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Spawns `silt ARGS` with `env` and waits (bounded) for a line starting with `ready`;
    /// returns the process and the rest of that line.
    fn start(args: &[&str], env: &[(&str, &str)], ready: &str) -> (Proc, String) {
        let mut command = Command::new(silt_binary());
        command
            .args(args)
            .env("SILT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        strip_test_env(&mut command);
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut proc = Proc { child, lines };
        let rest = proc.wait_for_line(ready, args);
        (proc, rest)
    }

    /// The rest of the first line starting with `prefix`, within 60 s.
    fn wait_for_line(&mut self, prefix: &str, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix(prefix) {
                    Some(rest) => return rest.to_owned(),
                    None => seen.push(line),
                },
                Err(_) => panic!(
                    "silt {args:?} did not print {prefix:?} within 60 s (exit: {:?}); output:\n{}",
                    self.child.try_wait(),
                    seen.join("\n")
                ),
            }
        }
    }

    /// Waits (bounded) for the process to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `silt metadata`, one node on `port`, its data under `dir`.
fn metadata(port: u16, dir: &Path) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let peers = format!("1={listen}");
    let data = dir.join("meta").display().to_string();
    let args = [
        "metadata",
        "--id",
        "1",
        "--listen",
        &listen,
        "--peers",
        &peers,
        "--data-dir",
        &data,
    ];
    Proc::start(&args, &[], "silt metadata node").0
}

/// `silt broker` against the metadata node on `port`; returns it and its URL.
fn broker(port: u16, dir: &Path, env: &[(&str, &str)]) -> (Proc, String) {
    let metadata = format!("http://127.0.0.1:{port}");
    let cache = dir.join("cache").display().to_string();
    let objects = format!("file://{}", dir.join("objects").display());
    let args = [
        "broker",
        "--metadata",
        &metadata,
        "--listen",
        "127.0.0.1:0",
        "--cache-dir",
        &cache,
        "--object-store",
        &objects,
    ];
    let (proc, rest) = Proc::start(&args, env, "silt broker listening on ");
    let url = rest.split_whitespace().next().unwrap().to_owned();
    (proc, url)
}

/// A client that does not retry, so a crash shows up as a failed request.
fn no_retry(url: &str) -> Client {
    Client::with_config(ClientConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::new(url)
    })
    .unwrap()
}

/// Segment files in the broker's spool.
fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("cache").join("wal"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
                .count()
        })
        .unwrap_or(0)
}

/// Leaves a sealed, uploaded, uncommitted segment of `records` records of topic `t` in the
/// broker's spool (the fail point aborts the broker between upload and commit).
async fn leave_a_spooled_segment(port: u16, dir: &Path, records: usize) {
    let (mut crashing, url) = broker(port, dir, &[("SILT_FAILPOINTS", "commit.before_send")]);
    let client = no_retry(&url);
    Admin::new(client.clone())
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let producer = Producer::new(client, "t", ProducerConfig::default());
    let batch = (0..records)
        .map(|i| ProduceRecord {
            value: Some(json!(format!("r{i}"))),
            ..ProduceRecord::default()
        })
        .collect();
    assert!(producer.send_batch(batch).await.is_err());
    assert!(
        crashing.wait_exit(Duration::from_secs(20)),
        "the fail point did not stop the broker"
    );
    assert_eq!(spool_files(dir), 1);
}

/// Polls partition 0's high watermark of `t` until it is `expected` (bounded).
async fn wait_for_high_watermark(url: &str, expected: u64) {
    let admin = Admin::new(Client::new(url).unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(topic) = admin.describe_topic("t").await {
            last = Some(topic.partitions[0].high_watermark);
            if last == Some(expected) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("high watermark never reached {expected} (last seen {last:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_a_spooled_segment_starts_while_metadata_is_down_and_commits_it_once_it_returns()
 {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let meta = metadata(port, dir.path());
    leave_a_spooled_segment(port, dir.path(), 5).await;
    drop(meta);

    // Metadata is down: the broker must start and be live anyway.
    let (_broker, url) = broker(port, dir.path(), &[]);
    let health = http_client()
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(spool_files(dir.path()), 1, "nothing can commit yet");

    // Metadata is back: the spooled segment is committed, exactly once.
    let _meta = metadata(port, dir.path());
    wait_for_high_watermark(&url, 5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while spool_files(dir.path()) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        spool_files(dir.path()),
        0,
        "the recovered spool file was not removed"
    );
    let consumer = Consumer::new(
        Client::new(&url).unwrap(),
        "t",
        0,
        0,
        ConsumerConfig {
            wait: Duration::ZERO,
            ..Default::default()
        },
    );
    let all = consumer.fetch(0, Duration::ZERO).await.unwrap();
    let values: Vec<_> = all.records.iter().map(|r| r.value.clone()).collect();
    let expected: Vec<_> = (0..5).map(|i| Some(json!(format!("r{i}")))).collect();
    assert_eq!(values, expected);
    wait_for_high_watermark(&url, 5).await;
}

/// Segment files set aside in `foreign-*` folders of the broker's spool.
fn foreign_files(dir: &Path) -> usize {
    let wal = dir.join("cache").join("wal");
    let folders = std::fs::read_dir(wal)
        .into_iter()
        .flatten()
        .filter_map(Result::ok);
    let foreign = folders.filter(|e| e.file_name().to_string_lossy().starts_with("foreign-"));
    foreign
        .filter_map(|folder| std::fs::read_dir(folder.path()).ok())
        .map(|files| files.filter_map(Result::ok).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_left_by_another_cluster_is_never_committed() {
    let old = tempfile::tempdir().unwrap();
    let old_port = free_port();
    let old_meta = metadata(old_port, old.path());
    leave_a_spooled_segment(old_port, old.path(), 3).await;
    drop(old_meta);

    // A new cluster (fresh metadata directory) whose topic `t` gets the old topic's id.
    let new = tempfile::tempdir().unwrap();
    let port = free_port();
    let _meta = metadata(port, new.path());
    let (helper, url) = broker(port, new.path(), &[]);
    let admin = Admin::new(Client::new(&url).unwrap());
    let topic = admin.create_topic("t", 1, TopicConfig::default()).await;
    assert_eq!(topic.unwrap().id, 1, "the old cluster's topic had id 1 too");
    drop(helper);

    // A broker of the new cluster on the old cluster's cache directory.
    let (_broker, url) = broker(port, old.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while spool_files(old.path()) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        spool_files(old.path()),
        0,
        "recovery never took the old file"
    );
    let producer = Producer::new(Client::new(&url).unwrap(), "t", ProducerConfig::default());
    let record = ProduceRecord {
        value: Some(json!("new")),
        ..ProduceRecord::default()
    };
    let ack = producer.send(record).await.unwrap().await.unwrap();
    let consumer = Consumer::new(
        Client::new(&url).unwrap(),
        "t",
        0,
        0,
        ConsumerConfig::default(),
    );
    let values: Vec<_> = consumer.fetch(0, Duration::ZERO).await.unwrap().records;
    let values: Vec<_> = values.into_iter().map(|r| r.value).collect();
    assert_eq!(
        (ack.offset, values),
        (0, vec![Some(json!("new"))]),
        "the old cluster's records were committed into the new cluster's topic"
    );
    assert_eq!(
        foreign_files(old.path()),
        1,
        "the old file was not set aside"
    );
    let stamp = wait_for_stamp(old.path()).await;
    let cluster = get_json(&http_client(), &format!("{url}/v1/cluster")).await;
    assert_eq!(cluster["cluster_id"], json!(stamp), "{cluster}");
}

/// The cluster id the broker's spool is stamped with, once it is (bounded).
async fn wait_for_stamp(dir: &Path) -> String {
    let stamp = dir.join("cache").join("wal").join("cluster-id");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(id) = std::fs::read_to_string(&stamp) {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the spool was never stamped with a cluster id");
}
