//! [`Producer`]: a batching producer.
//!
//! Records given to [`Producer::send`] are gathered per producer for up to `linger` or
//! `max_batch_bytes`/`max_batch_records`, then sent as one produce request; retryable
//! failures are retried with backoff by the [`Client`]. With `max_in_flight = 1` (the
//! default) the records of one producer land in the order they were sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Binary, RequestBody, RetryPolicy};
use crate::client::{Client, segment};
use crate::error::{Error, Result};
use crate::wire::binary::BinaryRecord;
use crate::wire::{
    ErrorCode, ProduceCommit, ProduceRecord, ProduceRequest, ProduceResponse, ProducerInfo,
    RecordOffset,
};

/// Settings of a [`Producer`].
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// How long the first record of a batch waits for company (default 5 ms).
    pub linger: Duration,
    /// Batch size limit in approximate JSON bytes (default 1 MiB).
    pub max_batch_bytes: usize,
    /// Batch size limit in records (default 10 000).
    pub max_batch_records: usize,
    /// Batches in flight at once (default 1, which keeps order across retries).
    pub max_in_flight: usize,
    /// Records queued before `send` waits (default 100 000).
    pub queue_capacity: usize,
    /// Idempotent delivery (default false). The producer gets an id from
    /// `POST /v1/producers` and tags each request with (id, epoch, sequence); a retry of
    /// the same request, on any broker, is answered with the original offsets, so an
    /// acknowledged record is written exactly once. Requests go one at a time
    /// (`max_in_flight` is ignored). A request that finally fails without a definite
    /// answer bumps the epoch, which fences any copy of it still in flight: its records
    /// are then written at most once. Without idempotence, a request is retried only
    /// after failures that guarantee it was not applied, so records are never duplicated
    /// either, but a timed-out request is not retried.
    pub idempotent: bool,
    /// An idempotent producer id to resume (issued to the same principal before; default
    /// none: a new id). Its epoch is bumped before the first request, fencing every older
    /// instance: a restarted process that resumes its id knows no request of the one it
    /// replaces can still be committed. Only with `idempotent`.
    pub producer_id: Option<u64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            linger: Duration::from_millis(5),
            max_batch_bytes: 1 << 20,
            max_batch_records: 10_000,
            max_in_flight: 1,
            queue_capacity: 100_000,
            idempotent: false,
            producer_id: None,
        }
    }
}

struct Pending {
    record: ProduceRecord,
    size: usize,
    done: oneshot::Sender<Result<RecordOffset>>,
}

enum Message {
    Record(Pending),
    Flush(oneshot::Sender<()>),
    /// Records and an offset commit sent as one request, after what is batched.
    WithCommit(WithCommit),
    /// Obtain the idempotent identity now.
    Init(oneshot::Sender<Result<(u64, u32)>>),
}

/// A [`Producer::send_with_commit`] call on its way to the batching task.
struct WithCommit {
    records: Vec<ProduceRecord>,
    commit: ProduceCommit,
    done: oneshot::Sender<Result<Vec<RecordOffset>>>,
}

/// A batching producer for one topic.
#[derive(Debug)]
pub struct Producer {
    client: Client,
    path: String,
    queue: mpsc::Sender<Message>,
    /// The idempotent producer id once obtained (0 before: issued ids start at 1).
    id: Arc<AtomicU64>,
}

/// Resolves to the record's partition and offset once the broker acknowledged it.
#[derive(Debug)]
pub struct SendFuture(oneshot::Receiver<Result<RecordOffset>>);

impl Future for SendFuture {
    type Output = Result<RecordOffset>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|received| received.unwrap_or(Err(Error::Closed)))
    }
}

