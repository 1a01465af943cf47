//! The multi-process cluster (3 metadata nodes, 3 brokers, started by
//! `infra/local-cluster.sh` on the shared S3-compatible server):
//!
//! - a smoke test: produce through broker 1, fetch the same records through brokers 2 and 3,
//!   a long-poll on broker 2 woken by a produce on broker 3, an idempotent retry on another
//!   broker answered with the original offsets, and every process gone after the drop;
//! - the CI-bounded fault suite: 3 fixed seeds (one with a hostile principal, two with the
//!   exactly-once pipeline under `kill -9`) and one random (printed) seed of
//!   `silt_tests::faults` schedules, 20 s of workload each, on brokers that authenticate
//!   clients, with zero checker violations (the pipeline's `check_transform` included) and
//!   no attack that worked.
//!   `SILT_FAULT_SEEDS=1,2,3` replaces the seeds, `SILT_FAULT_DURATION=60` the length; the
//!   long run is `tests/run-faults.sh` (see tests/README.md).
//!
//! The tests of this file run one at a time (each starts seven processes on a small machine)
//! and each is bounded by a timeout; the cluster is torn down however a test ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use silt_tests::faults::{Fault, RunConfig, Schedule, SplitMix64, run};
use silt_tests::harness::{Cluster, Role, http_client};

/// Seeds every CI run checks, besides one random seed; seed 1 draws a hostile principal
/// (`a_fixed_seed_runs_a_hostile_principal` keeps one that does), seeds 7 and 1009 the
/// exactly-once pipeline (`a_fixed_seed_runs_the_pipeline`).
const FIXED_SEEDS: [u64; 3] = [7, 1009, 1];

static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn seeds() -> Vec<u64> {
    if let Ok(list) = std::env::var("SILT_FAULT_SEEDS") {
        return list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("SILT_FAULT_SEEDS: {s:?} is not a seed"))
            })
            .collect();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let random = SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() % 1_000_000;
    println!("random seed this run: {random} (rerun with SILT_FAULT_SEEDS={random})");
    let mut seeds = FIXED_SEEDS.to_vec();
    seeds.push(random);
    seeds
}

/// Whether `seed`'s schedule of `duration` has a hostile principal.
fn has_hostile_principal(seed: u64, duration: Duration) -> bool {
    Schedule::generate(seed, duration, 3, 3)
        .faults
        .iter()
        .any(|s| matches!(s.fault, Fault::HostilePrincipal { .. }))
}

#[test]
fn a_fixed_seed_runs_a_hostile_principal() {
    let default = Duration::from_secs(20);
    assert!(
        FIXED_SEEDS
            .iter()
            .any(|seed| has_hostile_principal(*seed, default)),
        "no seed of {FIXED_SEEDS:?} draws a hostile principal in {default:?}"
    );
}

#[test]
fn a_fixed_seed_runs_the_pipeline() {
    let default = Duration::from_secs(20);
    assert!(
        FIXED_SEEDS
            .iter()
            .any(|seed| Schedule::generate(*seed, default, 3, 3).has_pipeline()),
        "no seed of {FIXED_SEEDS:?} draws the exactly-once pipeline in {default:?}"
    );
}

fn duration() -> Duration {
    let secs = std::env::var("SILT_FAULT_DURATION")
        .ok()
        .map(|s| s.parse::<u64>().expect("SILT_FAULT_DURATION is seconds"))
        .unwrap_or(20);
    Duration::from_secs(secs)
}

