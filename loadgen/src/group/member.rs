//! One simulated group member of `silt-loadgen group`: a task that heartbeats, adopts each
//! new generation's assignment (starting moved-in partitions at the committed offsets),
//! fetches its partitions, notes what it read in the shared [`Ledger`] and commits every
//! `--commit-every`. What it works on is published as a [`View`], which the driver reads to
//! see when a rebalance is over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use silt_sdk::wire::MemberState;

use super::CommitEvery;
use super::api::{Api, Committed};
use super::ledger::Ledger;
use crate::report::{new_histogram, record_micros};

/// Records asked for per fetch at most (fewer when `--commit-every` counts fewer).
const MAX_RECORDS: u64 = 1000;
/// The longest a member with nothing to read waits before fetching again.
const IDLE: Duration = Duration::from_millis(100);

/// What a member works on, as the driver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// The generation it works in.
    pub(crate) generation: u64,
    /// Its partitions in that generation.
    pub(crate) partitions: Vec<u32>,
    /// When it had fetched from every one of them in this generation.
    pub(crate) ready: Option<Instant>,
}

/// State every member task and the driver share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What was read.
    pub(crate) ledger: Mutex<Ledger>,
    /// Member id → what it works on (members stopped by the driver are removed).
    pub(crate) views: Mutex<BTreeMap<String, View>>,
    /// Latency of every commit the members made, µs.
    pub(crate) commits: Mutex<Histogram<u64>>,
    /// Commits refused because a rebalance had fenced the member.
    pub(crate) fenced: Mutex<u64>,
}

impl Shared {
    /// Nothing read, no member.
    pub(crate) fn new() -> anyhow::Result<Self> {
        Ok(Shared {
            ledger: Mutex::default(),
            views: Mutex::default(),
            commits: Mutex::new(new_histogram()?),
            fenced: Mutex::default(),
        })
    }
}

/// Locks `mutex`, whether or not a task panicked holding it (the data stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a member paces itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Time between heartbeats.
    pub(crate) heartbeat: Duration,
    /// When to commit.
    pub(crate) commit_every: CommitEvery,
}

/// One member's task state.
pub(crate) struct Member {
    /// The group's routes.
    api: Arc<Api>,
    /// The ledger, views and commit figures it writes to.
    shared: Arc<Shared>,
    /// Its heartbeat and commit pace.
    pace: Pace,
    /// Its member id.
    id: String,
    /// The generation it works in.
    generation: u64,
    /// Partition → next offset to read.
    positions: BTreeMap<u32, u64>,
    /// Partitions fetched from in this generation.
    fetched: BTreeSet<u32>,
    /// Records read since its last commit (or adoption).
    uncommitted: u64,
    /// When it last committed.
    last_commit: Instant,
    /// When its next heartbeat is due.
    next_heartbeat: Instant,
}

impl Member {
    /// A member in the place `state` (a join's or heartbeat's answer) gives it.
    pub(crate) async fn start(
        api: Arc<Api>,
        shared: Arc<Shared>,
        pace: Pace,
        state: MemberState,
    ) -> anyhow::Result<Self> {
        let mut member = Member {
            api,
            shared,
            pace,
            id: state.member_id.clone(),
            generation: 0,
            positions: BTreeMap::new(),
            fetched: BTreeSet::new(),
            uncommitted: 0,
            last_commit: Instant::now(),
            next_heartbeat: Instant::now() + pace.heartbeat,
        };
        member.adopt(&state).await?;
        Ok(member)
    }

    /// Runs until the task is aborted or a request fails.
    pub(crate) async fn run(mut self) -> anyhow::Result<()> {
        loop {
            self.step().await?;
        }
    }

    /// One heartbeat if due, one fetch of every partition, one commit if due.
    async fn step(&mut self) -> anyhow::Result<()> {
        if Instant::now() >= self.next_heartbeat {
            self.heartbeat().await?;
        }
        let read = self.fetch_all().await?;
        self.commit_if_due(read == 0).await?;
        if read == 0 {
            let wake = self.next_heartbeat.min(Instant::now() + IDLE);
            tokio::time::sleep_until(wake.into()).await;
        }
        Ok(())
    }

