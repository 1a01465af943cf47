//! The produce body as the broker parses it: the same fields and rules as
//! `silt_sdk::wire::ProduceRequest` (unknown fields rejected), but keys and values are kept
//! as the raw JSON text the client sent ([`RawValue`] borrowed from the body) instead of
//! being built into `serde_json::Value` trees and written back out. The stored bytes are
//! then sliced from the request body without another copy. Fetch returns that text as is,
//! so JSON comes back exactly as it was sent. `RawValue` only checks JSON syntax loosely (it
//! lets lone surrogate escapes such as `"\ud800"` and deep nesting through), so every JSON
//! key and value is also checked strictly ([`validate::json_payload`]).
//!
//! A test parses bodies written by the SDK's wire types to keep the two in step.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use silt_bookie::record::{Payload, Record};
use silt_bookie::segment::ProducerTag;
use silt_sdk::wire::{ErrorCode, ProduceCommit, ProducerInfo};

use crate::http::{ApiError, produce_commit, validate};
use crate::write::{InputRecord, ProduceInput};

/// `POST /v1/topics/{topic}/records`, borrowed from the request body. Deserialized
/// through [`BodySeed`], which stops reading records past the request's limit.
#[derive(Debug)]
pub struct ProduceBody<'a> {
    /// The records.
    pub records: Vec<RecordIn<'a>>,
    /// Idempotent-producer identity.
    pub producer: Option<ProducerInfo>,
    /// The offset commit riding with the records.
    pub commit: Option<ProduceCommit>,
}

/// One record, borrowed from the request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordIn<'a> {
    /// Key as JSON text (`null` means no key).
    #[serde(default, borrow)]
    pub key: Option<&'a RawValue>,
    /// Key as base64.
    #[serde(default, borrow)]
    pub key_b64: Option<Cow<'a, str>>,
    /// Value as JSON text (`null` included).
    #[serde(default, borrow, deserialize_with = "present")]
    pub value: Option<&'a RawValue>,
    /// Value as base64.
    #[serde(default, borrow)]
    pub value_b64: Option<Cow<'a, str>>,
    /// Headers, name to value (strings only; any other JSON is refused).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Explicit partition.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::optional")]
    pub partition: Option<u32>,
    /// Milliseconds since the Unix epoch; the broker's clock when absent.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::optional")]
    pub timestamp_ms: Option<i64>,
}

/// A present field, `null` included, is `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Parses and validates a JSON produce body; `now` stamps records without a timestamp.
/// CPU-heavy for a large body: call it off the async workers.
pub(crate) fn parse(body: &Bytes, now: i64, max_records: u32) -> Result<ProduceInput, ApiError> {
    let request = parse_bounded(body, max_records)?;
    let producer = request.producer.map(producer_tag).transpose()?;
    let commit = request
        .commit
        .map(|c| produce_commit::group_commit(c, producer.as_ref()))
        .transpose()?;
    check_count(request.records.len(), max_records)?;
    let records = request
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| convert(index, record, now, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProduceInput {
        records,
        producer,
        commit,
    })
}

/// Deserializes the body, holding at most `max_records` records in memory: past the
/// limit parsing stops with `too_many_records`, however long the body.
fn parse_bounded(body: &Bytes, max_records: u32) -> Result<ProduceBody<'_>, ApiError> {
    let over_limit = Cell::new(false);
    let seed = BodySeed {
        max_records,
        over_limit: &over_limit,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|request| deserializer.end().map(|()| request));
    parsed.map_err(|e| match over_limit.get() {
        true => too_many_records(max_records),
        false => ApiError::invalid_request(format!("invalid JSON body: {e}")),
    })
}

/// The refusal of a body holding more than `max_records` records, whose count is unknown
/// because parsing stopped at the limit.
fn too_many_records(max_records: u32) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRecords,
        format!(
            "more than {max_records} records in one request; the limit is {max_records} (server.max_records_per_request)"
        ),
    )
}

