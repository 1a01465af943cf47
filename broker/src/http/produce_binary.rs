//! The binary produce body, `Content-Type: application/x-silt-records`: decoded by the
//! format's one definition ([`silt_sdk::wire::binary`]); this module turns the decoded
//! records into the write service's [`InputRecord`]s. Keys and values are sliced from the
//! request body (no copy); a JSON-kind key or value must pass the strict JSON check
//! (`silt_sdk::wire::json_check`), so fetch can return it as JSON any reader can read.
//! Every rule of the JSON body applies after parsing (limits, partitions).

use axum::body::Bytes;
use silt_bookie::record::Payload;
use silt_bookie::record::Record;
use silt_sdk::wire::ErrorCode;
use silt_sdk::wire::binary::{self, BinaryError, DecodedRecord, Kind};

use crate::http::produce_body::KeyAndHash;
use crate::http::{ApiError, validate};
use crate::write::{InputRecord, ProduceInput};

/// Whether a `Content-Type` names the binary body.
pub(crate) fn is_binary(content_type: &str) -> bool {
    content_type.starts_with(binary::CONTENT_TYPE)
}

/// Parses a binary body; `now` stamps records without a timestamp. `max_records` is
/// checked before anything is allocated for the records.
pub(crate) fn parse(body: &Bytes, now: i64, max_records: u32) -> Result<ProduceInput, ApiError> {
    let decoded = binary::decode(body, max_records).map_err(binary_error)?;
    let records = decoded
        .into_iter()
        .enumerate()
        .map(|(index, record)| convert(body, index, record, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProduceInput {
        records,
        producer: None,
        commit: None,
    })
}

/// The API error for an undecodable body: its code by the kind of fault.
fn binary_error(error: BinaryError) -> ApiError {
    let code = match &error {
        BinaryError::Malformed(_) => ErrorCode::InvalidRequest,
        BinaryError::InvalidRecord(_) => ErrorCode::InvalidRecord,
        BinaryError::TooManyRecords { .. } => ErrorCode::TooManyRecords,
    };
    ApiError::new(code, error.to_string())
}

/// The write service's record for the request's record `index`.
fn convert(
    body: &Bytes,
    index: usize,
    decoded: DecodedRecord,
    now: i64,
) -> Result<InputRecord, ApiError> {
    let (key, hash_key) = match decoded.key {
        None => (None, None),
        Some((kind, range)) => key(body.slice(range), kind, index)?,
    };
    let (kind, range) = decoded.value;
    let value = match kind {
        Kind::Bytes => Payload::bytes(body.slice(range)),
        Kind::Json => json_payload(body.slice(range), index, "value")?,
    };
    let timestamp_given = decoded.timestamp_ms.is_some();
    let record = Record {
        timestamp_ms: decoded.timestamp_ms.unwrap_or(now),
        key,
        value,
        headers: decoded.headers,
    };
    Ok(InputRecord {
        record,
        hash_key,
        partition: decoded.partition,
        timestamp_given,
    })
}

/// A key as stored, and the bytes it hashes on.
fn key(bytes: Bytes, kind: Kind, index: usize) -> Result<KeyAndHash, ApiError> {
    let (payload, hash) = match kind {
        Kind::Bytes => (Payload::bytes(bytes.clone()), bytes.to_vec()),
        Kind::Json => {
            let hash = json_key_hash(&bytes);
            (json_payload(bytes, index, "key")?, hash)
        }
    };
    Ok((Some(payload), Some(hash)))
}

/// A JSON string key hashes on its text, as the JSON body's does; any other JSON key on
/// its bytes.
fn json_key_hash(bytes: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<String>(bytes) {
        Ok(text) => text.into_bytes(),
        Err(_) => bytes.to_vec(),
    }
}

/// A JSON-kind payload (`field` of record `index`), refused unless it passes the strict
/// JSON check (UTF-8, paired surrogate escapes, bounded nesting).
fn json_payload(bytes: Bytes, index: usize, field: &str) -> Result<Payload, ApiError> {
    validate::json_payload(index, field, &bytes)?;
    Ok(Payload::json(bytes))
}

#[cfg(test)]
mod tests {
    use silt_bookie::record::PayloadKind;
    use silt_sdk::wire::binary::BinaryRecord;

    use super::*;

    #[test]
    fn decoded_records_slice_the_body_and_json_kinds_must_be_json() {
        let headers = vec![("h".to_owned(), "v".to_owned())];
        let body = Bytes::from(binary::encode(&[
            BinaryRecord {
                key: Some((Kind::Json, b"\"k\"")),
                value: (Kind::Json, b"{\"a\":1}"),
                headers: &headers,
                partition: Some(2),
                timestamp_ms: Some(7),
            },
            BinaryRecord::bytes(&[0, 255]),
        ]));
        let input = parse(&body, 99, 10).unwrap();
        let first = &input.records[0];
        assert_eq!(first.hash_key.as_deref(), Some(&b"k"[..]));
        assert_eq!(first.record.value.kind, PayloadKind::Json);
        assert_eq!(&first.record.value.data[..], b"{\"a\":1}");
        assert_eq!((first.partition, first.record.timestamp_ms), (Some(2), 7));
        assert_eq!(input.records[1].record.timestamp_ms, 99);
        let not_json = Bytes::from(binary::encode(&[BinaryRecord {
            value: (Kind::Json, b"{nope"),
            ..BinaryRecord::bytes(b"")
        }]));
        let error = parse(&not_json, 0, 10).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRecord);
        let error = parse(&body, 0, 1).unwrap_err();
        assert_eq!(error.code, ErrorCode::TooManyRecords);
    }

    #[test]
    fn json_kinds_with_invalid_utf8_or_lone_surrogates_are_refused_by_index() {
        let good = BinaryRecord::bytes(b"ok");
        for (value, message) in [
            (
                &b"\"\xff\""[..],
                "record 1 value is not valid JSON: invalid UTF-8 at byte 1",
            ),
            (
                br#""\ud800""#,
                "record 1 value is not valid JSON: lone surrogate \\ud800 at byte 1",
            ),
        ] {
            let bad = BinaryRecord {
                value: (Kind::Json, value),
                ..BinaryRecord::bytes(b"")
            };
            let body = Bytes::from(binary::encode(&[good, bad]));
            let error = parse(&body, 0, 10).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRecord);
            assert_eq!(error.message, message);
        }
        let key = BinaryRecord {
            key: Some((Kind::Json, b"\"\xc0\xaf\"")),
            ..BinaryRecord::bytes(b"")
        };
        let error = parse(&Bytes::from(binary::encode(&[key])), 0, 10).unwrap_err();
        assert_eq!(
            error.message,
            "record 0 key is not valid JSON: invalid UTF-8 at byte 1"
        );
    }
}
