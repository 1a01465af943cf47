//! Batches: one chunk of one partition's records, framed and CRC32C-protected.
//!
//! Owns the batch frame (FORMAT.md, "Batch"): a 34-byte little-endian header (total
//! length, version, CRC32C, attributes, record count, timestamps, uncompressed payload
//! length) followed by the payload, raw or zstd-compressed.
//!
//! Invariants: [`decode_batch`] checks the total length against the buffer, the version,
//! the CRC32C over everything after the CRC field, the attributes, the decompressed
//! length (never decompressing past the declared length, never allocating from an
//! unchecked length), and that exactly `record_count` records fill the payload. It returns
//! [`Error::Corrupt`] (or [`Error::UnsupportedVersion`]) on any mismatch and never panics.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::record::{Record, decode_record, encode_record};

/// Current batch format version (byte 4 of the frame).
pub const BATCH_VERSION: u8 = 1;
/// Length of the fixed batch header in bytes.
pub const BATCH_HEADER_LEN: usize = 34;
/// Byte offset of the CRC32C field; the CRC covers `[CRC_COVERED_FROM, total_len)`.
const CRC_OFFSET: usize = 5;
const CRC_COVERED_FROM: usize = 9;
/// Attribute bits holding the compression codec.
const COMPRESSION_MASK: u8 = 0b0000_0111;
/// zstd level used for every compressed batch (fixed: output must be reproducible).
const ZSTD_LEVEL: i32 = 3;
/// Smallest possible encoded record: flags, timestamp delta, value length, header count.
const MIN_RECORD_LEN: u64 = 4;

/// Payload compression of a batch (a per-topic setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// zstd, level 3.
    Zstd,
}

impl Compression {
    fn attribute_bits(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }

    fn from_attribute_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The name used in configuration ("none", "zstd").
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error parsing a [`Compression`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {0:?} (expected \"none\" or \"zstd\")")]
pub struct ParseCompressionError(pub String);

impl FromStr for Compression {
    type Err = ParseCompressionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            other => Err(ParseCompressionError(other.to_owned())),
        }
    }
}

/// Summary of a batch, written into its header (and into the segment footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchInfo {
    /// Number of records in the batch.
    pub record_count: u32,
    /// Timestamp of the first record; record timestamps are encoded relative to it.
    pub first_timestamp_ms: i64,
    /// Largest record timestamp.
    pub max_timestamp_ms: i64,
}

impl BatchInfo {
    /// Computes the info of `records` (zeros for an empty slice).
    pub fn of(records: &[Record]) -> Self {
        let first_timestamp_ms = records.first().map_or(0, |record| record.timestamp_ms);
        let max_timestamp_ms = records
            .iter()
            .map(|record| record.timestamp_ms)
            .max()
            .unwrap_or(0);
        Self {
            record_count: u32::try_from(records.len()).unwrap_or(u32::MAX),
            first_timestamp_ms,
            max_timestamp_ms,
        }
    }
}

/// Appends the uncompressed record payload of `records` (timestamps relative to the first).
pub fn encode_records(records: &[Record], out: &mut Vec<u8>) {
    let base = records.first().map_or(0, |record| record.timestamp_ms);
    for record in records {
        encode_record(record, base, out);
    }
}

