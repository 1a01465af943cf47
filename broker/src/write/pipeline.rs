//! The write pipeline: DESIGN.md's write path, steps 2 to 5.
//!
//! One actor owns the open segment (a [`SegmentBuilder`] in memory). Produce requests
//! append to it and wait. The actor seals the segment by size, at once when no upload is in
//! flight (an idle broker does not wait for a timer), or when the linger passes while
//! uploads run ([`SealPolicy`]). Each sealed segment is uploaded with a conditional PUT
//! under a unique name, several at once, while a copy is written to the spool (local
//! disk, for recovery; a segment waiting for an upload slot waits there, not in memory). A
//! committer then orders uploaded segments through the metadata service **in seal order**,
//! batching every segment that is ready into one Raft entry, and only then answers the
//! waiting requests with their offsets: acknowledged means in the bucket and ordered in
//! metadata. A failed upload fails its requests (their records are never committed: the
//! spool file is dropped); a failed commit fails its requests but keeps the spool file, so
//! start-up recovery commits it (idempotent by object name).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use silt_bookie::batch::Compression;
use silt_bookie::cache::ChunkCache;
use silt_bookie::record::Record;
use silt_bookie::segment::{ProducerTag, SealedSegment, SegmentBuilder};
use silt_bookie::store::{ObjectStoreHandle, paths};
use silt_bookie::upload::upload_segment;
use silt_bookie::wal::{SealPolicy, SegmentSpool};
use silt_metadata::MetadataClient;
use silt_metadata::types::{
    ChunkCommit, ChunkOutcome, ProducerBatch, SegmentCommit, SegmentCommitResult,
};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, info_span, warn};
use ulid::Ulid;

use crate::metrics::Metrics;

/// Records of one partition in one produce request.
#[derive(Debug)]
pub struct PartitionAppend {
    /// Topic id.
    pub topic_id: u64,
    /// Partition.
    pub partition: u32,
    /// The topic's chunk compression.
    pub compression: Compression,
    /// The idempotent producer request these records belong to, if any.
    pub producer: Option<ProducerTag>,
    /// Records, in request order.
    pub records: Vec<Record>,
}

/// Why an append was not acknowledged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The topic was deleted while the records were in flight.
    #[error("topic was deleted while the records were being written")]
    TopicNotFound,
    /// The partition no longer exists.
    #[error("partition {0} no longer exists")]
    PartitionNotFound(u32),
    /// The object store or metadata service failed; the records were not written.
    #[error("{0}")]
    Unavailable(String),
    /// The write-ahead cache's disk budget is used up (the object store is slower than the
    /// producers); retry after a moment.
    #[error("{0}")]
    Overloaded(String),
    /// The segment is in the bucket but its commit could not be confirmed: the records may
    /// or may not appear (the spool keeps the segment and recovery commits it later).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// The broker is shutting down.
    #[error("broker is shutting down")]
    ShuttingDown,
    /// The idempotent producer's epoch is stale: a newer instance of it was initialised.
    #[error(
        "producer epoch is stale: the producer's current epoch is {current_epoch}; this instance was fenced by a newer one"
    )]
    ProducerFenced {
        /// The producer's current epoch.
        current_epoch: u32,
    },
    /// The request's sequence number is not the next one the producer may send.
    #[error("out-of-order sequence number: the producer's next sequence is {expected}")]
    OutOfOrderSequence {
        /// The next sequence expected.
        expected: u64,
    },
    /// The producer id (or that epoch) was never issued.
    #[error("unknown producer id or epoch: get one from POST /v1/producers")]
    UnknownProducer,
}

impl WriteError {
    /// The error for a refused chunk outcome (`None` for a committed or duplicate one).
    fn from_outcome(outcome: &ChunkOutcome, partition: u32) -> Option<WriteError> {
        match outcome {
            ChunkOutcome::Committed { .. } | ChunkOutcome::Duplicate { .. } => None,
            ChunkOutcome::TopicNotFound => Some(WriteError::TopicNotFound),
            ChunkOutcome::PartitionNotFound => Some(WriteError::PartitionNotFound(partition)),
            ChunkOutcome::ProducerFenced { current_epoch } => Some(WriteError::ProducerFenced {
                current_epoch: *current_epoch,
            }),
            ChunkOutcome::OutOfOrderSequence { expected } => Some(WriteError::OutOfOrderSequence {
                expected: *expected,
            }),
            ChunkOutcome::UnknownProducer => Some(WriteError::UnknownProducer),
        }
    }
}

