//! [`Producer`]: a batching producer.
//!
//! Records given to [`Producer::send`] are gathered per producer for up to `linger` or
//! `max_batch_bytes`/`max_batch_records`, then sent as one produce request; retryable
//! failures are retried with backoff by the [`Client`]. With `max_in_flight = 1` (the
//! default) the records of one producer land in the order they were sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Client, segment};
use crate::error::{Error, Result};
use crate::wire::{ProduceRecord, ProduceRequest, ProduceResponse, RecordOffset};

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
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            linger: Duration::from_millis(5),
            max_batch_bytes: 1 << 20,
            max_batch_records: 10_000,
            max_in_flight: 1,
            queue_capacity: 100_000,
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
}

/// A batching producer for one topic.
#[derive(Debug)]
pub struct Producer {
    client: Client,
    path: String,
    queue: mpsc::Sender<Message>,
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
        tokio::spawn(batch_loop(client.clone(), path.clone(), config, receiver));
        Producer {
            client,
            path,
            queue,
        }
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

    /// Sends records as one request now (bypassing the batcher), with retries.
    pub async fn send_batch(&self, records: Vec<ProduceRecord>) -> Result<Vec<RecordOffset>> {
        let request = ProduceRequest {
            records,
            producer: None,
        };
        let response: ProduceResponse = self
            .client
            .call(
                Method::POST,
                &self.path,
                &[],
                Some(&request),
                Duration::ZERO,
            )
            .await?;
        Ok(response.offsets)
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
    mut receiver: mpsc::Receiver<Message>,
) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut deadline: Option<Instant> = None;
    let mut in_flight = JoinSet::new();
    loop {
        let message = tokio::select! {
            message = receiver.recv() => message,
            () = sleep_until(deadline) => {
                dispatch(&client, &path, &config, &mut batch, &mut in_flight).await;
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
                    dispatch(&client, &path, &config, &mut batch, &mut in_flight).await;
                    batch_bytes = 0;
                    deadline = None;
                }
            }
            Some(Message::Flush(done)) => {
                dispatch(&client, &path, &config, &mut batch, &mut in_flight).await;
                batch_bytes = 0;
                deadline = None;
                while in_flight.join_next().await.is_some() {}
                let _ = done.send(());
            }
            None => {
                dispatch(&client, &path, &config, &mut batch, &mut in_flight).await;
                while in_flight.join_next().await.is_some() {}
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn dispatch(
    client: &Client,
    path: &str,
    config: &ProducerConfig,
    batch: &mut Vec<Pending>,
    in_flight: &mut JoinSet<()>,
) {
    if batch.is_empty() {
        return;
    }
    while in_flight.len() >= config.max_in_flight.max(1) {
        in_flight.join_next().await;
    }
    let pending = std::mem::take(batch);
    let client = client.clone();
    let path = path.to_owned();
    in_flight.spawn(async move {
        let (records, waiters): (Vec<_>, Vec<_>) =
            pending.into_iter().map(|p| (p.record, p.done)).unzip();
        let request = ProduceRequest {
            records,
            producer: None,
        };
        let result: Result<ProduceResponse> = client
            .call(Method::POST, &path, &[], Some(&request), Duration::ZERO)
            .await;
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
    });
}
