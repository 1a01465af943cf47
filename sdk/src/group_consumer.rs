//! [`GroupConsumer`]: a member of a consumer group that joins, heartbeats in the
//! background, reads the partitions the group assigns it from the group's committed
//! offsets, commits (automatically or on demand) and follows rebalances.
//!
//! Delivery is at-least-once: a commit holds the positions after the records earlier
//! polls returned, so records are committed only once the application had them, and a
//! partition that moves is read by its new owner from the last committed offset. A commit
//! the group refuses (`stale_generation`, `unknown_member`) is returned as an error and
//! makes the next [`GroupConsumer::poll`] rejoin; nothing is skipped, except records
//! retention dropped: a position below a partition's start offset (a committed offset
//! older than the retention) resumes at the start offset, with a warning logged, like
//! Kafka's `auto.offset.reset=earliest`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Admin;
use crate::client::Client;
use crate::consumer::{Consumer, ConsumerConfig};
use crate::error::{Error, Result};
use crate::groups::Groups;
use crate::wire::{
    CommitOffsetsRequest, ErrorCode, FetchedRecord, JoinGroupRequest, MemberState, OffsetToCommit,
    TopicPartition,
};

/// Where a partition the group has no committed offset for is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Its start offset.
    Earliest,
    /// Its high watermark: only records produced from now on (the default, like Kafka).
    #[default]
    Latest,
}

/// Settings of a [`GroupConsumer`].
#[derive(Debug, Clone)]
pub struct GroupConsumerConfig {
    /// The group to join.
    pub group: String,
    /// The topics to read.
    pub topics: Vec<String>,
    /// How long the member may go without a heartbeat before the group drops it
    /// (default 10 s; the broker accepts 1 s to 5 min).
    pub session_timeout: Duration,
    /// How often the background task heartbeats; `None`: a third of the session timeout.
    pub heartbeat_interval: Option<Duration>,
    /// `range` or `sticky`; `None`: the broker's default (`range`).
    pub assignor: Option<String>,
    /// The client's own name, shown in descriptions and prefixing the member id.
    pub client_id: Option<String>,
    /// Where to start in a partition without a committed offset.
    pub auto_offset_reset: OffsetReset,
    /// Commit what earlier polls returned every `auto_commit_interval`, before a
    /// rebalance takes partitions away, and on close (default on).
    pub enable_auto_commit: bool,
    /// How often automatic commits happen (default 5 s).
    pub auto_commit_interval: Duration,
    /// How long a poll waits for records when none are buffered (default 1 s).
    pub poll_timeout: Duration,
    /// Each partition's fetches (records and bytes per fetch, long-poll wait).
    pub fetch: ConsumerConfig,
}

impl GroupConsumerConfig {
    /// Settings for `group` reading `topics`, with the defaults.
    pub fn new(group: impl Into<String>, topics: Vec<String>) -> Self {
        GroupConsumerConfig {
            group: group.into(),
            topics,
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: None,
            assignor: None,
            client_id: None,
            auto_offset_reset: OffsetReset::default(),
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(1),
            fetch: ConsumerConfig::default(),
        }
    }

    /// The heartbeat period: the configured one, else a third of the session timeout.
    fn heartbeat_period(&self) -> Duration {
        self.heartbeat_interval
            .unwrap_or(self.session_timeout / 3)
            .max(Duration::from_millis(10))
    }
}

/// Told when the consumer's partitions change. Called from inside
/// [`GroupConsumer::poll`] (and [`GroupConsumer::close`]), on the caller's task.
pub trait RebalanceListener: Send {
    /// `partitions` are about to be given up (in auto-commit mode their positions were
    /// just committed). Commit here what was processed, in manual mode.
    fn on_revoked(&mut self, partitions: &[TopicPartition]) {
        let _ = partitions;
    }

