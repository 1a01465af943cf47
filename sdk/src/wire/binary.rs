//! The binary produce body, `Content-Type: application/x-silt-records`: the records of a
//! JSON produce body without JSON's cost (no base64, no escaping). This module is the one
//! definition of the format: the broker decodes with [`decode`], the SDK, `silt-loadgen`
//! and the tests encode with [`encode`]. Layout (integers little-endian):
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
//! The body ends exactly after the last record. Header names and values are UTF-8. Whether
//! a JSON-kind key or value really is JSON is the broker's rule, not the framing's: decoding
//! hands back positions, and the broker checks the bytes there with
//! [`crate::wire::json_check`].

use std::ops::Range;

/// The content type of a binary produce body.
pub const CONTENT_TYPE: &str = "application/x-silt-records";
/// First bytes of a binary produce body.
pub const MAGIC: &[u8; 4] = b"SLTR";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;

const KEY_KIND_MASK: u8 = 0b11;
const VALUE_JSON: u8 = 0b100;
const HAS_PARTITION: u8 = 0b1000;
const HAS_TIMESTAMP: u8 = 0b1_0000;
const RESERVED: u8 = 0b1110_0000;

/// How a key or value is stored and fetched back: raw bytes (fetched as `*_b64`) or JSON
/// text (fetched as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw bytes.
    Bytes,
    /// JSON text.
    Json,
}

/// One record to encode; the slices are written as they are.
#[derive(Debug, Clone, Copy)]
pub struct BinaryRecord<'a> {
    /// The key and its kind, or no key.
    pub key: Option<(Kind, &'a [u8])>,
    /// The value and its kind.
    pub value: (Kind, &'a [u8]),
    /// Headers, `(name, value)`.
    pub headers: &'a [(String, String)],
    /// An explicit partition; `None` lets the broker pick (key hash, else sticky).
    pub partition: Option<u32>,
    /// Milliseconds since the Unix epoch; `None` takes the broker's clock.
    pub timestamp_ms: Option<i64>,
}

impl<'a> BinaryRecord<'a> {
    /// A keyless, headerless record of raw bytes.
    pub fn bytes(value: &'a [u8]) -> Self {
        BinaryRecord {
            key: None,
            value: (Kind::Bytes, value),
            headers: &[],
            partition: None,
            timestamp_ms: None,
        }
    }
}

/// One decoded record: where its key and value lie in the body (so a caller holding the
/// body in a shared buffer can slice it without a copy), with its headers and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    /// The key's kind and byte range in the body, or no key.
    pub key: Option<(Kind, Range<usize>)>,
    /// The value's kind and byte range in the body.
    pub value: (Kind, Range<usize>),
    /// Headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The explicit partition, if any.
    pub partition: Option<u32>,
    /// The record's timestamp, if the body carries one (never negative).
    pub timestamp_ms: Option<i64>,
}

/// Why a binary body cannot be decoded. The messages name the byte or record at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The framing is broken: magic, version, truncation, trailing bytes, no records.
    #[error("{0}")]
    Malformed(String),
    /// One record is invalid (flags, timestamp, a header that is not UTF-8).
    #[error("{0}")]
    InvalidRecord(String),
    /// More records than the receiver accepts; checked before anything is allocated.
    #[error("{count} records in one request; the limit is {max} (server.max_records_per_request)")]
    TooManyRecords {
        /// Records the body declares.
        count: u32,
        /// The receiver's limit.
        max: u32,
    },
}

/// Encodes `records` as a binary produce body.
pub fn encode(records: &[BinaryRecord<'_>]) -> Vec<u8> {
    let size: usize = records.iter().map(encoded_record_len).sum();
    let mut out = Vec::with_capacity(9 + size);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&len_u32(records.len()).to_le_bytes());
    for record in records {
        encode_record(&mut out, record);
    }
    out
}

fn encoded_record_len(record: &BinaryRecord<'_>) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| 6 + name.len() + value.len())
        .sum();
    1 + 4
        + 8
        + record.key.map_or(0, |(_, key)| 4 + key.len())
        + 4
        + record.value.1.len()
        + 2
        + headers
}

