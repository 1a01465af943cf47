//! One fault run: a [`Cluster`], a topic with 3 partitions, a workload running throughout
//! (2 idempotent and 2 plain SDK producers, each starting on a different broker with the
//! others as failover; 2 consumers tailing every partition through other brokers), a seeded
//! [`Schedule`] of faults, then healing (resume, restart, clear injected faults), the
//! producers' last answers, a final read of every partition through broker 1, the history
//! file and the [`checker`](crate::checker) verdict. Every client sends the cluster's
//! `admin` token; when the schedule has a [`Fault::HostilePrincipal`], the principal
//! `intruder` is added first (with a topic of its own) and its attacks' refusals are counted
//! in the outcome, a successful attack failing the run. When it draws the exactly-once
//! pipeline ([`Schedule::has_pipeline`]), [`super::pipeline`] runs it beside the workload,
//! the schedule `kill -9`s it, and after the heal it drains and its output is checked
//! (`check_transform`); its violations count as the seed's.
//!
//! Order matters for the checker: producers and tailing consumers stop recording before the
//! final read starts, so every acknowledged offset is below the final high watermarks and
//! everything a consumer saw was committed before the final read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use silt_sdk::wire::TopicConfig;
use silt_sdk::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, Error, Producer, ProducerConfig,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

use super::intruder::{self, Intruders, ProducerIds, Tally};
use super::pipeline::{Pipeline, PipelineConfig, PipelineRun, PipelineTally};
use super::schedule::{Fault, OutageLength, Schedule, ScheduledFault};
use crate::checker::{History, Report};
use crate::harness::{Cluster, ClusterOptions, Role};
use crate::workload::{SharedHistory, read_of, record};

/// The topic every run writes.
pub const TOPIC: &str = "faults";

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The schedule's seed.
    pub seed: u64,
    /// How long the workload runs under faults.
    pub duration: Duration,
    /// Where to write `seed-<seed>.jsonl` (the history); None writes nothing.
    pub history_dir: Option<PathBuf>,
    /// Keep the history file of a run that passed too (default: only failures').
    pub keep_passing_histories: bool,
    /// Partitions of the topic (default 3).
    pub partitions: u32,
    /// Pause between two records of one producer (default 5 ms).
    pub record_interval: Duration,
    /// Print each fault as it is applied.
    pub verbose: bool,
    /// How long a metadata outage (a majority down) lasts.
    pub outage: OutageLength,
    /// Run the pipeline at least once (records and commit in two requests), to show that
    /// the check catches it; never for a real run.
    pub pipeline_separate_commit: bool,
}

impl RunConfig {
    /// Defaults for `seed`: 20 s, 3 partitions, no history file.
    pub fn new(seed: u64) -> Self {
        RunConfig {
            seed,
            duration: Duration::from_secs(20),
            history_dir: None,
            keep_passing_histories: false,
            partitions: 3,
            record_interval: Duration::from_millis(5),
            verbose: false,
            outage: OutageLength::default(),
            pipeline_separate_commit: false,
        }
    }
}

/// What one run found.
#[derive(Debug)]
pub struct RunOutcome {
    /// The seed.
    pub seed: u64,
    /// The schedule that was run.
    pub schedule: Schedule,
    /// The checker's verdict.
    pub report: Report,
    /// Records handed to producers.
    pub operations: usize,
    /// Records acknowledged.
    pub acknowledged: usize,
    /// Sends with an unknown outcome.
    pub indeterminate: usize,
    /// Faults actually applied (a fault whose target was still recovering when the
    /// workload ended is skipped).
    pub faults_applied: usize,
    /// Faults that could not be applied or healed (e.g. a process that did not restart).
    pub fault_errors: Vec<String>,
    /// The hostile principal's attempts: refused, unanswered, and any that worked.
    pub attacks: Tally,
    /// The exactly-once pipeline's figures and violations, in seeds that run it.
    pub pipeline: Option<PipelineTally>,
    /// The history file, when one was written.
    pub history_path: Option<PathBuf>,
    /// Cluster status and log tails, when something went wrong.
    pub diagnostics: Option<String>,
}

impl RunOutcome {
    /// Whether the checker found no violation, every fault was applied and healed, and no
    /// attack of the hostile principal worked.
    pub fn ok(&self) -> bool {
        self.violations() == 0 && self.fault_errors.is_empty() && self.attacks.violations.is_empty()
    }

    /// The checker's violations and the pipeline's.
    pub fn violations(&self) -> usize {
        self.report.violations.len() + self.pipeline_violations().len()
    }

    /// What `check_transform` found in the pipeline's output (none without a pipeline).
    pub fn pipeline_violations(&self) -> &[String] {
        self.pipeline.as_ref().map_or(&[], |p| &p.violations)
    }

    /// `, pipeline: 1500 transformed, 5 kills, 7 restarts` (empty without a pipeline).
    fn pipeline_figures(&self) -> String {
        self.pipeline.as_ref().map_or_else(String::new, |p| {
            format!(
                ", pipeline: {} transformed, {} kills, {} restarts",
                p.transformed, p.kills, p.restarts
            )
        })
    }

