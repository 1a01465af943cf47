//! `group`: what a consumer group costs. Fills a topic (default 12 partitions), then
//! `--members` simulated members (default 3, sticky assignor, one task each: heartbeat,
//! fetch, commit) read it all in one stable generation and commit every `--commit-every`;
//! then one member commits back-to-back (`--commit-only`); then `--rounds` rounds of
//! rebalances, each a graceful leave, a join, a vanish (the task stops without leaving, so
//! the session timeout must expire it) and a join again. A rebalance is timed from the
//! event to the moment every partition is assigned once in one new generation that every
//! member works in and every member has fetched from all its partitions. Reports commit
//! latency, records/s, duplicates within a generation, gaps, and per scenario the time and
//! the partitions that moved.

mod api;
mod ledger;
mod member;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use self::api::{Api, Committed};
use self::ledger::{covers_once, moved};
use self::member::{Member, Pace, Shared, View, lock};
use crate::report::{ms_cell, new_histogram, percentiles, record_micros, round3};
use crate::workload::ensure_topic;

/// When a member commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommitEvery {
    /// After this many records read since the last commit.
    Records(u64),
    /// This many milliseconds after the last commit (when it read something since).
    Millis(u64),
}

impl std::fmt::Display for CommitEvery {
    /// `N records` or `N ms`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitEvery::Records(n) => write!(f, "{n} records"),
            CommitEvery::Millis(ms) => write!(f, "{ms} ms"),
        }
    }
}