/// Deserializes a [`ProduceBody`] (unknown fields refused) whose `records` hold at most
/// `max_records` entries; sets `over_limit` when it stops for that reason.
pub struct BodySeed<'c> {
    /// `server.max_records_per_request`.
    pub max_records: u32,
    /// Set when the records sequence ran past the limit.
    pub over_limit: &'c Cell<bool>,
}

/// The fields of a produce body.
const BODY_FIELDS: &[&str] = &["records", "producer", "commit"];

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = ProduceBody<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("ProduceBody", BODY_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = ProduceBody<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a produce body: {\"records\": [...], \"producer\": {...}, \"commit\": {...}}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut records, mut producer, mut commit) = (None, None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "records" if records.is_none() => {
                    records = Some(map.next_value_seed(RecordsSeed {
                        max_records: self.max_records,
                        over_limit: self.over_limit,
                    })?);
                }
                "producer" if producer.is_none() => producer = Some(map.next_value()?),
                "commit" if commit.is_none() => commit = Some(map.next_value()?),
                "records" | "producer" | "commit" => {
                    return Err(de::Error::custom(format!("duplicate field `{key}`")));
                }
                other => return Err(de::Error::unknown_field(other, BODY_FIELDS)),
            }
        }
        let records = records.ok_or_else(|| de::Error::missing_field("records"))?;
        Ok(ProduceBody {
            records,
            producer: producer.flatten(),
            commit: commit.flatten(),
        })
    }
}

/// Deserializes the `records` array, refusing it as soon as it holds more than
/// `max_records` entries, so memory is bounded by the limit and not by the body.
struct RecordsSeed<'c> {
    /// `server.max_records_per_request`.
    max_records: u32,
    /// Set when the sequence ran past the limit.
    over_limit: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<RecordIn<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<RecordIn<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} records", self.max_records)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::new();
        while let Some(record) = seq.next_element::<RecordIn<'de>>()? {
            if records.len() >= self.max_records as usize {
                self.over_limit.set(true);
                return Err(de::Error::custom("too many records"));
            }
            records.push(record);
        }
        Ok(records)
    }
}

/// Refuses a request without records or with more than `server.max_records_per_request`.
fn check_count(count: usize, max_records: u32) -> Result<(), ApiError> {
    if count == 0 {
        return Err(ApiError::invalid_request(
            "records must hold at least one record",
        ));
    }
    if count > max_records as usize {
        return Err(ApiError::new(
            ErrorCode::TooManyRecords,
            format!(
                "{count} records in one request; the limit is {max_records} (server.max_records_per_request)"
            ),
        ));
    }
    Ok(())
}

/// The producer identity as the write path tags records; id 0 is refused.
fn producer_tag(info: ProducerInfo) -> Result<ProducerTag, ApiError> {
    if info.id == 0 {
        return Err(ApiError::invalid_request(
            "producer.id 0 is not a producer id; get one from POST /v1/producers",
        ));
    }
    Ok(ProducerTag {
        producer_id: info.id,
        epoch: info.epoch,
        sequence: info.sequence,
    })
}

/// Turns a parsed record into a stored one; JSON keys and values are sliced from `body`
/// (no copy) and stored as the text the client sent.
fn convert(
    index: usize,
    wire: RecordIn<'_>,
    now: i64,
    body: &Bytes,
) -> Result<InputRecord, ApiError> {
    let (key, hash_key) = convert_key(index, wire.key, wire.key_b64.as_deref(), body)?;
    let value = convert_value(index, wire.value, wire.value_b64.as_deref(), body)?;
    let timestamp_ms = timestamp(index, wire.timestamp_ms, now)?;
    let record = Record {
        timestamp_ms,
        key,
        value,
        headers: wire.headers.into_iter().collect(),
    };
    Ok(InputRecord {
        record,
        hash_key,
        partition: wire.partition,
        timestamp_given: wire.timestamp_ms.is_some(),
    })
}