    /// The group dropped this member (its session expired): `partitions` already belong
    /// to others, so nothing can be committed for them; the consumer joins again as a new
    /// member. By default the same as [`RebalanceListener::on_revoked`].
    fn on_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_revoked(partitions);
    }

    /// `partitions` were assigned; polls read them from now on.
    fn on_assigned(&mut self, partitions: &[TopicPartition]) {
        let _ = partitions;
    }
}

/// The listener that does nothing.
struct NoListener;

impl RebalanceListener for NoListener {}

/// A record with where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The record (its `offset` included).
    pub record: FetchedRecord,
}

/// What a commit by this member would hold: the member, its generation and the next
/// offset of every partition it reads (the offsets after the records polls returned).
/// A produce that commits offsets in the same step takes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    /// The member's id.
    pub member_id: String,
    /// The generation the member works in.
    pub generation: u64,
    /// The offsets to commit.
    pub offsets: Vec<OffsetToCommit>,
}

/// What the heartbeat task learnt, for the next poll to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Membership {
    /// A new generation and assignment.
    Rebalance(MemberState),
    /// Still a member, but the consumer must ask for its current assignment (its commit
    /// was refused `stale_generation`).
    Refresh,
    /// The group dropped the member (`unknown_member`): join again as a new one.
    Lost,
}

/// A partition's fetched records and the offset after them (or the fetch's error), tagged
/// with the id of the fetch task, so batches of a task since stopped are dropped.
type Fetched = (TopicPartition, u64, Result<(Vec<FetchedRecord>, u64)>);

/// A member of a consumer group; see the module documentation.
pub struct GroupConsumer {
    groups: Groups,
    client: Client,
    config: GroupConsumerConfig,
    listener: Box<dyn RebalanceListener>,
    member_id: String,
    generation: u64,
    /// The next offset to return, per assigned partition.
    positions: BTreeMap<TopicPartition, u64>,
    /// Each assigned partition's fetch task, with its id.
    fetchers: BTreeMap<TopicPartition, (u64, JoinHandle<()>)>,
    /// The id of the last fetch task started.
    epoch: u64,
    batches: mpsc::Receiver<Fetched>,
    sender: mpsc::Sender<Fetched>,
    pending: Arc<Mutex<Option<Membership>>>,
    heartbeat: Option<JoinHandle<()>>,
    last_commit: Instant,
}

impl GroupConsumer {
    /// Joins the group and reads its assignment (without a listener; see
    /// [`GroupConsumer::with_listener`]).
    pub async fn join(client: Client, config: GroupConsumerConfig) -> Result<Self> {
        Self::with_listener(client, config, Box::new(NoListener)).await
    }

    /// Joins the group, telling `listener` of every change of partitions (the first
    /// assignment included).
    pub async fn with_listener(
        client: Client,
        config: GroupConsumerConfig,
        listener: Box<dyn RebalanceListener>,
    ) -> Result<Self> {
        let (sender, batches) = mpsc::channel(64);
        let mut consumer = GroupConsumer {
            groups: Groups::new(client.clone()),
            client,
            config,
            listener,
            member_id: String::new(),
            generation: 0,
            positions: BTreeMap::new(),
            fetchers: BTreeMap::new(),
            epoch: 0,
            batches,
            sender,
            pending: Arc::new(Mutex::new(None)),
            heartbeat: None,
            last_commit: Instant::now(),
        };
        let state = consumer.send_join(None).await?;
        consumer.adopt(state).await?;
        Ok(consumer)
    }

    /// The records available next: commits first when automatic commit is due, acts on a
    /// rebalance the heartbeats learnt of, then returns buffered records or waits up to
    /// `poll_timeout` for some (an empty answer when none came).
    ///
    /// A fetch error is returned and the partition is read again from its position by
    /// the next poll.
    pub async fn poll(&mut self) -> Result<Vec<GroupRecord>> {
        self.auto_commit_if_due().await?;
        self.reconcile().await?;
        let deadline = tokio::time::Instant::now() + self.config.poll_timeout;
        let mut records = Vec::new();
        while records.is_empty() {
            let Ok(Some(fetched)) = tokio::time::timeout_at(deadline, self.batches.recv()).await
            else {
                break;
            };
            let mut failed = self.take(fetched, &mut records);
            while let Ok(more) = self.batches.try_recv() {
                failed = failed.or(self.take(more, &mut records));
            }
            match failed {
                Some(error) if records.is_empty() => return Err(error),
                Some(error) => tracing::warn!(%error, "fetch failed; reading again"),
                None => {}
            }
        }
        Ok(records)
    }

