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
