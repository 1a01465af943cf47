//! The SDK's group consumer against a real `silt dev`: three worker processes
//! (`sdk/examples/group_worker.rs`) on a 12-partition topic written continuously. Every
//! partition is owned by exactly one of them; one is killed with `kill -9` and another
//! paused (SIGSTOP) past its session timeout: their partitions move to the others within
//! the session timeout plus a heartbeat period (with slack); a commit as the paused
//! member is refused `unknown_member`, and after SIGCONT the worker gives up its
//! partitions as lost and rejoins as a new member; every record produced was printed by
//! some worker (duplicates allowed: at-least-once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{KillOnDrop, Silt, SiltOptions, example_binary, http_client};

const TOPIC: &str = "events";
const GROUP: &str = "workers";
const PARTITIONS: u32 = 12;
/// The workers' session timeout.
const SESSION_MS: u64 = 3000;
/// How long partitions may take to move: the session timeout, the expiry tick, a
/// heartbeat period for the others to learn of it, and slack for a loaded machine.
const MOVE_BOUND: Duration = Duration::from_millis(SESSION_MS + 200 + SESSION_MS / 3 + 10_000);

/// A worker process and the JSON lines it printed.
struct Worker {
    process: KillOnDrop,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Worker {
    /// Starts `group_worker` against `url`.
    fn start(url: &str) -> Worker {
        let mut child = Command::new(example_binary("group_worker"))
            .args([url, GROUP, TOPIC, &SESSION_MS.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start group_worker");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Worker {
            process: KillOnDrop(child),
            lines,
        }
    }

    fn pid(&self) -> String {
        self.process.0.id().to_string()
    }

    /// Its last `assignment` line: (member id, generation, partitions).
    fn assignment(&self) -> Option<(String, u64, BTreeSet<u64>)> {
        let lines = self.lines.lock().unwrap();
        let last = lines.iter().rev().find(|l| l["event"] == "assignment")?;
        let partitions = last["partitions"]
            .as_array()?
            .iter()
            .filter_map(Value::as_u64);
        Some((
            last["member_id"].as_str()?.to_owned(),
            last["generation"].as_u64()?,
            partitions.collect(),
        ))
    }

    /// The lines it printed other than records, for failure messages.
    fn events(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let events = lines.iter().filter(|l| l["event"] != "record");
        events.map(Value::to_string).collect::<Vec<_>>().join("\n")
    }

    /// Whether it printed a line with `event` and `field` equal to `value`.
    fn printed(&self, event: &str, field: &str, value: &str) -> bool {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .any(|l| l["event"] == event && l[field].as_str() == Some(value))
    }

    /// The (partition, offset) of every record it printed.
    fn records(&self) -> Vec<(u64, u64)> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| l["event"] == "record")
            .map(|l| {
                (
                    l["partition"].as_u64().unwrap(),
                    l["offset"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// `GET`/`POST` with a JSON answer.
async fn call(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = http_client().request(method, format!("{url}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Writes batches of one record per partition until `stop`; answers how many batches.
async fn produce_until(url: String, stop: Arc<AtomicBool>) -> u64 {
    let mut batches = 0;
    while !stop.load(Ordering::Relaxed) {
        let records: Vec<Value> = (0..PARTITIONS)
            .map(|p| json!({"value": batches, "partition": p}))
            .collect();
        let path = format!("/v1/topics/{TOPIC}/records");
        call(
            &url,
            reqwest::Method::POST,
            &path,
            Some(json!({"records": records})),
        )
        .await;
        batches += 1;
        // Pacing the producer, not waiting for anything.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    batches
}

/// Polls `condition` until it holds or `bound` passes; panics naming `what` and what the
/// workers printed (records aside) then.
async fn wait_until(what: &str, workers: &[Worker], mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + MOVE_BOUND;
    while !condition() {
        if Instant::now() > deadline {
            let events: Vec<String> = workers.iter().map(Worker::events).collect();
            panic!(
                "not within {MOVE_BOUND:?}: {what}; workers printed:\n{}",
                events.join("\n--\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `workers` all work in one generation with disjoint partitions covering the
/// topic.
fn owned_exactly_once(workers: &[&Worker]) -> bool {
    let Some(assignments) = workers
        .iter()
        .map(|w| w.assignment())
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let generations: BTreeSet<u64> = assignments.iter().map(|a| a.1).collect();
    let owned: usize = assignments.iter().map(|a| a.2.len()).sum();
    let union: BTreeSet<u64> = assignments.iter().flat_map(|a| a.2.clone()).collect();
    generations.len() == 1 && owned == PARTITIONS as usize && union.len() == owned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_partitions_and_survive_kill_and_pause_without_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let url = silt.url.clone();
    let topic = json!({"name": TOPIC, "partitions": PARTITIONS});
    call(&url, reqwest::Method::POST, "/v1/topics", Some(topic)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_until(url.clone(), stop.clone()));

    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&url)).collect();
    let all: Vec<&Worker> = workers.iter().collect();
    wait_until("three workers own each partition once", &workers, || {
        owned_exactly_once(&all)
    })
    .await;

    // kill -9 the first: the other two take its partitions.
    workers[0].process.0.kill().unwrap();
    workers[0].process.0.wait().unwrap();
    let rest: Vec<&Worker> = workers[1..].iter().collect();
    wait_until("the killed worker's partitions move", &workers, || {
        owned_exactly_once(&rest)
    })
    .await;

    // Pause the second past its session timeout: the third takes everything.
    let (paused_member, generation, owned) = workers[1].assignment().unwrap();
    signal("-STOP", &workers[1].pid());
    wait_until("the paused worker's partitions move", &workers, || {
        owned_exactly_once(&[&workers[2]])
    })
    .await;
    let stale = stale_commit(&paused_member, generation, &owned);
    let (status, answer) = commit(&url, stale).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("unknown_member")),
        "{answer}"
    );
    signal("-CONT", &workers[1].pid());
    // Its own next commit is refused too, unless a heartbeat told it first; either way
    // it gives up its partitions as lost (committing nothing) and joins again.
    let lost = || workers[1].printed("lost", "event", "lost");
    wait_until("the paused worker learns it was dropped", &workers, lost).await;
    wait_until("it rejoins as a new member", &workers, || {
        let rejoined = workers[1]
            .assignment()
            .is_some_and(|a| a.0 != paused_member);
        rejoined && owned_exactly_once(&[&workers[1], &workers[2]])
    })
    .await;

    stop.store(true, Ordering::Relaxed);
    let batches = producer.await.unwrap();
    wait_until("every record is printed by some worker", &workers, || {
        missing(&workers, batches).is_empty()
    })
    .await;
    workers.iter_mut().for_each(|w| drop(w.process.0.kill()));
    drop(silt);
}

/// The records (partition, offset) no worker printed, of `batches` per partition.
fn missing(workers: &[Worker], batches: u64) -> Vec<(u64, u64)> {
    let printed: BTreeSet<(u64, u64)> = workers.iter().flat_map(Worker::records).collect();
    (0..u64::from(PARTITIONS))
        .flat_map(|p| (0..batches).map(move |o| (p, o)))
        .filter(|record| !printed.contains(record))
        .collect()
}

/// A commit by `member` of `generation` of offset 0 in each of `partitions`.
fn stale_commit(member: &str, generation: u64, partitions: &BTreeSet<u64>) -> Value {
    let offsets: Vec<Value> = partitions
        .iter()
        .map(|p| json!({"topic": TOPIC, "partition": p, "offset": 0}))
        .collect();
    json!({"offsets": offsets, "member_id": member, "generation": generation})
}

/// `PUT /v1/groups/GROUP/offsets` with `body`: the status and answer.
async fn commit(url: &str, body: Value) -> (u16, Value) {
    let path = format!("{url}/v1/groups/{GROUP}/offsets");
    let response = http_client().put(path).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `kill SIGNAL pid`.
fn signal(signal: &str, pid: &str) {
    let status = Command::new("kill").args([signal, pid]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_member_the_group_already_dropped_just_stops() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let topic = json!({"name": TOPIC, "partitions": 2});
    call(&silt.url, reqwest::Method::POST, "/v1/topics", Some(topic)).await;
    let mut config = silt_sdk::GroupConsumerConfig::new(GROUP, vec![TOPIC.to_owned()]);
    config.session_timeout = Duration::from_millis(1000);
    // No heartbeat within the session: the group drops the member.
    config.heartbeat_interval = Some(Duration::from_secs(3600));
    let client = silt_sdk::Client::new(&silt.url).unwrap();
    let consumer = silt_sdk::GroupConsumer::join(client, config).await.unwrap();
    let path = format!("/v1/groups/{GROUP}");
    let deadline = Instant::now() + MOVE_BOUND;
    while call(&silt.url, reqwest::Method::GET, &path, None).await["members"] != json!([]) {
        assert!(Instant::now() < deadline, "the member was never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    consumer.close().await.unwrap();
}
