//! The lifecycle race (issue 13): garbage collection, retention, a broker that stops
//! between its upload and its commit for longer than the commit horizon, readers at the old
//! start offset, and broker crashes, all at once on a real cluster (3 metadata nodes, 3
//! brokers, `infra/local-cluster.sh`) on the shared S3-compatible server.
//!
//! Settings: retention 3 s of data checked every second, a GC round every second with a
//! 3 s grace (and so a 3 s request timeout), a metadata backup every second (the collector
//! deletes a released object only after a backup newer than its release), and a 4 s commit horizon
//! (`SILT_TEST_COMMIT_HORIZON_MS`, honoured by test builds only; every process gets the
//! same environment, so every metadata node applies the same horizon). The workload: an
//! idempotent producer on every broker (a new producer after any failed send), a tailing
//! reader per partition that jumps to the new start when told its position was trimmed (a
//! `reset` in the history), readers that keep fetching offset 0 (the first start), broker 1
//! and 2 crashing (`kill -9`, restart) in turn, and an index check every half second: every
//! object an index entry references (a paged metadata read) is in the bucket.
//!
//! The late commit: broker 3 is restarted with the fail point `upload.after_put:stop`, one
//! request to the topic `late` makes it upload a segment and stop itself (SIGSTOP) before
//! committing; the test waits until garbage collection on another broker deletes that
//! upload as an unreferenced listing find (so the pause is longer than the horizon plus the
//! grace), then resumes it (SIGCONT). The commit must be refused: the request gets an
//! error, broker 3 logs the refusal, and `late` stays empty.
//!
//! At the end: the checker (start moves allowed) finds no violation, no referenced object
//! was ever missing, and the figures are printed. `SILT_TEST_LIFECYCLE_SECS` sets the run
//! length (default 40 s; e.g. 600 for a longer run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silt_bookie::store::{ObjectStoreHandle, open_store};
use silt_metadata::{ClusterSecret, HttpClient, MetadataClient};
use silt_sdk::wire::{ErrorCode, FetchedRecord, TopicConfig, TopicConfigPatch};
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig, Error, Producer, ProducerConfig};
use silt_tests::checker::{History, Read, Report};
use silt_tests::harness::{Cluster, ClusterOptions, Role};
use silt_tests::lifecycle::{exists, segments, wait_until};
use silt_tests::workload::{SharedHistory, read_of, record};

/// The topic of the workload.
const TOPIC: &str = "race";
/// The topic only the late request writes to.
const LATE_TOPIC: &str = "late";
/// Partitions of [`TOPIC`].
const PARTITIONS: u32 = 3;
/// Brokers in the cluster.
const BROKERS: usize = 3;
/// The broker that stops between its upload and its commit.
const LATE_BROKER: usize = 3;
/// The fail point that stops it there.
const STOP_AFTER_UPLOAD: &str = "upload.after_put:stop";
/// Records per produce request.
const PER_REQUEST: u64 = 5;
/// The longest any single wait of the test may take.
const WAIT: Duration = Duration::from_secs(180);