/// Parses `--commit-every`: `N` (records) or `Nms` (milliseconds), N at least 1.
pub(crate) fn parse_commit_every(text: &str) -> Result<CommitEvery, String> {
    let (digits, make): (&str, fn(u64) -> CommitEvery) = match text.strip_suffix("ms") {
        Some(millis) => (millis, CommitEvery::Millis),
        None => (text, CommitEvery::Records),
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(make(n)),
        _ => Err(format!(
            "{text:?}: want a record count or milliseconds, e.g. 500 or 200ms (at least 1)"
        )),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct GroupShape {
    /// Topic (created with `partitions` if missing); the group is `<topic>-group-<ULID>`,
    /// new each run, and reads the whole topic.
    pub(crate) topic: String,
    /// Partitions of a new topic.
    pub(crate) partitions: u32,
    /// Members reading.
    pub(crate) members: usize,
    /// Records written to each partition before the members start.
    pub(crate) records: u64,
    /// Value bytes per record.
    pub(crate) record_size: usize,
    /// When members commit.
    pub(crate) commit_every: CommitEvery,
    /// Commits in the back-to-back phase.
    pub(crate) commit_only: u64,
    /// Rebalance rounds (leave, join, vanish, join).
    pub(crate) rounds: u32,
    /// Members' session timeout.
    pub(crate) session_timeout_ms: u64,
    /// Heartbeat interval (default: a third of the session timeout).
    pub(crate) heartbeat_ms: Option<u64>,
}

/// The kinds of rebalance measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A new member joins.
    Join,
    /// A member leaves (`DELETE` its membership).
    Leave,
    /// A member stops without leaving; the session timeout removes it.
    Vanish,
}

/// One measured rebalance.
#[derive(Debug, Clone, Copy)]
struct Rebalance {
    /// From the event to the last member's first fetch in the new generation.
    took: Duration,
    /// Partitions with a new owner.
    moved: u64,
}

/// The stable state after a rebalance.
struct Stable {
    /// The generation every member works in.
    generation: u64,
    /// Member → partitions.
    assignment: BTreeMap<String, Vec<u32>>,
    /// When the last member had fetched from all its partitions.
    ready: Instant,
}

/// The running members and what they share.
struct Crew {
    /// The group's routes.
    api: Arc<Api>,
    /// What the member tasks share with the driver.
    shared: Arc<Shared>,
    /// Every member's heartbeat and commit pace.
    pace: Pace,
    /// The topic's partitions.
    partitions: u32,
    /// Each partition's high watermark after the fill: what the members must read.
    ends: Vec<u64>,
    /// Member id → its running task.
    tasks: BTreeMap<String, JoinHandle<anyhow::Result<()>>>,
    /// Rebalances started so far (sets the next one's phase).
    events: u32,
}

/// Runs every phase and summarises them.
pub(crate) async fn group(
    http: &reqwest::Client,
    broker: &str,
    shape: GroupShape,
) -> anyhow::Result<Value> {
    if shape.rounds > 0 && shape.members < 2 {
        bail!(
            "--members {}: the rebalance rounds need at least 2 (or --rounds 0)",
            shape.members
        );
    }
    let topic = shape.topic.as_str();
    ensure_topic(http, broker, topic, shape.partitions).await?;
    let partitions = u32::try_from(partition_ends(http, broker, topic).await?.len())?;
    fill(http, broker, topic, partitions, &shape).await?;
    let ends = partition_ends(http, broker, topic).await?;
    let mut crew = Crew::new(http, broker, ends, &shape)?;
    let consume = crew.consume_all(shape.members).await?;
    let commit_only = crew.commit_only(shape.commit_only).await?;
    let rebalances = crew.rounds(shape.rounds).await?;
    crew.stop_all().await?;
    summary(&crew, &shape, consume, &commit_only, &rebalances)
}

/// Each partition's high watermark, by partition (an existing topic keeps its partition
/// count and its records; a new group reads them all).
async fn partition_ends(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
) -> anyhow::Result<Vec<u64>> {
    let described: Value = http
        .get(format!("{broker}/v1/topics/{topic}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut ends: Vec<(u64, u64)> = described["partitions"]
        .as_array()
        .context("topic description without partitions")?
        .iter()
        .map(|p| (p["partition"].as_u64(), p["high_watermark"].as_u64()))
        .map(|(p, hw)| p.zip(hw).context("partition without its high watermark"))
        .collect::<anyhow::Result<_>>()?;
    ends.sort_unstable();
    Ok(ends.into_iter().map(|(_, hw)| hw).collect())
}

/// Writes `shape.records` records of `shape.record_size` bytes to each partition.
async fn fill(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    partitions: u32,
    shape: &GroupShape,
) -> anyhow::Result<()> {
    let url = format!("{broker}/v1/topics/{topic}/records");
    let value = "v".repeat(shape.record_size);
    for partition in 0..partitions {
        let mut left = shape.records;
        while left > 0 {
            let n = left.min(2_000);
            let records: Vec<Value> = (0..n)
                .map(|_| json!({"value": value, "partition": partition}))
                .collect();
            let response = http
                .post(&url)
                .json(&json!({"records": records}))
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("filling {topic}/{partition}: {}", response.text().await?);
            }
            left -= n;
        }
    }
    Ok(())
}

/// The consume phase's figures.
#[derive(Debug, Clone, Copy)]
struct Consumed {
    /// From the members' start to the last partition's end committed.
    seconds: f64,
    /// Commits the members made in that time.
    commits: u64,
}

impl Crew {
    /// No member yet.
    fn new(
        http: &reqwest::Client,
        broker: &str,
        ends: Vec<u64>,
        shape: &GroupShape,
    ) -> anyhow::Result<Self> {
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let api = Api {
            http: http.clone(),
            broker: broker.to_owned(),
            group: format!("{}-group-{run}", shape.topic),
            topic: shape.topic.clone(),
            session_timeout_ms: shape.session_timeout_ms,
        };
        let heartbeat = shape.heartbeat_ms.unwrap_or(shape.session_timeout_ms / 3);
        Ok(Crew {
            api: Arc::new(api),
            shared: Arc::new(Shared::new()?),
            pace: Pace {
                heartbeat: Duration::from_millis(heartbeat.max(1)),
                commit_every: shape.commit_every,
            },
            partitions: u32::try_from(ends.len())?,
            ends,
            tasks: BTreeMap::new(),
            events: 0,
        })
    }

    /// Joins `members` members, then starts them all in the final generation and waits
    /// until the group has committed the end of every partition.
    async fn consume_all(&mut self, members: usize) -> anyhow::Result<Consumed> {
        let mut joined = Vec::new();
        for _ in 0..members.max(1) {
            joined.push(self.api.join().await?.member_id);
        }
        let started = Instant::now();
        for id in joined {
            let state = self.api.heartbeat(&id, 0).await?;
            self.spawn(state).await?;
        }
        self.wait_committed().await?;
        let seconds = started.elapsed().as_secs_f64();
        let commits = lock(&self.shared.commits).len();
        Ok(Consumed { seconds, commits })
    }

    /// Starts a member task in `state`'s place.
    async fn spawn(&mut self, state: silt_sdk::wire::MemberState) -> anyhow::Result<()> {
        let id = state.member_id.clone();
        let member = Member::start(self.api.clone(), self.shared.clone(), self.pace, state).await?;
        self.tasks.insert(id, tokio::spawn(member.run()));
        Ok(())
    }

    /// Polls (bounded) until every partition's committed offset is at its end.
    async fn wait_committed(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let committed = self.api.committed().await?;
            let done = (0u32..)
                .zip(&self.ends)
                .all(|(p, end)| committed.get(&p) >= Some(end));
            if done {
                return Ok(());
            }
            self.check_tasks().await?;
            if Instant::now() > deadline {
                bail!(
                    "the members did not commit every partition's end within 600 s: {committed:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails with the error of a member task that ended.
    async fn check_tasks(&mut self) -> anyhow::Result<()> {
        let ended: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, task)| task.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            if let Some(task) = self.tasks.remove(&id) {
                task.await??;
                bail!("member {id} stopped");
            }
        }
        Ok(())
    }

    /// `count` commits of one member's positions, back to back.
    async fn commit_only(&mut self, count: u64) -> anyhow::Result<(Histogram<u64>, f64)> {
        let stable = self.wait_stable(None).await?;
        let (id, partitions) = stable
            .assignment
            .iter()
            .find(|(_, partitions)| !partitions.is_empty())
            .context("no member owns a partition")?;
        let committed = self.api.committed().await?;
        let positions: BTreeMap<u32, u64> = partitions
            .iter()
            .map(|p| (*p, committed.get(p).copied().unwrap_or(0)))
            .collect();
        let mut histogram = new_histogram()?;
        let started = Instant::now();
        for _ in 0..count {
            match self.api.commit(id, stable.generation, &positions).await? {
                Committed::Done(took) => record_micros(&mut histogram, micros(took)),
                Committed::Fenced => bail!("commit-only: the group rebalanced"),
            }
        }
        Ok((histogram, started.elapsed().as_secs_f64()))
    }

    /// `rounds` rounds of leave, join, vanish, join.
    async fn rounds(&mut self, rounds: u32) -> anyhow::Result<Vec<(Event, Rebalance)>> {
        let mut measured = Vec::new();
        for _ in 0..rounds {
            for event in [Event::Leave, Event::Join, Event::Vanish, Event::Join] {
                measured.push((event, self.rebalance(event).await?));
            }
        }
        Ok(measured)
    }

    /// Times one rebalance caused by `event`.
    async fn rebalance(&mut self, event: Event) -> anyhow::Result<Rebalance> {
        let before = self.wait_stable(None).await?;
        tokio::time::sleep(self.next_phase()).await;
        let started = Instant::now();
        match event {
            Event::Join => {
                let state = self.api.join().await?;
                self.spawn(state).await?;
            }
            Event::Leave => {
                let id = self.stop_one().await?;
                self.api.leave(&id).await?;
            }
            Event::Vanish => drop(self.stop_one().await?),
        }
        let after = self.wait_stable(Some(before.generation)).await?;
        Ok(Rebalance {
            took: after.ready.saturating_duration_since(started),
            moved: moved(&before.assignment, &after.assignment),
        })
    }

    /// How long after a stable state the next event fires: the group turns stable just after
    /// a heartbeat, so firing at once would always land a full heartbeat period before the
    /// members hear of it. The `n`th event waits `frac(n·0.618…)` of a period instead, which
    /// spreads the events evenly over where in a period a change can land.
    fn next_phase(&mut self) -> Duration {
        self.events += 1;
        let fraction = (f64::from(self.events) * 0.618_033_988_749_895).fract();
        self.pace.heartbeat.mul_f64(fraction)
    }

    /// Stops the first member's task (no leave) and forgets its view; answers its id.
    async fn stop_one(&mut self) -> anyhow::Result<String> {
        let (id, task) = self.tasks.pop_first().context("no member to stop")?;
        task.abort();
        if let Ok(result) = task.await {
            result?; // it had ended by itself: report why
        }
        lock(&self.shared.views).remove(&id);
        Ok(id)
    }

    /// Stops every member task and has it leave, so the group ends empty.
    async fn stop_all(&mut self) -> anyhow::Result<()> {
        while !self.tasks.is_empty() {
            let id = self.stop_one().await?;
            self.api.leave(&id).await?;
        }
        Ok(())
    }

    /// Polls (bounded) until the members work in one generation newer than `after`, its
    /// assignment covers every partition once and every member has fetched from all of its
    /// partitions.
    async fn wait_stable(&mut self, after: Option<u64>) -> anyhow::Result<Stable> {
        let limit =
            Duration::from_millis(self.api.session_timeout_ms * 3) + Duration::from_secs(60);
        let deadline = Instant::now() + limit;
        loop {
            let views = lock(&self.shared.views).clone();
            if let Some(stable) = stable(&views, self.partitions, after) {
                return Ok(stable);
            }
            self.check_tasks().await?;
            if Instant::now() > deadline {
                bail!("no stable generation within {limit:?}: {views:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The stable state `views` show, if they show one newer than `after`.
fn stable(views: &BTreeMap<String, View>, partitions: u32, after: Option<u64>) -> Option<Stable> {
    let generation = views.values().next()?.generation;
    let same = views.values().all(|v| v.generation == generation);
    let newer = after.is_none_or(|old| generation > old);
    let assignment: BTreeMap<String, Vec<u32>> = views
        .iter()
        .map(|(id, v)| (id.clone(), v.partitions.clone()))
        .collect();
    let ready = views
        .values()
        .map(|v| v.ready)
        .collect::<Option<Vec<_>>>()?;
    if !(same && newer && covers_once(&assignment, partitions)) {
        return None;
    }
    Some(Stable {
        generation,
        assignment,
        ready: ready.into_iter().max()?,
    })
}

/// `took` in whole µs.
fn micros(took: Duration) -> u64 {
    u64::try_from(took.as_micros()).unwrap_or(u64::MAX)
}

/// One scenario's figures: count, p50/max (ms) and the partitions moved.
fn scenario(rebalances: &[(Event, Rebalance)], event: Event) -> anyhow::Result<Value> {
    let mut histogram = new_histogram()?;
    let mut moved = Vec::new();
    for (_, r) in rebalances.iter().filter(|(e, _)| *e == event) {
        record_micros(&mut histogram, micros(r.took));
        moved.push(r.moved);
    }
    let p = percentiles(&histogram);
    Ok(json!({
        "count": p["count"], "p50_ms": p["p50_ms"], "max_ms": p["max_ms"],
        "moved_partitions": moved
    }))
}

/// The whole run's summary.
fn summary(
    crew: &Crew,
    shape: &GroupShape,
    consume: Consumed,
    commit_only: &(Histogram<u64>, f64),
    rebalances: &[(Event, Rebalance)],
) -> anyhow::Result<Value> {
    let total: u64 = crew.ends.iter().sum();
    let mut value = json!({
        "mode": "group", "topic": shape.topic, "group": crew.api.group,
        "partitions": crew.partitions, "members": shape.members, "assignor": "sticky",
        "records_per_partition": shape.records, "record_size": shape.record_size,
        "commit_every": shape.commit_every.to_string(),
        "session_timeout_ms": shape.session_timeout_ms,
        "heartbeat_ms": u64::try_from(crew.pace.heartbeat.as_millis()).unwrap_or(u64::MAX),
        "consume": consume_figures(crew, consume),
        "commit": commit_figures(crew, consume, commit_only),
        "rebalance": rebalance_figures(rebalances)?,
        "workload_mib": round3((total * shape.record_size as u64) as f64 / crate::report::MIB),
    });
    value["markdown"] = markdown(&value).into();
    Ok(value)
}

/// `count / seconds`, rounded to a whole number (0 when no time passed).
fn per_sec(count: u64, seconds: f64) -> f64 {
    (count as f64 / seconds.max(1e-9)).round()
}

/// Records, rate, duplicates within a generation and gaps of the consume phase.
fn consume_figures(crew: &Crew, consume: Consumed) -> Value {
    let audit = lock(&crew.shared.ledger).audit(&crew.ends);
    let total: u64 = crew.ends.iter().sum();
    json!({
        "records": total, "records_read": audit.consumed, "seconds": round3(consume.seconds),
        "records_per_sec": per_sec(total, consume.seconds),
        "duplicates_within_generation": audit.duplicates, "gaps": audit.gaps
    })
}

/// Commit latency while consuming (every member's commits) and back to back.
fn commit_figures(crew: &Crew, consume: Consumed, commit_only: &(Histogram<u64>, f64)) -> Value {
    let (only, only_seconds) = commit_only;
    json!({
        "while_consuming": percentiles(&lock(&crew.shared.commits)),
        "commits_per_sec_while_consuming": per_sec(consume.commits, consume.seconds),
        "fenced": *lock(&crew.shared.fenced),
        "commit_only": percentiles(only),
        "commit_only_per_sec": per_sec(only.len(), *only_seconds)
    })
}

/// Each scenario's figures, by name.
fn rebalance_figures(rebalances: &[(Event, Rebalance)]) -> anyhow::Result<Value> {
    let mut figures = serde_json::Map::new();
    for (name, event) in [
        ("join", Event::Join),
        ("leave", Event::Leave),
        ("vanish", Event::Vanish),
    ] {
        figures.insert(name.to_owned(), scenario(rebalances, event)?);
    }
    Ok(figures.into())
}

/// The summary's rows for `bench/RESULTS.md`.
fn markdown(v: &Value) -> String {
    let mut rows = commit_rows(v);
    rows.extend(["join", "leave", "vanish"].map(|name| rebalance_row(v, name)));
    rows.push(format!(
        "| group consume, {} members | {} rec/s | duplicates {} | gaps {} |",
        v["members"],
        whole(&v["consume"]["records_per_sec"]),
        v["consume"]["duplicates_within_generation"],
        v["consume"]["gaps"]
    ));
    rows.join("\n")
}

/// The two commit rows: while consuming and back to back.
fn commit_rows(v: &Value) -> Vec<String> {
    let (during, only) = (&v["commit"]["while_consuming"], &v["commit"]["commit_only"]);
    vec![
        format!(
            "| group commit, {} members consuming, every {} | p50 {} ms | p99 {} ms | {} commits/s |",
            v["members"],
            v["commit_every"].as_str().unwrap_or("?"),
            ms_cell(&during["p50_ms"]),
            ms_cell(&during["p99_ms"]),
            whole(&v["commit"]["commits_per_sec_while_consuming"])
        ),
        format!(
            "| group commit, back to back, one member | p50 {} ms | p99 {} ms | {} commits/s |",
            ms_cell(&only["p50_ms"]),
            ms_cell(&only["p99_ms"]),
            whole(&v["commit"]["commit_only_per_sec"])
        ),
    ]
}

/// One scenario's row.
fn rebalance_row(v: &Value, name: &str) -> String {
    let s = &v["rebalance"][name];
    format!(
        "| rebalance, {name}, {} partitions, heartbeat {} ms, session {} ms ({} times) | p50 {} ms | max {} ms | moved {} |",
        v["partitions"],
        v["heartbeat_ms"],
        v["session_timeout_ms"],
        s["count"],
        ms_cell(&s["p50_ms"]),
        ms_cell(&s["max_ms"]),
        s["moved_partitions"]
    )
}

/// A rate as a whole number, for Markdown cells.
fn whole(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "?".to_owned(), |n| format!("{n:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_every_takes_records_or_milliseconds() {
        assert_eq!(parse_commit_every("500"), Ok(CommitEvery::Records(500)));
        assert_eq!(parse_commit_every("200ms"), Ok(CommitEvery::Millis(200)));
        for bad in ["0", "0ms", "", "ms", "5s", "-1", "1.5"] {
            let error = parse_commit_every(bad).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    fn view(generation: u64, partitions: &[u32], ready: bool) -> View {
        View {
            generation,
            partitions: partitions.to_vec(),
            ready: ready.then(Instant::now),
        }
    }

    #[test]
    fn stable_needs_one_new_generation_full_coverage_and_every_member_ready() {
        let views = |a: View, b: View| BTreeMap::from([("a".to_owned(), a), ("b".to_owned(), b)]);
        let ok = views(view(3, &[0, 1], true), view(3, &[2, 3], true));
        assert!(stable(&ok, 4, Some(2)).is_some());
        assert!(stable(&ok, 4, Some(3)).is_none(), "not newer");
        let behind = views(view(3, &[0, 1], true), view(2, &[2, 3], true));
        assert!(stable(&behind, 4, None).is_none(), "two generations");
        let waiting = views(view(3, &[0, 1], true), view(3, &[2, 3], false));
        assert!(stable(&waiting, 4, None).is_none(), "one has not fetched");
        let short = views(view(3, &[0, 1], true), view(3, &[2], true));
        assert!(stable(&short, 4, None).is_none(), "partition 3 unassigned");
        assert!(stable(&BTreeMap::new(), 4, None).is_none());
    }
}
