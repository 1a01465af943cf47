//! Segment footer and trailer: the chunk index at the end of every segment object.
//!
//! Layout (little-endian, FORMAT.md "Segment"): the footer is `footer_version: u8`,
//! `chunk_count: u32`, then `chunk_count` fixed 44-byte [`ChunkInfo`] entries; the trailer
//! is the last [`TRAILER_LEN`] bytes: `footer_len: u32`, `footer_crc32c: u32`,
//! `format_version: u32`, `magic: b"SILTSEG1"`.
//!
//! Invariants: parsing checks the magic, both versions, the footer CRC32C, the footer
//! length against the chunk count, that chunks tile `[0, footer_start)` exactly in order
//! and that `(topic_id, partition)` is strictly increasing. Any failure is
//! [`Error::Corrupt`] or [`Error::UnsupportedVersion`]; nothing here panics on any input.

use crate::batch::{BATCH_HEADER_LEN, read_i64, read_u32, read_u64};
use crate::error::{Error, Result};

/// Magic bytes ending every segment object.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SILTSEG1";
/// Segment format version written in the trailer.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Footer layout version (first footer byte).
pub const FOOTER_VERSION: u8 = 1;
/// Length of the fixed trailer at the very end of a segment.
pub const TRAILER_LEN: usize = 20;
/// Length of one chunk entry in the footer.
pub const CHUNK_ENTRY_LEN: usize = 44;
/// Fixed part of the footer before the entries (version + chunk count).
const FOOTER_HEADER_LEN: usize = 5;
/// Suffix length a reader GETs first: footer + trailer of any segment with up to ~1,480
/// chunks fit, so one request is the common case.
pub const SUFFIX_READ_LEN: usize = 64 * 1024;

/// Where one partition's chunk lives in a segment, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkInfo {
    /// Topic id (assigned by the metadata service).
    pub topic_id: u64,
    /// Partition number.
    pub partition: u32,
    /// Byte offset of the chunk in the segment object.
    pub position: u64,
    /// Length of the chunk (the whole framed batch) in bytes.
    pub length: u32,
    /// Records in the chunk.
    pub record_count: u32,
    /// Timestamp of the chunk's first record.
    pub first_timestamp_ms: i64,
    /// Largest record timestamp in the chunk.
    pub max_timestamp_ms: i64,
}

/// Result of [`parse_footer`] on the tail of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FooterRead {
    /// The tail held footer and trailer: the chunk index.
    Complete(Vec<ChunkInfo>),
    /// The tail was too short: read this many bytes from the end of the object instead.
    NeedBytes(u64),
}

/// Appends the footer and trailer for `chunks` (which must tile the bytes before them).
pub(crate) fn encode_footer(chunks: &[ChunkInfo], out: &mut Vec<u8>) -> Result<()> {
    let chunk_count = u32::try_from(chunks.len())
        .map_err(|_| Error::corrupt("segment has more than u32::MAX chunks"))?;
    let start = out.len();
    out.push(FOOTER_VERSION);
    out.extend_from_slice(&chunk_count.to_le_bytes());
    for chunk in chunks {
        out.extend_from_slice(&chunk.topic_id.to_le_bytes());
        out.extend_from_slice(&chunk.partition.to_le_bytes());
        out.extend_from_slice(&chunk.position.to_le_bytes());
        out.extend_from_slice(&chunk.length.to_le_bytes());
        out.extend_from_slice(&chunk.record_count.to_le_bytes());
        out.extend_from_slice(&chunk.first_timestamp_ms.to_le_bytes());
        out.extend_from_slice(&chunk.max_timestamp_ms.to_le_bytes());
    }
    let footer = &out[start..];
    let footer_len =
        u32::try_from(footer.len()).map_err(|_| Error::corrupt("segment footer exceeds 4 GiB"))?;
    let crc = crc32c::crc32c(footer);
    out.extend_from_slice(&footer_len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&SEGMENT_MAGIC);
    Ok(())
}

