//! Commit: uploaded segments are ordered through the metadata service in seal order, every
//! ready run in one Raft entry, and only then are their appends answered.
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
use silt_bookie::segment::{ChunkInfo, ProducerTag, SealedSegment};
use silt_metadata::MetadataClient;
use silt_metadata::types::{
    ChunkCommit, ChunkOutcome, ProducerBatch, SegmentCommit, SegmentCommitResult,
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

/// Orders uploaded segments by seal sequence and commits every ready run in one entry.
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
        if !committable.is_empty() {
            commit_run(&parts, committable, &closing).await;
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
fn take_ready_run(
    ready: &mut BTreeMap<u64, Uploaded>,
    next: &mut u64,
) -> Vec<(UploadedSegment, Vec<Waiter>)> {
    let mut committable = Vec::new();
    while let Some(item) = ready.remove(next) {
        *next += 1;
        match item.result {
            Ok(segment) => committable.push((segment, item.waiters)),
            Err(error) => answer_all(item.waiters, &Err(error)),
        }
    }
    committable
}

/// Commits a run of segments in one entry and answers their appends.
async fn commit_run(
    parts: &PipelineParts,
    committable: Vec<(UploadedSegment, Vec<Waiter>)>,
    closing: &watch::Receiver<bool>,
) {
    crate::failpoints::crash_if_active("commit.before_send");
    let commits = committable
        .iter()
        .map(|(segment, _)| segment.commit())
        .collect();
    let metadata = parts.metadata.as_ref();
    match commit_with_retry(metadata, &parts.metrics, commits, None, Some(closing)).await {
        Ok(results) => {
            for ((segment, waiters), result) in committable.into_iter().zip(results) {
                segment.finish(parts, waiters, &result);
            }
        }
        Err(error) => answer_unconfirmed(parts, committable, &error),
    }
}

/// Answers every append of a run whose commit was not confirmed with `error`; their spool
/// files stay, handed to the background recovery.
fn answer_unconfirmed(
    parts: &PipelineParts,
    committable: Vec<(UploadedSegment, Vec<Waiter>)>,
    error: &PipelineError,
) {
    warn!(%error, "commit not confirmed; requests answered outcome-unknown, spool files stay for recovery");
    for (segment, waiters) in committable {
        parts.in_doubt.add(segment.id);
        answer_all(waiters, &Err(error.clone()));
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
    sealed: &SealedSegment,
    digests: &Digests,
) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: sealed.bytes.len() as u64,
        chunks: sealed
            .chunks
            .iter()
            .map(|c| chunk_commit(c, digests))
            .collect(),
        sealed_at_ms: i64::try_from(id.timestamp_ms()).ok(),
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
        digest: digests.get(&tag).copied(),
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
fn answer_slots(waiters: Vec<Waiter>, outcomes: &Outcomes) {
    for waiter in waiters {
        let answer = waiter
            .slots
            .iter()
            .map(|slot| slot_offset(outcomes, slot))
            .collect();
        let _ = waiter.done.send(answer);
    }
}

impl UploadedSegment {
    /// The commit request for this segment.
    fn commit(&self) -> SegmentCommit {
        segment_commit(self.id, &self.object, &self.sealed, &self.digests)
    }

    /// Answers a committed segment's appends, feeds the hot cache and drops the spool file.
    fn finish(self, parts: &PipelineParts, waiters: Vec<Waiter>, result: &SegmentCommitResult) {
        if refused_as_too_old(result) {
            warn!(segment = %self.id, object = %self.object, "segment refused: sealed before the commit horizon; its requests fail and the object is an orphan");
        }
        let outcomes = self.outcomes(parts, result);
        answer_slots(waiters, &outcomes);
        if let Err(error) = parts.spool.remove(self.id) {
            warn!(%error, segment = %self.id, "cannot remove a committed spool file");
        }
    }

    /// Each chunk's outcome by its key; committed chunks go into the hot cache.
    fn outcomes(&self, parts: &PipelineParts, result: &SegmentCommitResult) -> Outcomes {
        let mut outcomes = Outcomes::new();
        for (chunk, outcome) in self.sealed.chunks.iter().zip(&result.chunks) {
            outcomes.insert((chunk.topic_id, chunk.partition, chunk.producer), *outcome);
            if matches!(outcome, ChunkOutcome::Committed { .. }) {
                cache_chunk(parts, self, chunk.position, chunk.length);
            }
        }
        outcomes
    }
}

/// A copy of the chunk, not a slice: a slice would keep the whole segment buffer alive for
/// as long as any one of its chunks stays cached.
fn cache_chunk(parts: &PipelineParts, segment: &UploadedSegment, position: u64, length: u32) {
    let start = usize::try_from(position).unwrap_or(usize::MAX);
    let end = start.saturating_add(length as usize);
    if end <= segment.sealed.bytes.len() {
        let bytes = Bytes::copy_from_slice(&segment.sealed.bytes[start..end]);
        parts.cache.insert(&segment.object, position, bytes);
    }
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
    use std::time::Duration;

    use silt_bookie::store::ObjectStoreHandle;
    use silt_bookie::store::faults::{FaultConfig, FaultControl, LatencyModel};

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
}
