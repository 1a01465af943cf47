//! Records and their byte encoding inside a batch payload.
//!
//! Owns the [`Record`] type and the per-record layout (FORMAT.md, "Record"): a flags
//! byte, a zigzag varint timestamp delta against the batch's first timestamp, length-
//! prefixed key and value, and length-prefixed UTF-8 headers. Integers are unsigned
//! LEB128 varints; signed deltas are zigzag encoded first.
//!
//! Invariants: decoding checks every length against the remaining bytes before slicing
//! or allocating, rejects unknown flag bits and non-UTF-8 headers, and never panics.
//! Offsets are not stored: record `i` of a chunk has offset `base_offset + i`.

use bytes::Bytes;

use crate::error::{Error, Result};

/// How a key or value's bytes are to be interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// Opaque bytes (sent and returned base64-encoded over HTTP).
    Bytes,
    /// Compact JSON text.
    Json,
}

/// A key or value: bytes plus how to interpret them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payload {
    /// Interpretation of `data`.
    pub kind: PayloadKind,
    /// The bytes (for [`PayloadKind::Json`], compact JSON text).
    pub data: Bytes,
}

impl Payload {
    /// An opaque-bytes payload.
    pub fn bytes(data: impl Into<Bytes>) -> Self {
        Self {
            kind: PayloadKind::Bytes,
            data: data.into(),
        }
    }

    /// A JSON payload; `text` must already be compact JSON.
    pub fn json(text: impl Into<Bytes>) -> Self {
        Self {
            kind: PayloadKind::Json,
            data: text.into(),
        }
    }
}

/// One record as stored. Its offset is positional (see module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// Producer or broker timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Optional key.
    pub key: Option<Payload>,
    /// The value (may be empty).
    pub value: Payload,
    /// Headers in the order given.
    pub headers: Vec<(String, String)>,
}

/// Flag bits of the record's first byte.
const KEY_KIND_MASK: u8 = 0b0000_0011;
const KEY_NONE: u8 = 0;
const KEY_BYTES: u8 = 1;
const KEY_JSON: u8 = 2;
const VALUE_JSON: u8 = 0b0000_0100;
const KNOWN_FLAGS: u8 = KEY_KIND_MASK | VALUE_JSON;

impl Record {
    /// Approximate encoded size in bytes (an upper bound for small fields; used for size
    /// limits and the seal decision, not for layout).
    pub fn encoded_len_hint(&self) -> usize {
        // flags + timestamp varint (<= 10) + value length varint (<= 5) + header count (<= 5)
        let mut len = 1 + 10 + 5 + self.value.data.len() + 5;
        if let Some(key) = &self.key {
            len += 5 + key.data.len();
        }
        for (name, value) in &self.headers {
            len += 10 + name.len() + value.len();
        }
        len
    }
}

/// Appends one record, its timestamp encoded relative to `base_timestamp_ms`.
pub fn encode_record(record: &Record, base_timestamp_ms: i64, out: &mut Vec<u8>) {
    let key_flags = match &record.key {
        None => KEY_NONE,
        Some(Payload {
            kind: PayloadKind::Bytes,
            ..
        }) => KEY_BYTES,
        Some(Payload {
            kind: PayloadKind::Json,
            ..
        }) => KEY_JSON,
    };
    let value_flags = match record.value.kind {
        PayloadKind::Bytes => 0,
        PayloadKind::Json => VALUE_JSON,
    };
    out.push(key_flags | value_flags);
    put_varint(
        out,
        zigzag_encode(record.timestamp_ms.wrapping_sub(base_timestamp_ms)),
    );
    if let Some(key) = &record.key {
        put_bytes(out, &key.data);
    }
    put_bytes(out, &record.value.data);
    put_varint(out, record.headers.len() as u64);
    for (name, value) in &record.headers {
        put_bytes(out, name.as_bytes());
        put_bytes(out, value.as_bytes());
    }
}

