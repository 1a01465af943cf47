//! Staging and sealing: the actor that owns the open segment.
//!
//! Appends are staged into one `SegmentBuilder` shared by every partition; each waits, as a
//! [`Waiter`], for the commit of the segment it landed in. The actor seals by the
//! `SealPolicy` and hands each sealed segment to [`super::upload`], numbered in seal order so
//! the committer can restore that order. An append past the spool budget is refused before
//! anything is staged; an idempotent request already staged in the open segment (a client
//! retrying before the first attempt was answered) waits for the same records instead of
//! appending them twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use silt_bookie::segment::{ProducerTag, SegmentBuilder};
use silt_bookie::wal::SealPolicy;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use ulid::Ulid;

use super::error::PipelineError;
use super::parts::{PartitionAppend, PipelineParts};
use super::upload::{Digests, RequestFacts, Sealed, Uploaded, known_facts, upload_sealed};
use super::waiter::{AppendResult, Slot, Waiter};

/// An append on its way to the actor.
pub(super) struct AppendRequest {
    pub(super) parts: Vec<PartitionAppend>,
    /// The content digest and offset commit of an idempotent request.
    pub(super) facts: RequestFacts,
    pub(super) done: oneshot::Sender<AppendResult>,
}

/// A producer request staged in the open segment: its digest and commit, and its slots.
struct StagedRequest {
    facts: RequestFacts,
    slots: Vec<Slot>,
}

/// What the actor is sent.
pub(super) enum ActorMessage {
    Append(AppendRequest),
    Close(oneshot::Sender<()>),
}

pub(super) struct Actor {
    ids: ulid::Generator,
    policy: SealPolicy,
    builder: SegmentBuilder,
    opened_at: Option<Instant>,
    waiters: Vec<Waiter>,
    /// Producer requests staged in the open segment, with their digests and slots.
    staged_requests: HashMap<ProducerTag, StagedRequest>,
    in_flight: usize,
    sequence: u64,
    uploads: Arc<Semaphore>,
    parts: Arc<PipelineParts>,
    commit_tx: mpsc::UnboundedSender<Uploaded>,
}

impl Actor {
    pub(super) fn new(
        parts: Arc<PipelineParts>,
        policy: SealPolicy,
        commit_tx: mpsc::UnboundedSender<Uploaded>,
    ) -> Self {
        Actor {
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
        }
    }

    /// Runs until closed; sealed segments' uploads report back on `upload_done`.
    pub(super) async fn run(mut self, mut messages: mpsc::Receiver<ActorMessage>) {
        let (upload_done_tx, mut upload_done) = mpsc::unbounded_channel::<()>();
        loop {
            tokio::select! {
                biased;
                Some(()) = upload_done.recv() => self.upload_finished(&upload_done_tx),
                message = messages.recv() => match message {
                    Some(ActorMessage::Append(request)) => self.append(request, &upload_done_tx),
                    Some(ActorMessage::Close(done)) => {
                        return self.close(&mut messages, &upload_done_tx, done);
                    }
                    None => return,
                },
                () = sleep_until(self.linger_deadline()) => self.seal(&upload_done_tx),
            }
        }
    }

    /// An upload ended: its slot is free, so the open segment may be due.
    fn upload_finished(&mut self, upload_done: &mpsc::UnboundedSender<()>) {
        self.in_flight -= 1;
        self.report_in_flight();
        self.maybe_seal(upload_done);
    }

    /// When the open segment must be sealed even if it is small: its linger, counted while
    /// an upload slot is free.
    fn linger_deadline(&self) -> Option<Instant> {
        self.opened_at
            .filter(|_| self.in_flight < self.policy.max_uploads_in_flight)
            .map(|opened| opened + self.policy.linger)
    }

    /// Seals what is staged, refuses what is still queued (it was never staged), then
    /// reports itself closed on `done`.
    fn close(
        &mut self,
        messages: &mut mpsc::Receiver<ActorMessage>,
        upload_done: &mpsc::UnboundedSender<()>,
        done: oneshot::Sender<()>,
    ) {
        if !self.builder.is_empty() {
            self.seal(upload_done);
        }
        refuse_queued(messages);
        let _ = done.send(());
    }

