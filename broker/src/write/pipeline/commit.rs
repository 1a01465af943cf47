//! Commit: uploaded segments are ordered through the metadata service in seal order, and
//! only then are their appends answered. Each ready run is cut into proposals of at most
//! [`MAX_PROPOSAL_SEGMENTS`](silt_metadata::limits::MAX_PROPOSAL_SEGMENTS) segments and
//! [`MAX_PROPOSAL_BYTES`](silt_metadata::limits::MAX_PROPOSAL_BYTES) of commit requests
//! ([`proposal_runs`]), committed one after the other, so a backlog after a metadata outage
//! becomes many small Raft entries instead of one that no follower can take in time; each
//! proposal's appends are answered as soon as it commits.
//!
//! A commit is retried while it fails transiently (commits are idempotent by object name,
//! so a retry of an applied entry returns the original offsets). When it cannot be
//! confirmed its appends are answered outcome-unknown and the spool files stay, handed to
//! the background recovery, which commits them later. A committed segment's chunks feed the hot read cache and
//! its spool file is removed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use silt_bookie::segment::{ChunkInfo, ProducerTag};
use silt_metadata::MetadataClient;
use silt_metadata::proposal::proposal_runs;
use silt_metadata::types::{
    ChunkCommit, ChunkOutcome, GroupCommit, ProducerBatch, RequestOffsetCommit, SegmentCommit,
    SegmentCommitResult,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{Instrument, info_span, warn};
use ulid::Ulid;

use super::error::PipelineError;
use super::parts::PipelineParts;
use super::upload::Digests;
use super::upload::{Uploaded, UploadedSegment};
use super::waiter::{AppendResult, Slot, Waiter};
use crate::metrics::Metrics;

/// How long one commit attempt may take before it is retried.
const COMMIT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the committer keeps retrying after shutdown began before it gives up.
const SHUTDOWN_COMMIT_GRACE: Duration = Duration::from_secs(10);

/// An uploaded segment ready to commit, with the appends it answers and its commit request.
struct Ready {
    segment: UploadedSegment,
    waiters: Vec<Waiter>,
    commit: SegmentCommit,
}

/// Orders uploaded segments by seal sequence and commits every ready run, a proposal at a
/// time.
pub(super) async fn commit_loop(
    parts: Arc<PipelineParts>,
    mut uploaded: mpsc::UnboundedReceiver<Uploaded>,
    closing: watch::Receiver<bool>,
) {
    let mut ready: BTreeMap<u64, Uploaded> = BTreeMap::new();
    let mut next = 1u64;
    while let Some(item) = uploaded.recv().await {
        ready.insert(item.sequence, item);
        drain_uploaded(&mut uploaded, &mut ready);
        let committable = take_ready_run(&mut ready, &mut next);
        for proposal in proposal_runs(committable, |r| &r.commit) {
            commit_run(&parts, proposal, &closing).await;
        }
    }
}

/// Moves every upload already waiting in the channel into `ready`.
fn drain_uploaded(
    uploaded: &mut mpsc::UnboundedReceiver<Uploaded>,
    ready: &mut BTreeMap<u64, Uploaded>,
) {
    while let Ok(item) = uploaded.try_recv() {
        ready.insert(item.sequence, item);
    }
}

/// Removes the run of consecutive sequences from `next` on; answers failed uploads at once
/// and returns the uploaded segments with their waiters.
fn take_ready_run(ready: &mut BTreeMap<u64, Uploaded>, next: &mut u64) -> Vec<Ready> {
    let mut committable = Vec::new();
    while let Some(item) = ready.remove(next) {
        *next += 1;
        match item.result {
            Ok(segment) => committable.push(Ready {
                commit: segment.commit(),
                segment,
                waiters: item.waiters,
            }),
            Err(error) => answer_all(item.waiters, &Err(error)),
        }
    }
    committable
}

/// Commits one proposal's segments in one entry and answers their appends.
async fn commit_run(parts: &PipelineParts, proposal: Vec<Ready>, closing: &watch::Receiver<bool>) {
    crate::failpoints::reached("commit.before_send", &proposal.len());
    let commits = proposal.iter().map(|r| r.commit.clone()).collect();
    let metadata = parts.metadata.as_ref();
    match commit_with_retry(metadata, &parts.metrics, commits, None, Some(closing)).await {
        Ok(results) => {
            for (ready, result) in proposal.into_iter().zip(results) {
                ready.segment.finish(parts, ready.waiters, &result);
            }
        }
        Err(error) => answer_unconfirmed(parts, proposal, &error),
    }
}

/// Answers every append of a proposal whose commit was not confirmed with `error`; their
/// spool files stay, handed to the background recovery.
fn answer_unconfirmed(parts: &PipelineParts, proposal: Vec<Ready>, error: &PipelineError) {
    warn!(%error, "commit not confirmed; requests answered outcome-unknown, spool files stay for recovery");
    for ready in proposal {
        parts.in_doubt.add(ready.segment.id);
        answer_all(ready.waiters, &Err(error.clone()));
    }
}

/// Sends the same answer to every waiter.
fn answer_all(waiters: Vec<Waiter>, answer: &AppendResult) {
    for waiter in waiters {
        let _ = waiter.done.send(answer.clone());
    }
}

/// The commit request for sealed segment `id`, uploaded as `object`; `digests` holds the
/// content digests of its producer requests (empty for a segment recovered from the spool:
/// its footer keeps none, and the state machine treats a missing digest as unknown). The
/// seal time is the ULID's, checked against the commit horizon.
pub(crate) fn segment_commit(
    id: Ulid,
    object: &str,
    size: u64,
    chunks: &[ChunkInfo],
    digests: &Digests,
) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size,
        chunks: chunks.iter().map(|c| chunk_commit(c, digests)).collect(),
        sealed_at_ms: i64::try_from(id.timestamp_ms()).ok(),
        offset_commits: offset_commits(digests),
    }
}