/// Decodes one record from the front of `input`, advancing it.
pub(crate) fn decode_record(input: &mut &[u8], base_timestamp_ms: i64) -> Result<Record> {
    let flags = take_u8(input, "record flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::corrupt(format!(
            "record has unknown flags {flags:#04x}"
        )));
    }
    let delta = zigzag_decode(take_varint(input, "record timestamp delta")?);
    let timestamp_ms = base_timestamp_ms.wrapping_add(delta);
    let key_kind = match flags & KEY_KIND_MASK {
        KEY_NONE => None,
        KEY_BYTES => Some(PayloadKind::Bytes),
        KEY_JSON => Some(PayloadKind::Json),
        other => {
            return Err(Error::corrupt(format!(
                "record has unknown key kind {other}"
            )));
        }
    };
    let key = match key_kind {
        Some(kind) => Some(Payload {
            kind,
            data: Bytes::copy_from_slice(take_bytes(input, "record key")?),
        }),
        None => None,
    };
    let value_kind = if flags & VALUE_JSON != 0 {
        PayloadKind::Json
    } else {
        PayloadKind::Bytes
    };
    let value = Payload {
        kind: value_kind,
        data: Bytes::copy_from_slice(take_bytes(input, "record value")?),
    };
    let header_count = take_varint(input, "record header count")?;
    // Each header takes at least two bytes: never reserve more than the input can hold.
    let max_headers = (input.len() / 2) as u64;
    if header_count > max_headers {
        return Err(Error::corrupt(format!(
            "record header count {header_count} exceeds remaining {} bytes",
            input.len()
        )));
    }
    let mut headers = Vec::with_capacity(header_count as usize);
    for _ in 0..header_count {
        let name = take_str(input, "record header name")?;
        let value = take_str(input, "record header value")?;
        headers.push((name, value));
    }
    Ok(Record {
        timestamp_ms,
        key,
        value,
        headers,
    })
}

/// Zigzag-encodes a signed integer (small magnitudes become small unsigned values).
pub(crate) fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Inverse of [`zigzag_encode`].
pub(crate) fn zigzag_decode(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Appends `value` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn take_u8(input: &mut &[u8], what: &str) -> Result<u8> {
    let (&first, rest) = input
        .split_first()
        .ok_or_else(|| Error::corrupt(format!("{what}: unexpected end of data")))?;
    *input = rest;
    Ok(first)
}

/// Reads an unsigned LEB128 varint; rejects more than 10 bytes and overflow of u64.
pub(crate) fn take_varint(input: &mut &[u8], what: &str) -> Result<u64> {
    let mut value: u64 = 0;
    for index in 0..10 {
        let byte = take_u8(input, what)?;
        let bits = u64::from(byte & 0x7f);
        if index == 9 && byte > 1 {
            return Err(Error::corrupt(format!("{what}: varint overflows u64")));
        }
        value |= bits << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::corrupt(format!(
        "{what}: varint longer than 10 bytes"
    )))
}

fn take_bytes<'a>(input: &mut &'a [u8], what: &str) -> Result<&'a [u8]> {
    let len = take_varint(input, what)?;
    if len > input.len() as u64 {
        return Err(Error::corrupt(format!(
            "{what}: length {len} exceeds remaining {} bytes",
            input.len()
        )));
    }
    let (bytes, rest) = input.split_at(len as usize);
    *input = rest;
    Ok(bytes)
}

fn take_str(input: &mut &[u8], what: &str) -> Result<String> {
    let bytes = take_bytes(input, what)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Error::corrupt(format!("{what}: not valid utf-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for value in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(zigzag_decode(zigzag_encode(value)), value);
        }
        assert_eq!(zigzag_encode(-1), 1);
        assert_eq!(zigzag_encode(1), 2);
    }

    #[test]
    fn varint_round_trips_and_rejects_overflow() {
        for value in [0, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut input = out.as_slice();
            assert_eq!(take_varint(&mut input, "v").unwrap(), value);
            assert!(input.is_empty());
        }
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let too_big = [0xff; 10];
        assert!(take_varint(&mut &too_big[..], "v").is_err());
        let truncated = [0x80];
        assert!(take_varint(&mut &truncated[..], "v").is_err());
    }

    #[test]
    fn record_round_trips() {
        let record = Record {
            timestamp_ms: 990,
            key: Some(Payload::json(r#"{"id":1}"#)),
            value: Payload::bytes(vec![1, 2, 3]),
            headers: vec![("h".into(), "é".into())],
        };
        let mut out = Vec::new();
        encode_record(&record, 1000, &mut out);
        assert!(out.len() <= record.encoded_len_hint());
        let mut input = out.as_slice();
        assert_eq!(decode_record(&mut input, 1000).unwrap(), record);
        assert!(input.is_empty());
    }

    #[test]
    fn huge_header_count_is_rejected_without_allocating() {
        let mut out = vec![0u8, 0, 0];
        put_varint(&mut out, u64::MAX >> 1);
        assert!(decode_record(&mut out.as_slice(), 0).is_err());
    }
}
