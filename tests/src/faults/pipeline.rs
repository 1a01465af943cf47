//! The exactly-once pipeline inside a fault run (issue 12): in the seeds whose schedule
//! draws it ([`Schedule::has_pipeline`](super::Schedule::has_pipeline)), topic
//! [`INPUT`] is fed by an idempotent producer of its own through every broker, and the real
//! `silt-exactly-once` process (`sdk/examples/exactly_once_pipeline.rs`) writes f(a) to
//! [`OUTPUT`] for group [`GROUP`], with the cluster's token and one producer id that every
//! run resumes. Each start picks the next broker in turn (the process has no failover, so
//! it also meets killed and paused brokers and exits on their errors); a supervisor
//! restarts it whenever it is not running, except while a [`Fault::PipelineKill`](
//! super::Fault::PipelineKill) holds it down. After the heal, runs in the binary's
//! idle-exit mode drain INPUT until the group's committed offsets reach its end; then
//! INPUT and OUTPUT are read completely and [`check_transform`] gives the violations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use silt_sdk::wire::ProduceRecord;
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig, Groups, Producer, ProducerConfig};
use tokio::task::JoinHandle;

use crate::checker::{PartitionRecords, check_transform};
use crate::harness::exactly_once_binary;

/// The pipeline's input topic.
pub const INPUT: &str = "pipeline-in";
/// The pipeline's output topic.
pub const OUTPUT: &str = "pipeline-out";
/// The group whose committed offsets say where the pipeline resumes.
pub const GROUP: &str = "pipeline";
/// Partitions of both topics.
const PARTITIONS: u32 = 3;
/// Rounds in a row without input after which a drain run exits (about 3 s).
const DRAIN_IDLE_ROUNDS: u32 = 10;
/// How often the supervisor looks at the process.
const SUPERVISE_EVERY: Duration = Duration::from_millis(500);

/// What the pipeline came to in one seed.
#[derive(Debug, Clone, Default)]
pub struct PipelineTally {
    /// Records of INPUT at the end.
    pub input: usize,
    /// Records of OUTPUT at the end (f(a) written).
    pub transformed: usize,
    /// `kill -9`s of the pipeline process by the schedule.
    pub kills: usize,
    /// Starts after the first: after a kill, after the process exited on an error (its
    /// broker killed, say), and the drain runs.
    pub restarts: usize,
    /// What [`check_transform`] found (empty: exactly once, in order).
    pub violations: Vec<String>,
}

/// How to start the pipeline process.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Every broker's URL; each start takes the next.
    pub urls: Vec<String>,
    /// The cluster's token (None with authentication off).
    pub token: Option<String>,
    /// Records and commit in two requests (at least once): only to show the check fails.
    pub separate_commit: bool,
    /// Where the process's stderr goes (appended); None discards it.
    pub log: Option<PathBuf>,
}

/// The running process and its counts.
#[derive(Default)]
struct State {
    child: Option<Child>,
    starts: usize,
    kills: usize,
    /// Held down by a [`Fault::PipelineKill`](super::Fault::PipelineKill).
    held: bool,
}

impl Drop for State {
    /// Leaves no pipeline process behind, however the run ends.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The pipeline of one seed (see the module documentation).
pub struct Pipeline {
    config: PipelineConfig,
    producer_id: u64,
    state: Mutex<State>,
}

impl Pipeline {
    /// Creates both topics and the producer id every run resumes.
    pub async fn setup(config: PipelineConfig, client: Client) -> Result<Arc<Pipeline>> {
        for topic in [INPUT, OUTPUT] {
            super::runner::create_topic(&config.urls[0], &config.token, topic, PARTITIONS).await?;
        }
        let producer = Producer::new(client, OUTPUT, idempotent());
        let (producer_id, _epoch) =
            retry("issue the pipeline's producer id", || producer.init()).await?;
        Ok(Arc::new(Pipeline {
            config,
            producer_id,
            state: Mutex::new(State::default()),
        }))
    }

    /// Starts the process on the next broker; `idle_rounds` makes it exit once drained.
    fn start(&self, state: &mut State, idle_rounds: Option<u32>) -> Result<()> {
        let url = &self.config.urls[state.starts % self.config.urls.len()];
        let mut command = Command::new(exactly_once_binary());
        command.args([url.as_str(), INPUT, OUTPUT, GROUP]);
        command.args(idle_rounds.map(|n| n.to_string()));
        command.env("SILT_PRODUCER_ID", self.producer_id.to_string());
        if let Some(token) = &self.config.token {
            command.env("SILT_TOKEN", token);
        }
        if self.config.separate_commit {
            command.env("SILT_PIPELINE_SEPARATE_COMMIT", "1");
        }
        command.stdout(Stdio::null()).stderr(self.log()?);
        state.child = Some(command.spawn().context("cannot start silt-exactly-once")?);
        state.starts += 1;
        Ok(())
    }