impl Producer {
    /// A producer for `topic`; spawns its batching task on the current tokio runtime.
    pub fn new(client: Client, topic: &str, config: ProducerConfig) -> Self {
        let path = format!("/v1/topics/{}/records", segment(topic));
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let id = Arc::new(AtomicU64::new(0));
        let idempotence = config.idempotent.then(|| Idempotence {
            published_id: id.clone(),
            resume_id: config.producer_id,
            ..Idempotence::default()
        });
        let batches = batch_loop(client.clone(), path.clone(), config, idempotence, receiver);
        tokio::spawn(batches);
        Producer {
            client,
            path,
            queue,
            id,
        }
    }

    /// The id `POST /v1/producers` issued to this idempotent producer, once its first
    /// request obtained one; None before, and always for a plain producer.
    pub fn producer_id(&self) -> Option<u64> {
        Some(self.id.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }

    /// Queues a record; await the returned future for its offset.
    pub async fn send(&self, record: ProduceRecord) -> Result<SendFuture> {
        let size = approximate_size(&record);
        let (done, receiver) = oneshot::channel();
        self.queue
            .send(Message::Record(Pending { record, size, done }))
            .await
            .map_err(|_| Error::Closed)?;
        Ok(SendFuture(receiver))
    }

    /// Sends records as one plain (non-idempotent) request now, bypassing the batcher;
    /// retried only after failures that guarantee it was not applied.
    pub async fn send_batch(&self, records: Vec<ProduceRecord>) -> Result<Vec<RecordOffset>> {
        let request = ProduceRequest {
            records,
            producer: None,
            ..Default::default()
        };
        self.send_plain(&request).await
    }

    /// Sends records as one plain request in the binary body format
    /// (`application/x-silt-records`: no JSON or base64 cost), bypassing the batcher; retried
    /// only after failures that guarantee it was not applied. Offsets come back in `records`
    /// order.
    pub async fn send_binary(&self, records: &[BinaryRecord<'_>]) -> Result<Vec<RecordOffset>> {
        self.send_plain(&Binary(crate::wire::binary::encode(records)))
            .await
    }

    /// One plain request, retried only when it certainly was not applied.
    async fn send_plain<B: RequestBody + ?Sized>(&self, body: &B) -> Result<Vec<RecordOffset>> {
        let response: ProduceResponse = self
            .client
            .send_with(
                RetryPolicy::NotApplied,
                Method::POST,
                &self.path,
                &[],
                Some(body),
                Duration::ZERO,
            )
            .await?
            .ok_or_else(|| Error::Protocol {
                url: self.path.clone(),
                detail: "empty answer where a body was expected".into(),
            })?;
        Ok(response.offsets)
    }

    /// Sends `records` and commits `commit`'s offsets as one request (after the records
    /// already queued): the broker applies both in the same metadata entry, or neither.
    /// Needs an idempotent producer. With the offsets of the records these were made from,
    /// this is consume-transform-produce exactly once: a refused commit (a stale
    /// generation, say) writes no record, and a retry is answered with the original
    /// offsets without committing twice. If the call fails in doubt, read the group's
    /// committed offsets to learn whether it was applied.
    pub async fn send_with_commit(
        &self,
        records: Vec<ProduceRecord>,
        commit: ProduceCommit,
    ) -> Result<Vec<RecordOffset>> {
        let (done, receiver) = oneshot::channel();
        let message = Message::WithCommit(WithCommit {
            records,
            commit,
            done,
        });
        self.queue.send(message).await.map_err(|_| Error::Closed)?;
        receiver.await.map_err(|_| Error::Closed)?
    }

    /// Obtains the idempotent identity now, after what is queued was sent: a new id, or
    /// [`ProducerConfig::producer_id`] with its epoch bumped (fencing older instances).
    /// Call it before reading where to resume. Returns (id, epoch).
    pub async fn init(&self) -> Result<(u64, u32)> {
        let (done, receiver) = oneshot::channel();
        self.queue
            .send(Message::Init(done))
            .await
            .map_err(|_| Error::Closed)?;
        receiver.await.map_err(|_| Error::Closed)?
    }

    /// Sends everything queued so far and waits until it is acknowledged or failed.
    pub async fn flush(&self) -> Result<()> {
        let (done, receiver) = oneshot::channel();
        self.queue
            .send(Message::Flush(done))
            .await
            .map_err(|_| Error::Closed)?;
        receiver.await.map_err(|_| Error::Closed)
    }
}

fn approximate_size(record: &ProduceRecord) -> usize {
    let json = |v: &Option<serde_json::Value>| v.as_ref().map_or(0, |v| v.to_string().len());
    64 + json(&record.key)
        + json(&record.value)
        + record.key_b64.as_ref().map_or(0, String::len)
        + record.value_b64.as_ref().map_or(0, String::len)
        + record
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum::<usize>()
}

async fn batch_loop(
    client: Client,
    path: String,
    config: ProducerConfig,
    mut idempotence: Option<Idempotence>,
    mut receiver: mpsc::Receiver<Message>,
) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut deadline: Option<Instant> = None;
    let mut in_flight = JoinSet::new();
    // Sends what is batched (waiting for an in-flight slot, or inline when idempotent).
    macro_rules! send_batch {
        () => {
            dispatch(
                &client,
                &path,
                &config,
                idempotence.as_mut(),
                &mut batch,
                &mut in_flight,
            )
            .await
        };
    }
    loop {
        let message = tokio::select! {
            message = receiver.recv() => message,
            () = sleep_until(deadline) => {
                send_batch!();
                batch_bytes = 0;
                deadline = None;
                continue;
            }
        };
        match message {
            Some(Message::Record(pending)) => {
                if batch.is_empty() {
                    deadline = Some(Instant::now() + config.linger);
                }
                batch_bytes += pending.size;
                batch.push(pending);
                if batch_bytes >= config.max_batch_bytes || batch.len() >= config.max_batch_records
                {
                    send_batch!();
                    batch_bytes = 0;
                    deadline = None;
                }
            }
            Some(Message::WithCommit(call)) => {
                send_batch!();
                batch_bytes = 0;
                deadline = None;
                let answer = send_with_commit(
                    &client,
                    &path,
                    idempotence.as_mut(),
                    call.records,
                    call.commit,
                );
                let _ = call.done.send(answer.await);
            }
            Some(Message::Init(done)) => {
                send_batch!();
                batch_bytes = 0;
                deadline = None;
                let _ = done.send(init_identity(&client, idempotence.as_mut()).await);
            }
            Some(Message::Flush(done)) => {
                send_batch!();
                batch_bytes = 0;
                deadline = None;
                while in_flight.join_next().await.is_some() {}
                let _ = done.send(());
            }
            None => {
                send_batch!();
                while in_flight.join_next().await.is_some() {}
                return;
            }
        }
    }
}

/// One request of `records` with `commit`, through the idempotent state (refused for a
/// plain producer).
async fn send_with_commit(
    client: &Client,
    path: &str,
    idempotence: Option<&mut Idempotence>,
    records: Vec<ProduceRecord>,
    commit: ProduceCommit,
) -> Result<Vec<RecordOffset>> {
    let Some(idempotence) = idempotence else {
        return Err(Error::InvalidArgument(
            "send_with_commit needs an idempotent producer (ProducerConfig::idempotent)".into(),
        ));
    };
    let answer = idempotence
        .send(client, path, records, Some(commit))
        .await?;
    Ok(answer.offsets)
}

/// The idempotent identity, obtained now if not yet (refused for a plain producer).
async fn init_identity(
    client: &Client,
    idempotence: Option<&mut Idempotence>,
) -> Result<(u64, u32)> {
    match idempotence {
        Some(idempotence) => idempotence.identity(client).await,
        None => Err(Error::InvalidArgument(
            "init needs an idempotent producer (ProducerConfig::idempotent)".into(),
        )),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// An idempotent producer's identity and next sequence number.
#[derive(Debug, Default)]
struct Idempotence {
    /// Producer id and epoch, once obtained.
    identity: Option<(u64, u32)>,
    /// The next request's sequence number.
    next_sequence: u64,
    /// Bump the epoch before the next request (an earlier one ended in doubt).
    bump_epoch: bool,
    /// Set when a newer instance fenced this producer: every later send fails.
    fenced: Option<Arc<Error>>,
    /// Where [`Producer::producer_id`] reads the id.
    published_id: Arc<AtomicU64>,
    /// The id to resume (its epoch bumped) when none was obtained yet.
    resume_id: Option<u64>,
}

/// `POST /v1/producers` answer.
#[derive(Debug, serde::Deserialize)]
struct ProducerIdentity {
    producer_id: u64,
    epoch: u32,
}

impl Idempotence {
    /// The identity to tag the next request with, initialising or bumping it as needed.
    /// An id the cluster no longer knows (expired after going unused, see the README's
    /// `metadata.producer_expiry`) is replaced by a new one, with a warning.
    async fn identity(&mut self, client: &Client) -> Result<(u64, u32)> {
        if let Some(error) = &self.fenced {
            return Err(Error::Shared(error.clone()));
        }
        match self.identity {
            Some(identity) if !self.bump_epoch => Ok(identity),
            current => {
                let id = current.map(|(id, _)| id).or(self.resume_id);
                let answer = match self.init(client, id).await {
                    Err(error) if expired(&error) => self.replace_expired(client, id).await?,
                    other => other?,
                };
                self.identity = Some((answer.producer_id, answer.epoch));
                self.published_id
                    .store(answer.producer_id, Ordering::Relaxed);
                self.next_sequence = 0;
                self.bump_epoch = false;
                Ok((answer.producer_id, answer.epoch))
            }
        }
    }

    /// `POST /v1/producers`: a new id (`id` is `None`) or a new epoch of `id`.
    async fn init(&self, client: &Client, id: Option<u64>) -> Result<ProducerIdentity> {
        let body = serde_json::json!({ "producer_id": id });
        client
            .call(
                Method::POST,
                "/v1/producers",
                &[],
                Some(&body),
                Duration::ZERO,
            )
            .await
    }

    /// A new id in place of `id`, which the cluster no longer knows. Idempotence does not
    /// hold across the change: a request of the old id still in doubt is not deduplicated
    /// against the new one (the cluster refuses the old id, so it cannot be written later).
    async fn replace_expired(
        &mut self,
        client: &Client,
        id: Option<u64>,
    ) -> Result<ProducerIdentity> {
        let answer = self.init(client, None).await?;
        tracing::warn!(
            expired = ?id,
            new = answer.producer_id,
            "producer id unknown to the cluster (expired after going unused); continuing with a new id, without deduplication against the old one"
        );
        self.resume_id = None;
        Ok(answer)
    }

    /// Sends one request tagged with the next sequence, retrying it (same tag) on any
    /// broker, and updates the state from the outcome. A request refused because the id
    /// expired wrote nothing: it is sent once more under a new id.
    async fn send(
        &mut self,
        client: &Client,
        path: &str,
        records: Vec<ProduceRecord>,
        commit: Option<ProduceCommit>,
    ) -> Result<ProduceResponse> {
        let mut request = ProduceRequest {
            records,
            producer: None,
            commit,
        };
        let result = self.send_tagged(client, path, &mut request).await;
        match &result {
            Err(error) if expired(error) => self.send_tagged(client, path, &mut request).await,
            _ => result,
        }
    }

    /// Tags `request` with the current identity and next sequence, sends it, and updates
    /// the state from the outcome.
    async fn send_tagged(
        &mut self,
        client: &Client,
        path: &str,
        request: &mut ProduceRequest,
    ) -> Result<ProduceResponse> {
        let (id, epoch) = self.identity(client).await?;
        request.producer = Some(ProducerInfo {
            id,
            epoch,
            sequence: self.next_sequence,
        });
        let result: Result<ProduceResponse> = client
            .call(Method::POST, path, &[], Some(&*request), Duration::ZERO)
            .await;
        match &result {
            Ok(_) => self.next_sequence += 1,
            Err(error) => self.note_failure(error),
        }
        result
    }

    /// Updates the state after a failed request.
    fn note_failure(&mut self, error: &Error) {
        match error.code() {
            Some(ErrorCode::ProducerFenced) => {
                self.fenced = Some(Arc::new(Error::Api {
                    status: 409,
                    code: ErrorCode::ProducerFenced,
                    message: error.to_string(),
                    retry_after: None,
                }));
            }
            // The id expired: the next identity is a new id (see `identity`).
            Some(ErrorCode::ProducerNotFound) => {
                self.bump_epoch = true;
            }
            Some(ErrorCode::OutOfOrderSequence | ErrorCode::IdempotencyMismatch) => {
                self.bump_epoch = true;
            }
            // Refused before its body was read (the client retried it within its
            // attempts): the sequence number was not used.
            Some(ErrorCode::Throttled) => {}
            // In doubt (it may be committed, or still in flight somewhere): a new
            // epoch fences any copy of it not yet committed.
            _ if error.is_retryable() || matches!(error, Error::Protocol { .. }) => {
                self.bump_epoch = true;
            }
            // Refused before anything was staged (bad input, unknown topic): the
            // sequence number was not used.
            _ => {}
        }
    }
}

/// Whether `error` says the producer id is unknown to the cluster (it expired).
fn expired(error: &Error) -> bool {
    error.code() == Some(ErrorCode::ProducerNotFound)
}

async fn dispatch(
    client: &Client,
    path: &str,
    config: &ProducerConfig,
    idempotence: Option<&mut Idempotence>,
    batch: &mut Vec<Pending>,
    in_flight: &mut JoinSet<()>,
) {
    if batch.is_empty() {
        return;
    }
    let pending = std::mem::take(batch);
    if let Some(idempotence) = idempotence {
        // One request at a time, in order, awaited here: the sequence numbers stay dense.
        let (records, waiters): (Vec<_>, Vec<_>) =
            pending.into_iter().map(|p| (p.record, p.done)).unzip();
        let result = idempotence.send(client, path, records, None).await;
        answer(path, waiters, result);
        return;
    }
    while in_flight.len() >= config.max_in_flight.max(1) {
        in_flight.join_next().await;
    }
    let client = client.clone();
    let path = path.to_owned();
    in_flight.spawn(async move {
        let (records, waiters): (Vec<_>, Vec<_>) =
            pending.into_iter().map(|p| (p.record, p.done)).unzip();
        let request = ProduceRequest {
            records,
            producer: None,
            ..Default::default()
        };
        let result: Result<ProduceResponse> = client
            .send_with(
                RetryPolicy::NotApplied,
                Method::POST,
                &path,
                &[],
                Some(&request),
                Duration::ZERO,
            )
            .await
            .and_then(|answer| {
                answer.ok_or_else(|| Error::Protocol {
                    url: path.clone(),
                    detail: "empty answer where a body was expected".into(),
                })
            });
        answer(&path, waiters, result);
    });
}

/// Answers each record's waiter from a request's result.
fn answer(
    path: &str,
    waiters: Vec<oneshot::Sender<Result<RecordOffset>>>,
    result: Result<ProduceResponse>,
) {
    {
        let path = path.to_owned();
        match result {
            Ok(response) if response.offsets.len() == waiters.len() => {
                for (waiter, offset) in waiters.into_iter().zip(response.offsets) {
                    let _ = waiter.send(Ok(offset));
                }
            }
            Ok(response) => {
                let error = Arc::new(Error::Protocol {
                    url: path,
                    detail: format!(
                        "{} offsets for {} records",
                        response.offsets.len(),
                        waiters.len()
                    ),
                });
                for waiter in waiters {
                    let _ = waiter.send(Err(Error::Shared(error.clone())));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for waiter in waiters {
                    let _ = waiter.send(Err(Error::Shared(error.clone())));
                }
            }
        }
    }
}
