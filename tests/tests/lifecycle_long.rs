//! The long lifecycle run (issue 13): a real cluster (3 metadata nodes, 3 brokers, the
//! shared S3-compatible server) writes far more than its topic's retention keeps, with
//! retention checked and garbage swept every second, a 2 s grace and a snapshot every 200
//! Raft entries, while two idempotent producers write, tailing readers (one fast, one
//! slow enough to fall behind retention and be reset) record a history, and a broker is
//! `kill -9`ed and restarted every 20 s. Every few seconds it prints the figures (objects
//! by listing the bucket, index entries, snapshot and Raft log bytes, metadata RSS, GC
//! backlog, data written). It asserts:
//!
//! - the history is clean with start moves allowed (the checker's `reset`), the final read
//!   covering what retention kept once the producers stopped (retention is then lifted, so
//!   the final read has a fixed start);
//! - the run wrote at least 10x the most retention kept after warm-up (the topic's
//!   `silt_topic_stored_bytes`: the bytes of its index entries);
//! - objects are bounded by retention: after warm-up no segment older than `retention_ms`
//!   plus [`SLACK`] is listed, beyond [`UPLOADS_IN_FLIGHT`] per broker kill (uploads whose
//!   broker died before committing them are garbage only past the 15-minute commit horizon
//!   plus the grace); and the index entries stay at most [`ENTRIES_PER_SEGMENT`] per listed
//!   segment;
//! - trimmed data leaves the bucket: segments seen by one listing are gone from a later
//!   one, and the count at the end is not above the bound.
//!
//! Bounded in CI (80 s of workload); the full run:
//! `SILT_TEST_LIFECYCLE_SECS=1800 scripts/test.sh -p silt-tests --test lifecycle_long -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use silt_sdk::Admin;
use silt_sdk::wire::{TopicConfig, TopicConfigPatch};
use silt_tests::checker::History;
use silt_tests::faults::runner::{ProducerJob, client, create_topic_with};
use silt_tests::harness::{Cluster, ClusterOptions, Role};
use silt_tests::lifecycle::long_run::{
    Figures, Sampler, Tail, final_read_through_trims, tail_through_trims,
};
use silt_tests::workload::SharedHistory;
use tokio::task::JoinHandle;

/// The topic the run writes.
const TOPIC: &str = "lifecycle";
/// Its partitions.
const PARTITIONS: u32 = 3;
/// Records older than this are dropped.
const RETENTION_MS: u64 = 5_000;
/// Each partition keeps at least this many bytes (and, by this rule, not much more): about
/// a second of the workload.
const RETENTION_BYTES: i64 = 16 * 1024;
/// How much longer than `RETENTION_MS` a segment may stay listed: a retention round (1 s)
/// and the trim, the grace (2 s), a collector round (1 s), and the enforcing or
/// collecting broker's `kill -9`: its restart and the 3 s lease before another broker
/// takes over; 20 s covers these with room for a loaded machine.
const SLACK: Duration = Duration::from_secs(20);
/// Index entries per listed segment, at most: a segment holds one chunk per partition and
/// producer (2 producers, and the no-producer group), each one index entry.
const ENTRIES_PER_SEGMENT: u64 = PARTITIONS as u64 * 3;
/// Segment uploads a broker has at once (`wal.max_uploads_in_flight`, default 4): what a
/// `kill -9` may leave uploaded and never committed.
const UPLOADS_IN_FLIGHT: usize = 4;
/// The bucket is listed this often, within a segment's shortest life (a trim, then the
/// 2 s grace and a collector round), so every segment written is seen.
const TRACK_EVERY: Duration = Duration::from_secs(1);
/// A broker is killed and restarted this often.
const KILL_EVERY: Duration = Duration::from_secs(20);