/// Shared parts every stage uses.
pub struct PipelineParts {
    /// The object store.
    pub store: ObjectStoreHandle,
    /// Sealed segments on local disk.
    pub spool: Arc<SegmentSpool>,
    /// The metadata service.
    pub metadata: Arc<dyn MetadataClient>,
    /// The hot read tier, filled with committed chunks.
    pub cache: Arc<ChunkCache>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bytes the spool may hold (sealed segments not yet committed) before appends are
    /// refused with [`WriteError::Overloaded`].
    /// (An atomic so the test-only fault endpoint can simulate a full disk.)
    pub spool_budget: Arc<std::sync::atomic::AtomicU64>,
}

/// How long one commit attempt may take before it is retried.
const COMMIT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the committer keeps retrying after shutdown began before it gives up.
const SHUTDOWN_COMMIT_GRACE: Duration = Duration::from_secs(10);

struct AppendRequest {
    parts: Vec<PartitionAppend>,
    done: oneshot::Sender<Result<Vec<u64>, WriteError>>,
}

enum ActorMessage {
    Append(AppendRequest),
    Close(oneshot::Sender<()>),
}

/// A request waiting for its segment's commit: one slot per partition it wrote.
struct Waiter {
    slots: Vec<Slot>,
    done: oneshot::Sender<Result<Vec<u64>, WriteError>>,
}

#[derive(Clone, Copy)]
struct Slot {
    topic_id: u64,
    partition: u32,
    producer: Option<ProducerTag>,
    delta: u32,
}

/// The outcome of one sealed segment's upload, handed to the committer.
struct Uploaded {
    sequence: u64,
    result: Result<UploadedSegment, WriteError>,
    waiters: Vec<Waiter>,
}

struct UploadedSegment {
    id: Ulid,
    object: String,
    sealed: SealedSegment,
}

/// The actor's and the committer's tasks, taken once by [`WritePipeline::close`].
type PipelineTasks = Arc<std::sync::Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>>;

/// Handle to the running pipeline.
#[derive(Clone)]
pub struct WritePipeline {
    actor: mpsc::Sender<ActorMessage>,
    tasks: PipelineTasks,
    closing: Arc<watch::Sender<bool>>,
}

impl WritePipeline {
    /// Starts the actor and the committer.
    pub fn start(parts: Arc<PipelineParts>, policy: SealPolicy) -> Self {
        let (actor_tx, actor_rx) = mpsc::channel(1024);
        let (commit_tx, commit_rx) = mpsc::unbounded_channel();
        let (closing, closing_rx) = watch::channel(false);
        let committer = tokio::spawn(commit_loop(parts.clone(), commit_rx, closing_rx));
        let actor = Actor {
            ids: ulid::Generator::new(),
            uploads: Arc::new(Semaphore::new(policy.max_uploads_in_flight.max(1))),
            policy,
            builder: SegmentBuilder::new(),
            opened_at: None,
            waiters: Vec::new(),
            staged_requests: HashMap::new(),
            in_flight: 0,
            sequence: 0,
            parts,
            commit_tx,
        };
        let actor = tokio::spawn(actor.run(actor_rx));
        WritePipeline {
            actor: actor_tx,
            tasks: Arc::new(std::sync::Mutex::new(Some((actor, committer)))),
            closing: Arc::new(closing),
        }
    }

    /// Appends records and waits until they are durable and ordered; returns each part's
    /// first offset, in the order of `parts`.
    pub async fn append(&self, parts: Vec<PartitionAppend>) -> Result<Vec<u64>, WriteError> {
        let (done, receiver) = oneshot::channel();
        self.actor
            .send(ActorMessage::Append(AppendRequest { parts, done }))
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        receiver.await.map_err(|_| WriteError::ShuttingDown)?
    }