    /// Commits the positions (what polls returned so far). A refusal because the group
    /// moved on (`stale_generation`) or dropped the member (`unknown_member`) is returned
    /// and makes the next poll rejoin.
    pub async fn commit(&mut self) -> Result<()> {
        let positions = self.positions();
        self.last_commit = Instant::now();
        if positions.offsets.is_empty() {
            return Ok(());
        }
        let body = CommitOffsetsRequest {
            offsets: positions.offsets,
            generation: Some(positions.generation),
            member_id: Some(positions.member_id),
        };
        match self.groups.commit(&self.config.group, &body).await {
            Ok(_) => Ok(()),
            Err(error) => Err(self.note_refusal(error)),
        }
    }

    /// The member, its generation and the offsets a commit would hold now.
    pub fn positions(&self) -> Positions {
        let offsets = self
            .positions
            .iter()
            .map(|(tp, offset)| OffsetToCommit {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: *offset,
                metadata: None,
            })
            .collect();
        Positions {
            member_id: self.member_id.clone(),
            generation: self.generation,
            offsets,
        }
    }

    /// Moves `partition`'s position to `offset`: the next polls read from there and a
    /// commit holds it (to read records again, or to leave records a poll returned
    /// uncommitted). Ignored for a partition not assigned to this member.
    pub fn seek(&mut self, partition: &TopicPartition, offset: u64) {
        if let Some(position) = self.positions.get_mut(partition) {
            *position = offset;
            self.start_fetcher(partition.clone());
        }
    }

    /// The partitions this member reads.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    /// The member's id in the group.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation the member works in.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Commits (in auto-commit mode), gives up the partitions and leaves the group, so
    /// they move to the other members at once. A member the group already dropped
    /// (`unknown_member`: its session expired) just stops, its uncommitted records left
    /// for the partitions' new owners; another failure of the commit or the leave is
    /// returned.
    pub async fn close(mut self) -> Result<()> {
        let committed = match self.config.enable_auto_commit {
            true => self.commit().await,
            false => Ok(()),
        };
        self.revoke(&self.assignment());
        self.stop_heartbeat();
        let left = self.groups.leave(&self.config.group, &self.member_id).await;
        unless_dropped(committed).and(unless_dropped(left))
    }

    /// Commits when automatic commit is on and its interval has passed.
    async fn auto_commit_if_due(&mut self) -> Result<()> {
        if !self.config.enable_auto_commit
            || self.last_commit.elapsed() < self.config.auto_commit_interval
        {
            return Ok(());
        }
        match self.commit().await {
            Err(error) if !is_refusal(&error) => Err(error),
            _ => Ok(()),
        }
    }

    /// Marks a refused commit for the next poll to rejoin; returns the error.
    fn note_refusal(&mut self, error: Error) -> Error {
        let event = match error.code() {
            Some(ErrorCode::UnknownMember) => Membership::Lost,
            Some(ErrorCode::StaleGeneration) => Membership::Refresh,
            _ => return error,
        };
        tracing::info!(group = %self.config.group, %error, "commit refused; rejoining");
        set_pending(&self.pending, event);
        error
    }

    /// Acts on what the heartbeats (or a refused commit) learnt.
    async fn reconcile(&mut self) -> Result<()> {
        let event = take_pending(&self.pending);
        match event {
            None => Ok(()),
            Some(Membership::Rebalance(state)) => self.adopt(state).await,
            Some(Membership::Refresh) => {
                let state = self.send_join(Some(self.member_id.clone())).await?;
                self.adopt(state).await
            }
            Some(Membership::Lost) => self.rejoin_as_new().await,
        }
    }