/// The record's timestamp, `now` if it has none; refused before the Unix epoch.
fn timestamp(index: usize, timestamp_ms: Option<i64>, now: i64) -> Result<i64, ApiError> {
    let timestamp_ms = timestamp_ms.unwrap_or(now);
    if timestamp_ms < 0 {
        return Err(ApiError::invalid_record(format!(
            "record {index} has timestamp_ms {timestamp_ms}; it must be ms since the Unix epoch, at least 0"
        )));
    }
    Ok(timestamp_ms)
}

/// A stored key and the bytes it hashes on.
pub(crate) type KeyAndHash = (Option<Payload>, Option<Vec<u8>>);

/// The stored key and the bytes it hashes on. A string key hashes on its UTF-8 bytes, as
/// Kafka's StringSerializer sends it; any other JSON key on its text as sent.
fn convert_key(
    index: usize,
    json: Option<&RawValue>,
    b64: Option<&str>,
    body: &Bytes,
) -> Result<KeyAndHash, ApiError> {
    match (json.filter(|raw| raw.get() != "null"), b64) {
        (Some(_), Some(_)) => Err(ApiError::invalid_record(format!(
            "record {index} has both key and key_b64; send one"
        ))),
        (None, None) => Ok((None, None)),
        (Some(raw), None) => json_key(index, raw.get(), body),
        (None, Some(b64)) => {
            let raw = decode_b64(index, "key_b64", b64)?;
            Ok((Some(Payload::bytes(raw.clone())), Some(raw)))
        }
    }
}

/// A JSON key, stored as the text sent (sliced from `body`) and hashed on its string's
/// bytes if it is a string, else on that text.
fn json_key(index: usize, text: &str, body: &Bytes) -> Result<KeyAndHash, ApiError> {
    validate::json_payload(index, "key", text.as_bytes())?;
    let hash = if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .map(String::into_bytes)
            .map_err(|e| ApiError::invalid_record(format!("record {index} key: {e}")))?
    } else {
        text.as_bytes().to_vec()
    };
    let payload = Payload::json(body.slice_ref(text.as_bytes()));
    Ok((Some(payload), Some(hash)))
}

/// The stored value, from exactly one of `value` and `value_b64`.
fn convert_value(
    index: usize,
    json: Option<&RawValue>,
    b64: Option<&str>,
    body: &Bytes,
) -> Result<Payload, ApiError> {
    match (json, b64) {
        (Some(_), Some(_)) => Err(ApiError::invalid_record(format!(
            "record {index} has both value and value_b64; send one"
        ))),
        (None, None) => Err(ApiError::invalid_record(format!(
            "record {index} has no value: send \"value\" (any JSON) or \"value_b64\" (base64 bytes)"
        ))),
        (Some(raw), None) => json_value(index, raw.get(), body),
        (None, Some(b64)) => Ok(Payload::bytes(decode_b64(index, "value_b64", b64)?)),
    }
}

/// A JSON value, checked strictly and stored as the text sent (sliced from `body`).
fn json_value(index: usize, text: &str, body: &Bytes) -> Result<Payload, ApiError> {
    validate::json_payload(index, "value", text.as_bytes())?;
    Ok(Payload::json(body.slice_ref(text.as_bytes())))
}

