//! Restoring a cluster from its bucket: brokers upload a backup of the metadata state every
//! second (`SILT_BACKUP_INTERVAL`); after every metadata data directory is wiped,
//! `silt restore` rebuilds one from the newest backup and the restarted cluster serves every
//! record acknowledged before that backup was taken at the offset it was acknowledged with
//! (the checker), while records acknowledged later may be missing but never sit at another
//! record's offset; new records go on after the restored ones. Bad input (an empty bucket,
//! a bucket holding another cluster's backup, a used directory, a missing local store, a
//! malformed `--node`) gets a clear error and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use silt_bookie::store::{ObjectStoreHandle, open_store};
use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client};
use silt_tests::checker::{Event, History};
use silt_tests::harness::{
    Cluster, ClusterOptions, Role, Silt, SiltOptions, get_json, http_client, s3_env, silt_binary,
};
use silt_tests::workload::{ProduceJob, produce_requests, read_back_and_check};

/// Runs `silt restore ARGS…`.
fn restore(args: &[&str]) -> Output {
    Command::new(silt_binary())
        .arg("restore")
        .args(args)
        .output()
        .unwrap()
}

/// What `output` printed, both streams.
fn printed(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{stdout}{}", String::from_utf8_lossy(&output.stderr))
}

/// The backups under the store's prefix, by index.
async fn backup_indexes(store: &ObjectStoreHandle) -> Vec<u64> {
    let root = store.prefix.clone().join("metadata");
    let listed: Vec<_> = store.store.list(Some(&root)).try_collect().await.unwrap();
    let names = listed.iter().filter_map(|meta| meta.location.filename());
    names.filter_map(silt_metadata::backup::index_of).collect()
}