    /// Stages an append (or joins the same producer request already staged), then seals
    /// if the policy says so; refuses it over the spool budget.
    fn append(&mut self, request: AppendRequest, upload_done: &mpsc::UnboundedSender<()>) {
        if self.builder.chunk_count() + request.parts.len() > self.policy.max_chunks {
            // The request would push the open segment past its chunk cap: it starts the
            // next one (a request lives in one segment, so a bigger one goes alone).
            self.seal(upload_done);
        }
        match self.check_budget() {
            Ok(()) => self.stage_request(request),
            Err(error) => drop(request.done.send(Err(error))),
        }
        self.maybe_seal(upload_done);
    }

    /// Waits for the request's slots: those of the same producer request if it is already
    /// staged in the open segment, otherwise newly staged ones. A request reusing a staged
    /// request's tag with other content is refused at once.
    fn stage_request(&mut self, request: AppendRequest) {
        let tag = request.parts.first().and_then(|part| part.producer);
        let staged = tag.and_then(|tag| Some((tag, self.staged_requests.get(&tag)?)));
        let slots = match staged {
            Some((tag, staged)) if staged.facts != request.facts => {
                let _ = request
                    .done
                    .send(Err(PipelineError::IdempotencyMismatch(tag)));
                return;
            }
            Some((_, staged)) => staged.slots.clone(),
            None => self.stage_parts(tag, request.facts, &request.parts),
        };
        let done = request.done;
        self.waiters.push(Waiter { slots, done });
    }

    /// Stages every part of a request into the open segment, remembering a producer
    /// request's digest and slots.
    fn stage_parts(
        &mut self,
        tag: Option<ProducerTag>,
        facts: RequestFacts,
        parts: &[PartitionAppend],
    ) -> Vec<Slot> {
        let slots: Vec<Slot> = parts.iter().map(|part| self.stage(part)).collect();
        if let Some(tag) = tag {
            let slots = slots.clone();
            self.staged_requests
                .insert(tag, StagedRequest { facts, slots });
        }
        self.opened_at.get_or_insert_with(Instant::now);
        self.report_staged();
        slots
    }

    /// Refuses an append while the spool and the open segment fill the disk budget.
    fn check_budget(&self) -> Result<(), PipelineError> {
        let used = self.parts.spool.bytes_on_disk() + self.builder.staged_bytes() as u64;
        let budget = self.parts.spool_budget.load(Ordering::Relaxed);
        if used < budget {
            return Ok(());
        }
        Err(PipelineError::Overloaded(format!(
            "the write-ahead cache holds {used} bytes awaiting upload (wal.max_spool_bytes = {budget}); the object store is behind, retry shortly"
        )))
    }

    /// Stages one part into the open segment.
    fn stage(&mut self, part: &PartitionAppend) -> Slot {
        let delta = self.builder.append(
            part.topic_id,
            part.partition,
            part.compression,
            part.producer,
            &part.records,
        );
        Slot::new(part, delta)
    }

    /// Seals the open segment if the policy says it is due.
    fn maybe_seal(&mut self, upload_done: &mpsc::UnboundedSender<()>) {
        let (staged, chunks) = (self.builder.staged_bytes(), self.builder.chunk_count());
        let in_flight = self.in_flight;
        let due = |opened: Instant| {
            (self.policy).should_seal(staged, chunks, opened.elapsed(), in_flight)
        };
        if self.opened_at.is_some_and(due) {
            self.seal(upload_done);
        }
    }

