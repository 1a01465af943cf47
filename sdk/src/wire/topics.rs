//! Topic bodies.

use serde::{Deserialize, Serialize};

use crate::wire::integer;

/// `POST /v1/topics`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopicRequest {
    /// 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
    pub name: String,
    /// Number of partitions (default 1).
    #[serde(default = "one", deserialize_with = "integer::exact")]
    pub partitions: u32,
    /// Topic settings.
    #[serde(default)]
    pub config: TopicConfig,
}

fn one() -> u32 {
    1
}

/// Per-topic settings. Unknown keys are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Compression of the topic's chunks in segments: `"none"` or `"zstd"` (default `"none"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// How long records are kept, in ms: 1 to [`MAX_RETENTION_MS`], or -1 for ever. Absent
    /// or `null` on create: the cluster default (`retention.default_ms`). A topic served by
    /// the broker shows the value in force (its own, else the default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub retention_ms: Option<i64>,
    /// How many bytes each partition keeps at least: 1 to [`MAX_RETENTION_BYTES`], or -1
    /// for no bound; absent: the cluster default (`retention.default_bytes`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub retention_bytes: Option<i64>,
}

/// Longest `retention_ms` (100 years).
pub const MAX_RETENTION_MS: i64 = 3_155_760_000_000;

/// Largest `retention_bytes` (2^60).
pub const MAX_RETENTION_BYTES: i64 = 1 << 60;

/// `PATCH /v1/topics/{topic}`: changes a live topic's retention. Unknown keys are rejected;
/// the partition count and compression cannot be changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterTopicRequest {
    /// The settings to change.
    pub config: TopicConfigPatch,
}

/// The settings a `PATCH` changes: per key, absent keeps it, `null` returns it to the
/// cluster default, a value sets it (as in [`TopicConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfigPatch {
    /// The new `retention_ms`: `Some(None)` is `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_integer"
    )]
    pub retention_ms: Option<Option<i64>>,
    /// The new `retention_bytes`: `Some(None)` is `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_integer"
    )]
    pub retention_bytes: Option<Option<i64>>,
}

/// A key that is present, `null` included: `Some` of its value (absent is `None`, by
/// `default`).
fn present_integer<'de, D>(deserializer: D) -> Result<Option<Option<i64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    integer::optional(deserializer).map(Some)
}

/// A topic as described by the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The topic's name: 1-249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
    pub name: String,
    /// Cluster-unique id; a topic deleted and created again gets a new id.
    pub id: u64,
    /// Number of partitions.
    pub partition_count: u32,
    /// The topic's settings.
    pub config: TopicConfig,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Each partition's offsets.
    pub partitions: Vec<PartitionInfo>,
}

/// A partition's offset range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Partition number, from 0.
    pub partition: u32,
    /// First offset still readable.
    pub start_offset: u64,
    /// Offset the next committed record will get.
    pub high_watermark: u64,
}

/// `GET /v1/topics?limit=N&after=NAME`: one page of topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    /// Topics named after `after`, by name: at most `limit`, and fewer when their partitions
    /// would pass 10 000.
    pub topics: Vec<Topic>,
    /// Pass as `after` for the next page; `null` on the last page (and absent from brokers
    /// that list every topic in one answer).
    #[serde(default)]
    pub next_after: Option<String>,
}

/// Default topics per `GET /v1/topics` page.
pub const DEFAULT_TOPIC_PAGE: u32 = 100;

/// Most topics per `GET /v1/topics` page.
pub const MAX_TOPIC_PAGE: u32 = 1000;