#[test]
fn fault_schedules_keep_every_acknowledged_record_exactly_once() {
    let _serial = serial();
    let duration = duration();
    let mut failures = Vec::new();
    for seed in seeds() {
        // A runtime per seed: whatever a timed-out run left behind is dropped with it (and
        // its cluster torn down) before the next seed starts.
        let rt = runtime();
        let config = RunConfig {
            duration,
            history_dir: Some(std::env::temp_dir().join("silt-faults")),
            verbose: true,
            ..RunConfig::new(seed)
        };
        let bound = duration + Duration::from_secs(300);
        let result = rt.block_on(async { tokio::time::timeout(bound, run(config)).await });
        match result {
            Err(_) => failures.push(format!("seed {seed}: did not finish within {bound:?}")),
            Ok(Err(error)) => failures.push(format!("seed {seed}: ERROR: {error:#}")),
            Ok(Ok(outcome)) => {
                println!("{}", outcome.line());
                if !outcome.ok() {
                    failures.push(outcome.to_string());
                } else if outcome.acknowledged < 100 {
                    failures.push(format!(
                        "seed {seed}: only {} records acknowledged: the workload did not run\n{outcome}",
                        outcome.acknowledged
                    ));
                } else if outcome
                    .pipeline
                    .as_ref()
                    .is_some_and(|p| p.transformed < 100)
                {
                    failures.push(format!("seed {seed}: the pipeline did not run\n{outcome}"));
                } else if outcome.faults_applied == 0 && !outcome.schedule.faults.is_empty() {
                    failures.push(format!("seed {seed}: no fault was applied\n{outcome}"));
                }
            }
        }
        drop(rt);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The proof that the pipeline's check can fail: seed 7 (which draws the pipeline) with
/// the pipeline broken on purpose (records and offsets in two requests: at least once), so
/// a `kill -9` or a failed request between the two writes a batch again. Ignored in CI (a
/// cluster run of ~35 s; whether a kill lands between the two requests is up to timing):
/// `cargo test -p silt-tests --test cluster_faults -- --ignored`.
#[test]
#[ignore = "a proof run on demand: ~35 s, and its kills land by timing"]
fn an_at_least_once_pipeline_under_the_same_kills_is_caught_writing_duplicates() {
    let _serial = serial();
    let rt = runtime();
    let config = RunConfig {
        pipeline_separate_commit: true,
        verbose: true,
        ..RunConfig::new(7)
    };
    let outcome = rt.block_on(run(config)).unwrap();
    println!("{outcome}");
    let violations = outcome.pipeline_violations();
    assert!(
        violations.iter().any(|v| v.starts_with("duplicate")),
        "no duplicate found: {violations:?}"
    );
}

fn record(partition: u32, i: u64) -> ProduceRecord {
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("n".to_owned(), i.to_string());
    ProduceRecord {
        key: Some(json!(format!("key-{i}"))),
        value: Some(json!({ "i": i, "text": "héllo ✓" })),
        headers,
        partition: Some(partition),
        ..ProduceRecord::default()
    }
}

/// An SDK client of `url` sending the cluster's token.
fn client(cluster: &Cluster, url: &str) -> Client {
    Client::with_config(ClientConfig {
        request_timeout: Duration::from_secs(10),
        ..cluster.client_config(url)
    })
    .unwrap()
}

async fn create_topic(cluster: &Cluster, url: &str, name: &str, partitions: u32) {
    let admin = Admin::new(client(cluster, url));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match admin
            .create_topic(name, partitions, TopicConfig::default())
            .await
        {
            Ok(_) => return,
            Err(e)
                if e.code()
                    .is_some_and(|c| c.as_str() == "topic_already_exists") =>
            {
                return;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("create topic: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot create topic {name}: {e}"),
        }
    }
}

/// GET `url` with the cluster's token, decoded as JSON.
async fn get_json(cluster: &Cluster, http: &reqwest::Client, url: &str) -> Value {
    let response = cluster.bearer(http.get(url)).send().await.unwrap();
    response.json().await.unwrap()
}

/// Every broker refuses a request without the token (401) and admits the cluster's; the
/// principals and token files are the owner's only.
async fn brokers_require_the_token(cluster: &Cluster, http: &reqwest::Client) {
    use std::os::unix::fs::PermissionsExt as _;
    for file in [cluster.principals_file(), cluster.token_file()] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    for url in cluster.broker_urls() {
        let anonymous = http.get(format!("{url}/v1/topics")).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401, "{url} without a token");
        let admin = cluster.bearer(http.get(format!("{url}/v1/topics")));
        assert_eq!(admin.send().await.unwrap().status().as_u16(), 200, "{url}");
    }
}

async fn smoke(cluster: &Cluster) {
    let urls = cluster.broker_urls();
    let http = http_client();
    brokers_require_the_token(cluster, &http).await;

    // Every broker registered and alive, and a metadata leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view: Value = get_json(cluster, &http, &format!("{}/v1/cluster", urls[1])).await;
        let alive = view["brokers"]
            .as_array()
            .map_or(0, |b| b.iter().filter(|b| b["alive"] == true).count());
        if alive == 3 && view["metadata"]["leader_id"].is_u64() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "GET /v1/cluster never showed 3 live brokers and a leader: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leader = cluster.metadata_leader().await.expect("a metadata leader");
    assert!((1..=3).contains(&leader));

    // Produce on broker 1, read the same records on brokers 2 and 3.
    create_topic(cluster, &urls[0], "smoke", 3).await;
    let producer = Producer::new(
        client(cluster, &urls[0]),
        "smoke",
        ProducerConfig::default(),
    );
    let mut acked = Vec::new();
    for i in 0..30u64 {
        let offsets = producer
            .send_batch(vec![record((i % 3) as u32, i)])
            .await
            .unwrap();
        acked.push((i, offsets[0]));
    }
    for url in &urls[1..] {
        for partition in 0..3u32 {
            let consumer = Consumer::new(
                client(cluster, url),
                "smoke",
                partition,
                0,
                ConsumerConfig::default(),
            );
            let fetched = consumer.fetch(0, Duration::ZERO).await.unwrap();
            let expected: Vec<(u64, u64)> = acked
                .iter()
                .filter(|(_, o)| o.partition == partition)
                .map(|(i, o)| (o.offset, *i))
                .collect();
            let got: Vec<(u64, u64)> = fetched
                .records
                .iter()
                .map(|r| (r.offset, r.value.as_ref().unwrap()["i"].as_u64().unwrap()))
                .collect();
            assert_eq!(got, expected, "partition {partition} through {url}");
            for r in &fetched.records {
                let i = r.value.as_ref().unwrap()["i"].as_u64().unwrap();
                let sent = record(partition, i);
                assert_eq!(r.key, sent.key);
                assert_eq!(r.value, sent.value);
                assert_eq!(r.headers, sent.headers);
            }
            assert_eq!(fetched.high_watermark, expected.len() as u64);
        }
    }

    // A long-poll on broker 2 is woken by a produce on broker 3.
    let high_watermark = acked.iter().filter(|(_, o)| o.partition == 0).count() as u64;
    let poller = Consumer::new(
        client(cluster, &urls[1]),
        "smoke",
        0,
        high_watermark,
        ConsumerConfig::default(),
    );
    let waiting =
        tokio::spawn(async move { poller.fetch(high_watermark, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "the long-poll returned before any new record"
    );
    let started = Instant::now();
    let other = Producer::new(
        client(cluster, &urls[2]),
        "smoke",
        ProducerConfig::default(),
    );
    let woken_by = other.send_batch(vec![record(0, 1000)]).await.unwrap();
    assert_eq!(woken_by[0].offset, high_watermark);
    let response = tokio::time::timeout(Duration::from_secs(15), waiting)
        .await
        .expect("the long-poll on broker 2 was not woken by the commit on broker 3")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "woken only after {:?}",
        started.elapsed()
    );
    assert_eq!(response.records.len(), 1, "{response:?}");
    assert_eq!(response.records[0].value, record(0, 1000).value);

    // An idempotent request retried on another broker gets its original offsets.
    let registered: Value = cluster
        .bearer(http.post(format!("{}/v1/producers", urls[0])))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["producer_id"].as_u64().expect("producer_id");
    let epoch = registered["epoch"].as_u64().expect("epoch");
    let body = json!({
        "records": [{"value": "once", "partition": 1}, {"value": "once too", "partition": 2}],
        "producer": {"id": id, "epoch": epoch, "sequence": 0},
    });
    let mut answers = Vec::new();
    for url in [&urls[0], &urls[1], &urls[2]] {
        let response = cluster
            .bearer(http.post(format!("{url}/v1/topics/smoke/records")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        answers.push(response.json::<Value>().await.unwrap()["offsets"].clone());
    }
    assert_eq!(
        answers[0], answers[1],
        "a retry on broker 2 got other offsets"
    );
    assert_eq!(
        answers[0], answers[2],
        "a retry on broker 3 got other offsets"
    );
    let topic = Admin::new(client(cluster, &urls[2]))
        .describe_topic("smoke")
        .await
        .unwrap();
    for p in &topic.partitions {
        // One record more in each partition: the long-poll's in 0, the idempotent
        // request's in 1 and 2 (once, however often it was sent).
        let before = acked
            .iter()
            .filter(|(_, o)| o.partition == p.partition)
            .count() as u64;
        assert_eq!(
            p.high_watermark,
            before + 1,
            "partition {}: the retries were written again",
            p.partition
        );
    }
    // The retries' segments hold only duplicates: uploaded, never referenced, recorded as
    // garbage.
    let view: Value = get_json(cluster, &http, &format!("{}/v1/cluster", urls[0])).await;
    assert!(
        view["garbage"]["objects"].as_u64().unwrap_or(0) >= 2,
        "the duplicate-only segments of the two retries are not recorded as garbage: {view}"
    );

    // The fault-injection routes exist (the tests start brokers with --fault-injection).
    for url in &urls {
        let put = cluster
            .bearer(http.put(format!("{url}/v1/admin/faults")))
            .json(&json!({"error_rate": 0.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 204, "PUT /v1/admin/faults on {url}");
        let delete = cluster
            .bearer(http.delete(format!("{url}/v1/admin/faults")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            delete.status().as_u16(),
            204,
            "DELETE /v1/admin/faults on {url}"
        );
    }
}

#[test]
fn cluster_smoke_produce_fetch_and_long_poll_across_brokers() {
    let _serial = serial();
    let rt = runtime();
    let cluster = Cluster::up("smoke").unwrap();
    let status = cluster.status().unwrap();
    assert!(status.contains("metadata leader: node"), "{status}");
    let result = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(180), smoke(&cluster)).await });
    if let Err(elapsed) = result {
        panic!(
            "smoke test timed out ({elapsed})\n{}",
            cluster.diagnostics(40)
        );
    }
    // Dropping the cluster stops every process it started.
    let pids: Vec<u32> = [Role::Metadata, Role::Broker]
        .into_iter()
        .flat_map(|role| (1..=3).map(move |i| (role, i)))
        .map(|(role, i)| cluster.pid(role, i).expect("every process runs"))
        .collect();
    drop(cluster);
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, s)| s.chars().next());
        assert!(
            matches!(state, None | Some(Some('Z' | 'X'))),
            "pid {pid} survived the cluster: {stat}"
        );
    }
}

async fn wait_until(condition: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "not {what} after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn process_control_kill_restart_pause_and_wipe() {
    let _serial = serial();
    let rt = runtime();
    let cluster = Cluster::up("control").unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(180), async {
            // kill -9 + restart of a broker on a wiped cache dir
            assert!(cluster.kill9(Role::Broker, 2).unwrap());
            assert!(!cluster.is_alive(Role::Broker, 2));
            cluster.wipe_cache(2).unwrap();
            cluster.start(Role::Broker, 2).unwrap();
            assert!(cluster.broker_ready(2).await);
            // the leader dies, another takes over, the old one comes back
            let leader = cluster
                .wait_for_leader(Duration::from_secs(30))
                .await
                .unwrap();
            assert!(cluster.kill9(Role::Metadata, leader).unwrap());
            let deadline = Instant::now() + Duration::from_secs(30);
            let next = loop {
                match cluster.metadata_leader().await {
                    Some(next) if next != leader => break next,
                    _ => {
                        assert!(
                            Instant::now() < deadline,
                            "no new leader after killing {leader}"
                        );
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            assert_ne!(next, leader);
            cluster.start(Role::Metadata, leader).unwrap();
            // SIGSTOP / SIGCONT
            cluster.pause(Role::Broker, 3).unwrap();
            wait_until(|| cluster.is_paused(Role::Broker, 3), "broker 3 paused").await;
            assert!(!cluster.broker_ready(3).await);
            cluster.resume(Role::Broker, 3).unwrap();
            wait_until(|| !cluster.is_paused(Role::Broker, 3), "broker 3 resumed").await;
            let deadline = Instant::now() + Duration::from_secs(30);
            while !cluster.broker_ready(3).await {
                assert!(
                    Instant::now() < deadline,
                    "broker 3 not ready after SIGCONT"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // leave one paused: the drop must still clean up
            cluster.pause(Role::Metadata, next).unwrap();
        })
        .await
        .unwrap_or_else(|_| panic!("timed out\n{}", cluster.diagnostics(40)));
    });
}
