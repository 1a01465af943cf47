//! The produce body as the broker parses it: the same fields and rules as
//! `silt_sdk::wire::ProduceRequest` (unknown fields rejected), but keys and values are kept
//! as the raw JSON text the client sent ([`RawValue`] borrowed from the body) instead of
//! being built into `serde_json::Value` trees and written back out. The stored bytes are
//! then sliced from the request body without another copy. Fetch returns that text as is,
//! so JSON comes back exactly as it was sent.
//!
//! A test parses bodies written by the SDK's wire types to keep the two in step.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use silt_sdk::wire::ProducerInfo;

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
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Explicit partition.
    #[serde(default)]
    pub partition: Option<u32>,
    /// Timestamp.
    #[serde(default)]
    pub timestamp_ms: Option<i64>,
}

/// A present field, `null` included, is `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
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
}