    /// Seals the open segment and starts its upload; the committer gets it, or its
    /// failure, under the next sequence number whatever happens.
    fn seal(&mut self, upload_done: &mpsc::UnboundedSender<()>) {
        self.opened_at = None;
        if self.builder.is_empty() {
            return;
        }
        let (builder, waiters, digests) = self.take_open_segment();
        // Monotonic within a millisecond, so the spool's ULID order is seal order.
        let id = self.ids.generate().unwrap_or_else(|_| Ulid::new());
        let sealed = Sealed {
            sequence: self.sequence,
            id,
            builder,
            waiters,
            digests,
        };
        self.start_upload(sealed, upload_done);
    }

    /// Takes the open segment, its waiters and its requests' digests, numbered with the
    /// next sequence.
    fn take_open_segment(&mut self) -> (SegmentBuilder, Vec<Waiter>, Digests) {
        let builder = std::mem::replace(&mut self.builder, SegmentBuilder::new());
        let waiters = std::mem::take(&mut self.waiters);
        let staged = std::mem::take(&mut self.staged_requests);
        let digests = known_facts(staged.into_iter().map(|(tag, s)| (tag, s.facts)));
        self.sequence += 1;
        self.report_staged();
        (builder, waiters, digests)
    }

    /// Counts the upload in flight and starts it in its own task.
    fn start_upload(&mut self, sealed: Sealed, upload_done: &mpsc::UnboundedSender<()>) {
        self.in_flight += 1;
        self.report_in_flight();
        let (parts, uploads) = (self.parts.clone(), self.uploads.clone());
        let (commit_tx, done) = (self.commit_tx.clone(), upload_done.clone());
        tokio::spawn(upload_sealed(parts, uploads, sealed, commit_tx, done));
    }

    /// Publishes the bytes staged in the open segment.
    fn report_staged(&self) {
        let staged = i64::try_from(self.builder.staged_bytes()).unwrap_or(i64::MAX);
        self.parts.metrics.wal_staged_bytes.set(staged);
    }

    /// Publishes the number of uploads in flight.
    fn report_in_flight(&self) {
        self.parts
            .metrics
            .uploads_in_flight
            .set(i64::try_from(self.in_flight).unwrap_or(i64::MAX));
    }
}

/// Refuses every append still queued: it was never staged.
fn refuse_queued(messages: &mut mpsc::Receiver<ActorMessage>) {
    messages.close();
    while let Ok(message) = messages.try_recv() {
        if let ActorMessage::Append(request) = message {
            let _ = request.done.send(Err(PipelineError::ShuttingDown));
        }
    }
}

