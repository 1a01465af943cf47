//! [`Consumer`]: reads one partition from an offset, long-polling at the end of the log.

use std::time::Duration;

use reqwest::Method;

use crate::admin::Admin;
use crate::client::{Client, segment};
use crate::error::{Error, Result};
use crate::wire::{ErrorCode, FetchResponse, FetchedRecord};

/// Settings of a [`Consumer`].
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Records per fetch at most (default 1000).
    pub max_records: u32,
    /// Bytes of record data per fetch at most (default 4 MiB).
    pub max_bytes: u32,
    /// How long a fetch at the high watermark waits for new records (default 5 s).
    pub wait: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_records: 1000,
            max_bytes: 4 << 20,
            wait: Duration::from_secs(5),
        }
    }
}

/// A reader of one partition.
#[derive(Debug, Clone)]
pub struct Consumer {
    client: Client,
    topic: String,
    partition: u32,
    path: String,
    offset: u64,
    high_watermark: Option<u64>,
    /// The id of the topic the first fetch read, sent with every later fetch so a topic
    /// recreated under the name is refused (404 `topic_not_found`), not read into.
    topic_id: Option<u64>,
    config: ConsumerConfig,
}

impl Consumer {
    /// A consumer of `topic`/`partition` starting at `offset`.
    pub fn new(
        client: Client,
        topic: &str,
        partition: u32,
        offset: u64,
        config: ConsumerConfig,
    ) -> Self {
        Consumer {
            client,
            topic: topic.to_owned(),
            partition,
            path: format!(
                "/v1/topics/{}/partitions/{partition}/records",
                segment(topic)
            ),
            offset,
            high_watermark: None,
            topic_id: None,
            config,
        }
    }

    /// Fetches the next records (waiting up to `wait` at the end of the log) and advances.
    ///
    /// A failed fetch, an undecodable body ([`crate::Error::Protocol`]) included, returns the
    /// error and leaves the position where it was, so the same fetch is tried again. A body
    /// undecodable because of one stored record would therefore stall the consumer at that
    /// fetch; the broker rules that out: JSON keys and values are checked strictly at
    /// produce (`wire::json_check`: UTF-8, paired surrogate escapes, nesting at most 64),
    /// and a stored JSON payload that fails the check is fetched as `*_b64` instead.
    ///
    /// The consumer remembers the topic id of its first fetch and names it in every later
    /// one, so once the topic is deleted and recreated under its name every poll fails with
    /// 404 `topic_not_found` instead of returning the new topic's records.
    pub async fn poll(&mut self) -> Result<Vec<FetchedRecord>> {
        let response = self.fetch(self.offset, self.config.wait).await?;
        self.offset = response.next_offset;
        self.high_watermark = Some(response.high_watermark);
        self.topic_id = self.topic_id.or(response.topic_id);
        Ok(response.records)
    }

    /// One fetch at `offset` without moving the consumer (of the topic id it knows, if any).
    pub async fn fetch(&self, offset: u64, wait: Duration) -> Result<FetchResponse> {
        let mut query = vec![
            ("offset", offset.to_string()),
            ("max_records", self.config.max_records.to_string()),
            ("max_bytes", self.config.max_bytes.to_string()),
            ("wait_ms", wait.as_millis().to_string()),
        ];
        query.extend(self.topic_id.map(|id| ("topic_id", id.to_string())));
        self.client
            .call::<(), _>(Method::GET, &self.path, &query, None, wait)
            .await
    }

    /// The next offset to read.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Moves to `offset`.
    pub fn seek(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Recovers from a poll refused because retention dropped the records at the position:
    /// when `error` is 416 `offset_out_of_range` and the position is below the partition's
    /// start offset now, moves to the start offset (Kafka's `auto.offset.reset=earliest`),
    /// logs it, and returns it. `None` for any other error (the position is unchanged).
    pub async fn reset_if_trimmed(&mut self, error: &Error) -> Result<Option<u64>> {
        if error.code() != Some(ErrorCode::OffsetOutOfRange) {
            return Ok(None);
        }
        let earliest = Admin::new(self.client.clone())
            .offset_bound(&self.topic, self.partition, false)
            .await?
            .offset;
        if self.offset >= earliest {
            return Ok(None);
        }
        tracing::warn!(
            topic = %self.topic,
            partition = self.partition,
            from = self.offset,
            to = earliest,
            "records below the start offset were dropped by retention; resuming at the start"
        );
        self.offset = earliest;
        Ok(Some(earliest))
    }

    /// The id of the topic this consumer reads, once a poll has seen it.
    pub fn topic_id(&self) -> Option<u64> {
        self.topic_id
    }

    /// The high watermark seen by the last poll.
    pub fn high_watermark(&self) -> Option<u64> {
        self.high_watermark
    }
}