    /// A heartbeat; adopts the group's generation when it moved on.
    async fn heartbeat(&mut self) -> anyhow::Result<()> {
        let state = self.api.heartbeat(&self.id, self.generation).await?;
        self.next_heartbeat = Instant::now() + self.pace.heartbeat;
        if state.generation != self.generation {
            self.adopt(&state).await?;
        }
        Ok(())
    }

    /// Takes `state`'s generation and partitions: kept ones keep their position, moved-in
    /// ones start at the group's committed offset (0 without one).
    async fn adopt(&mut self, state: &MemberState) -> anyhow::Result<()> {
        let committed = self.api.committed().await?;
        let partitions: Vec<u32> = state
            .assignment
            .iter()
            .filter(|tp| tp.topic == self.api.topic)
            .map(|tp| tp.partition)
            .collect();
        let mut positions = BTreeMap::new();
        for p in &partitions {
            let kept = self.positions.get(p).copied();
            let start = kept.or_else(|| committed.get(p).copied()).unwrap_or(0);
            positions.insert(*p, start);
        }
        self.positions = positions;
        self.generation = state.generation;
        self.fetched.clear();
        self.uncommitted = 0;
        self.publish(partitions, None);
        Ok(())
    }

    /// Fetches once from every partition, committing when due after each fetch;
    /// answers the records read.
    async fn fetch_all(&mut self) -> anyhow::Result<u64> {
        let mut read = 0;
        let partitions: Vec<u32> = self.positions.keys().copied().collect();
        for partition in partitions {
            read += self.fetch(partition).await?;
            self.commit_if_due(false).await?;
        }
        if self.fetched.len() == self.positions.len() {
            self.mark_ready();
        }
        Ok(read)
    }

    /// One fetch of `partition` from its position.
    async fn fetch(&mut self, partition: u32) -> anyhow::Result<u64> {
        let from = self.positions.get(&partition).copied().unwrap_or(0);
        let (offsets, next) = self.api.fetch(partition, from, self.max_records()).await?;
        lock(&self.shared.ledger).note(self.generation, partition, &offsets);
        self.positions.insert(partition, next.max(from));
        self.fetched.insert(partition);
        self.uncommitted += offsets.len() as u64;
        Ok(offsets.len() as u64)
    }

    /// Records per fetch: at most one `--commit-every` count, so commits keep to it.
    fn max_records(&self) -> u64 {
        match self.pace.commit_every {
            CommitEvery::Records(n) => n.min(MAX_RECORDS),
            CommitEvery::Millis(_) => MAX_RECORDS,
        }
    }

    /// Commits when `--commit-every` says so, or when caught up with something to commit.
    async fn commit_if_due(&mut self, caught_up: bool) -> anyhow::Result<()> {
        let due = match self.pace.commit_every {
            CommitEvery::Records(n) => self.uncommitted >= n,
            CommitEvery::Millis(ms) => self.last_commit.elapsed() >= Duration::from_millis(ms),
        };
        if self.uncommitted == 0 || !(due || caught_up) {
            return Ok(());
        }
        self.commit().await
    }

    /// Commits the positions; a fenced commit makes the next step heartbeat at once.
    async fn commit(&mut self) -> anyhow::Result<()> {
        let outcome = self
            .api
            .commit(&self.id, self.generation, &self.positions)
            .await?;
        match outcome {
            Committed::Done(took) => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                record_micros(&mut lock(&self.shared.commits), micros);
                self.uncommitted = 0;
                self.last_commit = Instant::now();
            }
            Committed::Fenced => {
                *lock(&self.shared.fenced) += 1;
                self.next_heartbeat = Instant::now();
            }
        }
        Ok(())
    }

    /// Notes the moment this member had fetched from every partition of its generation.
    fn mark_ready(&self) {
        let mut views = lock(&self.shared.views);
        if let Some(view) = views.get_mut(&self.id) {
            view.ready.get_or_insert_with(Instant::now);
        }
    }

    /// Publishes this member's generation and partitions.
    fn publish(&self, partitions: Vec<u32>, ready: Option<Instant>) {
        let view = View {
            generation: self.generation,
            partitions,
            ready,
        };
        lock(&self.shared.views).insert(self.id.clone(), view);
    }
}