/// Parses footer and trailer from `tail`, the last `tail.len()` bytes of an object of
/// `object_len` bytes.
pub fn parse_footer(tail: &[u8], object_len: u64) -> Result<FooterRead> {
    if object_len < TRAILER_LEN as u64 {
        return Err(Error::corrupt(format!(
            "segment of {object_len} bytes is shorter than its {TRAILER_LEN}-byte trailer"
        )));
    }
    if tail.len() as u64 > object_len {
        return Err(Error::corrupt(format!(
            "segment tail of {} bytes is longer than the {object_len}-byte object",
            tail.len()
        )));
    }
    if tail.len() < TRAILER_LEN {
        return Ok(FooterRead::NeedBytes(TRAILER_LEN as u64));
    }
    let trailer = &tail[tail.len() - TRAILER_LEN..];
    if trailer[12..20] != SEGMENT_MAGIC {
        return Err(Error::corrupt("segment trailer magic is not SILTSEG1"));
    }
    let format_version = read_u32(trailer, 8);
    if format_version != SEGMENT_FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            what: "segment",
            version: format_version,
        });
    }
    let footer_len = u64::from(read_u32(trailer, 0));
    let needed = footer_len + TRAILER_LEN as u64;
    if needed > object_len {
        return Err(Error::corrupt(format!(
            "segment footer length {footer_len} exceeds the {object_len}-byte object"
        )));
    }
    if (tail.len() as u64) < needed {
        return Ok(FooterRead::NeedBytes(needed));
    }
    let footer = &tail[tail.len() - needed as usize..tail.len() - TRAILER_LEN];
    let stored_crc = read_u32(trailer, 4);
    let actual_crc = crc32c::crc32c(footer);
    if stored_crc != actual_crc {
        return Err(Error::corrupt(format!(
            "segment footer crc32c mismatch: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
        )));
    }
    let footer_start = object_len - needed;
    decode_footer(footer, footer_start).map(FooterRead::Complete)
}

/// Reads the chunk index of a segment held whole in memory.
pub fn read_footer(segment: &[u8]) -> Result<Vec<ChunkInfo>> {
    match parse_footer(segment, segment.len() as u64)? {
        FooterRead::Complete(chunks) => Ok(chunks),
        // Unreachable for a whole object, but never panic on input.
        FooterRead::NeedBytes(needed) => Err(Error::corrupt(format!(
            "segment footer needs {needed} bytes of a {}-byte object",
            segment.len()
        ))),
    }
}

fn decode_footer(footer: &[u8], footer_start: u64) -> Result<Vec<ChunkInfo>> {
    if footer.len() < FOOTER_HEADER_LEN {
        return Err(Error::corrupt(format!(
            "segment footer of {} bytes is too short",
            footer.len()
        )));
    }
    if footer[0] != FOOTER_VERSION {
        return Err(Error::UnsupportedVersion {
            what: "segment footer",
            version: u32::from(footer[0]),
        });
    }
    let chunk_count = read_u32(footer, 1) as usize;
    let entries = &footer[FOOTER_HEADER_LEN..];
    if chunk_count.checked_mul(CHUNK_ENTRY_LEN) != Some(entries.len()) {
        return Err(Error::corrupt(format!(
            "segment footer of {} bytes does not hold {chunk_count} chunk entries",
            footer.len()
        )));
    }
    let mut chunks: Vec<ChunkInfo> = Vec::with_capacity(chunk_count);
    let mut expected_position = 0u64;
    for entry in entries.chunks_exact(CHUNK_ENTRY_LEN) {
        let chunk = ChunkInfo {
            topic_id: read_u64(entry, 0),
            partition: read_u32(entry, 8),
            position: read_u64(entry, 12),
            length: read_u32(entry, 20),
            record_count: read_u32(entry, 24),
            first_timestamp_ms: read_i64(entry, 28),
            max_timestamp_ms: read_i64(entry, 36),
        };
        if chunk.position != expected_position || (chunk.length as usize) < BATCH_HEADER_LEN {
            return Err(Error::corrupt(format!(
                "segment chunk at {} of {} bytes does not follow the previous chunk (expected position {expected_position})",
                chunk.position, chunk.length
            )));
        }
        if let Some(previous) = chunks.last()
            && (previous.topic_id, previous.partition) >= (chunk.topic_id, chunk.partition)
        {
            return Err(Error::corrupt(
                "segment chunks are not in strictly increasing (topic, partition) order",
            ));
        }
        expected_position = chunk.position + u64::from(chunk.length);
        chunks.push(chunk);
    }
    if expected_position != footer_start {
        return Err(Error::corrupt(format!(
            "segment chunks end at {expected_position} but the footer starts at {footer_start}"
        )));
    }
    Ok(chunks)
}