    /// The process's stderr: the log file (appended), or nothing.
    fn log(&self) -> Result<Stdio> {
        let Some(path) = &self.config.log else {
            return Ok(Stdio::null());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Stdio::from(file))
    }

    /// Starts the process unless it runs or is held down.
    fn keep_running(&self) -> Result<()> {
        let mut state = lock(&self.state);
        let running = match state.child.as_mut() {
            Some(child) => child.try_wait()?.is_none(),
            None => false,
        };
        if running || state.held {
            return Ok(());
        }
        self.start(&mut state, None)
    }

    /// `kill -9` the process (if it runs) and hold it down until [`Pipeline::release`];
    /// whether a process was killed.
    pub fn kill9(&self) -> Result<bool> {
        let mut state = lock(&self.state);
        state.held = true;
        let Some(mut child) = state.child.take() else {
            return Ok(false);
        };
        child.kill()?;
        child.wait()?;
        state.kills += 1;
        Ok(true)
    }

    /// Lets the supervisor start the process again.
    pub fn release(&self) {
        lock(&self.state).held = false;
    }

    /// Stops the process for good (not counted as a kill).
    fn stop(&self) {
        let mut state = lock(&self.state);
        state.held = true;
        if let Some(mut child) = state.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills and restarts so far.
    fn counts(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.kills, state.starts.saturating_sub(1))
    }

    /// One drain run: starts in idle-exit mode and waits (at most 120 s) for it to exit;
    /// whether it exited successfully.
    async fn drain_once(&self) -> Result<bool> {
        self.start(&mut lock(&self.state), Some(DRAIN_IDLE_ROUNDS))?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let exited = match lock(&self.state).child.as_mut() {
                Some(child) => child.try_wait()?,
                None => bail!("the drain run vanished"),
            };
            if let Some(status) = exited {
                lock(&self.state).child = None;
                return Ok(status.success());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stop();
        Ok(false)
    }

    /// Drains INPUT (runs until the committed offsets reach its end, at most 10), reads
    /// both topics and checks OUTPUT against INPUT.
    pub async fn drain_and_check(&self, client: &Client) -> Result<PipelineTally> {
        for _attempt in 0..10 {
            if !self.drain_once().await? {
                continue;
            }
            let input = read_topic(client, INPUT).await?;
            if committed(client).await? == ends(&input) {
                let output = read_topic(client, OUTPUT).await?;
                return Ok(self.tally(&input, &output));
            }
        }
        bail!("the pipeline did not drain {INPUT} in 10 runs")
    }

    /// The figures and violations of a drained pipeline.
    fn tally(
        &self,
        input: &BTreeMap<u32, PartitionRecords>,
        output: &BTreeMap<u32, PartitionRecords>,
    ) -> PipelineTally {
        let (kills, restarts) = self.counts();
        PipelineTally {
            input: input.values().map(Vec::len).sum(),
            transformed: output.values().map(Vec::len).sum(),
            kills,
            restarts,
            violations: check_transform(input, output),
        }
    }
}

/// The pipeline's producer, the feed and the supervisor of one seed; dropping it stops
/// them.
pub struct PipelineRun {
    /// The pipeline (the injector's [`Pipeline::kill9`] target).
    pub pipeline: Arc<Pipeline>,
    stop: Arc<AtomicBool>,
    feed: JoinHandle<usize>,
    supervisor: JoinHandle<()>,
}

impl PipelineRun {
    /// Starts feeding INPUT through `feed_client` and supervising the process.
    pub fn start(pipeline: Arc<Pipeline>, feed_client: Client) -> PipelineRun {
        let stop = Arc::new(AtomicBool::new(false));
        let feed = tokio::spawn(feed(feed_client, stop.clone()));
        let supervisor = tokio::spawn(supervise(Arc::downgrade(&pipeline), stop.clone()));
        PipelineRun {
            pipeline,
            stop,
            feed,
            supervisor,
        }
    }