/// How long the workload runs: `SILT_TEST_LIFECYCLE_SECS`, default 80 s.
fn run_length() -> Duration {
    let secs = std::env::var("SILT_TEST_LIFECYCLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(80);
    Duration::from_secs(secs)
}

/// Samples are this far apart: 5 s, or 40 samples over a long run.
fn sample_every(length: Duration) -> Duration {
    (length / 40).max(Duration::from_secs(5))
}

/// Retention, collection and metadata backups (the collector deletes a released object
/// only after a backup newer than its release) every second, a 2 s grace (and so a 2 s
/// request timeout),
/// a snapshot every 200 entries, cost figures (the GC backlog) every second.
fn cluster_options() -> ClusterOptions {
    let env = [
        ("SILT_RETENTION_CHECK_INTERVAL", "1s"),
        ("SILT_GC_INTERVAL", "1s"),
        ("SILT_GC_GRACE", "2s"),
        ("SILT_BACKUP_INTERVAL", "1s"),
        ("SILT_SERVER_REQUEST_TIMEOUT", "2s"),
        ("SILT_METADATA_SNAPSHOT_ENTRIES", "200"),
        ("SILT_METRICS_COST_REFRESH_INTERVAL", "1s"),
        ("SILT_WAL_LINGER", "5ms"),
    ];
    ClusterOptions {
        env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(),
        ..ClusterOptions::default()
    }
}

/// The topic's retention: `RETENTION_MS` and `RETENTION_BYTES`.
fn retention() -> TopicConfig {
    TopicConfig {
        retention_ms: Some(RETENTION_MS as i64),
        retention_bytes: Some(RETENTION_BYTES),
        ..TopicConfig::default()
    }
}

/// The running workload: producers, tailing readers and their switches.
struct Workload {
    stop: Arc<AtomicBool>,
    recording: Arc<AtomicBool>,
    readers_stop: Arc<AtomicBool>,
    producers: Vec<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
}

/// Two idempotent producers (through brokers 1 and 2, failing over to the others) and two
/// readers per partition through broker 3: `fast` and `slow` (a 3 s pause per poll).
fn start_workload(cluster: &Cluster, history: &SharedHistory) -> Workload {
    let (urls, token) = (cluster.broker_urls(), cluster.token());
    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(true));
    let readers_stop = Arc::new(AtomicBool::new(false));
    let producers = (0..2)
        .map(|k| {
            let job = ProducerJob {
                topic: TOPIC.to_owned(),
                name: format!("idem-{k}"),
                idempotent: true,
                client: client(&urls, &token, k, Duration::from_secs(5)).unwrap(),
                partitions: PARTITIONS,
                interval: Duration::from_millis(2),
                history: history.clone(),
                stop: stop.clone(),
                recording: recording.clone(),
                ids: Default::default(),
            };
            tokio::spawn(job.run())
        })
        .collect();
    let mut readers = Vec::new();
    for (name, pause) in [("fast", Duration::ZERO), ("slow", Duration::from_secs(3))] {
        for partition in 0..PARTITIONS {
            let client = client(&urls, &token, 2, Duration::from_secs(5)).unwrap();
            let tail = Tail {
                topic: TOPIC.to_owned(),
                name: name.to_owned(),
                partition,
                pause,
            };
            let task = tail_through_trims(client, tail, history.clone(), readers_stop.clone());
            readers.push(tokio::spawn(task));
        }
    }
    Workload {
        stop,
        recording,
        readers_stop,
        producers,
        readers,
    }
}

/// Producers finish (bounded), answers stop being recorded, then the readers stop.
async fn stop_workload(workload: Workload, history: &SharedHistory) {
    workload.stop.store(true, Ordering::SeqCst);
    for producer in workload.producers {
        let finished = tokio::time::timeout(Duration::from_secs(90), producer).await;
        assert!(finished.is_ok(), "a producer did not finish within 90 s");
    }
    {
        let _h = history.lock().unwrap();
        workload.recording.store(false, Ordering::SeqCst);
    }
    workload.readers_stop.store(true, Ordering::SeqCst);
    for reader in workload.readers {
        let _ = tokio::time::timeout(Duration::from_secs(20), reader).await;
    }
}

/// Kills broker 1, 2, 3, 1… with `kill -9` every `KILL_EVERY` and restarts it at once,
/// until `stop`; returns the number of kills.
async fn kill_brokers(
    cluster: Arc<Cluster>,
    history: SharedHistory,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut kills = 0;
    loop {
        tokio::time::sleep(KILL_EVERY).await;
        if stop.load(Ordering::SeqCst) {
            return kills;
        }
        let broker = kills % cluster.size(Role::Broker) + 1;
        history
            .lock()
            .unwrap()
            .fault(&format!("kill -9 broker {broker}"));
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || {
            c.kill9(Role::Broker, broker).unwrap();
            c.start(Role::Broker, broker).unwrap();
        })
        .await
        .unwrap();
        history
            .lock()
            .unwrap()
            .fault(&format!("broker {broker} restarted"));
        kills += 1;
        println!("kill -9 broker {broker} and restart ({kills} kills)");
    }
}

/// Lifts the topic's retention (for ever, no byte bound), so the final read has a fixed
/// start; a round that planned before the change may still trim once, which the final
/// read survives by reading the partition again.
async fn lift_retention(cluster: &Cluster) {
    let client = client(
        &cluster.broker_urls(),
        &cluster.token(),
        0,
        Duration::from_secs(10),
    );
    let patch = TopicConfigPatch {
        retention_ms: Some(Some(-1)),
        retention_bytes: Some(Some(-1)),
    };
    Admin::new(client.unwrap())
        .alter_topic(TOPIC, patch)
        .await
        .unwrap();
}