    /// Seals what is staged, waits for every upload and commit, and stops. Appends after
    /// this fail with [`WriteError::ShuttingDown`].
    pub async fn close(&self) {
        let _ = self.closing.send(true);
        let (done, receiver) = oneshot::channel();
        if self.actor.send(ActorMessage::Close(done)).await.is_ok() {
            let _ = receiver.await;
        }
        let tasks = self.tasks.lock().ok().and_then(|mut guard| guard.take());
        if let Some((actor, committer)) = tasks {
            let _ = actor.await;
            let _ = committer.await;
        }
    }
}

struct Actor {
    ids: ulid::Generator,
    policy: SealPolicy,
    builder: SegmentBuilder,
    opened_at: Option<Instant>,
    waiters: Vec<Waiter>,
    /// Producer requests staged in the open segment, with their slots.
    staged_requests: HashMap<ProducerTag, Vec<Slot>>,
    in_flight: usize,
    sequence: u64,
    uploads: Arc<Semaphore>,
    parts: Arc<PipelineParts>,
    commit_tx: mpsc::UnboundedSender<Uploaded>,
}

impl Actor {
    async fn run(mut self, mut messages: mpsc::Receiver<ActorMessage>) {
        let (upload_done_tx, mut upload_done) = mpsc::unbounded_channel::<()>();
        loop {
            let linger_at = self
                .opened_at
                .filter(|_| self.in_flight < self.policy.max_uploads_in_flight)
                .map(|opened| opened + self.policy.linger);
            tokio::select! {
                biased;
                Some(()) = upload_done.recv() => {
                    self.in_flight -= 1;
                    self.parts
                        .metrics
                        .uploads_in_flight
                        .set(i64::try_from(self.in_flight).unwrap_or(i64::MAX));
                    self.maybe_seal(&upload_done_tx);
                }
                message = messages.recv() => match message {
                    Some(ActorMessage::Append(request)) => {
                        self.append(request);
                        self.maybe_seal(&upload_done_tx);
                    }
                    Some(ActorMessage::Close(done)) => {
                        if !self.builder.is_empty() {
                            self.seal(&upload_done_tx);
                        }
                        messages.close();
                        // Refuse what is still queued; those requests were never staged.
                        while let Ok(message) = messages.try_recv() {
                            if let ActorMessage::Append(request) = message {
                                let _ = request.done.send(Err(WriteError::ShuttingDown));
                            }
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
                () = sleep_until(linger_at) => self.seal(&upload_done_tx),
            }
        }
    }

    fn append(&mut self, request: AppendRequest) {
        let spooled = self.parts.spool.bytes_on_disk();
        let staged = self.builder.staged_bytes() as u64;
        let budget = self
            .parts
            .spool_budget
            .load(std::sync::atomic::Ordering::Relaxed);
        if spooled + staged >= budget {
            let _ = request.done.send(Err(WriteError::Overloaded(format!(
                "the write-ahead cache holds {} bytes awaiting upload (wal.max_spool_bytes = {budget}); the object store is behind, retry shortly",
                spooled + staged,
            ))));
            return;
        }
        // A producer request already staged in this segment (a client retrying before
        // the first attempt was answered) waits for the same records, never appends twice.
        let tag = request.parts.first().and_then(|part| part.producer);
        if let Some(tag) = tag
            && let Some(slots) = self.staged_requests.get(&tag)
        {
            self.waiters.push(Waiter {
                slots: slots.clone(),
                done: request.done,
            });
            return;
        }
        let mut slots = Vec::with_capacity(request.parts.len());
        for part in &request.parts {
            let delta = self.builder.append(
                part.topic_id,
                part.partition,
                part.compression,
                part.producer,
                &part.records,
            );
            slots.push(Slot {
                topic_id: part.topic_id,
                partition: part.partition,
                producer: part.producer,
                delta,
            });
        }
        if let Some(tag) = tag {
            self.staged_requests.insert(tag, slots.clone());
        }
        self.waiters.push(Waiter {
            slots,
            done: request.done,
        });
        if self.opened_at.is_none() {
            self.opened_at = Some(Instant::now());
        }
        self.parts
            .metrics
            .wal_staged_bytes
            .set(i64::try_from(self.builder.staged_bytes()).unwrap_or(i64::MAX));
    }

    fn maybe_seal(&mut self, upload_done: &mpsc::UnboundedSender<()>) {
        let Some(opened) = self.opened_at else {
            return;
        };
        if self.policy.should_seal(
            self.builder.staged_bytes(),
            opened.elapsed(),
            self.in_flight,
        ) {
            self.seal(upload_done);
        }
    }

    fn seal(&mut self, upload_done: &mpsc::UnboundedSender<()>) {
        if self.builder.is_empty() {
            self.opened_at = None;
            return;
        }
        let builder = std::mem::replace(&mut self.builder, SegmentBuilder::new());
        let waiters = std::mem::take(&mut self.waiters);
        self.staged_requests.clear();
        self.opened_at = None;
        self.sequence += 1;
        self.in_flight += 1;
        let metrics = &self.parts.metrics;
        metrics.wal_staged_bytes.set(0);
        metrics
            .uploads_in_flight
            .set(i64::try_from(self.in_flight).unwrap_or(i64::MAX));
        let sequence = self.sequence;
        // Monotonic within a millisecond, so the spool's ULID order is seal order.
        let id = self.ids.generate().unwrap_or_else(|_| Ulid::new());
        let parts = self.parts.clone();
        let uploads = self.uploads.clone();
        let commit_tx = self.commit_tx.clone();
        let upload_done = upload_done.clone();
        tokio::spawn(async move {
            // The inner task turns a panic into an error, so the committer always gets this
            // sequence number and the in-flight count always comes back down.
            let upload =
                tokio::spawn(async move { seal_and_upload(&parts, id, builder, &uploads).await });
            let result = upload.await.unwrap_or_else(|error| {
                Err(WriteError::Unavailable(format!(
                    "segment upload task failed: {error}"
                )))
            });
            let _ = commit_tx.send(Uploaded {
                sequence,
                result,
                waiters,
            });
            let _ = upload_done.send(());
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Finishes the segment, writes it to the spool and uploads it.
async fn seal_and_upload(
    parts: &PipelineParts,
    id: Ulid,
    builder: SegmentBuilder,
    uploads: &Semaphore,
) -> Result<UploadedSegment, WriteError> {
    let object = paths::segment_path(&parts.store.prefix, id);
    let span = info_span!("segment_upload", segment = %id, bytes = tracing::field::Empty);
    async {
        let started = Instant::now();
        let sealed = tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|e| WriteError::Unavailable(format!("segment seal task failed: {e}")))?
            .map_err(|e| WriteError::Unavailable(format!("cannot seal segment {id}: {e}")))?;
        tracing::Span::current().record("bytes", sealed.bytes.len());
        let write_spool = |bytes: Bytes| {
            let spool = parts.spool.clone();
            async move {
                tokio::task::spawn_blocking(move || spool.write_sealed(id, &bytes))
                    .await
                    .map_err(|e| format!("spool write task failed: {e}"))?
                    .map_err(|e| format!("cannot write segment {id} to the spool: {e}"))
            }
        };
        let (_permit, sealed, uploaded) = match uploads.try_acquire() {
            // An upload slot is free: the spool copy (for recovery) is written while the PUT
            // runs, so it adds no latency.
            Ok(permit) => {
                let (spooled, uploaded) = tokio::join!(
                    write_spool(sealed.bytes.clone()),
                    upload_segment(&parts.store, &object, sealed.bytes.clone())
                );
                if let Err(error) = spooled {
                    // The segment is still committed; only crash recovery loses its copy.
                    warn!(error, "segment not spooled; it is committed from memory");
                }
                (permit, sealed, uploaded)
            }
            // No slot: the segment waits on disk, not in memory, so memory stays bounded by
            // the open segment and the uploads in flight.
            Err(_) => {
                let SealedSegment { bytes, chunks } = sealed;
                write_spool(bytes).await.map_err(WriteError::Unavailable)?;
                let permit = uploads
                    .acquire()
                    .await
                    .map_err(|_| WriteError::ShuttingDown)?;
                let spool = parts.spool.clone();
                let bytes = tokio::task::spawn_blocking(move || spool.read(id))
                    .await
                    .map_err(|e| WriteError::Unavailable(format!("spool read task failed: {e}")))?
                    .map_err(|e| {
                        WriteError::Unavailable(format!("cannot read spooled segment {id}: {e}"))
                    })?
                    .ok_or_else(|| {
                        WriteError::Unavailable(format!("spooled segment {id} vanished"))
                    })?;
                let uploaded = upload_segment(&parts.store, &object, bytes.clone()).await;
                (permit, SealedSegment { bytes, chunks }, uploaded)
            }
        };
        if let Err(error) = uploaded {
            warn!(%error, segment = %id, "segment upload failed; its requests fail");
            record_orphan(parts, object.to_string());
            if let Err(error) = parts.spool.remove(id) {
                warn!(%error, segment = %id, "cannot remove the spool file of a failed upload");
            }
            return Err(WriteError::Unavailable(format!(
                "object store upload failed: {error}"
            )));
        }
        crate::failpoints::crash_if_active("upload.after_put");
        let metrics = &parts.metrics;
        metrics.segments_uploaded.inc();
        metrics.segment_bytes.observe(sealed.bytes.len() as f64);
        metrics
            .upload_latency
            .observe(started.elapsed().as_secs_f64());
        Ok(UploadedSegment {
            id,
            object: object.to_string(),
            sealed,
        })
    }
    .instrument(span)
    .await
}

/// Records (in the background, best effort) an object whose upload failed: it may exist
/// all the same (a lost response), and nothing will ever commit it.
fn record_orphan(parts: &PipelineParts, object: String) {
    let metadata = parts.metadata.clone();
    tokio::spawn(async move {
        let at_ms = silt_bookie::clock::Clock::now_ms(&silt_bookie::clock::SystemClock);
        if let Err(error) = metadata.record_orphans(vec![object.clone()], at_ms).await {
            warn!(%error, object, "cannot record an orphaned object for garbage collection");
        }
    });
}

/// The commit request for a sealed segment.
pub fn segment_commit(object: &str, sealed: &SealedSegment) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: sealed.bytes.len() as u64,
        chunks: sealed
            .chunks
            .iter()
            .map(|c| ChunkCommit {
                topic_id: c.topic_id,
                partition: c.partition,
                position: c.position,
                length: c.length,
                record_count: c.record_count,
                first_timestamp_ms: c.first_timestamp_ms,
                max_timestamp_ms: c.max_timestamp_ms,
                producer: c.producer.map(|tag| ProducerBatch {
                    producer_id: tag.producer_id,
                    epoch: tag.epoch,
                    sequence: tag.sequence,
                }),
            })
            .collect(),
    }
}

/// Commits a batch of segments, retrying transient failures (commits are idempotent by
/// object name, so a retry of an applied entry returns the original offsets). Each attempt
/// is bounded by [`COMMIT_ATTEMPT_TIMEOUT`]. It gives up, with
/// [`WriteError::OutcomeUnknown`], on a non-transient error, once `deadline` passes, or
/// [`SHUTDOWN_COMMIT_GRACE`] after `closing` turned true.
pub async fn commit_with_retry(
    metadata: &dyn MetadataClient,
    metrics: &Metrics,
    commits: Vec<SegmentCommit>,
    deadline: Option<Instant>,
    closing: Option<&watch::Receiver<bool>>,
) -> Result<Vec<SegmentCommitResult>, WriteError> {
    let span = info_span!("commit", segments = commits.len());
    async {
        let mut backoff = Duration::from_millis(20);
        let mut closing_since: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let attempt =
                tokio::time::timeout(COMMIT_ATTEMPT_TIMEOUT, metadata.commit_segments(commits.clone()))
                    .await;
            let failure = match attempt {
                Ok(Ok(results)) => {
                    metrics.commit_latency.observe(started.elapsed().as_secs_f64());
                    metrics.commit_batch_segments.observe(commits.len() as f64);
                    return Ok(results);
                }
                Ok(Err(error)) if error.is_transient() => error.to_string(),
                Err(_) => format!("no answer within {COMMIT_ATTEMPT_TIMEOUT:?}"),
                Ok(Err(error)) => {
                    return Err(WriteError::OutcomeUnknown(format!(
                        "metadata commit failed: {error}; the records may appear later"
                    )));
                }
            };
            if closing.is_some_and(|c| *c.borrow()) {
                let since = *closing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SHUTDOWN_COMMIT_GRACE {
                    return Err(WriteError::OutcomeUnknown(format!(
                        "metadata commit failed during shutdown: {failure}; the records may appear later"
                    )));
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(WriteError::OutcomeUnknown(format!(
                    "metadata commit failed: {failure}"
                )));
            }
            warn!(failure, ?backoff, "commit failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
    .instrument(span)
    .await
}

/// Orders uploaded segments by seal sequence and commits every ready run in one entry.
async fn commit_loop(
    parts: Arc<PipelineParts>,
    mut uploaded: mpsc::UnboundedReceiver<Uploaded>,
    closing: watch::Receiver<bool>,
) {
    let mut ready: BTreeMap<u64, Uploaded> = BTreeMap::new();
    let mut next = 1u64;
    while let Some(item) = uploaded.recv().await {
        ready.insert(item.sequence, item);
        while let Ok(item) = uploaded.try_recv() {
            ready.insert(item.sequence, item);
        }
        let mut batch = Vec::new();
        while let Some(item) = ready.remove(&next) {
            next += 1;
            batch.push(item);
        }
        if batch.is_empty() {
            continue;
        }
        let mut committable = Vec::new();
        for item in batch {
            match item.result {
                Ok(segment) => committable.push((segment, item.waiters)),
                Err(error) => {
                    for waiter in item.waiters {
                        let _ = waiter.done.send(Err(error.clone()));
                    }
                }
            }
        }
        if committable.is_empty() {
            continue;
        }
        crate::failpoints::crash_if_active("commit.before_send");
        let commits = committable
            .iter()
            .map(|(segment, _)| segment_commit(&segment.object, &segment.sealed))
            .collect();
        match commit_with_retry(
            parts.metadata.as_ref(),
            &parts.metrics,
            commits,
            None,
            Some(&closing),
        )
        .await
        {
            Ok(results) => {
                for ((segment, waiters), result) in committable.into_iter().zip(results) {
                    finish_segment(&parts, segment, waiters, &result);
                }
            }
            Err(error) => {
                warn!(%error, "commit not confirmed; requests answered outcome-unknown, spool files stay for recovery");
                for (_, waiters) in committable {
                    for waiter in waiters {
                        let _ = waiter.done.send(Err(error.clone()));
                    }
                }
            }
        }
    }
}

/// Answers a committed segment's requests, feeds the hot cache and drops the spool file.
fn finish_segment(
    parts: &PipelineParts,
    segment: UploadedSegment,
    waiters: Vec<Waiter>,
    result: &SegmentCommitResult,
) {
    let mut outcomes: HashMap<(u64, u32, Option<ProducerTag>), ChunkOutcome> = HashMap::new();
    for (chunk, outcome) in segment.sealed.chunks.iter().zip(&result.chunks) {
        outcomes.insert((chunk.topic_id, chunk.partition, chunk.producer), *outcome);
        if matches!(outcome, ChunkOutcome::Committed { .. }) {
            let start = usize::try_from(chunk.position).unwrap_or(usize::MAX);
            let end = start.saturating_add(chunk.length as usize);
            if end <= segment.sealed.bytes.len() {
                // A copy, not a slice: a slice would keep the whole segment buffer alive
                // for as long as any one of its chunks stays cached.
                let bytes = Bytes::copy_from_slice(&segment.sealed.bytes[start..end]);
                parts.cache.insert(&segment.object, chunk.position, bytes);
            }
        }
    }
    for waiter in waiters {
        let answer = waiter
            .slots
            .iter()
            .map(
                |slot| match outcomes.get(&(slot.topic_id, slot.partition, slot.producer)) {
                    Some(
                        ChunkOutcome::Committed { base_offset }
                        | ChunkOutcome::Duplicate { base_offset },
                    ) => Ok(base_offset + u64::from(slot.delta)),
                    Some(refused) => Err(WriteError::from_outcome(refused, slot.partition)
                        .unwrap_or(WriteError::PartitionNotFound(slot.partition))),
                    None => Err(WriteError::PartitionNotFound(slot.partition)),
                },
            )
            .collect::<Result<Vec<u64>, WriteError>>();
        let _ = waiter.done.send(answer);
    }
    if let Err(error) = parts.spool.remove(segment.id) {
        warn!(%error, segment = %segment.id, "cannot remove a committed spool file");
    }
}