    /// Stops the feed (after its last answers, at most 90 s) and the supervised process,
    /// then drains and checks (see [`Pipeline::drain_and_check`]).
    pub async fn finish(mut self, client: &Client) -> Result<PipelineTally> {
        self.stop.store(true, Ordering::SeqCst);
        let fed = tokio::time::timeout(Duration::from_secs(90), &mut self.feed).await;
        if !matches!(fed, Ok(Ok(_))) {
            bail!("the pipeline's feed did not stop within 90 s");
        }
        let _ = (&mut self.supervisor).await;
        self.pipeline.stop();
        self.pipeline.drain_and_check(client).await
    }
}

impl Drop for PipelineRun {
    /// Stops the feed and the supervisor when a run ends early.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.feed.abort();
    }
}

/// Restarts the process whenever it is not running and not held, until `stop`.
async fn supervise(pipeline: Weak<Pipeline>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let Some(pipeline) = pipeline.upgrade() else {
            return;
        };
        if let Err(error) = pipeline.keep_running() {
            eprintln!("pipeline supervisor: {error:#}");
        }
        drop(pipeline);
        tokio::time::sleep(SUPERVISE_EVERY).await;
    }
}

/// Writes batches of 10 records `{"n": i}` to INPUT every 100 ms, a partition in turn,
/// until `stop`; a failed batch is not sent again (INPUT is whatever landed). Answers the
/// records acknowledged.
async fn feed(client: Client, stop: Arc<AtomicBool>) -> usize {
    let producer = Producer::new(client, INPUT, idempotent());
    let mut sent = 0;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let partition = u32::try_from(n / 10 % u64::from(PARTITIONS)).unwrap_or(0);
        let records: Vec<ProduceRecord> = (n..n + 10)
            .map(|i| ProduceRecord {
                value: Some(json!({ "n": i })),
                partition: Some(partition),
                ..ProduceRecord::default()
            })
            .collect();
        n += 10;
        if let Ok(offsets) = producer.send_batch(records).await {
            sent += offsets.len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sent
}

fn idempotent() -> ProducerConfig {
    ProducerConfig {
        idempotent: true,
        ..ProducerConfig::default()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `f()` until it succeeds, at most 60 s.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = silt_sdk::Result<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f().await {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() < deadline => {
                eprintln!("{what}: {error}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => bail!("cannot {what}: {error}"),
        }
    }
}

/// The end (last offset + 1) of every partition read.
fn ends(topic: &BTreeMap<u32, PartitionRecords>) -> BTreeMap<u32, u64> {
    topic
        .iter()
        .map(|(p, records)| (*p, records.last().map_or(0, |(o, _)| o + 1)))
        .collect()
}

/// The group's committed offsets of INPUT, every partition (0 where none).
async fn committed(client: &Client) -> Result<BTreeMap<u32, u64>> {
    let groups = Groups::new(client.clone());
    let offsets = retry("read the pipeline's offsets", || groups.offsets(GROUP)).await?;
    let mut by_partition: BTreeMap<u32, u64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for offset in offsets.offsets.iter().filter(|o| o.topic == INPUT) {
        by_partition.insert(offset.partition, offset.offset);
    }
    Ok(by_partition)
}

/// Every record of `topic`, by partition, from its start to its high watermark.
async fn read_topic(client: &Client, topic: &str) -> Result<BTreeMap<u32, PartitionRecords>> {
    let admin = Admin::new(client.clone());
    let described = retry(&format!("describe {topic}"), || admin.describe_topic(topic)).await?;
    let mut all = BTreeMap::new();
    for partition in &described.partitions {
        let records =
            read_partition(client, topic, partition.partition, partition.high_watermark).await?;
        all.insert(partition.partition, records);
    }
    Ok(all)
}

/// The records of one partition below `end`.
async fn read_partition(
    client: &Client,
    topic: &str,
    partition: u32,
    end: u64,
) -> Result<PartitionRecords> {
    let config = ConsumerConfig {
        wait: Duration::ZERO,
        max_bytes: 8 << 20,
        max_records: 5000,
    };
    let mut consumer = Consumer::new(client.clone(), topic, partition, 0, config);
    let mut records = PartitionRecords::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while consumer.position() < end {
        if Instant::now() > deadline {
            bail!(
                "read {topic}/{partition}: stuck at {} below {end}",
                consumer.position()
            );
        }
        match consumer.poll().await {
            Ok(page) => records.extend(
                page.into_iter()
                    .map(|r| (r.offset, r.value.unwrap_or_default())),
            ),
            Err(error) => {
                eprintln!("read {topic}/{partition}: {error}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Ok(records)
}