/// The settings every process of the cluster runs with.
fn cluster_env() -> Vec<(String, String)> {
    [
        ("SILT_RETENTION_CHECK_INTERVAL", "1s"),
        ("SILT_GC_INTERVAL", "1s"),
        ("SILT_GC_GRACE", "3s"),
        // The collector deletes a released object only after a metadata backup newer than
        // its release.
        ("SILT_BACKUP_INTERVAL", "1s"),
        ("SILT_SERVER_REQUEST_TIMEOUT", "3s"),
        ("SILT_TEST_COMMIT_HORIZON_MS", "4000"),
        ("SILT_WAL_LINGER", "5ms"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}

/// The run length: `SILT_TEST_LIFECYCLE_SECS`, default 40 s.
fn run_length() -> Duration {
    let secs = std::env::var("SILT_TEST_LIFECYCLE_SECS").ok();
    Duration::from_secs(secs.and_then(|s| s.parse().ok()).unwrap_or(40))
}

/// Everything the concurrent tasks share.
struct Race {
    cluster: Cluster,
    history: SharedHistory,
    store: ObjectStoreHandle,
    metadata: HttpClient,
    stop: AtomicBool,
    /// Whether the producer on broker i + 1 may send.
    producing: [AtomicBool; BROKERS],
    /// Whether the producer on broker i + 1 has a generation running.
    busy: [AtomicBool; BROKERS],
    /// Fetch errors that are neither a moved start nor a broker being unreachable.
    unexpected: Mutex<Vec<String>>,
    /// Index checks that completed.
    index_checks: AtomicU64,
    /// Objects an index entry referenced while the bucket did not have them.
    missing: Mutex<BTreeSet<String>>,
    /// Every segment object a listing saw.
    seen: Mutex<BTreeSet<String>>,
}

impl Race {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// A client of broker `i`, failing over to the others when `failover`.
    fn client(&self, i: usize, failover: bool) -> Client {
        let mut config = self.cluster.client_config(self.cluster.broker_url(i));
        config.request_timeout = Duration::from_secs(5);
        config.max_attempts = 3;
        if failover {
            let others = (1..=BROKERS).filter(|b| *b != i);
            config.failover_urls = others.map(|b| self.cluster.broker_url(b)).collect();
        }
        Client::with_config(config).unwrap()
    }

    fn observed(&self, reader: &str, partition: u32, records: &[FetchedRecord]) {
        let mut history = self.history.lock().unwrap();
        for record in records {
            history.observed(reader, read_of(partition, record));
        }
    }

    /// Notes a fetch error unless it is a broker being unreachable or busy.
    fn fetch_failed(&self, reader: &str, error: &Error) {
        let transient = [
            ErrorCode::Unavailable,
            ErrorCode::Timeout,
            ErrorCode::Throttled,
        ];
        if error.code().is_some_and(|code| !transient.contains(&code)) {
            let note = format!("{reader}: {error}");
            self.unexpected.lock().unwrap().push(note);
        }
    }

    fn fault(&self, description: &str) {
        println!("{description}");
        self.history.lock().unwrap().fault(description);
    }
}

/// One idempotent producer after another on broker `i` until the run ends.
async fn produce_on(race: Arc<Race>, i: usize) {
    let mut generation = 0;
    while !race.stopped() {
        if !race.producing[i - 1].load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        race.busy[i - 1].store(true, Ordering::SeqCst);
        produce_generation(&race, i, &format!("p{i}-g{generation}")).await;
        race.busy[i - 1].store(false, Ordering::SeqCst);
        generation += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One producer sending request after request until a send fails (its outcome then stays
/// unknown) or it is told to stop.
async fn produce_generation(race: &Race, i: usize, name: &str) {
    race.history.lock().unwrap().producer(name, true);
    let config = ProducerConfig {
        idempotent: true,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(race.client(i, false), TOPIC, config);
    let mut sequence = 0;
    while !race.stopped() && race.producing[i - 1].load(Ordering::SeqCst) {
        let mut records = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..PER_REQUEST {
            let (produced, sent) = record(name, sequence, PARTITIONS, false);
            sequence += 1;
            ids.push(sent.id.clone());
            race.history.lock().unwrap().sent(sent);
            records.push(produced);
        }
        let Ok(offsets) = producer.send_batch(records).await else {
            return;
        };
        let mut history = race.history.lock().unwrap();
        for (id, offset) in ids.iter().zip(offsets) {
            history.acknowledged(id, offset.partition, offset.offset);
        }
    }
}

/// A consumer of `partition` at `offset` through every broker.
fn consumer(race: &Race, partition: u32, offset: u64, wait: Duration) -> Consumer {
    let broker = 1 + partition as usize % BROKERS;
    let config = ConsumerConfig {
        wait,
        max_bytes: 1 << 20,
        ..ConsumerConfig::default()
    };
    Consumer::new(race.client(broker, true), TOPIC, partition, offset, config)
}

/// Tails `partition` from offset 0; told its position was trimmed, resumes at the start.
async fn tail(race: Arc<Race>, partition: u32) {
    let reader = format!("tail-{partition}");
    let mut consumer = consumer(&race, partition, 0, Duration::from_millis(500));
    while !race.stopped() {
        match consumer.poll().await {
            Ok(records) => race.observed(&reader, partition, &records),
            Err(error) => match consumer.reset_if_trimmed(&error).await {
                Ok(Some(start)) => race
                    .history
                    .lock()
                    .unwrap()
                    .reset(&reader, partition, start),
                _ => {
                    race.fetch_failed(&reader, &error);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
    }
}

/// Fetches offset 0, the first start, of each partition again and again, each time as a
/// new reader: records while it is still there, else a reset and one fetch at the start.
async fn read_old_start(race: Arc<Race>) {
    let mut probe = 0;
    while !race.stopped() {
        for partition in 0..PARTITIONS {
            read_offset_zero(&race, &format!("old-start-{probe}"), partition).await;
            probe += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One reader at offset 0: the records there, or resets to the start (again if a trim
/// races it) and the records at the start.
async fn read_offset_zero(race: &Race, reader: &str, partition: u32) {
    let mut consumer = consumer(race, partition, 0, Duration::ZERO);
    for _ in 0..3 {
        let error = match consumer.poll().await {
            Ok(records) => return race.observed(reader, partition, &records),
            Err(error) => error,
        };
        let Ok(Some(start)) = consumer.reset_if_trimmed(&error).await else {
            return race.fetch_failed(reader, &error);
        };
        race.history.lock().unwrap().reset(reader, partition, start);
    }
}

/// Every object an index entry references, read a page at a time.
async fn referenced(metadata: &HttpClient) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = metadata
            .referenced_objects(after.as_deref(), 1000)
            .await
            .ok()?;
        let full = page.len() == 1000;
        after = page.last().cloned();
        names.extend(page);
        if !full {
            return Some(names);
        }
    }
}

/// One index check: an object referenced before and after a listing must be in it (an
/// object is never referenced again once released, so it was referenced throughout).
async fn check_index_once(race: &Race) {
    let Some(before) = referenced(&race.metadata).await else {
        return;
    };
    let listed = segments(&race.store).await;
    race.seen.lock().unwrap().extend(listed.iter().cloned());
    let absent: Vec<&String> = before.difference(&listed).collect();
    if !absent.is_empty() {
        let Some(after) = referenced(&race.metadata).await else {
            return;
        };
        let missing = absent.into_iter().filter(|name| after.contains(*name));
        race.missing.lock().unwrap().extend(missing.cloned());
    }
    race.index_checks.fetch_add(1, Ordering::SeqCst);
}

/// Checks the index against the bucket every half second until the run ends.
async fn check_index(race: Arc<Race>) {
    while !race.stopped() {
        check_index_once(&race).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Crashes brokers 1 and 2 in turn (`kill -9`, restart) every 8 s until the run ends.
async fn crash_brokers(race: Arc<Race>) {
    let mut victim = 1;
    loop {
        for _ in 0..80 {
            if race.stopped() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        race.fault(&format!("kill -9 broker {victim}"));
        let crashing = race.clone();
        tokio::task::spawn_blocking(move || {
            crashing.cluster.kill9(Role::Broker, victim).unwrap();
            crashing.cluster.start(Role::Broker, victim).unwrap();
        })
        .await
        .unwrap();
        race.fault(&format!("broker {victim} restarted"));
        victim = 3 - victim;
    }
}

/// The object broker `i` stopped after uploading, from its log.
fn stopped_after_upload(race: &Race, i: usize) -> Option<String> {
    let log = std::fs::read_to_string(race.cluster.process_dir(Role::Broker, i).join("log"));
    let marker = format!("fail point {STOP_AFTER_UPLOAD} reached (");
    let line = log.ok()?.lines().find(|l| l.contains(&marker))?.to_owned();
    let rest = line.split_once(&marker)?.1;
    Some(rest.split_once(')')?.0.to_owned())
}

/// Sends one request of `late-N` records to broker `i`'s `late` topic and waits (long)
/// for the answer: the status and the body.
async fn send_late(race: &Race, i: usize) -> (u16, String) {
    let records: Vec<_> = (0..PER_REQUEST)
        .map(|n| serde_json::json!({"value": format!("late-{n}"), "partition": 0}))
        .collect();
    let url = format!(
        "{}/v1/topics/{LATE_TOPIC}/records",
        race.cluster.broker_url(i)
    );
    let request = race.cluster.authorized_http().unwrap().post(url);
    let request = request.json(&serde_json::json!({ "records": records }));
    let response = request
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Broker `i` stops between its upload and its commit, stays stopped until garbage
/// collection deleted the upload, and its late commit is refused. Returns the answer of the
/// late request.
async fn late_commit(race: &Arc<Race>, i: usize) -> (u16, String) {
    race.producing[i - 1].store(false, Ordering::SeqCst);
    wait_until("the producer on the late broker is idle", WAIT, || async {
        !race.busy[i - 1].load(Ordering::SeqCst)
    })
    .await;
    race.fault(&format!("restart broker {i} with {STOP_AFTER_UPLOAD}"));
    let restarting = race.clone();
    tokio::task::spawn_blocking(move || {
        let cluster = &restarting.cluster;
        cluster.stop(Role::Broker, i).unwrap();
        let failpoint = [("SILT_FAILPOINTS", STOP_AFTER_UPLOAD)];
        cluster.start_with_env(Role::Broker, i, &failpoint).unwrap();
    })
    .await
    .unwrap();
    let sending = race.clone();
    let answer = tokio::spawn(async move { send_late(&sending, i).await });
    let object = wait_for_stop(race, i).await;
    let path = object_store::path::Path::from(object.as_str());
    wait_until(
        "garbage collection deletes the stopped broker's upload",
        WAIT,
        || exists_not(&race.store, &path),
    )
    .await;
    race.fault(&format!("upload {object} deleted; SIGCONT broker {i}"));
    race.cluster.resume(Role::Broker, i).unwrap();
    let answer = answer.await.unwrap();
    race.producing[i - 1].store(true, Ordering::SeqCst);
    answer
}

async fn exists_not(store: &ObjectStoreHandle, path: &object_store::path::Path) -> bool {
    !exists(store, path).await
}

/// Waits until broker `i` stopped itself at the fail point; the object it uploaded.
async fn wait_for_stop(race: &Race, i: usize) -> String {
    wait_until("the late broker stops after its upload", WAIT, || async {
        race.cluster.is_stopped(Role::Broker, i)
    })
    .await;
    let object = stopped_after_upload(race, i).expect("the fail point names the object");
    race.fault(&format!("broker {i} stopped after uploading {object}"));
    object
}

/// One full read of every partition from its start to its high watermark, or the first
/// error (a trim between the describe and the read).
async fn read_everything(client: &Client) -> Result<Vec<(u32, u64, u64, Vec<Read>)>, Error> {
    let topic = Admin::new(client.clone()).describe_topic(TOPIC).await?;
    let mut all = Vec::new();
    for partition in topic.partitions {
        let (p, start, high_watermark) = (
            partition.partition,
            partition.start_offset,
            partition.high_watermark,
        );
        let config = ConsumerConfig {
            wait: Duration::ZERO,
            max_bytes: 8 << 20,
            ..ConsumerConfig::default()
        };
        let mut consumer = Consumer::new(client.clone(), TOPIC, p, start, config);
        let mut reads = Vec::new();
        while consumer.position() < high_watermark {
            let records = consumer.poll().await?;
            reads.extend(records.iter().map(|r| read_of(p, r)));
        }
        all.push((p, start, high_watermark, reads));
    }
    Ok(all)
}

/// Stops retention on the topic, reads it all (again after a trim that raced the read) into
/// the history; the final start offsets.
async fn final_read(race: &Race) -> BTreeMap<u32, u64> {
    let client = race.client(1, true);
    let keep = TopicConfigPatch {
        retention_ms: Some(Some(-1)),
        ..TopicConfigPatch::default()
    };
    Admin::new(client.clone())
        .alter_topic(TOPIC, keep)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let all = loop {
        match read_everything(&client).await {
            Ok(all) => break all,
            Err(error) => assert!(Instant::now() < deadline, "final read: {error}"),
        }
    };
    let mut history = race.history.lock().unwrap();
    let mut starts = BTreeMap::new();
    for (partition, start, high_watermark, reads) in all {
        history.final_range(partition, start, high_watermark);
        reads.into_iter().for_each(|read| history.read(read));
        starts.insert(partition, start);
    }
    starts
}

/// Starts the cluster and creates the topics.
async fn set_up() -> Arc<Race> {
    let options = ClusterOptions {
        env: cluster_env(),
        ..ClusterOptions::default()
    };
    let up = tokio::task::spawn_blocking(move || Cluster::up_with("lifecycle-race", options));
    let cluster = up.await.unwrap().unwrap();
    let secret = ClusterSecret::from_bytes(cluster.secret().unwrap().as_bytes()).unwrap();
    let metadata = HttpClient::connect_with_secret(&cluster.metadata_urls(), Some(&secret));
    let race = Arc::new(Race {
        store: open_store(cluster.object_store()).unwrap(),
        metadata: metadata.unwrap(),
        cluster,
        history: Arc::new(Mutex::new(History::default())),
        stop: AtomicBool::new(false),
        producing: [true, true, true].map(AtomicBool::new),
        busy: [false, false, false].map(AtomicBool::new),
        unexpected: Mutex::new(Vec::new()),
        index_checks: AtomicU64::new(0),
        missing: Mutex::new(BTreeSet::new()),
        seen: Mutex::new(BTreeSet::new()),
    });
    let admin = Admin::new(race.client(1, true));
    let trimmed = TopicConfig {
        retention_ms: Some(3000),
        ..TopicConfig::default()
    };
    admin
        .create_topic(TOPIC, PARTITIONS, trimmed)
        .await
        .unwrap();
    admin
        .create_topic(LATE_TOPIC, 1, TopicConfig::default())
        .await
        .unwrap();
    race
}

/// Starts every concurrent task of the workload.
fn start_workload(race: &Arc<Race>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for i in 1..=BROKERS {
        tasks.push(tokio::spawn(produce_on(race.clone(), i)));
    }
    for partition in 0..PARTITIONS {
        tasks.push(tokio::spawn(tail(race.clone(), partition)));
    }
    tasks.push(tokio::spawn(read_old_start(race.clone())));
    tasks.push(tokio::spawn(check_index(race.clone())));
    tasks.push(tokio::spawn(crash_brokers(race.clone())));
    tasks
}

/// Whether broker `i`'s log shows the refused late commit.
fn refusal_logged(race: &Race, i: usize) -> bool {
    let log = std::fs::read_to_string(race.cluster.process_dir(Role::Broker, i).join("log"));
    log.is_ok_and(|l| l.contains("segment refused: sealed before the commit horizon"))
}

/// Prints what the run did: records acknowledged, offsets trimmed, objects deleted, index
/// checks, and how the late request was answered.
async fn print_figures(
    race: &Race,
    starts: &BTreeMap<u32, u64>,
    took: Duration,
    late: &(u16, String),
) {
    let listed = segments(&race.store).await;
    let deleted = race.seen.lock().unwrap().difference(&listed).count();
    let trimmed: u64 = starts.values().sum();
    let acked = race.history.lock().unwrap().acknowledged_count();
    let checks = race.index_checks.load(Ordering::SeqCst);
    let refused = u8::from(refusal_logged(race, LATE_BROKER));
    println!(
        "lifecycle race: {took:?}, {acked} records acknowledged, {trimmed} offsets trimmed, {deleted} objects deleted, {checks} index checks, {refused} late commit refused (its request answered {}: {})",
        late.0, late.1
    );
    assert!(checks >= 3, "only {checks} index checks ran");
    assert!(trimmed > 0, "retention trimmed nothing");
    assert!(deleted > 0, "garbage collection deleted nothing");
}

/// The late request got an error, its records are nowhere, and broker 3 logged the refusal.
async fn assert_late_commit_refused(race: &Race, (status, body): &(u16, String)) {
    assert!(
        !(200..300).contains(status),
        "the late commit was acknowledged: {body}"
    );
    let admin = Admin::new(race.client(1, true));
    let late = admin.describe_topic(LATE_TOPIC).await.unwrap();
    let high_watermark = late.partitions[0].high_watermark;
    assert_eq!(high_watermark, 0, "the late records were committed");
    wait_until("the late broker logs the refusal", WAIT, || async {
        refusal_logged(race, LATE_BROKER)
    })
    .await;
}

/// No referenced object was ever missing, the checker found nothing, no fetch failed
/// unexpectedly.
fn assert_nothing_lost(race: &Race, report: &Report) {
    let missing = race.missing.lock().unwrap().clone();
    assert!(
        missing.is_empty(),
        "referenced objects missing from the bucket: {missing:?}"
    );
    assert!(report.ok(), "{report}");
    let unexpected = race.unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "unexpected fetch errors: {unexpected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_retention_a_late_commit_readers_and_crashes_never_lose_an_indexed_object() {
    let length = run_length();
    let race = set_up().await;
    let began = Instant::now();
    let tasks = start_workload(&race);
    tokio::time::sleep(length / 4).await;
    let late = late_commit(&race, LATE_BROKER).await;
    tokio::time::sleep(length.saturating_sub(began.elapsed())).await;
    race.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    let starts = final_read(&race).await;
    check_index_once(&race).await;
    let report = race.history.lock().unwrap().check(&BTreeMap::new());
    println!("{report}");
    print_figures(&race, &starts, began.elapsed(), &late).await;
    assert_nothing_lost(&race, &report);
    assert_late_commit_refused(&race, &late).await;
}