    /// `seed 42: ok, 1234 acknowledged, 3 indeterminate, 7 faults`
    pub fn line(&self) -> String {
        let verdict = if self.ok() {
            "ok".to_owned()
        } else if self.violations() > 0 {
            format!("FAILED ({} violations)", self.violations())
        } else if !self.attacks.violations.is_empty() {
            format!("FAILED ({} attacks worked)", self.attacks.violations.len())
        } else {
            format!("FAILED ({} fault errors)", self.fault_errors.len())
        };
        format!(
            "seed {}: {verdict}, {} acknowledged, {} indeterminate, {} faults, {} attacks refused{}",
            self.seed,
            self.acknowledged,
            self.indeterminate,
            self.faults_applied,
            self.attacks.refused,
            self.pipeline_figures()
        )
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.line())?;
        if self.ok() {
            return Ok(());
        }
        write!(f, "{}", self.report)?;
        for violation in self.pipeline_violations() {
            writeln!(f, "pipeline: {violation}")?;
        }
        for error in &self.fault_errors {
            writeln!(f, "fault error: {error}")?;
        }
        for attack in &self.attacks.violations {
            writeln!(f, "attack worked: {attack}")?;
        }
        if let Some(path) = &self.history_path {
            writeln!(f, "history: {} (check it with silt-check)", path.display())?;
            if self.pipeline.is_some() {
                let log = path.with_file_name(format!("seed-{}-pipeline.log", self.seed));
                writeln!(f, "pipeline stderr: {}", log.display())?;
            }
        }
        write!(f, "{}", self.schedule)?;
        writeln!(f, "rerun: silt-faults --seed {}", self.seed)?;
        if let Some(diagnostics) = &self.diagnostics {
            write!(f, "{diagnostics}")?;
        }
        Ok(())
    }
}

/// Each process gets a small disk of its own (where mounting is permitted), so
/// [`Fault::FillDisk`] can fill one; the broker's disk cache and spool budget fit in it.
fn cluster_options() -> ClusterOptions {
    let env = [
        ("SILT_CACHE_DISK_BYTES", "64MiB"),
        ("SILT_WAL_MAX_SPOOL_BYTES", "96MiB"),
    ];
    ClusterOptions {
        disk_size: Some("256m".to_owned()),
        env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(),
        ..ClusterOptions::default()
    }
}

/// Runs one schedule on a fresh cluster (see the module documentation).
pub async fn run(config: RunConfig) -> Result<RunOutcome> {
    let schedule = Schedule::generate_with(config.seed, config.duration, (3, 3), config.outage);
    println!(
        "seed {}: starting ({} faults over {} s; rerun with --seed {})",
        config.seed,
        schedule.faults.len(),
        config.duration.as_secs(),
        config.seed
    );
    if config.verbose {
        print!("{schedule}");
    }
    let name = format!("faults-{}", config.seed);
    let cluster = tokio::task::spawn_blocking(move || Cluster::up_with(&name, cluster_options()))
        .await
        .context("cluster start panicked")??;
    let cluster = Arc::new(cluster);
    let result = run_on(&cluster, &config, schedule).await;
    match result {
        Ok(mut outcome) => {
            if !outcome.ok() {
                outcome.diagnostics = Some(cluster_diagnostics(&cluster).await);
            }
            stop_cluster(cluster).await;
            Ok(outcome)
        }
        Err(error) => {
            let diagnostics = cluster_diagnostics(&cluster).await;
            stop_cluster(cluster).await;
            Err(error.context(diagnostics))
        }
    }
}

async fn cluster_diagnostics(cluster: &Arc<Cluster>) -> String {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || cluster.diagnostics(40))
        .await
        .unwrap_or_default()
}

/// Drops the cluster (which runs `local-cluster.sh down`) off the async threads.
async fn stop_cluster(cluster: Arc<Cluster>) {
    let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
}

struct Workload {
    stop: Arc<AtomicBool>,
    /// Cleared (under the history lock) once the workload is over: answers that arrive
    /// later are not recorded, so nothing is acknowledged after the final read began.
    recording: Arc<AtomicBool>,
    producers: Vec<JoinHandle<()>>,
    consumers: Vec<JoinHandle<()>>,
    consumer_stop: Arc<AtomicBool>,
    /// Poison pills and malformed bodies throughout; answers the ones acknowledged.
    hostile: JoinHandle<Vec<String>>,
    /// The ids the idempotent producers obtained (the hostile principal's targets).
    producer_ids: ProducerIds,
}