/// Decodes a `*_b64` field, naming it in the refusal.
fn decode_b64(index: usize, field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    BASE64.decode(text).map_err(|e| {
        ApiError::invalid_record(format!(
            "record {index} {field} is not valid standard base64: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use silt_sdk::wire::{ProduceRecord, ProduceRequest};

    use super::*;

    #[test]
    fn parses_what_the_sdk_writes_and_rejects_what_the_wire_type_rejects() {
        let request = ProduceRequest {
            records: vec![
                ProduceRecord {
                    key: Some(json!("k")),
                    value: Some(json!({"a": [1, 2]})),
                    headers: [("h".to_owned(), "v".to_owned())].into(),
                    partition: Some(2),
                    timestamp_ms: Some(5),
                    ..ProduceRecord::default()
                },
                ProduceRecord {
                    key_b64: Some("AA==".into()),
                    value_b64: Some(String::new()),
                    ..ProduceRecord::default()
                },
            ],
            producer: None,
            commit: None,
        };
        let text = Bytes::from(serde_json::to_string(&request).unwrap());
        let body = parse_bounded(&text, 10).unwrap();
        assert_eq!(body.records.len(), 2);
        assert_eq!(body.records[0].key.map(RawValue::get), Some("\"k\""));
        assert_eq!(
            body.records[0].value.map(RawValue::get),
            Some(r#"{"a":[1,2]}"#)
        );
        assert_eq!(body.records[0].partition, Some(2));
        assert_eq!(body.records[1].value_b64.as_deref(), Some(""));
        let escaped = Bytes::from_static(br#"{"records":[{"value_b64":"AA\/A"}]}"#);
        let escaped = parse_bounded(&escaped, 10).unwrap();
        assert_eq!(escaped.records[0].value_b64.as_deref(), Some("AA/A"));
        let null = Bytes::from_static(br#"{"records":[{"value":null}],"producer":null}"#);
        let null = parse_bounded(&null, 10).unwrap();
        assert_eq!(null.records[0].value.map(RawValue::get), Some("null"));
        for bad in [
            r#"{"records":[{"value":1,"extra":2}]}"#,
            r#"{"records":[],"x":1}"#,
            r#"{"records":"x"}"#,
            r#"{"records":[{"value":1,"headers":{"a":1}}]}"#,
            r#"{"records":[],"records":[]}"#,
            r#"{"producer":null}"#,
            r#"{"records":[]} x"#,
        ] {
            let error = parse_bounded(&Bytes::from_static(bad.as_bytes()), 10).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad}");
            assert!(
                serde_json::from_str::<ProduceRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }

    /// A records array longer than the limit is refused as soon as it passes the limit:
    /// the records after it are never parsed, so a syntax error after the limit is not
    /// reached and the records parsed so far are at most the limit.
    #[test]
    fn parsing_stops_at_the_record_limit() {
        let mut text = String::from(r#"{"records":["#);
        text.push_str(&"{},".repeat(4));
        text.push_str("not json at all");
        let error = parse_bounded(&Bytes::from(text), 3).unwrap_err();
        assert_eq!(error.code, ErrorCode::TooManyRecords);
        assert!(
            error.message.contains("more than 3 records") && error.message.contains("limit is 3"),
            "{}",
            error.message
        );
        let at_limit = Bytes::from_static(br#"{"records":[{},{},{}]}"#);
        assert_eq!(parse_bounded(&at_limit, 3).unwrap().records.len(), 3);
        let error = parse(
            &Bytes::from_static(br#"{"records":[{"value":1},{"value":2}]}"#),
            0,
            1,
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::TooManyRecords);
    }

    #[test]
    fn json_keys_and_values_a_strict_reader_cannot_read_are_refused_by_index() {
        let body = |text: &str| Bytes::from(text.to_owned());
        let cases = [
            (
                r#"{"records":[{"value":1},{"value":"\ud800"}]}"#,
                "record 1 value is not valid JSON: lone surrogate \\ud800 at byte 1",
            ),
            (
                r#"{"records":[{"key":"a\udc00","value":1}]}"#,
                "record 0 key is not valid JSON: lone surrogate \\udc00 at byte 2",
            ),
        ];
        for (text, message) in cases {
            let error = parse(&body(text), 0, 10).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRecord, "{text}");
            assert_eq!(error.message, message);
        }
        let deep = |n: usize| {
            format!(
                r#"{{"records":[{{"value":{}1{}}}]}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let error = parse(&body(&deep(65)), 0, 10).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRecord);
        assert!(
            error.message.contains("deeper than 64"),
            "{}",
            error.message
        );
        assert!(parse(&body(&deep(64)), 0, 10).is_ok());
    }
}