/// The offset commits riding with a segment's producer requests, in tag order (so every
/// attempt proposes the same entry).
pub(super) fn offset_commits(digests: &Digests) -> Vec<RequestOffsetCommit> {
    let mut commits: Vec<RequestOffsetCommit> = digests
        .iter()
        .filter_map(|(tag, facts)| Some(request_commit(*tag, facts.commit.clone()?)))
        .collect();
    commits.sort_by_key(|c| (c.producer_id, c.epoch, c.sequence));
    commits
}

/// The offset commit `commit` bound to the request `tag`.
fn request_commit(tag: ProducerTag, commit: GroupCommit) -> RequestOffsetCommit {
    RequestOffsetCommit {
        producer_id: tag.producer_id,
        epoch: tag.epoch,
        sequence: tag.sequence,
        commit,
    }
}

/// Whether the state machine refused the segment for its age (past the commit horizon):
/// nothing of it was written.
pub(crate) fn refused_as_too_old(result: &SegmentCommitResult) -> bool {
    result.chunks.first() == Some(&ChunkOutcome::TooOld)
}

/// The commit request for one chunk of a sealed segment.
fn chunk_commit(c: &ChunkInfo, digests: &Digests) -> ChunkCommit {
    ChunkCommit {
        topic_id: c.topic_id,
        partition: c.partition,
        position: c.position,
        length: c.length,
        record_count: c.record_count,
        first_timestamp_ms: c.first_timestamp_ms,
        max_timestamp_ms: c.max_timestamp_ms,
        producer: c.producer.map(|tag| producer_batch(tag, digests)),
    }
}

/// The metadata service's form of a chunk's producer tag, with its request's digest.
fn producer_batch(tag: ProducerTag, digests: &Digests) -> ProducerBatch {
    ProducerBatch {
        producer_id: tag.producer_id,
        epoch: tag.epoch,
        sequence: tag.sequence,
        digest: digests.get(&tag).and_then(|facts| facts.digest),
    }
}