impl Slot {
    /// Where `part`'s first record sits: its chunk's key and `delta` into the chunk.
    fn new(part: &PartitionAppend, delta: u32) -> Self {
        Slot {
            topic_id: part.topic_id,
            partition: part.partition,
            producer: part.producer,
            delta,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use silt_bookie::segment::ProducerTag;
    use silt_bookie::store::ObjectStoreHandle;

    use tokio::sync::{mpsc, oneshot};

    use super::super::testing::{Harness, append, policy};
    use super::super::waiter::AppendResult;
    use super::super::{PartitionAppend, PipelineError, WritePipeline};
    use super::{Actor, AppendRequest};

    #[tokio::test]
    async fn appends_get_dense_offsets_in_part_order() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let first = pipeline
            .append(vec![append(1, 3), append(0, 2)])
            .await
            .unwrap();
        assert_eq!(first, vec![0, 0]);
        let second = pipeline.append(vec![append(1, 1)]).await.unwrap();
        assert_eq!(second, vec![3]);
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_full_spool_budget_refuses_without_staging() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        harness.parts.spool_budget.store(0, Ordering::Relaxed);
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let refused = pipeline.append(vec![append(0, 1)]).await;
        assert!(
            matches!(refused, Err(PipelineError::Overloaded(_))),
            "{refused:?}"
        );
        harness.parts.spool_budget.store(1 << 30, Ordering::Relaxed);
        // Nothing of the refused append was staged: the next one starts at offset 0.
        assert_eq!(pipeline.append(vec![append(0, 1)]).await.unwrap(), vec![0]);
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn an_idempotent_retry_waits_for_the_first_copy() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let producer = harness
            .parts
            .metadata
            .init_producer(None, None)
            .await
            .unwrap();
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let tagged = || {
            let mut part = append(0, 2);
            part.producer = Some(ProducerTag {
                producer_id: producer.producer_id,
                epoch: producer.epoch,
                sequence: 0,
            });
            vec![part]
        };
        let (first, retry) = tokio::join!(pipeline.append(tagged()), pipeline.append(tagged()));
        assert_eq!(first.unwrap(), retry.unwrap());
        // The records were written once.
        assert_eq!(pipeline.append(vec![append(0, 1)]).await.unwrap(), vec![2]);
        pipeline.close().await;
        harness.stop().await;
    }

    /// An append of `count` records under producer 1's sequence 0, with its receiver.
    fn tagged(count: usize, digest: u64) -> (AppendRequest, oneshot::Receiver<AppendResult>) {
        let mut part = append(0, count);
        part.producer = Some(ProducerTag {
            producer_id: 1,
            epoch: 0,
            sequence: 0,
        });
        let (done, receiver) = oneshot::channel();
        let parts = vec![part];
        let request = AppendRequest {
            parts,
            facts: super::RequestFacts {
                digest: Some(digest),
                commit: None,
            },
            done,
        };
        (request, receiver)
    }

    #[tokio::test]
    async fn a_staged_retry_with_other_records_is_refused_not_joined() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let (commit_tx, _commits) = mpsc::unbounded_channel();
        let mut actor = Actor::new(harness.parts.clone(), policy(), commit_tx);
        let (first, mut first_answer) = tagged(2, 20);
        actor.stage_request(first);
        let staged = actor.builder.staged_bytes();
        // The same request again joins the first copy; another one under its tag is
        // refused at once; neither stages anything.
        let (retry, mut retry_answer) = tagged(2, 20);
        actor.stage_request(retry);
        let (other, mut other_answer) = tagged(3, 30);
        actor.stage_request(other);
        let refused = other_answer.try_recv();
        assert!(
            matches!(&refused, Ok(Err(PipelineError::IdempotencyMismatch(tag))) if tag.sequence == 0),
            "{refused:?}"
        );
        assert_eq!(actor.builder.staged_bytes(), staged);
        assert_eq!(actor.waiters.len(), 2);
        assert!(first_answer.try_recv().is_err() && retry_answer.try_recv().is_err());
        drop(actor);
        harness.stop().await;
    }

    #[tokio::test]
    async fn close_seals_what_is_staged_and_refuses_later_appends() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let staged = {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { pipeline.append(vec![append(0, 1)]).await })
        };
        tokio::task::yield_now().await;
        pipeline.close().await;
        assert_eq!(staged.await.unwrap().unwrap(), vec![0]);
        assert_eq!(
            pipeline.append(vec![append(0, 1)]).await,
            Err(PipelineError::ShuttingDown)
        );
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_request_that_would_pass_the_chunk_cap_starts_the_next_segment() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let (commit_tx, _commits) = mpsc::unbounded_channel();
        let (upload_done, _done) = mpsc::unbounded_channel();
        let mut capped = policy();
        capped.max_chunks = 2;
        capped.linger = Duration::from_secs(3600);
        let mut actor = Actor::new(harness.parts.clone(), capped, commit_tx);
        // Uploads are busy, so only a full segment seals.
        actor.in_flight = capped.max_uploads_in_flight;
        let request = |parts: Vec<PartitionAppend>| AppendRequest {
            parts,
            facts: super::RequestFacts::default(),
            done: oneshot::channel().0,
        };
        actor.append(request(vec![append(0, 1)]), &upload_done);
        assert_eq!((actor.sequence, actor.builder.chunk_count()), (0, 1));
        // Two more chunks would make three: the open segment seals first, and the request,
        // reaching the cap on its own, seals right after.
        actor.append(request(vec![append(0, 1), append(1, 1)]), &upload_done);
        assert_eq!((actor.sequence, actor.builder.chunk_count()), (2, 0));
        drop(actor);
        harness.stop().await;
    }
}