    /// The group dropped this member: its partitions are given up without a commit (it
    /// would be refused) and it joins as a new member, reading from committed offsets.
    async fn rejoin_as_new(&mut self) -> Result<()> {
        tracing::info!(group = %self.config.group, member = %self.member_id, "member lost");
        let lost = self.assignment();
        self.stop_fetchers(&lost);
        if !lost.is_empty() {
            self.listener.on_lost(&lost);
        }
        self.stop_heartbeat();
        let state = self.send_join(None).await?;
        self.adopt(state).await
    }

    /// `POST …/members`: joins as `member_id` (a rejoin) or as a new member.
    async fn send_join(&self, member_id: Option<String>) -> Result<MemberState> {
        let request = JoinGroupRequest {
            topics: self.config.topics.clone(),
            session_timeout_ms: Some(duration_ms(self.config.session_timeout)),
            assignor: self.config.assignor.clone(),
            member_id,
            client_id: self.config.client_id.clone(),
        };
        self.groups.join(&self.config.group, &request).await
    }

    /// Moves to `state`'s generation and assignment: commits and revokes what it no
    /// longer holds, then starts reading what it newly holds.
    async fn adopt(&mut self, state: MemberState) -> Result<()> {
        let new: BTreeSet<TopicPartition> = state.assignment.iter().cloned().collect();
        let revoked: Vec<_> = self
            .assignment()
            .into_iter()
            .filter(|tp| !new.contains(tp))
            .collect();
        let added: Vec<_> = new
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp))
            .cloned()
            .collect();
        self.member_id = state.member_id;
        self.generation = state.generation;
        if !revoked.is_empty() {
            self.commit_before_revoke().await;
            self.revoke(&revoked);
        }
        self.ensure_heartbeat();
        self.assign(added).await
    }

    /// In auto-commit mode, commits before partitions are given up (a refusal is logged:
    /// the next owner then reads again from the last committed offset).
    async fn commit_before_revoke(&mut self) {
        if !self.config.enable_auto_commit {
            return;
        }
        if let Err(error) = self.commit().await {
            tracing::warn!(group = %self.config.group, %error, "commit before revoke failed");
        }
    }

    /// Stops reading `partitions` and tells the listener.
    fn revoke(&mut self, partitions: &[TopicPartition]) {
        if partitions.is_empty() {
            return;
        }
        self.stop_fetchers(partitions);
        self.listener.on_revoked(partitions);
    }

    /// Forgets `partitions`' positions and stops their fetch tasks.
    fn stop_fetchers(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.positions.remove(tp);
            if let Some((_, task)) = self.fetchers.remove(tp) {
                task.abort();
            }
        }
    }

    /// Starts reading `partitions` from the group's committed offsets (else
    /// `auto_offset_reset`) and tells the listener.
    async fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        let committed = self.committed_offsets().await?;
        for tp in &partitions {
            let start = match committed.get(tp) {
                Some(offset) => *offset,
                None => self.reset_offset(tp).await?,
            };
            self.positions.insert(tp.clone(), start);
        }
        for tp in &partitions {
            self.start_fetcher(tp.clone());
        }
        self.listener.on_assigned(&partitions);
        Ok(())
    }

    /// The group's committed offsets.
    async fn committed_offsets(&self) -> Result<BTreeMap<TopicPartition, u64>> {
        let answer = self.groups.offsets(&self.config.group).await;
        let offsets = match answer {
            Ok(offsets) => offsets.offsets,
            Err(error) if error.code() == Some(ErrorCode::GroupNotFound) => Vec::new(),
            Err(error) => return Err(error),
        };
        Ok(offsets
            .into_iter()
            .map(|o| (partition_of(&o.topic, o.partition), o.offset))
            .collect())
    }

    /// Where `tp` starts without a committed offset.
    async fn reset_offset(&self, tp: &TopicPartition) -> Result<u64> {
        let latest = self.config.auto_offset_reset == OffsetReset::Latest;
        let bound = Admin::new(self.client.clone())
            .offset_bound(&tp.topic, tp.partition, latest)
            .await?;
        Ok(bound.offset)
    }

    /// Starts (or restarts) `tp`'s fetch task at its position.
    fn start_fetcher(&mut self, tp: TopicPartition) {
        let Some(offset) = self.positions.get(&tp).copied() else {
            return;
        };
        let consumer = Consumer::new(
            self.client.clone(),
            &tp.topic,
            tp.partition,
            offset,
            self.config.fetch.clone(),
        );
        self.epoch += 1;
        let task = fetch_loop(consumer, tp.clone(), self.epoch, self.sender.clone());
        let started = (self.epoch, tokio::spawn(task));
        if let Some((_, old)) = self.fetchers.insert(tp, started) {
            old.abort();
        }
    }

    /// Adds a fetched batch to `records` and moves the position past it; drops a batch
    /// of a fetch task since stopped; answers a fetch error, after restarting the
    /// partition's fetch task at its position.
    fn take(&mut self, (tp, id, fetched): Fetched, out: &mut Vec<GroupRecord>) -> Option<Error> {
        if self.fetchers.get(&tp).map(|(current, _)| *current) != Some(id) {
            return None;
        }
        let (records, next) = match fetched {
            Ok(batch) => batch,
            Err(error) => {
                self.start_fetcher(tp);
                return Some(error);
            }
        };
        self.positions.insert(tp.clone(), next);
        out.extend(records.into_iter().map(|record| GroupRecord {
            topic: tp.topic.clone(),
            partition: tp.partition,
            record,
        }));
        None
    }

    /// Starts the heartbeat task unless it runs.
    fn ensure_heartbeat(&mut self) {
        if self
            .heartbeat
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            return;
        }
        let beat = Heartbeat {
            groups: self.groups.clone(),
            group: self.config.group.clone(),
            member_id: self.member_id.clone(),
            generation: self.generation,
            period: self.config.heartbeat_period(),
            pending: self.pending.clone(),
        };
        self.heartbeat = Some(tokio::spawn(beat.run()));
    }

    /// Stops the heartbeat task.
    fn stop_heartbeat(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        self.stop_heartbeat();
        for (_, task) in self.fetchers.values() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group", &self.config.group)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

/// Polls `tp` forever, sending each non-empty batch (or the error, then stopping)
/// tagged with the task's `id`. A position below the partition's start offset (retention
/// dropped those records, e.g. under an old committed offset) moves to the start offset,
/// as Kafka's `auto.offset.reset=earliest` does, and the move is sent as an empty batch,
/// so the member's position (what it commits) leaves the dropped offsets even when
/// nothing is left to read; reading goes on.
async fn fetch_loop(
    mut consumer: Consumer,
    tp: TopicPartition,
    id: u64,
    out: mpsc::Sender<Fetched>,
) {
    loop {
        let (fetched, moved) = match consumer.poll().await {
            Err(error) if resumed_at_start(&mut consumer, &error).await => {
                (Ok((Vec::new(), consumer.position())), true)
            }
            result => (result.map(|r| (r, consumer.position())), false),
        };
        let stop = fetched.is_err();
        let empty = !moved
            && fetched
                .as_ref()
                .is_ok_and(|(records, _)| records.is_empty());
        if (!empty && out.send((tp.clone(), id, fetched)).await.is_err()) || stop {
            return;
        }
    }
}

/// Whether a poll refused because retention dropped the records at the position moved the
/// consumer to the partition's start offset (a committed offset may fall below it).
async fn resumed_at_start(consumer: &mut Consumer, error: &Error) -> bool {
    matches!(consumer.reset_if_trimmed(error).await, Ok(Some(_)))
}

/// The background heartbeat: what it needs to keep the member alive.
struct Heartbeat {
    groups: Groups,
    group: String,
    member_id: String,
    generation: u64,
    period: Duration,
    pending: Arc<Mutex<Option<Membership>>>,
}

impl Heartbeat {
    /// Heartbeats every `period`; a new generation is left for the next poll, and so is
    /// the member's removal, which ends the task.
    async fn run(mut self) {
        loop {
            tokio::time::sleep(self.period).await;
            let answer = self
                .groups
                .heartbeat(&self.group, &self.member_id, Some(self.generation))
                .await;
            match answer {
                Ok(state) if state.generation != self.generation => {
                    self.generation = state.generation;
                    set_pending(&self.pending, Membership::Rebalance(state));
                }
                Ok(_) => {}
                Err(error) if error.code() == Some(ErrorCode::UnknownMember) => {
                    set_pending(&self.pending, Membership::Lost);
                    return;
                }
                Err(error) => tracing::warn!(group = %self.group, %error, "heartbeat failed"),
            }
        }
    }
}

/// Records `event` for the next poll; a removal is never overwritten by a rebalance.
fn set_pending(pending: &Mutex<Option<Membership>>, event: Membership) {
    let mut slot = pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if *slot != Some(Membership::Lost) {
        *slot = Some(event);
    }
}

/// Takes the event the next poll acts on.
fn take_pending(pending: &Mutex<Option<Membership>>) -> Option<Membership> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// `result`, with the group answering that the member is not in it (`unknown_member`:
/// already dropped) counted as done.
fn unless_dropped(result: Result<()>) -> Result<()> {
    match result {
        Err(error) if error.code() == Some(ErrorCode::UnknownMember) => Ok(()),
        other => other,
    }
}

/// Whether `error` is the group refusing a commit (the consumer rejoins).
fn is_refusal(error: &Error) -> bool {
    matches!(
        error.code(),
        Some(ErrorCode::UnknownMember | ErrorCode::StaleGeneration)
    )
}

/// `topic`/`partition` as a [`TopicPartition`].
fn partition_of(topic: &str, partition: u32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

/// `duration` in whole milliseconds.
fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(generation: u64) -> MemberState {
        MemberState {
            group: "g".into(),
            member_id: "m".into(),
            generation,
            state: "rebalance".into(),
            assignment: vec![partition_of("t", 0)],
            session_timeout_ms: 3000,
        }
    }

    #[test]
    fn heartbeats_at_a_third_of_the_session_unless_told() {
        let mut config = GroupConsumerConfig::new("g", vec!["t".into()]);
        config.session_timeout = Duration::from_secs(3);
        assert_eq!(config.heartbeat_period(), Duration::from_secs(1));
        config.heartbeat_interval = Some(Duration::from_millis(250));
        assert_eq!(config.heartbeat_period(), Duration::from_millis(250));
    }

    #[test]
    fn defaults_are_at_least_once_from_the_latest_offset() {
        let config = GroupConsumerConfig::new("g", vec!["t".into()]);
        assert!(config.enable_auto_commit);
        assert_eq!(config.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(config.session_timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_newer_rebalance_replaces_an_older_one() {
        let pending = Mutex::new(None);
        set_pending(&pending, Membership::Rebalance(state(2)));
        set_pending(&pending, Membership::Rebalance(state(3)));
        assert_eq!(
            take_pending(&pending),
            Some(Membership::Rebalance(state(3)))
        );
        assert_eq!(take_pending(&pending), None);
    }

    #[test]
    fn a_lost_membership_is_never_overwritten_before_the_poll_sees_it() {
        let pending = Mutex::new(None);
        set_pending(&pending, Membership::Lost);
        set_pending(&pending, Membership::Rebalance(state(4)));
        set_pending(&pending, Membership::Refresh);
        assert_eq!(take_pending(&pending), Some(Membership::Lost));
    }

    #[test]
    fn only_the_groups_refusals_make_a_commit_rejoin() {
        let api = |code| Error::Api {
            status: 409,
            code,
            message: String::new(),
            retry_after: None,
        };
        assert!(is_refusal(&api(ErrorCode::UnknownMember)));
        assert!(is_refusal(&api(ErrorCode::StaleGeneration)));
        assert!(!is_refusal(&api(ErrorCode::Unavailable)));
    }
}
