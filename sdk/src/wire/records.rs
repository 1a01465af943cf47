//! Produce and fetch bodies.
//!
//! A record's key and value are either any JSON value (`key`, `value`) or raw bytes in
//! standard base64 (`key_b64`, `value_b64`). Fetch returns each in the form it was sent.
//! `"value": null` is a JSON null value, not a missing value; `"key": null` means no key.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::wire::integer;

/// `POST /v1/topics/{topic}/records`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    /// The records, acknowledged together: all or none are written.
    pub records: Vec<ProduceRecord>,
    /// Optional idempotent-producer identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerInfo>,
    /// Optional consumer-group offset commit, applied in the same metadata entry as the
    /// records or not at all (needs `producer`): consume-transform-produce exactly once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<ProduceCommit>,
}

/// A consumer-group offset commit riding with a produce request. Without `member_id` and
/// `generation` it is a simple commit, allowed while the group has no members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceCommit {
    /// The group's name.
    pub group: String,
    /// The committing member's generation (with `member_id`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integer::optional"
    )]
    pub generation: Option<u64>,
    /// The committing member (with `generation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// 1 to 10 000 offsets; one refused offset refuses the commit and the records.
    pub offsets: Vec<crate::wire::OffsetToCommit>,
}

/// Identity of an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerInfo {
    /// Producer id.
    #[serde(deserialize_with = "integer::exact")]
    pub id: u64,
    /// Producer epoch; a higher epoch fences older ones.
    #[serde(deserialize_with = "integer::exact")]
    pub epoch: u32,
    /// Sequence number of this request's first record.
    #[serde(deserialize_with = "integer::exact")]
    pub sequence: u64,
}

/// One record to produce. Only `value` or `value_b64` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceRecord {
    /// Key as JSON; `null` or absent means no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// Key as base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    /// Value as JSON (`null` included).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// Value as base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    /// String headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Target partition; else the key's murmur2 hash, else sticky round-robin.
    #[serde(
        default,
        deserialize_with = "integer::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub partition: Option<u32>,
    /// Record timestamp in ms since the Unix epoch; default: the broker's clock at receipt.
    #[serde(
        default,
        deserialize_with = "integer::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp_ms: Option<i64>,
}

/// Deserializes a present field, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Answer to a produce: one entry per record, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceResponse {
    /// Where each record landed.
    pub offsets: Vec<RecordOffset>,
}

/// Where one produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordOffset {
    /// The partition the record was written to.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
}

/// `GET /v1/topics/{topic}/partitions/{p}/records`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchResponse {
    /// Records from the requested offset on, in offset order.
    pub records: Vec<FetchedRecord>,
    /// The offset to fetch next.
    pub next_offset: u64,
    /// The partition's high watermark: the offset the next committed record will get.
    pub high_watermark: u64,
    /// The id of the topic read: a topic recreated under the same name has another one.
    /// Send it back as the fetch's `topic_id` parameter to be refused (404
    /// `topic_not_found`) instead of reading on into a recreated topic. `None` from brokers
    /// that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<u64>,
}

/// `GET /v1/topics/{topic}/partitions/{p}/offsets?timestamp_ms=T` or `?at=earliest|latest`:
/// an offset found by time (Kafka's ListOffsets) or a bound of the partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetLookup {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// By time: the offset of the first record (in offset order) stamped at or after
    /// `timestamp_ms`, or the high watermark when no record is (a consumer starting there
    /// gets only records produced later). By bound: the earliest or latest offset.
    pub offset: u64,
    /// The timestamp of the record at `offset`, when a lookup by time found one.
    #[serde(default)]
    pub timestamp_ms: Option<i64>,
    /// The partition's first readable offset.
    pub start_offset: u64,
    /// The partition's high watermark.
    pub high_watermark: u64,
    /// The id of the topic read.
    pub topic_id: u64,
}

/// One fetched record, in the form it was produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedRecord {
    /// The record's offset in its partition.
    pub offset: u64,
    /// Timestamp, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Key, if it was sent as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// Key, if it was sent as bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    /// Value, if it was sent as JSON.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// Value, if it was sent as bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    /// Headers, name to value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_null_value_is_present_and_missing_value_is_not() {
        let with_null: ProduceRecord =
            serde_json::from_str(r#"{"value": null}"#).unwrap_or_default();
        assert_eq!(with_null.value, Some(Value::Null));
        let without: ProduceRecord =
            serde_json::from_str(r#"{"value_b64": ""}"#).unwrap_or_default();
        assert_eq!(without.value, None);
        assert!(serde_json::from_str::<ProduceRecord>(r#"{"value": 1, "valu": 2}"#).is_err());
    }
}