fn encode_record(out: &mut Vec<u8>, record: &BinaryRecord<'_>) {
    let key_kind = match record.key {
        None => 0u8,
        Some((Kind::Bytes, _)) => 1,
        Some((Kind::Json, _)) => 2,
    };
    let mut flags = key_kind;
    if record.value.0 == Kind::Json {
        flags |= VALUE_JSON;
    }
    if record.partition.is_some() {
        flags |= HAS_PARTITION;
    }
    if record.timestamp_ms.is_some() {
        flags |= HAS_TIMESTAMP;
    }
    out.push(flags);
    if let Some(partition) = record.partition {
        out.extend_from_slice(&partition.to_le_bytes());
    }
    if let Some(timestamp) = record.timestamp_ms {
        out.extend_from_slice(&timestamp.to_le_bytes());
    }
    if let Some((_, key)) = record.key {
        put_bytes(out, key);
    }
    put_bytes(out, record.value.1);
    out.extend_from_slice(
        &u16::try_from(record.headers.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    for (name, value) in record.headers.iter().take(usize::from(u16::MAX)) {
        out.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(&name.as_bytes()[..name.len().min(usize::from(u16::MAX))]);
        put_bytes(out, value.as_bytes());
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&len_u32(bytes.len()).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Lengths past `u32::MAX` cannot be framed; they are far beyond any request limit, so the
/// broker refuses such a body anyway.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Decodes a binary produce body. `max_records` is checked before anything is allocated
/// for the records.
pub fn decode(body: &[u8], max_records: u32) -> Result<Vec<DecodedRecord>, BinaryError> {
    let mut cursor = Cursor { body, at: 0 };
    let count = cursor.header(max_records)?;
    let mut records = Vec::with_capacity(count as usize);
    for index in 0..count {
        records.push(cursor.record(index)?);
    }
    if cursor.at != body.len() {
        return Err(BinaryError::Malformed(format!(
            "binary body has {} bytes after its {count} records",
            body.len() - cursor.at
        )));
    }
    Ok(records)
}

struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Magic, version and record count.
    fn header(&mut self, max_records: u32) -> Result<u32, BinaryError> {
        if self.slice(4, "the magic")? != MAGIC {
            return Err(BinaryError::Malformed(format!(
                "a {CONTENT_TYPE} body starts with \"SLTR\""
            )));
        }
        let version = self.array::<1>("the version")?[0];
        if version != VERSION {
            return Err(BinaryError::Malformed(format!(
                "binary body version {version} is not supported ({VERSION} is)"
            )));
        }
        let count = self.u32("the record count")?;
        if count == 0 {
            return Err(BinaryError::Malformed(
                "records must hold at least one record".to_owned(),
            ));
        }
        if count > max_records {
            return Err(BinaryError::TooManyRecords {
                count,
                max: max_records,
            });
        }
        Ok(count)
    }

    fn record(&mut self, index: u32) -> Result<DecodedRecord, BinaryError> {
        let flags = self.array::<1>("record flags")?[0];
        if flags & RESERVED != 0 || flags & KEY_KIND_MASK == 3 {
            return Err(BinaryError::InvalidRecord(format!(
                "record {index} has invalid flags {flags:#010b}"
            )));
        }
        let partition = match flags & HAS_PARTITION {
            0 => None,
            _ => Some(self.u32("a partition")?),
        };
        let timestamp_ms = match flags & HAS_TIMESTAMP {
            0 => None,
            _ => Some(self.timestamp(index)?),
        };
        let key = match flags & KEY_KIND_MASK {
            0 => None,
            1 => Some((Kind::Bytes, self.sized("a key length", "a key")?)),
            _ => Some((Kind::Json, self.sized("a key length", "a key")?)),
        };
        let value_kind = if flags & VALUE_JSON != 0 {
            Kind::Json
        } else {
            Kind::Bytes
        };
        let value = (value_kind, self.sized("a value length", "a value")?);
        let headers = self.headers()?;
        Ok(DecodedRecord {
            key,
            value,
            headers,
            partition,
            timestamp_ms,
        })
    }

    fn timestamp(&mut self, index: u32) -> Result<i64, BinaryError> {
        let timestamp_ms = i64::from_le_bytes(self.array("a timestamp")?);
        if timestamp_ms < 0 {
            return Err(BinaryError::InvalidRecord(format!(
                "record {index} has timestamp_ms {timestamp_ms}; it must be at least 0"
            )));
        }
        Ok(timestamp_ms)
    }

    fn headers(&mut self) -> Result<Vec<(String, String)>, BinaryError> {
        let count = self.u16("a header count")?;
        let mut headers = Vec::with_capacity(usize::from(count).min(64));
        for _ in 0..count {
            let name_len = usize::from(self.u16("a header name length")?);
            let name = self.text(name_len, "a header name")?;
            let value_len = self.u32("a header value length")? as usize;
            let value = self.text(value_len, "a header value")?;
            headers.push((name, value));
        }
        Ok(headers)
    }

    /// Moves past `n` bytes and returns their range in the body.
    fn take(&mut self, n: usize, what: &str) -> Result<Range<usize>, BinaryError> {
        let Some(end) = self.at.checked_add(n).filter(|end| *end <= self.body.len()) else {
            return Err(BinaryError::Malformed(format!(
                "binary body ends inside {what} at byte {} (needs {n} bytes, {} left)",
                self.at,
                self.body.len() - self.at
            )));
        };
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }

    fn slice(&mut self, n: usize, what: &str) -> Result<&[u8], BinaryError> {
        let range = self.take(n, what)?;
        Ok(&self.body[range])
    }

    /// A `u32` length followed by that many bytes.
    fn sized(&mut self, length: &str, what: &str) -> Result<Range<usize>, BinaryError> {
        let len = self.u32(length)? as usize;
        self.take(len, what)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], BinaryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(N, what)?);
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, BinaryError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, BinaryError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn text(&mut self, n: usize, what: &str) -> Result<String, BinaryError> {
        let bytes = self.slice(n, what)?.to_vec();
        String::from_utf8(bytes)
            .map_err(|_| BinaryError::InvalidRecord(format!("{what} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> Vec<(String, String)> {
        vec![("h".to_owned(), "v".to_owned())]
    }

    fn sample(headers: &[(String, String)]) -> Vec<BinaryRecord<'_>> {
        vec![
            BinaryRecord {
                key: Some((Kind::Json, b"\"k\"")),
                value: (Kind::Json, b"{\"a\":1}"),
                headers,
                partition: Some(2),
                timestamp_ms: Some(7),
            },
            BinaryRecord::bytes(&[0, 255]),
        ]
    }

    #[test]
    fn round_trips_with_positions_into_the_body() {
        let headers = headers();
        let body = encode(&sample(&headers));
        let decoded = decode(&body, 10).unwrap();
        assert_eq!(decoded.len(), 2);
        let (kind, key) = decoded[0].key.clone().unwrap();
        assert_eq!((kind, &body[key]), (Kind::Json, &b"\"k\""[..]));
        assert_eq!(&body[decoded[0].value.1.clone()], b"{\"a\":1}");
        assert_eq!(decoded[0].headers, headers);
        assert_eq!(
            (decoded[0].partition, decoded[0].timestamp_ms),
            (Some(2), Some(7))
        );
        assert_eq!(decoded[1].value.0, Kind::Bytes);
        assert_eq!(&body[decoded[1].value.1.clone()], &[0, 255]);
        assert_eq!(
            (decoded[1].partition, decoded[1].timestamp_ms),
            (None, None)
        );
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let body = encode(&[BinaryRecord::bytes(b"v")]);
        assert_eq!(
            body,
            b"SLTR\x01\x01\x00\x00\x00\x00\x01\x00\x00\x00v\x00\x00".to_vec()
        );
    }

    #[test]
    fn every_truncation_and_bad_field_is_an_error() {
        let headers = headers();
        let body = encode(&sample(&headers));
        for cut in 0..body.len() {
            assert!(decode(&body[..cut], 10).is_err(), "{cut}");
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(matches!(
            decode(&trailing, 10),
            Err(BinaryError::Malformed(_))
        ));
        assert_eq!(
            decode(&body, 1),
            Err(BinaryError::TooManyRecords { count: 2, max: 1 })
        );
        let mut bad_flags = body.clone();
        bad_flags[9] = 0xff;
        assert!(matches!(
            decode(&bad_flags, 10),
            Err(BinaryError::InvalidRecord(_))
        ));
        let mut bad_version = body;
        bad_version[4] = 2;
        assert!(decode(&bad_version, 10).is_err());
        let negative = encode(&[BinaryRecord {
            timestamp_ms: Some(-1),
            ..BinaryRecord::bytes(b"v")
        }]);
        assert!(matches!(
            decode(&negative, 10),
            Err(BinaryError::InvalidRecord(_))
        ));
    }
}