/// Waits (bounded) until the bucket holds a backup taken at or after log `index`.
async fn wait_for_backup(store: &ObjectStoreHandle, index: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let newest = backup_indexes(store).await.into_iter().max();
        if newest.is_some_and(|newest| newest >= index) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no backup at or after {index}: {newest:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `requests` one-record-per-partition requests of producer `name` to `topic`.
fn job(topic: &str, name: &str, requests: u64) -> ProduceJob {
    ProduceJob {
        topic: topic.into(),
        producer: name.into(),
        partitions: 3,
        requests,
        per_request: 3,
        big_every: None,
        stop_on_error: false,
    }
}

/// Adds the records `late` sent to `history` as indeterminate: acknowledged after the
/// newest backup was taken, a restore may have lost them (each may appear once, in order,
/// or not at all).
fn add_late(history: &Arc<Mutex<History>>, late: &Arc<Mutex<History>>) {
    let mut history = history.lock().unwrap();
    for event in late.lock().unwrap().events() {
        if let Event::Invoke { id, .. } = event {
            history.record(event.clone());
            history.indeterminate(id, "acknowledged after the newest backup was taken");
        }
    }
}

/// The env of a `silt dev` uploading a backup every second.
fn dev_options(url: &str) -> SiltOptions {
    let env = [("SILT_BACKUP_INTERVAL", "1s"), ("SILT_WAL_LINGER", "2ms")];
    SiltOptions {
        object_store: Some(url.to_owned()),
        env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(),
    }
}

/// The embedded metadata node's last applied log index (it is the leader).
async fn dev_applied(silt: &Silt) -> u64 {
    let url = format!("{}/v1/cluster", silt.url);
    let cluster = get_json(&http_client(), &url).await;
    cluster["metadata"]["last_applied"]
        .as_u64()
        .unwrap_or_else(|| panic!("no metadata.last_applied in {cluster}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_dev_is_restored_from_the_bucket_with_every_backed_up_record() {
    let url = s3_env().url_for("restore-dev");
    let store = open_store(&url).unwrap();
    let old = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(old.path(), dev_options(&url));
    let client = Client::new(&silt.url).unwrap();
    Admin::new(client.clone())
        .create_topic("r", 3, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let acked = produce_requests(client.clone(), job("r", "p", 40), history.clone()).await;
    assert_eq!(acked, 120);
    wait_for_backup(&store, dev_applied(&silt).await).await;
    let late = Arc::new(Mutex::new(History::default()));
    produce_requests(client.clone(), job("r", "late", 10), late.clone()).await;
    // No clean shutdown (it would upload a final backup), and no local data left.
    silt.kill9();
    drop(old);

    let new = tempfile::tempdir().unwrap();
    let data_dir = new.path().display().to_string();
    let output = restore(&["--object-store", &url, "--data-dir", &data_dir]);
    assert!(output.status.success(), "{}", printed(&output));
    assert!(
        printed(&output).contains("restored cluster"),
        "{}",
        printed(&output)
    );
    let silt = Silt::start(new.path(), dev_options(&url));
    let client = Client::new(&silt.url).unwrap();
    add_late(&history, &late);
    let report = read_back_and_check(&client, "r", &history).await;
    assert!(report.ok(), "{report}");
    assert!(report.read >= 120, "{report}");
    // New records go on after the restored ones.
    let more = Arc::new(Mutex::new(History::default()));
    assert_eq!(
        produce_requests(client.clone(), job("r", "after", 5), more).await,
        15
    );
    let report = read_back_and_check(&client, "r", &history).await;
    assert!(
        !report.has(silt_tests::checker::ViolationKind::Lost),
        "{report}"
    );
}

/// The path of `name` (`/`-separated) under the store's prefix.
fn under(store: &ObjectStoreHandle, name: &str) -> ObjectPath {
    ObjectPath::from(format!("{}/{name}", store.prefix))
}

/// Puts `body` at `name` under the store's prefix.
async fn put(store: &ObjectStoreHandle, name: &str, body: Vec<u8>) {
    let path = under(store, name);
    store
        .store
        .put(&path, PutPayload::from(body))
        .await
        .unwrap();
}

/// `silt restore` of `url` into `dir` must fail naming `expected`, and leave `dir` absent.
fn refused(url: &str, dir: &Path, expected: &str) {
    let output = restore(&[
        "--object-store",
        url,
        "--data-dir",
        &dir.display().to_string(),
    ]);
    assert!(!output.status.success(), "{}", printed(&output));
    assert!(
        printed(&output).contains(expected),
        "{expected:?} not in {}",
        printed(&output)
    );
    assert!(!dir.exists(), "{} was written", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_bad_input_says_why_and_writes_nothing() {
    let s3 = s3_env();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");

    let empty = s3.url_for("restore-empty");
    refused(&empty, &dir, "no silt cluster at");
    let marked = s3.url_for("restore-marked");
    let marked_store = open_store(&marked).unwrap();
    put(&marked_store, "cluster", br#"{"cluster_id":"c1"}"#.to_vec()).await;
    refused(&marked, &dir, "has no metadata backup");

    // A backup of a real cluster, copied under a prefix marked by another one.
    let url = s3.url_for("restore-source");
    let source = tempfile::tempdir().unwrap();
    let mut silt = Silt::start(source.path(), dev_options(&url));
    assert!(
        silt.terminate(),
        "a clean shutdown uploads a final backup: {:?}",
        silt.output()
    );
    let store = open_store(&url).unwrap();
    let index = *backup_indexes(&store).await.last().unwrap();
    let name = format!("metadata/{}", silt_metadata::backup::object_name(index));
    let path = under(&store, &name);
    let backup = store.store.get(&path).await.unwrap().bytes().await.unwrap();
    put(&marked_store, &name, backup.to_vec()).await;
    refused(&marked, &dir, "no usable backup of cluster c1");
    put(&marked_store, &name, b"garbage".to_vec()).await;
    refused(&marked, &dir, "backup");

    let missing = work.path().join("no-such-store").display().to_string();
    refused(&missing, &dir, "is not a directory");
    assert!(!work.path().join("no-such-store").exists());
    let output = restore(&["--object-store", &url, "--data-dir", "x", "--node", "one"]);
    assert!(
        printed(&output).contains("is not ID=HOST:PORT"),
        "{}",
        printed(&output)
    );

    // A broken object named as a newer backup is passed over, with a warning.
    let junk = format!(
        "metadata/{}",
        silt_metadata::backup::object_name(u64::MAX - 1)
    );
    put(&store, &junk, b"junk".to_vec()).await;
    let fresh = work.path().join("fresh").display().to_string();
    let output = restore(&["--object-store", &url, "--data-dir", &fresh]);
    assert!(output.status.success(), "{}", printed(&output));
    assert!(
        printed(&output).contains("passed over"),
        "{}",
        printed(&output)
    );
    assert!(
        printed(&output).contains(&format!("log index {index}")),
        "{}",
        printed(&output)
    );

    std::fs::create_dir_all(dir.join("metadata")).unwrap();
    std::fs::write(dir.join("metadata").join("keep"), b"mine").unwrap();
    let output = restore(&[
        "--object-store",
        &url,
        "--data-dir",
        &dir.display().to_string(),
    ]);
    assert!(
        printed(&output).contains("is not empty"),
        "{}",
        printed(&output)
    );
    assert_eq!(
        std::fs::read(dir.join("metadata").join("keep")).unwrap(),
        b"mine"
    );
}

/// The metadata leader's last applied log index.
async fn leader_applied(cluster: &Cluster) -> u64 {
    let leader = cluster
        .wait_for_leader(Duration::from_secs(30))
        .await
        .unwrap();
    let status = cluster.metadata_status(leader).await.unwrap();
    status["last_applied"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_whose_metadata_nodes_all_lost_their_data_is_restored_from_the_bucket() {
    let env = [("SILT_BACKUP_INTERVAL", "1s"), ("SILT_WAL_LINGER", "2ms")];
    let options = ClusterOptions {
        env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::up_with("restore", options).unwrap();
    let store = open_store(cluster.object_store()).unwrap();
    let client = Client::with_config(cluster.client_config(cluster.broker_url(1))).unwrap();
    Admin::new(client.clone())
        .create_topic("r", 3, TopicConfig::default())
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let acked = produce_requests(client.clone(), job("r", "p", 30), history.clone()).await;
    assert_eq!(acked, 90);
    wait_for_backup(&store, leader_applied(&cluster).await).await;
    let late = Arc::new(Mutex::new(History::default()));
    produce_requests(client.clone(), job("r", "late", 10), late.clone()).await;
    for i in 1..=3 {
        cluster.kill9(Role::Broker, i).unwrap();
        cluster.kill9(Role::Metadata, i).unwrap();
    }
    for i in 1..=3 {
        std::fs::remove_dir_all(cluster.process_dir(Role::Metadata, i).join("data")).unwrap();
    }

    let data_dir = cluster.process_dir(Role::Metadata, 1).join("data");
    let node_url = cluster.metadata_url(1);
    let node = format!("1={}", node_url.trim_start_matches("http://"));
    let args = ["--object-store", cluster.object_store(), "--data-dir"];
    let output = restore(
        &[
            &args[..],
            &[&data_dir.display().to_string(), "--node", &node],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", printed(&output));
    cluster.start(Role::Metadata, 1).unwrap();
    for i in 1..=3 {
        cluster.start(Role::Broker, i).unwrap();
    }
    add_late(&history, &late);
    let client = Client::with_config(cluster.client_config(cluster.broker_url(2))).unwrap();
    let report = read_back_and_check(&client, "r", &history).await;
    assert!(report.ok(), "{report}\n{}", cluster.diagnostics(20));
    assert!(report.read >= 90, "{report}");
    eprintln!("restored cluster: {report}");
}