/// Commits a batch of segments, retrying transient failures. Each attempt is bounded by
/// [`COMMIT_ATTEMPT_TIMEOUT`]. It gives up, with [`PipelineError::OutcomeUnknown`], on a
/// non-transient error, once `deadline` passes, or [`SHUTDOWN_COMMIT_GRACE`] after `closing`
/// turned true.
pub(crate) async fn commit_with_retry(
    metadata: &dyn MetadataClient,
    metrics: &Metrics,
    commits: Vec<SegmentCommit>,
    deadline: Option<Instant>,
    closing: Option<&watch::Receiver<bool>>,
) -> Result<Vec<SegmentCommitResult>, PipelineError> {
    let span = info_span!("commit", segments = commits.len());
    let mut retry = Retry::new(deadline, closing);
    async {
        loop {
            let failure = match commit_once(metadata, metrics, &commits).await {
                Ok(results) => return Ok(results),
                Err(Attempt::Refused(message)) => return Err(refused(&message)),
                Err(Attempt::Transient(failure)) => failure,
            };
            retry.check(&failure)?;
            retry.wait(&failure).await;
        }
    }
    .instrument(span)
    .await
}

/// The answer to a commit the metadata service refused for good.
fn refused(message: &str) -> PipelineError {
    PipelineError::OutcomeUnknown(format!(
        "metadata commit failed: {message}; the records may appear later"
    ))
}

/// When a failing commit gives up, and how long it waits between attempts.
struct Retry<'a> {
    backoff: Duration,
    deadline: Option<Instant>,
    closing: Option<&'a watch::Receiver<bool>>,
    closing_since: Option<Instant>,
}

impl<'a> Retry<'a> {
    /// The first attempt's state: a 20 ms backoff, shutdown not yet seen.
    fn new(deadline: Option<Instant>, closing: Option<&'a watch::Receiver<bool>>) -> Self {
        Retry {
            backoff: Duration::from_millis(20),
            deadline,
            closing,
            closing_since: None,
        }
    }

    /// Gives up on `failure` once shutdown's grace or the deadline has passed.
    fn check(&mut self, failure: &str) -> Result<(), PipelineError> {
        let message = if self.grace_over() {
            format!(
                "metadata commit failed during shutdown: {failure}; the records may appear later"
            )
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            format!("metadata commit failed: {failure}")
        } else {
            return Ok(());
        };
        Err(PipelineError::OutcomeUnknown(message))
    }

    /// Whether [`SHUTDOWN_COMMIT_GRACE`] has passed since closing was first seen true.
    fn grace_over(&mut self) -> bool {
        if !self.closing.is_some_and(|c| *c.borrow()) {
            return false;
        }
        let since = *self.closing_since.get_or_insert_with(Instant::now);
        since.elapsed() >= SHUTDOWN_COMMIT_GRACE
    }