/// Appends a framed batch: header, then `payload` compressed with `compression`.
///
/// `payload` must be what [`encode_records`] (or [`encode_record`] with base
/// `info.first_timestamp_ms`) produced for `info.record_count` records.
pub fn frame_batch(
    payload: &[u8],
    info: &BatchInfo,
    compression: Compression,
    out: &mut Vec<u8>,
) -> Result<()> {
    let payload_len = u32::try_from(payload.len()).map_err(|_| {
        Error::corrupt(format!(
            "batch payload of {} bytes exceeds 4 GiB",
            payload.len()
        ))
    })?;
    let compressed;
    let stored: &[u8] = match compression {
        Compression::None => payload,
        Compression::Zstd => {
            compressed = zstd::bulk::compress(payload, ZSTD_LEVEL)
                .map_err(|error| Error::io("zstd compressing a batch", error))?;
            &compressed
        }
    };
    let total_len = u32::try_from(BATCH_HEADER_LEN + stored.len())
        .map_err(|_| Error::corrupt("framed batch exceeds 4 GiB"))?;
    let start = out.len();
    out.reserve(total_len as usize);
    out.extend_from_slice(&total_len.to_le_bytes());
    out.push(BATCH_VERSION);
    out.extend_from_slice(&[0; 4]); // CRC, filled below
    out.push(compression.attribute_bits());
    out.extend_from_slice(&info.record_count.to_le_bytes());
    out.extend_from_slice(&info.first_timestamp_ms.to_le_bytes());
    out.extend_from_slice(&info.max_timestamp_ms.to_le_bytes());
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(stored);
    let crc = crc32c::crc32c(&out[start + CRC_COVERED_FROM..]);
    out[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Decoded, verified batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Record count and timestamps.
    pub info: BatchInfo,
    /// Payload compression.
    pub compression: Compression,
    /// Uncompressed payload length.
    pub payload_len: u32,
}

/// Verifies a framed batch (length, version, CRC, attributes) and returns its header.
pub fn verify_batch(bytes: &[u8]) -> Result<BatchHeader> {
    if bytes.len() < BATCH_HEADER_LEN {
        return Err(Error::corrupt(format!(
            "batch of {} bytes is shorter than its {BATCH_HEADER_LEN}-byte header",
            bytes.len()
        )));
    }
    let total_len = read_u32(bytes, 0);
    if total_len as usize != bytes.len() {
        return Err(Error::corrupt(format!(
            "batch length field {total_len} does not match the {} bytes read",
            bytes.len()
        )));
    }
    let version = bytes[4];
    if version != BATCH_VERSION {
        return Err(Error::UnsupportedVersion {
            what: "batch",
            version: u32::from(version),
        });
    }
    let stored_crc = read_u32(bytes, CRC_OFFSET);
    let actual_crc = crc32c::crc32c(&bytes[CRC_COVERED_FROM..]);
    if stored_crc != actual_crc {
        return Err(Error::corrupt(format!(
            "batch crc32c mismatch: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
        )));
    }
    let attributes = bytes[9];
    let compression = if attributes & !COMPRESSION_MASK != 0 {
        None
    } else {
        Compression::from_attribute_bits(attributes & COMPRESSION_MASK)
    }
    .ok_or_else(|| Error::corrupt(format!("batch has unknown attributes {attributes:#04x}")))?;
    let info = BatchInfo {
        record_count: read_u32(bytes, 10),
        first_timestamp_ms: read_i64(bytes, 14),
        max_timestamp_ms: read_i64(bytes, 22),
    };
    let payload_len = read_u32(bytes, 30);
    Ok(BatchHeader {
        info,
        compression,
        payload_len,
    })
}

/// Verifies and decodes a framed batch into its records.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Record>> {
    let header = verify_batch(bytes)?;
    let stored = &bytes[BATCH_HEADER_LEN..];
    let decompressed;
    let payload: &[u8] = match header.compression {
        Compression::None => {
            if stored.len() != header.payload_len as usize {
                return Err(Error::corrupt(format!(
                    "batch payload is {} bytes, header says {}",
                    stored.len(),
                    header.payload_len
                )));
            }
            stored
        }
        Compression::Zstd => {
            decompressed = decompress_capped(stored, header.payload_len)?;
            &decompressed
        }
    };
    let record_count = header.info.record_count;
    if u64::from(record_count) * MIN_RECORD_LEN > payload.len() as u64 {
        return Err(Error::corrupt(format!(
            "batch claims {record_count} records in a {}-byte payload",
            payload.len()
        )));
    }
    let mut records = Vec::with_capacity(record_count as usize);
    let mut input = payload;
    for _ in 0..record_count {
        records.push(decode_record(&mut input, header.info.first_timestamp_ms)?);
    }
    if !input.is_empty() {
        return Err(Error::corrupt(format!(
            "batch has {} bytes after its {record_count} records",
            input.len()
        )));
    }
    Ok(records)
}

/// Decompresses a zstd payload, failing if it is not exactly `declared_len` bytes. Memory
/// grows with the data actually produced, never beyond `declared_len + 1`.
fn decompress_capped(stored: &[u8], declared_len: u32) -> Result<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_buffer(stored)
        .map_err(|error| Error::corrupt(format!("batch zstd stream: {error}")))?;
    let mut out = Vec::new();
    decoder
        .take(u64::from(declared_len) + 1)
        .read_to_end(&mut out)
        .map_err(|error| Error::corrupt(format!("batch zstd payload: {error}")))?;
    if out.len() != declared_len as usize {
        return Err(Error::corrupt(format!(
            "batch decompressed to {} bytes, header says {declared_len}",
            out.len()
        )));
    }
    Ok(out)
}

