//! The binary produce body, `Content-Type: application/x-silt-records`: the same records as
//! the JSON body without JSON's cost. Values and keys are length-prefixed bytes sliced from
//! the request (no base64, no escaping, no copy); a JSON-kind value is checked to be JSON
//! so fetch can return it as JSON. Layout (integers little-endian):
//!
//! ```text
//! body    = magic "SLTR" | version u8 (=1) | record_count u32 | record*
//! record  = flags u8 | [partition u32] | [timestamp_ms i64]
//!           | [key_len u32 | key]  | value_len u32 | value
//!           | header_count u16 | (name_len u16 | name | value_len u32 | value)*
//! flags   = bits 0-1 key kind (0 none, 1 bytes, 2 JSON) | bit 2 value kind (0 bytes, 1 JSON)
//!           | bit 3 partition present | bit 4 timestamp present | bits 5-7 zero
//! ```
//!
//! The body must end exactly after the last record. Every rule of the JSON body applies
//! after parsing (limits, partitions, timestamps).

use axum::body::Bytes;
use silt_bookie::record::{Payload, Record};

use crate::http::ApiError;

/// The content type of a binary produce body.
pub const CONTENT_TYPE: &str = "application/x-silt-records";
/// First bytes of a binary produce body.
pub const MAGIC: &[u8; 4] = b"SLTR";

/// A parsed record, the bytes its key hashes on, and its explicit partition.
pub type ParsedRecord = (Record, Option<Vec<u8>>, Option<u32>);

struct Cursor<'a> {
    body: &'a Bytes,
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<Bytes, ApiError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.body.len());
        let Some(end) = end else {
            return Err(ApiError::invalid_request(format!(
                "binary body ends inside {what} at byte {} (needs {n} bytes, {} left)",
                self.at,
                self.body.len() - self.at
            )));
        };
        let bytes = self.body.slice(self.at..end);
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ApiError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, ApiError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, ApiError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn text(&mut self, n: usize, what: &str) -> Result<String, ApiError> {
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::invalid_record(format!("{what} is not UTF-8")))
    }
}

fn json_payload(bytes: Bytes, what: &str) -> Result<Payload, ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map_err(|e| ApiError::invalid_record(format!("{what} is marked JSON but is not: {e}")))?;
    Ok(Payload::json(bytes))
}

/// Parses a binary body; `now` stamps records without a timestamp. `max_records` is
/// checked before anything is allocated for the records.
pub fn parse(body: &Bytes, now: i64, max_records: u32) -> Result<Vec<ParsedRecord>, ApiError> {
    let mut cursor = Cursor { body, at: 0 };
    if cursor.take(4, "the magic")?.as_ref() != MAGIC {
        return Err(ApiError::invalid_request(format!(
            "a {CONTENT_TYPE} body starts with \"SLTR\""
        )));
    }
    let version = cursor.array::<1>("the version")?[0];
    if version != 1 {
        return Err(ApiError::invalid_request(format!(
            "binary body version {version} is not supported (1 is)"
        )));
    }
    let count = cursor.u32("the record count")?;
    if count == 0 {
        return Err(ApiError::invalid_request(
            "records must hold at least one record",
        ));
    }
    if count > max_records {
        return Err(ApiError::new(
            silt_sdk::wire::ErrorCode::TooManyRecords,
            format!(
                "{count} records in one request; the limit is {max_records} (server.max_records_per_request)"
            ),
        ));
    }
    let mut records = Vec::with_capacity(count as usize);
    for index in 0..count {
        let flags = cursor.array::<1>("record flags")?[0];
        if flags & 0b1110_0000 != 0 || flags & 0b11 == 3 {
            return Err(ApiError::invalid_record(format!(
                "record {index} has invalid flags {flags:#010b}"
            )));
        }
        let partition = if flags & 0b1000 != 0 {
            Some(cursor.u32("a partition")?)
        } else {
            None
        };
        let timestamp_ms = if flags & 0b1_0000 != 0 {
            i64::from_le_bytes(cursor.array("a timestamp")?)
        } else {
            now
        };
        if timestamp_ms < 0 {
            return Err(ApiError::invalid_record(format!(
                "record {index} has timestamp_ms {timestamp_ms}; it must be at least 0"
            )));
        }
        let (key, hash_key) = match flags & 0b11 {
            0 => (None, None),
            kind => {
                let len = cursor.u32("a key length")? as usize;
                let bytes = cursor.take(len, "a key")?;
                if kind == 1 {
                    (Some(Payload::bytes(bytes.clone())), Some(bytes.to_vec()))
                } else {
                    let hash = match serde_json::from_slice::<String>(&bytes) {
                        Ok(text) => text.into_bytes(),
                        Err(_) => bytes.to_vec(),
                    };
                    (
                        Some(json_payload(bytes, &format!("record {index} key"))?),
                        Some(hash),
                    )
                }
            }
        };
        let len = cursor.u32("a value length")? as usize;
        let bytes = cursor.take(len, "a value")?;
        let value = if flags & 0b100 != 0 {
            json_payload(bytes, &format!("record {index} value"))?
        } else {
            Payload::bytes(bytes)
        };
        let header_count = cursor.u16("a header count")?;
        let mut headers = Vec::with_capacity(usize::from(header_count).min(64));
        for _ in 0..header_count {
            let name_len = usize::from(cursor.u16("a header name length")?);
            let name = cursor.text(name_len, "a header name")?;
            let value_len = cursor.u32("a header value length")? as usize;
            let text = cursor.text(value_len, "a header value")?;
            headers.push((name, text));
        }
        let record = Record {
            timestamp_ms,
            key,
            value,
            headers,
        };
        records.push((record, hash_key, partition));
    }
    if cursor.at != body.len() {
        return Err(ApiError::invalid_request(format!(
            "binary body has {} bytes after its {count} records",
            body.len() - cursor.at
        )));
    }
    Ok(records)
}

