//! Bounded metadata through a real `silt dev`: with snapshots taken every few entries
//! (`SILT_METADATA_SNAPSHOT_ENTRIES`), several snapshots are built while producers write,
//! the newest is in the binary encoding, and after a `kill -9` and a restart from it (and
//! the log after it) every acknowledged record reads back, with a clean history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client};
use silt_tests::checker::History;
use silt_tests::harness::{Silt, SiltOptions};
use silt_tests::workload::{ProduceJob, produce_requests, read_back_and_check};

/// The newest snapshot file of the embedded metadata node under `data_dir`, if any.
fn newest_snapshot(data_dir: &Path) -> Option<PathBuf> {
    let dir = data_dir.join("metadata").join("snapshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "snap"))
        .collect();
    files.sort();
    files.pop()
}

/// The log index + 1 a snapshot file name carries (`snapshot-<20 digits>.snap`).
fn snapshot_key(path: &Path) -> u64 {
    let name = path.file_stem().unwrap().to_string_lossy();
    name.trim_start_matches("snapshot-").parse().unwrap()
}

/// Waits (bounded) until the newest snapshot covers at least `index` entries.
fn wait_for_snapshot(data_dir: &Path, index: u64) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(path) = newest_snapshot(data_dir).filter(|p| snapshot_key(p) >= index) {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot covering {index} entries; newest: {:?}",
            newest_snapshot(data_dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_several_snapshots_reads_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let options = SiltOptions {
        object_store: None,
        env: vec![
            ("SILT_WAL_LINGER".into(), "1ms".into()),
            ("SILT_METADATA_SNAPSHOT_ENTRIES".into(), "20".into()),
        ],
    };
    let mut silt = Silt::start(dir.path(), options.clone());
    let client = Client::new(&silt.url).unwrap();
    Admin::new(client.clone())
        .create_topic("snap", 3, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let job = ProduceJob {
        topic: "snap".into(),
        producer: "p".into(),
        partitions: 3,
        requests: 150,
        per_request: 4,
        big_every: None,
        stop_on_error: false,
    };
    let acknowledged = produce_requests(client.clone(), job, history.clone()).await;
    assert_eq!(acknowledged, 600);
    // One entry per commit at least: 150 commits passed several snapshot thresholds.
    let snapshot = wait_for_snapshot(dir.path(), 100);
    let bytes = std::fs::read(&snapshot).unwrap();
    let data = bytes.splitn(3, |b| *b == b'\n').nth(2).unwrap();
    assert!(data.starts_with(b"SILTSNAP\x01"), "{snapshot:?}");
    silt.kill9();
    silt.restart(options.env.clone());
    let client = Client::new(&silt.url).unwrap();
    let report = read_back_and_check(&client, "snap", &history).await;
    assert!(report.ok(), "{report}");
    assert_eq!(report.read, 600, "{report}");
}