/// Reads a little-endian u32 at `at`; callers have checked the bounds.
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(buf)
}

/// Reads a little-endian u64 at `at`; callers have checked the bounds.
pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

/// Reads a little-endian i64 at `at`; callers have checked the bounds.
pub(crate) fn read_i64(bytes: &[u8], at: usize) -> i64 {
    read_u64(bytes, at) as i64
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::Payload;
    use crate::testing::arb_records;

    fn frame(records: &[Record], compression: Compression) -> Vec<u8> {
        let mut payload = Vec::new();
        encode_records(records, &mut payload);
        let mut out = Vec::new();
        frame_batch(&payload, &BatchInfo::of(records), compression, &mut out).unwrap();
        out
    }

    fn sample() -> Vec<Record> {
        vec![
            Record {
                timestamp_ms: 1_700_000_000_000,
                key: Some(Payload::bytes(&b"k"[..])),
                value: Payload::json(&b"{\"a\":1}"[..]),
                headers: vec![("trace".into(), "x".into())],
            },
            Record {
                timestamp_ms: 1_699_999_999_000,
                key: None,
                value: Payload::bytes(Vec::new()),
                headers: vec![],
            },
        ]
    }

    #[test]
    fn compression_names_round_trip() {
        for compression in [Compression::None, Compression::Zstd] {
            assert_eq!(
                compression.to_string().parse::<Compression>(),
                Ok(compression)
            );
        }
        assert!("gzip".parse::<Compression>().is_err());
    }

    #[test]
    fn batch_round_trips_and_header_is_as_documented() {
        let records = sample();
        let framed = frame(&records, Compression::None);
        assert_eq!(read_u32(&framed, 0) as usize, framed.len());
        assert_eq!(framed[4], BATCH_VERSION);
        let header = verify_batch(&framed).unwrap();
        assert_eq!(header.info.record_count, 2);
        assert_eq!(header.info.max_timestamp_ms, 1_700_000_000_000);
        assert_eq!(decode_batch(&framed).unwrap(), records);
        assert_eq!(
            decode_batch(&frame(&records, Compression::Zstd)).unwrap(),
            records
        );
    }

    #[test]
    fn truncated_and_extended_batches_are_rejected() {
        let framed = frame(&sample(), Compression::Zstd);
        for len in 0..framed.len() {
            assert!(decode_batch(&framed[..len]).unwrap_err().is_corrupt());
        }
        let mut longer = framed.clone();
        longer.push(0);
        assert!(decode_batch(&longer).is_err());
    }

    #[test]
    fn unknown_version_is_unsupported() {
        let mut framed = frame(&sample(), Compression::None);
        framed[4] = 2;
        let error = decode_batch(&framed).unwrap_err();
        assert_eq!(error.code(), "unsupported_version");
        assert!(error.is_corrupt());
    }

    #[test]
    fn zstd_bomb_is_capped_at_declared_length() {
        // A valid frame whose payload decompresses to far more than it declares.
        let big = vec![0u8; 1 << 20];
        let mut out = Vec::new();
        let info = BatchInfo {
            record_count: 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
        };
        frame_batch(&big, &info, Compression::Zstd, &mut out).unwrap();
        // Rewrite the declared length to 16 bytes and fix the CRC: still rejected.
        out[30..34].copy_from_slice(&16u32.to_le_bytes());
        let crc = crc32c::crc32c(&out[CRC_COVERED_FROM..]);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
        assert!(decode_batch(&out).unwrap_err().is_corrupt());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_batch_round_trips(records in arb_records(8), zstd in any::<bool>()) {
            let compression = if zstd { Compression::Zstd } else { Compression::None };
            let framed = frame(&records, compression);
            prop_assert_eq!(decode_batch(&framed).unwrap(), records);
        }

        #[test]
        fn any_flipped_byte_is_detected(
            records in arb_records(4),
            zstd in any::<bool>(),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let compression = if zstd { Compression::Zstd } else { Compression::None };
            let mut framed = frame(&records, compression);
            let at = position.index(framed.len());
            framed[at] ^= flip;
            prop_assert!(decode_batch(&framed).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&bytes);
        }
    }
}