/// Encodes records in the binary body format (used by tests and `silt-loadgen`'s
/// twin of this function).
pub fn encode(records: &[ParsedRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(1);
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for (record, _, partition) in records {
        let key_kind = match &record.key {
            None => 0u8,
            Some(k) if k.kind == silt_bookie::record::PayloadKind::Bytes => 1,
            Some(_) => 2,
        };
        let value_kind = u8::from(record.value.kind == silt_bookie::record::PayloadKind::Json);
        let flags = key_kind | (value_kind << 2) | (u8::from(partition.is_some()) << 3) | (1 << 4);
        out.push(flags);
        if let Some(p) = partition {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&record.timestamp_ms.to_le_bytes());
        if let Some(key) = &record.key {
            out.extend_from_slice(&(key.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&key.data);
        }
        out.extend_from_slice(&(record.value.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&record.value.data);
        out.extend_from_slice(&(record.headers.len() as u16).to_le_bytes());
        for (name, value) in &record.headers {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<ParsedRecord> {
        vec![
            (
                Record {
                    timestamp_ms: 7,
                    key: Some(Payload::json(Bytes::from_static(b"\"k\""))),
                    value: Payload::json(Bytes::from_static(b"{\"a\":1}")),
                    headers: vec![("h".into(), "v".into())],
                },
                Some(b"k".to_vec()),
                Some(2),
            ),
            (
                Record {
                    timestamp_ms: 8,
                    key: None,
                    value: Payload::bytes(vec![0u8, 255]),
                    headers: vec![],
                },
                None,
                None,
            ),
        ]
    }

    #[test]
    fn round_trips() {
        let body = Bytes::from(encode(&sample()));
        let parsed = parse(&body, 0, 10).unwrap();
        assert_eq!(parsed, sample());
    }

    #[test]
    fn every_truncation_and_bad_field_is_an_error() {
        let body = encode(&sample());
        for cut in 0..body.len() {
            assert!(
                parse(&Bytes::from(body[..cut].to_vec()), 0, 10).is_err(),
                "{cut}"
            );
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(parse(&Bytes::from(trailing), 0, 10).is_err());
        assert!(
            parse(&Bytes::from(body.clone()), 0, 1).is_err(),
            "too many records"
        );
        let mut bad_json = sample();
        bad_json[0].0.value = Payload::json(Bytes::from_static(b"{nope"));
        assert!(parse(&Bytes::from(encode(&bad_json)), 0, 10).is_err());
        let mut bad_flags = body;
        bad_flags[9] = 0xff;
        assert!(parse(&Bytes::from(bad_flags), 0, 10).is_err());
    }
}
