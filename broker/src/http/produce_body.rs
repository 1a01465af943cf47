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
use std::collections::BTreeMap;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use silt_bookie::record::{Payload, Record};
use silt_bookie::segment::ProducerTag;
use silt_sdk::wire::{ErrorCode, ProducerInfo};

use crate::http::{ApiError, validate};
use crate::write::{InputRecord, ProduceInput};

/// `POST /v1/topics/{topic}/records`, borrowed from the request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceBody<'a> {
    /// The records.
    #[serde(borrow)]
    pub records: Vec<RecordIn<'a>>,
    /// Idempotent-producer identity.
    #[serde(default)]
    pub producer: Option<ProducerInfo>,
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
pub(crate) fn parse(body: &Bytes, now: i64, max_records: u32) -> Result<ProduceInput, ApiError> {
    let request: ProduceBody<'_> = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    let producer = request.producer.map(producer_tag).transpose()?;
    check_count(request.records.len(), max_records)?;
    let records = request
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| convert(index, record, now, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProduceInput { records, producer })
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
        };
        let text = serde_json::to_string(&request).unwrap();
        let body: ProduceBody<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(body.records.len(), 2);
        assert_eq!(body.records[0].key.map(RawValue::get), Some("\"k\""));
        assert_eq!(
            body.records[0].value.map(RawValue::get),
            Some(r#"{"a":[1,2]}"#)
        );
        assert_eq!(body.records[0].partition, Some(2));
        assert_eq!(body.records[1].value_b64.as_deref(), Some(""));
        let escaped: ProduceBody<'_> =
            serde_json::from_slice(br#"{"records":[{"value_b64":"AA\/A"}]}"#).unwrap();
        assert_eq!(escaped.records[0].value_b64.as_deref(), Some("AA/A"));
        let null: ProduceBody<'_> =
            serde_json::from_str(r#"{"records":[{"value":null}]}"#).unwrap();
        assert_eq!(null.records[0].value.map(RawValue::get), Some("null"));
        for bad in [
            r#"{"records":[{"value":1,"extra":2}]}"#,
            r#"{"records":[],"x":1}"#,
            r#"{"records":"x"}"#,
            r#"{"records":[{"value":1,"headers":{"a":1}}]}"#,
        ] {
            assert!(
                serde_json::from_str::<ProduceBody<'_>>(bad).is_err(),
                "{bad}"
            );
            assert!(
                serde_json::from_str::<ProduceRequest>(bad).is_err(),
                "{bad}"
            );
        }
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