/// Samples every `every` until `length` has passed since `started`, printing each line,
/// and lists the bucket every [`TRACK_EVERY`] between samples.
async fn sample_until(
    sampler: &mut Sampler,
    cluster: &Cluster,
    history: &SharedHistory,
    started: Instant,
    length: Duration,
) -> Vec<Figures> {
    let every = sample_every(length);
    let mut next = started + every;
    let mut samples = Vec::new();
    println!("{}", Figures::HEADER);
    while started.elapsed() < length {
        tokio::time::sleep(TRACK_EVERY).await;
        if Instant::now() < next && started.elapsed() < length {
            sampler.track().await.unwrap();
            continue;
        }
        next += every;
        let figures = sampler.sample(cluster, history).await.unwrap();
        println!("{}", figures.line());
        samples.push(figures);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_past_retention_keeps_reads_correct_and_the_bucket_and_metadata_bounded() {
    let length = run_length();
    let cluster = tokio::task::spawn_blocking(|| Cluster::up_with("lifecycle", cluster_options()))
        .await
        .unwrap()
        .unwrap();
    let cluster = Arc::new(cluster);
    let (urls, token) = (cluster.broker_urls(), cluster.token());
    create_topic_with(&urls[0], &token, TOPIC, PARTITIONS, retention())
        .await
        .unwrap();
    let history: SharedHistory = Arc::new(Mutex::new(History::default()));
    let max_age = Duration::from_millis(RETENTION_MS) + SLACK;
    let mut sampler = Sampler::new(cluster.object_store(), TOPIC, max_age).unwrap();
    let started = Instant::now();
    let workload = start_workload(&cluster, &history);
    let kills_stop = Arc::new(AtomicBool::new(false));
    let killer = tokio::spawn(kill_brokers(
        cluster.clone(),
        history.clone(),
        kills_stop.clone(),
    ));
    let samples = sample_until(&mut sampler, &cluster, &history, started, length).await;
    kills_stop.store(true, Ordering::SeqCst);
    let kills = killer.await.unwrap();
    stop_workload(workload, &history).await;
    lift_retention(&cluster).await;
    let reader = client(&urls, &token, 0, Duration::from_secs(15)).unwrap();
    final_read_through_trims(&reader, TOPIC, &history)
        .await
        .unwrap();
    let report = history.lock().unwrap().check(&Default::default());
    let last = sampler.sample(&cluster, &history).await.unwrap();
    println!("{}\n{report}", last.line());
    println!("{kills} broker kills; {}", resets(&history));
    assert!(report.ok(), "{report}");
    check_bounds(&samples, &last, max_age, kills);
}

/// How many `reset` events the history holds.
fn resets(history: &SharedHistory) -> String {
    let h = history.lock().unwrap();
    let count = h
        .events()
        .iter()
        .filter(|e| matches!(e, silt_tests::checker::Event::Reset { .. }))
        .count();
    format!("{count} reader resets to a moved start offset")
}

/// The bounds of the module documentation, on the samples taken after warm-up (once
/// `max_age` has passed).
fn check_bounds(samples: &[Figures], last: &Figures, max_age: Duration, kills: usize) {
    let warm: Vec<&Figures> = samples
        .iter()
        .filter(|f| f.at_s >= max_age.as_secs_f64())
        .collect();
    assert!(!warm.is_empty(), "no sample after the {max_age:?} warm-up");
    for figures in &warm {
        assert!(
            figures.segments_too_old <= UPLOADS_IN_FLIGHT * kills,
            "{} segments older than {max_age:?} at {:.0} s, more than {UPLOADS_IN_FLIGHT} per kill ({kills} kills): retention or GC fell behind\n{}",
            figures.segments_too_old,
            figures.at_s,
            figures.line()
        );
        let bound = ENTRIES_PER_SEGMENT * figures.segments as u64;
        assert!(
            figures.index_entries <= bound,
            "{} index entries at {:.0} s, above {bound} ({ENTRIES_PER_SEGMENT} per listed segment)\n{}",
            figures.index_entries,
            figures.at_s,
            figures.line()
        );
    }
    let kept = warm.iter().filter_map(|f| f.stored_bytes).max();
    let kept = kept.expect("no broker answered with silt_topic_stored_bytes");
    assert!(
        last.written_bytes >= 10 * kept,
        "wrote {} bytes, less than 10x the {kept} bytes retention kept at most after warm-up",
        last.written_bytes
    );
    assert!(
        last.deleted > 0,
        "no segment left the bucket: {}",
        last.line()
    );
}