async fn run_on(
    cluster: &Arc<Cluster>,
    config: &RunConfig,
    schedule: Schedule,
) -> Result<RunOutcome> {
    let urls = cluster.broker_urls();
    let token = cluster.token();
    create_topic(&urls[0], &token, TOPIC, config.partitions).await?;
    let history: SharedHistory = Arc::new(Mutex::new(History::default()));
    {
        let mut h = lock(&history);
        h.meta("seed", json!(config.seed));
        h.meta("duration_s", json!(config.duration.as_secs()));
        h.meta("topic", json!(TOPIC));
        h.meta("partitions", json!(config.partitions));
        h.meta("brokers", json!(urls));
        h.meta("schedule", json!(schedule.to_string()));
    }
    let intruder_token = if has_hostile_principal(&schedule) {
        Some(admit_intruder(cluster).await?)
    } else {
        None
    };
    let workload = start_workload(&urls, &token, config, &history)?;
    let pipeline = start_pipeline(&schedule, config, &urls, &token).await?;
    let intruders = intruder_token.map(|token| {
        let ids = workload.producer_ids.clone();
        Arc::new(Intruders::new(urls.clone(), TOPIC, token, ids))
    });

    // Faults, then heal.
    let (heal_tx, heal_rx) = watch::channel(false);
    let injector = Injector {
        cluster: cluster.clone(),
        history: history.clone(),
        heal: heal_rx,
        metadata_slots: Arc::new(Semaphore::new(1)),
        brokers_down: Arc::new(Semaphore::new(cluster.size(Role::Broker).saturating_sub(1))),
        broker_locks: (0..cluster.size(Role::Broker))
            .map(|_| Arc::new(Semaphore::new(1)))
            .collect(),
        applied: Arc::new(AtomicUsize::new(0)),
        errors: Arc::new(Mutex::new(Vec::new())),
        verbose: config.verbose,
        started: Instant::now(),
        intruders,
        attacks: Arc::new(Mutex::new(Tally::default())),
        pipeline: pipeline.as_ref().map(|run| run.pipeline.clone()),
    };
    let fault_tasks: Vec<JoinHandle<()>> = schedule
        .faults
        .iter()
        .cloned()
        .map(|scheduled| {
            let injector = injector.clone();
            tokio::spawn(async move { injector.run(scheduled).await })
        })
        .collect();
    tokio::time::sleep(config.duration).await;
    let _ = heal_tx.send(true);
    for task in fault_tasks {
        if tokio::time::timeout(Duration::from_secs(180), task)
            .await
            .is_err()
        {
            injector.error("a fault task did not finish within 180 s of the heal".to_owned());
        }
    }
    injector.heal_everything().await;
    lock(&history).fault("healed: every process running, no injected faults");

    // Producers finish, consumers stop, then the final read.
    stop_workload(workload, &injector, &history).await;
    final_read(&urls[0], &token, &history).await?;
    let pipeline = match pipeline {
        Some(run) => Some(finish_pipeline(run, &urls, &token, &history, config.verbose).await?),
        None => None,
    };

    let history_path = match &config.history_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(format!("seed-{}.jsonl", config.seed));
            lock(&history)
                .save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let report = lock(&history).check(&BTreeMap::new());
    let fault_errors = lock(&injector.errors).clone();
    let attacks = lock(&injector.attacks).clone();
    let pipeline_ok = pipeline.as_ref().is_none_or(|p| p.violations.is_empty());
    let passed =
        report.ok() && pipeline_ok && fault_errors.is_empty() && attacks.violations.is_empty();
    let history_path = match history_path {
        Some(path) if passed && !config.keep_passing_histories => {
            let _ = std::fs::remove_file(&path);
            if let Some(log) = pipeline_log(config) {
                let _ = std::fs::remove_file(log);
            }
            None
        }
        other => other,
    };
    Ok(RunOutcome {
        seed: config.seed,
        operations: report.sent,
        acknowledged: report.acknowledged,
        indeterminate: report.indeterminate,
        faults_applied: injector.applied.load(Ordering::SeqCst),
        schedule,
        report,
        fault_errors,
        attacks,
        pipeline,
        history_path,
        diagnostics: None,
    })
}

/// Where the pipeline process's stderr goes: beside the history.
fn pipeline_log(config: &RunConfig) -> Option<PathBuf> {
    let dir = config.history_dir.as_ref()?;
    Some(dir.join(format!("seed-{}-pipeline.log", config.seed)))
}

/// The exactly-once pipeline with its feed and supervisor, when `schedule` draws it.
async fn start_pipeline(
    schedule: &Schedule,
    config: &RunConfig,
    urls: &[String],
    token: &Option<String>,
) -> Result<Option<PipelineRun>> {
    if !schedule.has_pipeline() {
        return Ok(None);
    }
    let log = pipeline_log(config);
    if let Some(dir) = &config.history_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let pipeline_config = PipelineConfig {
        urls: urls.to_vec(),
        token: token.clone(),
        separate_commit: config.pipeline_separate_commit,
        log,
    };
    let setup_client = client(urls, token, 0, Duration::from_secs(5))?;
    let pipeline = Pipeline::setup(pipeline_config, setup_client).await?;
    let feed_client = client(urls, token, 2, Duration::from_secs(5))?;
    Ok(Some(PipelineRun::start(pipeline, feed_client)))
}

/// Stops, drains and checks the pipeline, and notes its figures in the history.
async fn finish_pipeline(
    run: PipelineRun,
    urls: &[String],
    token: &Option<String>,
    history: &SharedHistory,
    verbose: bool,
) -> Result<PipelineTally> {
    let started = Instant::now();
    let check_client = client(urls, token, 0, Duration::from_secs(15))?;
    let tally = run.finish(&check_client).await?;
    if verbose {
        let secs = started.elapsed().as_secs_f64();
        println!("  pipeline drained and checked in {secs:.1} s");
    }
    lock(history).meta(
        "pipeline",
        json!({
            "input": tally.input,
            "transformed": tally.transformed,
            "kills": tally.kills,
            "restarts": tally.restarts,
            "violations": tally.violations,
        }),
    );
    Ok(tally)
}

fn has_hostile_principal(schedule: &Schedule) -> bool {
    schedule
        .faults
        .iter()
        .any(|s| matches!(s.fault, Fault::HostilePrincipal { .. }))
}