    /// Logs the failure, sleeps the backoff and doubles it, up to a second.
    async fn wait(&mut self, failure: &str) {
        let backoff = self.backoff;
        warn!(failure, ?backoff, "commit failed; retrying");
        tokio::time::sleep(backoff).await;
        self.backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Why one commit attempt did not return results.
enum Attempt {
    /// Worth retrying: no answer, or a transient metadata error.
    Transient(String),
    /// Refused for good.
    Refused(String),
}

impl Attempt {
    /// No answer within [`COMMIT_ATTEMPT_TIMEOUT`]: worth retrying.
    fn timed_out() -> Self {
        Attempt::Transient(format!("no answer within {COMMIT_ATTEMPT_TIMEOUT:?}"))
    }
}

impl From<silt_metadata::Error> for Attempt {
    /// Transient or refused, by the error's kind.
    fn from(error: silt_metadata::Error) -> Self {
        if error.is_transient() {
            Attempt::Transient(error.to_string())
        } else {
            Attempt::Refused(error.to_string())
        }
    }
}

/// One commit attempt, bounded by [`COMMIT_ATTEMPT_TIMEOUT`]; records its latency.
async fn commit_once(
    metadata: &dyn MetadataClient,
    metrics: &Metrics,
    commits: &[SegmentCommit],
) -> Result<Vec<SegmentCommitResult>, Attempt> {
    let started = Instant::now();
    let commit = metadata.commit_segments(commits.to_vec());
    let answer = tokio::time::timeout(COMMIT_ATTEMPT_TIMEOUT, commit).await;
    let results = answer.map_err(|_| Attempt::timed_out())??;
    metrics.segments_committed(commits.len(), started.elapsed());
    Ok(results)
}

/// The outcome of each chunk of a committed segment, by the chunk's key.
type Outcomes = HashMap<(u64, u32, Option<ProducerTag>), ChunkOutcome>;

/// Answers each waiter with the offsets of its slots (or why a slot was refused).
fn answer_slots(waiters: Vec<Waiter>, outcomes: &Outcomes, result: &SegmentCommitResult) {
    for waiter in waiters {
        let answer = waiter
            .slots
            .iter()
            .map(|slot| slot_offset(outcomes, slot).map_err(|e| with_refusal(e, slot, result)))
            .collect();
        let _ = waiter.done.send(answer);
    }
}

impl UploadedSegment {
    /// The commit request for this segment.
    fn commit(&self) -> SegmentCommit {
        segment_commit(
            self.id,
            &self.object,
            self.size,
            &self.chunks,
            &self.digests,
        )
    }

    /// Answers a committed segment's appends, feeds the hot cache and drops the spool file.
    fn finish(self, parts: &PipelineParts, waiters: Vec<Waiter>, result: &SegmentCommitResult) {
        if refused_as_too_old(result) {
            warn!(segment = %self.id, object = %self.object, "segment refused: sealed before the commit horizon; its requests fail and the object is an orphan");
        }
        let outcomes = self.outcomes(parts, result);
        answer_slots(waiters, &outcomes, result);
        if let Err(error) = parts.spool.remove(self.id) {
            warn!(%error, segment = %self.id, "cannot remove a committed spool file");
        }
    }

    /// Each chunk's outcome by its key; committed chunks go into the hot cache.
    fn outcomes(&self, parts: &PipelineParts, result: &SegmentCommitResult) -> Outcomes {
        let mut outcomes = Outcomes::new();
        for (chunk, outcome) in self.chunks.iter().zip(&result.chunks) {
            outcomes.insert((chunk.topic_id, chunk.partition, chunk.producer), *outcome);
            if matches!(outcome, ChunkOutcome::Committed { .. }) {
                cache_chunk(parts, self, chunk.position, chunk.length);
            }
        }
        outcomes
    }
}

/// A copy of the chunk, not a slice: a slice would keep the whole segment buffer alive for
/// as long as any one of its chunks stays cached. Nothing is cached for a segment whose
/// bytes were not held (see [`super::held`]).
fn cache_chunk(parts: &PipelineParts, segment: &UploadedSegment, position: u64, length: u32) {
    let Some(held) = &segment.held else {
        return;
    };
    let segment_bytes = held.bytes();
    let start = usize::try_from(position).unwrap_or(usize::MAX);
    let end = start.saturating_add(length as usize);
    if end <= segment_bytes.len() {
        let bytes = Bytes::copy_from_slice(&segment_bytes[start..end]);
        parts.cache.insert(&segment.object, position, bytes);
    }
}

/// `error`, with the state machine's reason when it is a refused offset commit.
fn with_refusal(error: PipelineError, slot: &Slot, result: &SegmentCommitResult) -> PipelineError {
    let (PipelineError::CommitRefused(None), Some(tag)) = (&error, slot.producer) else {
        return error;
    };
    let refusal = result.commit_refusal(tag.producer_id, tag.epoch, tag.sequence);
    PipelineError::CommitRefused(refusal.cloned())
}

/// The offset of a slot's first record, or why its chunk was refused.
fn slot_offset(outcomes: &Outcomes, slot: &Slot) -> Result<u64, PipelineError> {
    match outcomes.get(&(slot.topic_id, slot.partition, slot.producer)) {
        Some(ChunkOutcome::Committed { base_offset } | ChunkOutcome::Duplicate { base_offset }) => {
            Ok(base_offset + u64::from(slot.delta))
        }
        Some(refused) => Err(
            PipelineError::from_outcome(refused, slot.partition, slot.producer)
                .unwrap_or(PipelineError::PartitionNotFound(slot.partition)),
        ),
        None => Err(PipelineError::PartitionNotFound(slot.partition)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use silt_bookie::store::ObjectStoreHandle;
    use silt_bookie::store::faults::{FaultConfig, FaultControl, LatencyModel};
    use silt_metadata::limits::MAX_PROPOSAL_SEGMENTS;
    use silt_metadata::types::{
        BrokerView, ChangeFeed, CommittedOffsetView, GroupSummary, GroupView, HeartbeatView,
        MemberAssignment, MemberJoin, NodeStatus, OffsetCommit, OrphanList, PartitionSlice,
        ProducerView, ResetTarget, SegmentCommit, SegmentCommitResult, TopicPage, TopicSettings,
        TopicView, Usage,
    };
    use silt_metadata::{MetadataClient, Result};
    use tokio::sync::watch;
    use tokio::time::Instant;

    use super::super::testing::{Harness, append, policy};
    use super::super::{PipelineError, WritePipeline};

    #[tokio::test]
    async fn segments_uploaded_out_of_order_commit_in_seal_order() {
        // Random PUT latencies let later segments finish first.
        let control = FaultControl::new(FaultConfig {
            put: LatencyModel::LogNormal {
                p50: Duration::from_millis(5),
                p99: Duration::from_millis(40),
            },
            seed: 7,
            ..FaultConfig::default()
        });
        let harness = Harness::new(ObjectStoreHandle::in_memory().with_faults(control)).await;
        let mut small = policy();
        small.max_segment_bytes = 1024;
        small.linger = Duration::from_millis(1);
        let pipeline = WritePipeline::start(harness.parts.clone(), small);
        let mut sent = Vec::new();
        for _ in 0..20 {
            let pipeline = pipeline.clone();
            sent.push(tokio::spawn(async move {
                pipeline.append(vec![append(0, 100)]).await
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut offsets = Vec::new();
        for handle in sent {
            offsets.push(handle.await.unwrap().unwrap()[0]);
        }
        // Appends were staged in send order, segments sealed in that order, and the
        // commits kept it: offsets rise with the send order.
        assert_eq!(offsets, (0..20).map(|i| i * 100).collect::<Vec<u64>>());
        let metrics = &harness.parts.metrics;
        assert!(metrics.segments_uploaded.get() > 1);
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_deleted_topic_refuses_the_chunk_and_the_others_commit() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        harness
            .parts
            .metadata
            .delete_topic("t", None)
            .await
            .unwrap();
        let refused = pipeline.append(vec![append(0, 1)]).await;
        assert_eq!(refused, Err(PipelineError::TopicNotFound));
        assert_eq!(harness.parts.spool.pending().unwrap(), vec![]);
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn an_unconfirmed_commit_is_outcome_unknown_and_keeps_the_spool_file() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        assert_eq!(pipeline.append(vec![append(0, 1)]).await.unwrap(), vec![0]);
        // The metadata service goes away for good: the committer retries until shutdown's
        // grace runs out, then answers outcome-unknown; the segment stays spooled.
        let Harness { parts, node, dir } = harness;
        node.shutdown().await.unwrap();
        let append = {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { pipeline.append(vec![append(0, 1)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        pipeline.close().await;
        let outcome = append.await.unwrap();
        assert!(
            matches!(outcome, Err(PipelineError::OutcomeUnknown(_))),
            "{outcome:?}"
        );
        assert_eq!(parts.spool.pending().unwrap().len(), 1);
        drop(dir);
    }

    /// One append of a single record of `bytes` bytes to partition 0 of topic 1.
    fn one_large_record(bytes: usize) -> super::super::PartitionAppend {
        let mut part = append(0, 1);
        part.records[0].value = silt_bookie::record::Payload::bytes(vec![7; bytes]);
        part
    }

    /// The embedded node's client, holding every commit until `open` turns true and
    /// recording how many segments each commit call carried.
    struct Gated {
        inner: Arc<dyn MetadataClient>,
        open: watch::Receiver<bool>,
        calls: Mutex<Vec<usize>>,
    }

    #[async_trait::async_trait]
    impl MetadataClient for Gated {
        async fn create_topic(
            &self,
            name: &str,
            partitions: u32,
            settings: TopicSettings,
            at: i64,
        ) -> Result<TopicView> {
            self.inner
                .create_topic(name, partitions, settings, at)
                .await
        }

        async fn delete_topic(&self, name: &str, topic_id: Option<u64>) -> Result<()> {
            self.inner.delete_topic(name, topic_id).await
        }

        async fn cluster_id(&self) -> Result<String> {
            self.inner.cluster_id().await
        }

        async fn known_cluster_id(&self) -> Result<Option<String>> {
            self.inner.known_cluster_id().await
        }

        async fn list_topics(&self) -> Result<Vec<TopicView>> {
            self.inner.list_topics().await
        }

        async fn topic_page(&self, after: Option<&str>, limit: usize) -> Result<TopicPage> {
            self.inner.topic_page(after, limit).await
        }

        async fn usage(&self) -> Result<Usage> {
            self.inner.usage().await
        }

        async fn usage_of(&self, owner: &str) -> Result<Usage> {
            self.inner.usage_of(owner).await
        }

        async fn create_owned_topic(
            &self,
            name: &str,
            partitions: u32,
            settings: TopicSettings,
            at: i64,
            owner: Option<&str>,
        ) -> Result<TopicView> {
            self.inner
                .create_owned_topic(name, partitions, settings, at, owner)
                .await
        }

        async fn describe_topic(&self, name: &str) -> Result<TopicView> {
            self.inner.describe_topic(name).await
        }

        async fn alter_topic(
            &self,
            name: &str,
            patch: silt_metadata::types::TopicSettingsPatch,
        ) -> Result<TopicView> {
            self.inner.alter_topic(name, patch).await
        }

        async fn retention_plan(
            &self,
            at_ms: i64,
            defaults: silt_metadata::types::RetentionDefaults,
            limit: usize,
        ) -> Result<Vec<silt_metadata::types::PlannedTrim>> {
            self.inner.retention_plan(at_ms, defaults, limit).await
        }

        async fn trim_partitions(
            &self,
            trims: Vec<silt_metadata::types::PartitionTrim>,
            at_ms: i64,
        ) -> Result<Vec<silt_metadata::types::TrimOutcome>> {
            self.inner.trim_partitions(trims, at_ms).await
        }

        async fn take_lease(
            &self,
            name: &str,
            holder: &str,
            until_ms: i64,
            at_ms: i64,
        ) -> Result<silt_metadata::types::LeaseView> {
            self.inner.take_lease(name, holder, until_ms, at_ms).await
        }

        async fn garbage(
            &self,
            released_before: i64,
            orphaned_before: i64,
            limit: usize,
            after_backup: bool,
        ) -> Result<silt_metadata::types::GarbageList> {
            let inner = &self.inner;
            let list = inner.garbage(released_before, orphaned_before, limit, after_backup);
            list.await
        }

        async fn forget_garbage(&self, objects: Vec<String>) -> Result<u64> {
            self.inner.forget_garbage(objects).await
        }

        async fn in_use(
            &self,
            objects: Vec<String>,
            before: i64,
            after_backup: bool,
        ) -> Result<Vec<String>> {
            self.inner.in_use(objects, before, after_backup).await
        }

        async fn backup(&self) -> Result<silt_metadata::backup::Backup> {
            self.inner.backup().await
        }

        async fn record_backup(&self, index: u64) -> Result<Option<u64>> {
            self.inner.record_backup(index).await
        }

        async fn referenced_objects(
            &self,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>> {
            self.inner.referenced_objects(after, limit).await
        }

        async fn partition_slice(
            &self,
            topic: &str,
            partition: u32,
            offset: u64,
            max: usize,
        ) -> Result<PartitionSlice> {
            self.inner
                .partition_slice(topic, partition, offset, max)
                .await
        }

        async fn time_slice(
            &self,
            topic: &str,
            partition: u32,
            timestamp_ms: i64,
            max: usize,
        ) -> Result<PartitionSlice> {
            self.inner
                .time_slice(topic, partition, timestamp_ms, max)
                .await
        }

        async fn init_producer(
            &self,
            id: Option<u64>,
            owner: Option<&str>,
        ) -> Result<ProducerView> {
            self.inner.init_producer(id, owner).await
        }

        async fn producer(&self, id: u64) -> Result<Option<ProducerView>> {
            self.inner.producer(id).await
        }

        async fn broker_heartbeat(
            &self,
            id: &str,
            address: &str,
            lease: u64,
            at: i64,
        ) -> Result<BrokerView> {
            self.inner.broker_heartbeat(id, address, lease, at).await
        }

        async fn list_brokers(&self) -> Result<Vec<BrokerView>> {
            self.inner.list_brokers().await
        }

        async fn orphans(&self, limit: usize) -> Result<OrphanList> {
            self.inner.orphans(limit).await
        }

        async fn storage_page(
            &self,
            after: Option<&str>,
            limit: usize,
        ) -> Result<silt_metadata::types::StoragePage> {
            self.inner.storage_page(after, limit).await
        }

        async fn record_orphans(&self, objects: Vec<String>, at: i64) -> Result<()> {
            self.inner.record_orphans(objects, at).await
        }

        async fn status(&self) -> Result<NodeStatus> {
            self.inner.status().await
        }

        async fn commit_offsets(
            &self,
            group: &str,
            member: (Option<&str>, Option<u64>),
            offsets: Vec<OffsetCommit>,
        ) -> Result<Vec<CommittedOffsetView>> {
            self.inner.commit_offsets(group, member, offsets).await
        }

        async fn reset_offsets(
            &self,
            group: &str,
            targets: Vec<ResetTarget>,
            force: bool,
        ) -> Result<Vec<CommittedOffsetView>> {
            self.inner.reset_offsets(group, targets, force).await
        }

        async fn join_group(&self, group: &str, join: MemberJoin) -> Result<MemberAssignment> {
            self.inner.join_group(group, join).await
        }

        async fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
            self.inner.leave_group(group, member_id).await
        }

        async fn group_heartbeat(
            &self,
            group: &str,
            member_id: &str,
            generation: Option<u64>,
        ) -> Result<HeartbeatView> {
            self.inner
                .group_heartbeat(group, member_id, generation)
                .await
        }

        async fn delete_group(&self, group: &str) -> Result<()> {
            self.inner.delete_group(group).await
        }

        async fn list_groups(&self) -> Result<Vec<GroupSummary>> {
            self.inner.list_groups().await
        }

        async fn describe_group(&self, group: &str) -> Result<GroupView> {
            self.inner.describe_group(group).await
        }

        async fn commit_segments(
            &self,
            segments: Vec<SegmentCommit>,
        ) -> Result<Vec<SegmentCommitResult>> {
            let _ = self.open.clone().wait_for(|open| *open).await;
            self.calls.lock().unwrap().push(segments.len());
            self.inner.commit_segments(segments).await
        }

        fn subscribe_applied(&self) -> watch::Receiver<u64> {
            self.inner.subscribe_applied()
        }

        async fn watch_changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed> {
            self.inner.watch_changes(after, wait).await
        }

        async fn is_ready(&self) -> bool {
            self.inner.is_ready().await
        }

        fn failure(&self) -> Option<String> {
            self.inner.failure()
        }
    }

    /// Waits (bounded) until `count` segments were uploaded.
    async fn wait_for_uploads(harness: &Harness, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while harness.parts.metrics.segments_uploaded.get() < count as u64 {
            assert!(Instant::now() < deadline, "the segments never uploaded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The harness's metadata client behind a closed gate, and the gate's opener.
    fn gated(harness: &Harness) -> (watch::Sender<bool>, Arc<Gated>) {
        let (open, gate) = watch::channel(false);
        let gated = Arc::new(Gated {
            inner: harness.parts.metadata.clone(),
            open: gate,
            calls: Mutex::new(Vec::new()),
        });
        (open, gated)
    }

    #[tokio::test]
    async fn a_backlog_is_committed_in_proposal_sized_runs_in_seal_order() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let (open, gated) = gated(&harness);
        let parts = harness.parts_with_metadata(gated.clone());
        let mut tiny = policy();
        tiny.max_segment_bytes = 1024;
        let pipeline = WritePipeline::start(parts, tiny);
        // Every append fills a segment of its own. The first one's commit waits at the
        // gate while the others upload and queue behind it.
        let send = |pipeline: &WritePipeline| {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { pipeline.append(vec![append(0, 1100)]).await })
        };
        let mut sent = vec![send(&pipeline)];
        wait_for_uploads(&harness, 1).await;
        let total = MAX_PROPOSAL_SEGMENTS + 10;
        sent.extend((1..total).map(|_| send(&pipeline)));
        wait_for_uploads(&harness, total).await;
        open.send(true).unwrap();
        let mut offsets = Vec::new();
        for handle in sent {
            offsets.push(handle.await.unwrap().unwrap()[0]);
        }
        offsets.sort_unstable();
        let expected: Vec<u64> = (0..total as u64).map(|i| i * 1100).collect();
        assert_eq!(offsets, expected);
        let calls = gated.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), total, "{calls:?}");
        assert!(
            calls
                .iter()
                .all(|&segments| segments <= MAX_PROPOSAL_SEGMENTS),
            "a commit carried more than one proposal's segments: {calls:?}"
        );
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn while_commits_stall_uploaded_bytes_in_memory_stay_within_the_cache_capacity() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        // Commits wait at the gate (a metadata outage) while uploads go on.
        let (open, gated) = gated(&harness);
        let parts = harness.parts_with_metadata(gated);
        let mut small = policy();
        small.max_segment_bytes = 64 << 10;
        let pipeline = WritePipeline::start(parts.clone(), small);
        // 40 segments of about 100 KiB each: 4 MB uploaded, 4 times the 1 MiB hot cache.
        let appends: Vec<_> = (0..40)
            .map(|_| {
                let pipeline = pipeline.clone();
                tokio::spawn(
                    async move { pipeline.append(vec![one_large_record(100 << 10)]).await },
                )
            })
            .collect();
        wait_for_uploads(&harness, 40).await;
        let held = parts.held.used();
        assert!(
            held <= 1 << 20,
            "{held} bytes of uploaded segments held in memory"
        );
        let gauge = parts.metrics.uploaded_bytes_in_memory.get();
        assert_eq!(u64::try_from(gauge).unwrap(), held);
        // The outage ends: everything commits, and what was held is released.
        open.send(true).unwrap();
        for append in appends {
            append.await.unwrap().unwrap();
        }
        assert_eq!(parts.held.used(), 0);
        assert_eq!(parts.metrics.uploaded_bytes_in_memory.get(), 0);
        pipeline.close().await;
        drop(parts);
        harness.stop().await;
    }
}