/// Adds the principal `intruder` (rights on its own topic only) and creates that topic as
/// `intruder`, proving its token works; its token, None on brokers without authentication.
async fn admit_intruder(cluster: &Cluster) -> Result<Option<String>> {
    if !cluster.auth_enabled() {
        return Ok(None);
    }
    let token = cluster
        .add_principal(intruder::INTRUDER, &intruder::INTRUDER_RULES)
        .await?;
    let url = cluster.broker_url(1);
    create_topic(&url, &Some(token.clone()), intruder::INTRUDER_TOPIC, 1).await?;
    Ok(Some(token))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A client that starts at `urls[first]` and fails over to the others in turn, sending
/// `token` (the cluster's `admin` token, None with authentication off).
pub fn client(
    urls: &[String],
    token: &Option<String>,
    first: usize,
    request_timeout: Duration,
) -> Result<Client> {
    let n = urls.len();
    let failover_urls = (1..n).map(|k| urls[(first + k) % n].clone()).collect();
    Client::with_config(ClientConfig {
        failover_urls,
        request_timeout,
        max_attempts: 10,
        max_backoff: Duration::from_millis(1000),
        token: token.clone(),
        ..ClientConfig::new(urls[first % n].clone())
    })
    .map_err(|e| anyhow!("client for {}: {e}", urls[first % n]))
}

/// Creates topic `name` through `url`, retrying for 60 s (an existing one is fine).
pub(super) async fn create_topic(
    url: &str,
    token: &Option<String>,
    name: &str,
    partitions: u32,
) -> Result<()> {
    create_topic_with(url, token, name, partitions, TopicConfig::default()).await
}

/// [`create_topic`] with `config` (retention, compression).
pub async fn create_topic_with(
    url: &str,
    token: &Option<String>,
    name: &str,
    partitions: u32,
    config: TopicConfig,
) -> Result<()> {
    let admin = Admin::new(
        Client::with_config(ClientConfig {
            request_timeout: Duration::from_secs(10),
            token: token.clone(),
            ..ClientConfig::new(url)
        })
        .map_err(|e| anyhow!("{e}"))?,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match admin.create_topic(name, partitions, config.clone()).await {
            Ok(_) => return Ok(()),
            // An earlier attempt was applied although its answer was lost.
            Err(e)
                if e.code()
                    .is_some_and(|c| c.as_str() == "topic_already_exists") =>
            {
                return Ok(());
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("create topic: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => bail!("cannot create topic {name} on {url}: {e}"),
        }
    }
}

fn start_workload(
    urls: &[String],
    token: &Option<String>,
    config: &RunConfig,
    history: &SharedHistory,
) -> Result<Workload> {
    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(true));
    let consumer_stop = Arc::new(AtomicBool::new(false));
    let producer_ids = ProducerIds::default();
    let mut producers = Vec::new();
    // (name, idempotent): each starts on another broker (the 4th shares broker 1).
    for (k, (name, idempotent)) in [
        ("idem-0", true),
        ("idem-1", true),
        ("plain-0", false),
        ("plain-1", false),
    ]
    .into_iter()
    .enumerate()
    {
        let job = ProducerJob {
            topic: TOPIC.to_owned(),
            name: name.to_owned(),
            idempotent,
            client: client(urls, token, k, Duration::from_secs(5))?,
            partitions: config.partitions,
            interval: config.record_interval,
            history: history.clone(),
            stop: stop.clone(),
            recording: recording.clone(),
            ids: producer_ids.clone(),
        };
        producers.push(tokio::spawn(job.run()));
    }
    let mut consumers = Vec::new();
    for (c, first_broker) in [1usize, 2].into_iter().enumerate() {
        for partition in 0..config.partitions {
            let client = client(urls, token, first_broker, Duration::from_secs(5))?;
            let name = format!("consumer-{c}");
            consumers.push(tokio::spawn(tail(
                client,
                name,
                partition,
                history.clone(),
                consumer_stop.clone(),
            )));
        }
    }
    let hostile = tokio::spawn(super::hostile::run(
        urls.to_vec(),
        token.clone(),
        TOPIC,
        Duration::from_millis(50),
        stop.clone(),
    ));
    Ok(Workload {
        stop,
        recording,
        producers,
        consumers,
        consumer_stop,
        hostile,
        producer_ids,
    })
}

async fn stop_workload(workload: Workload, injector: &Injector, history: &SharedHistory) {
    workload.stop.store(true, Ordering::SeqCst);
    for producer in workload.producers {
        let abort = producer.abort_handle();
        if tokio::time::timeout(Duration::from_secs(90), producer)
            .await
            .is_err()
        {
            abort.abort();
            injector.error("a producer did not finish within 90 s after the heal".to_owned());
        }
    }
    match tokio::time::timeout(Duration::from_secs(20), workload.hostile).await {
        Ok(Ok(violations)) => {
            for violation in violations {
                injector.error(format!("hostile client: {violation}"));
            }
        }
        Ok(Err(error)) => injector.error(format!("hostile client failed: {error}")),
        Err(_) => injector.error("the hostile client did not stop within 20 s".to_owned()),
    }
    {
        let _history = lock(history);
        workload.recording.store(false, Ordering::SeqCst);
    }
    workload.consumer_stop.store(true, Ordering::SeqCst);
    for consumer in workload.consumers {
        let abort = consumer.abort_handle();
        if tokio::time::timeout(Duration::from_secs(20), consumer)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Codes that prove the broker rejected a produce before staging anything.
const DEFINITE_FAILURES: &[&str] = &[
    "invalid_request",
    "invalid_parameter",
    "invalid_record",
    "invalid_topic_name",
    "record_too_large",
    "too_many_records",
    "payload_too_large",
    "body_timeout",
];

/// Whether a failed send certainly wrote nothing: a validation error, or, for a plain
/// producer, a final failure that guarantees the request was not applied (the SDK retries
/// a plain producer's request only after such failures, so no earlier attempt was applied
/// either). Anything else is indeterminate. An idempotent producer may have had an earlier
/// attempt applied (it also retries after timeouts), so only validation errors count.
fn is_definite(error: &Error, idempotent: bool) -> bool {
    error
        .code()
        .is_some_and(|code| DEFINITE_FAILURES.contains(&code.as_str()))
        || (!idempotent && error.is_not_applied())
}

fn record_failure(
    history: &SharedHistory,
    recording: &AtomicBool,
    id: &str,
    error: &Error,
    idempotent: bool,
) {
    let definite = is_definite(error, idempotent);
    let text = error.to_string();
    let mut h = lock(history);
    if !recording.load(Ordering::SeqCst) {
        return;
    }
    if definite {
        h.failed(id, &text);
    } else {
        h.indeterminate(id, &text);
    }
}

/// One SDK producer of the workload: sends records of [`record`] one after another (at
/// most [`IN_FLIGHT`] unanswered) until `stop`, recording each send and its answer.
pub struct ProducerJob {
    /// The topic it writes.
    pub topic: String,
    /// Its name in the history (record ids are `<name>-<sequence>`).
    pub name: String,
    /// Whether the SDK producer is idempotent.
    pub idempotent: bool,
    /// The client it sends through.
    pub client: Client,
    /// The topic's partition count.
    pub partitions: u32,
    /// Pause between two records.
    pub interval: Duration,
    /// Where sends and answers are recorded.
    pub history: SharedHistory,
    /// Set to stop sending (outstanding answers are still awaited).
    pub stop: Arc<AtomicBool>,
    /// Cleared once answers must no longer be recorded.
    pub recording: Arc<AtomicBool>,
    /// Where the producer's id goes once it has one (idempotent producers only).
    pub ids: ProducerIds,
}

/// Records handed to one producer and not answered yet, at most.
pub const IN_FLIGHT: usize = 64;

impl ProducerJob {
    /// Sends until `stop`, then waits for every outstanding answer.
    pub async fn run(self) {
        let producer = Producer::new(
            self.client.clone(),
            &self.topic,
            ProducerConfig {
                idempotent: self.idempotent,
                ..ProducerConfig::default()
            },
        );
        lock(&self.history).producer(&self.name, self.idempotent);
        let window = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sequence = 0u64;
        while !self.stop.load(Ordering::SeqCst) {
            let Some(permit) = acquire(&window, &self.stop).await else {
                break;
            };
            let (record, sent) = record(&self.name, sequence, self.partitions, false);
            sequence += 1;
            let id = sent.id.clone();
            lock(&self.history).sent(sent);
            if let Some(producer_id) = producer.producer_id() {
                lock(&self.ids).insert(producer_id);
            }
            match producer.send(record).await {
                Ok(answer) => {
                    let history = self.history.clone();
                    let recording = self.recording.clone();
                    let idempotent = self.idempotent;
                    tokio::spawn(async move {
                        let _permit: OwnedSemaphorePermit = permit;
                        match answer.await {
                            Ok(offset) => {
                                let mut h = lock(&history);
                                if recording.load(Ordering::SeqCst) {
                                    h.acknowledged(&id, offset.partition, offset.offset);
                                }
                            }
                            Err(error) => {
                                record_failure(&history, &recording, &id, &error, idempotent)
                            }
                        }
                    });
                }
                Err(error) => {
                    record_failure(&self.history, &self.recording, &id, &error, self.idempotent)
                }
            }
            tokio::time::sleep(self.interval).await;
        }
        // Wait for every outstanding answer (bounded by the caller).
        let _ = producer.flush().await;
        let _ = window.acquire_many(IN_FLIGHT as u32).await;
    }
}

/// A permit of `window`, or None once `stop` is set.
async fn acquire(window: &Arc<Semaphore>, stop: &AtomicBool) -> Option<OwnedSemaphorePermit> {
    loop {
        tokio::select! {
            permit = window.clone().acquire_owned() => return permit.ok(),
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
        }
    }
}

/// A consumer tailing one partition from offset 0, recording every record it gets.
async fn tail(
    client: Client,
    name: String,
    partition: u32,
    history: SharedHistory,
    stop: Arc<AtomicBool>,
) {
    let mut consumer = Consumer::new(
        client,
        TOPIC,
        partition,
        0,
        ConsumerConfig {
            wait: Duration::from_secs(1),
            max_records: 500,
            ..ConsumerConfig::default()
        },
    );
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll().await {
            Ok(records) => {
                let mut h = lock(&history);
                for record in &records {
                    h.observed(&name, read_of(partition, record));
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Reads every partition from its start to its high watermark through one broker.
async fn final_read(url: &str, token: &Option<String>, history: &SharedHistory) -> Result<()> {
    let client = Client::with_config(ClientConfig {
        request_timeout: Duration::from_secs(15),
        max_attempts: 10,
        token: token.clone(),
        ..ClientConfig::new(url)
    })
    .map_err(|e| anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let topic = loop {
        match Admin::new(client.clone()).describe_topic(TOPIC).await {
            Ok(topic) => break topic,
            Err(e) if Instant::now() < deadline => {
                eprintln!("final read: describe {TOPIC}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => bail!("final read: cannot describe {TOPIC} on {url}: {e}"),
        }
    };
    for partition in &topic.partitions {
        lock(history).final_range(
            partition.partition,
            partition.start_offset,
            partition.high_watermark,
        );
        let mut consumer = Consumer::new(
            client.clone(),
            TOPIC,
            partition.partition,
            partition.start_offset,
            ConsumerConfig {
                wait: Duration::ZERO,
                max_bytes: 8 << 20,
                max_records: 5000,
            },
        );
        while consumer.position() < partition.high_watermark {
            match consumer.poll().await {
                Ok(records) if !records.is_empty() => {
                    let mut h = lock(history);
                    for record in &records {
                        h.read(read_of(partition.partition, record));
                    }
                }
                Ok(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(_) => bail!(
                    "final read: no progress in partition {} at offset {} below the high watermark {}",
                    partition.partition,
                    consumer.position(),
                    partition.high_watermark
                ),
                Err(e) if Instant::now() < deadline => {
                    eprintln!(
                        "final read: partition {} offset {}: {e}; retrying",
                        partition.partition,
                        consumer.position()
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => bail!(
                    "final read: partition {} offset {}: {e}",
                    partition.partition,
                    consumer.position()
                ),
            }
        }
    }
    Ok(())
}

/// Applies scheduled faults, keeping the cluster available (see [`super::schedule`]).
#[derive(Clone)]
struct Injector {
    cluster: Arc<Cluster>,
    history: SharedHistory,
    heal: watch::Receiver<bool>,
    /// Metadata nodes that may be down or paused at once.
    metadata_slots: Arc<Semaphore>,
    /// Brokers that may be down or paused at once.
    brokers_down: Arc<Semaphore>,
    /// One fault per broker at a time.
    broker_locks: Vec<Arc<Semaphore>>,
    applied: Arc<AtomicUsize>,
    errors: Arc<Mutex<Vec<String>>>,
    verbose: bool,
    started: Instant,
    /// The hostile principal's attackers, when the schedule has one.
    intruders: Option<Arc<Intruders>>,
    /// What its attacks came to.
    attacks: Arc<Mutex<Tally>>,
    /// The exactly-once pipeline, when the schedule runs one.
    pipeline: Option<Arc<Pipeline>>,
}

impl Injector {
    fn healing(&self) -> bool {
        *self.heal.borrow()
    }

    fn note(&self, text: &str) {
        lock(&self.history).fault(text);
        if self.verbose {
            println!("  t={:>5.1}s {text}", self.started.elapsed().as_secs_f64());
        }
    }

    fn error(&self, text: String) {
        self.note(&format!("ERROR: {text}"));
        lock(&self.errors).push(text);
    }

    /// Sleeps `length`, or less when the heal begins.
    async fn hold(&self, length: Duration) {
        let mut heal = self.heal.clone();
        tokio::select! {
            () = tokio::time::sleep(length) => {}
            _ = heal.wait_for(|healing| *healing) => {}
        }
    }

    /// Runs blocking process control off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Cluster) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || f(&cluster))
            .await
            .map_err(|e| anyhow!("process control panicked: {e}"))?
    }

    async fn permit(&self, semaphore: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
        let mut heal = self.heal.clone();
        tokio::select! {
            permit = semaphore.clone().acquire_owned() => permit.ok(),
            _ = heal.wait_for(|healing| *healing) => None,
        }
    }

    async fn run(self, scheduled: ScheduledFault) {
        let at = self.started + scheduled.at;
        let mut heal = self.heal.clone();
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => {}
            _ = heal.wait_for(|healing| *healing) => return,
        }
        // Take the slots the schedule planned for; a target still recovering delays the
        // fault, and one still waiting when the heal begins is skipped.
        let mut permits = Vec::new();
        match scheduled.fault {
            Fault::KillMetadataLeader { .. }
            | Fault::PauseMetadata { .. }
            | Fault::MetadataOutage { .. }
            | Fault::RestartMetadataCluster { .. }
            | Fault::FillDisk {
                role: Role::Metadata,
                ..
            } => {
                let Some(p) = self.permit(&self.metadata_slots).await else {
                    return;
                };
                permits.push(p);
            }
            Fault::KillBroker { broker, .. } | Fault::PauseBroker { broker, .. } => {
                let Some(p) = self.permit(&self.broker_locks[broker - 1]).await else {
                    return;
                };
                permits.push(p);
                let Some(p) = self.permit(&self.brokers_down).await else {
                    return;
                };
                permits.push(p);
            }
            Fault::ObjectStoreErrors { broker, .. }
            | Fault::LatencySpike { broker, .. }
            | Fault::FullDisk { broker, .. }
            | Fault::FillDisk {
                role: Role::Broker,
                node: broker,
                ..
            } => {
                let Some(p) = self.permit(&self.broker_locks[broker - 1]).await else {
                    return;
                };
                permits.push(p);
            }
            Fault::HostilePrincipal { .. } | Fault::PipelineKill { .. } => {}
        }
        if self.healing() {
            return;
        }
        match self.apply(&scheduled.fault).await {
            Ok(true) => {
                self.applied.fetch_add(1, Ordering::SeqCst);
            }
            Ok(false) => {}
            Err(error) => self.error(format!("{}: {error:#}", scheduled.fault)),
        }
        drop(permits);
    }

    /// Applies one fault and undoes it; Ok(false) when it could not apply (no leader).
    async fn apply(&self, fault: &Fault) -> Result<bool> {
        match *fault {
            Fault::KillBroker {
                broker,
                down,
                wipe_cache,
            } => {
                if !self
                    .blocking(move |c| c.kill9(Role::Broker, broker))
                    .await?
                {
                    self.error(format!(
                        "broker {broker} was not running when it was to be killed"
                    ));
                }
                self.note(&format!("kill -9 broker {broker}"));
                self.hold(down).await;
                if wipe_cache {
                    self.blocking(move |c| c.wipe_cache(broker)).await?;
                    self.note(&format!("wiped the cache dir of broker {broker}"));
                }
                self.blocking(move |c| c.start_alive(Role::Broker, broker))
                    .await?;
                self.note(&format!("restarted broker {broker}"));
            }
            Fault::KillMetadataLeader { down } => {
                let Some(leader) = self.cluster.metadata_leader().await else {
                    self.note("kill -9 the metadata leader: skipped, no leader right now");
                    return Ok(false);
                };
                if !self
                    .blocking(move |c| c.kill9(Role::Metadata, leader))
                    .await?
                {
                    self.error(format!(
                        "metadata node {leader} was not running when it was to be killed"
                    ));
                }
                self.note(&format!("kill -9 metadata node {leader} (the leader)"));
                self.hold(down).await;
                self.blocking(move |c| c.start(Role::Metadata, leader))
                    .await?;
                self.note(&format!("restarted metadata node {leader}"));
            }
            Fault::PauseBroker { broker, pause } => {
                self.blocking(move |c| c.pause(Role::Broker, broker))
                    .await?;
                self.note(&format!("SIGSTOP broker {broker}"));
                self.hold(pause).await;
                self.blocking(move |c| c.resume(Role::Broker, broker))
                    .await?;
                self.note(&format!("SIGCONT broker {broker}"));
            }
            Fault::PauseMetadata { node, pause } => {
                let node = match node {
                    Some(node) => node,
                    None => match self.cluster.metadata_leader().await {
                        Some(leader) => leader,
                        None => {
                            self.note("SIGSTOP the metadata leader: skipped, no leader right now");
                            return Ok(false);
                        }
                    },
                };
                self.blocking(move |c| c.pause(Role::Metadata, node))
                    .await?;
                self.note(&format!("SIGSTOP metadata node {node}"));
                self.hold(pause).await;
                self.blocking(move |c| c.resume(Role::Metadata, node))
                    .await?;
                self.note(&format!("SIGCONT metadata node {node}"));
            }
            Fault::ObjectStoreErrors {
                broker,
                error_rate,
                slowdown_rate,
                hang_rate,
                lost_response_rate,
                length,
            } => {
                let faults = json!({
                    "error_rate": error_rate,
                    "slowdown_rate": slowdown_rate,
                    "hang_rate": hang_rate,
                    "lost_response_rate": lost_response_rate,
                });
                self.injected(broker, &faults, length, &fault.to_string())
                    .await?;
            }
            Fault::LatencySpike {
                broker,
                extra_latency_ms,
                length,
            } => {
                let faults = json!({ "extra_latency_ms": extra_latency_ms });
                self.injected(broker, &faults, length, &fault.to_string())
                    .await?;
            }
            Fault::FullDisk { broker, length } => {
                let faults = json!({ "spool_budget_bytes": 1 });
                self.injected(broker, &faults, length, &fault.to_string())
                    .await?;
            }
            Fault::MetadataOutage { down } => {
                let nodes = self.cluster.size(Role::Metadata);
                let leader = self.cluster.metadata_leader().await.unwrap_or(1);
                // The leader and the nodes after it, a majority in all.
                let victims: Vec<usize> = (0..nodes / 2 + 1)
                    .map(|i| (leader - 1 + i) % nodes + 1)
                    .collect();
                self.metadata_down(&victims, down).await?;
            }
            Fault::RestartMetadataCluster { down } => {
                let every: Vec<usize> = (1..=self.cluster.size(Role::Metadata)).collect();
                self.metadata_down(&every, down).await?;
            }
            Fault::HostilePrincipal { length } => self.attack(length).await?,
            Fault::PipelineKill { down } => self.kill_pipeline(down).await?,
            Fault::FillDisk { role, node, length } => {
                if !self.cluster.has_own_disks() {
                    self.note(&format!("{fault}: skipped, no disks of their own here"));
                    return Ok(false);
                }
                let bytes = self.blocking(move |c| c.fill_disk(role, node)).await?;
                self.note(&format!("filled the disk of {role} {node} ({bytes} bytes)"));
                self.hold(length).await;
                self.blocking(move |c| c.free_disk(role, node)).await?;
                self.note(&format!("freed the disk of {role} {node}"));
                self.supervise(role, node).await?;
            }
        }
        Ok(true)
    }

    /// Runs the hostile principal's attacks for `length` (less when the heal begins) and
    /// adds them to the tally.
    async fn attack(&self, length: Duration) -> Result<()> {
        let intruders = self
            .intruders
            .clone()
            .ok_or_else(|| anyhow!("a hostile principal without attackers"))?;
        self.note("hostile principal: attacks begin");
        let tally = intruders.run_until(self.hold(length)).await;
        let ids = intruders.known_producer_ids();
        self.note(&format!(
            "hostile principal: {} attempts refused, {} unanswered, {} worked (producer ids attacked: {ids:?})",
            tally.refused,
            tally.unanswered,
            tally.violations.len()
        ));
        if ids.is_empty() {
            self.error("hostile principal: no producer id of the workload was known".to_owned());
        }
        lock(&self.attacks).add(tally);
        Ok(())
    }

    /// `kill -9` the pipeline process, keeps it down for `down`, lets it restart.
    async fn kill_pipeline(&self, down: Duration) -> Result<()> {
        let pipeline = self
            .pipeline
            .clone()
            .ok_or_else(|| anyhow!("a pipeline kill without a pipeline"))?;
        let killed = pipeline.kill9();
        self.note(match killed {
            Ok(true) => "kill -9 the pipeline",
            Ok(false) => "kill -9 the pipeline: it was not running (restarting)",
            Err(_) => "kill -9 the pipeline: failed",
        });
        self.hold(down).await;
        pipeline.release();
        killed.map(drop).context("kill -9 the pipeline")
    }

    /// What a supervisor does: restarts the process if it exited or fails `/healthz`.
    async fn supervise(&self, role: Role, node: usize) -> Result<()> {
        let alive = self.cluster.is_alive(role, node);
        if alive && self.cluster.healthy(role, node).await {
            return Ok(());
        }
        let state = if alive { "fails /healthz" } else { "exited" };
        self.note(&format!("{role} {node} {state}: restarting it"));
        self.blocking(move |c| {
            c.kill9(role, node)?;
            c.start_alive(role, node)
        })
        .await?;
        self.note(&format!("restarted {role} {node}"));
        Ok(())
    }

    /// `kill -9` the metadata `nodes`, keeps them down for `down`, restarts them all.
    async fn metadata_down(&self, nodes: &[usize], down: Duration) -> Result<()> {
        for &node in nodes {
            if !self
                .blocking(move |c| c.kill9(Role::Metadata, node))
                .await?
            {
                self.error(format!(
                    "metadata node {node} was not running when it was to be killed"
                ));
            }
        }
        self.note(&format!("kill -9 metadata nodes {nodes:?}"));
        self.hold(down).await;
        for &node in nodes {
            self.blocking(move |c| c.start(Role::Metadata, node))
                .await?;
        }
        self.note(&format!("restarted metadata nodes {nodes:?}"));
        Ok(())
    }

    async fn injected(
        &self,
        broker: usize,
        faults: &serde_json::Value,
        length: Duration,
        what: &str,
    ) -> Result<()> {
        self.cluster.set_faults(broker, faults).await?;
        self.note(&format!("{what}: PUT /v1/admin/faults {faults}"));
        self.hold(length).await;
        self.clear(broker).await?;
        self.note(&format!("cleared injected faults on broker {broker}"));
        Ok(())
    }

    /// DELETE /v1/admin/faults, retried (the broker may be busy with a latency spike).
    async fn clear(&self, broker: usize) -> Result<()> {
        let mut last = None;
        for _ in 0..10 {
            match self.cluster.clear_faults(broker).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(last.unwrap_or_else(|| anyhow!("cannot clear faults on broker {broker}")))
    }

    /// Resumes, restarts and clears everything, then waits for a leader and ready brokers.
    async fn heal_everything(&self) {
        for role in [Role::Metadata, Role::Broker] {
            for i in 1..=self.cluster.size(role) {
                let result = self
                    .blocking(move |c| {
                        if c.is_paused(role, i) {
                            c.resume(role, i)?;
                        }
                        if !c.is_alive(role, i) {
                            c.start(role, i)?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(error) = result {
                    self.error(format!("heal {role} {i}: {error:#}"));
                }
            }
        }
        for role in [Role::Metadata, Role::Broker] {
            for i in 1..=self.cluster.size(role) {
                let freed = self.blocking(move |c| c.free_disk(role, i)).await;
                if let Err(error) = freed.and(self.supervise(role, i).await) {
                    self.error(format!("heal {role} {i}: {error:#}"));
                }
            }
        }
        for i in 1..=self.cluster.size(Role::Broker) {
            if let Err(error) = self.clear(i).await {
                self.error(format!("heal: clear faults on broker {i}: {error:#}"));
            }
        }
        if let Err(error) = self.cluster.wait_for_leader(Duration::from_secs(60)).await {
            self.error(format!("heal: {error:#}"));
        }
        for i in 1..=self.cluster.size(Role::Broker) {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !self.cluster.broker_ready(i).await {
                if Instant::now() > deadline {
                    self.error(format!("heal: broker {i} not ready 60 s after the heal"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
