//! Segment footer and trailer: the chunk index at the end of every segment object.
//!
//! Layout (little-endian, FORMAT.md "Segment"): the footer is `footer_version: u8`,
//! `chunk_count: u32`, then `chunk_count` fixed-size [`ChunkInfo`] entries: 44 bytes in
//! footer version 1, 64 bytes in version 2 (the v1 entry followed by the chunk's
//! [`ProducerTag`]: `producer_id: u64`, `epoch: u32`, `sequence: u64`, all zero for a chunk
//! without a producer). The trailer is the last [`TRAILER_LEN`] bytes: `footer_len: u32`,
//! `footer_crc32c: u32`, `format_version: u32`, `magic: b"SILTSEG1"`.
//!
//! The writer emits version 1 (byte-identical to segments written before producer tags
//! existed) when no chunk has a producer, and version 2 when at least one has; readers
//! accept both.
//!
//! Invariants: parsing checks the magic, both versions, the footer CRC32C, the footer
//! length against the chunk count, that chunks tile `[0, footer_start)` exactly in order,
//! that `(topic_id, partition, producer)` is strictly increasing (`None` before any
//! producer, producers by `(producer_id, epoch, sequence)`), and that a v2 entry without a
//! producer (`producer_id` 0) has zero epoch and sequence. Any failure is
//! [`Error::Corrupt`] or [`Error::UnsupportedVersion`]; nothing here panics on any input.

use crate::batch::{BATCH_HEADER_LEN, read_i64, read_u32, read_u64};
use crate::error::{Error, Result};

/// Magic bytes ending every segment object.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SILTSEG1";
/// Segment format version written in the trailer.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Footer layout version 1 (first footer byte): 44-byte chunk entries, no producer tags.
/// Written when no chunk of the segment has a producer.
pub const FOOTER_VERSION: u8 = 1;
/// Footer layout version 2 (first footer byte): 64-byte chunk entries carrying a
/// [`ProducerTag`]. Written when at least one chunk of the segment has a producer.
pub const FOOTER_VERSION_V2: u8 = 2;
/// Length of the fixed trailer at the very end of a segment.
pub const TRAILER_LEN: usize = 20;
/// Length of one chunk entry in a version 1 footer ([`FOOTER_VERSION`]).
pub const CHUNK_ENTRY_LEN: usize = 44;
/// Length of one chunk entry in a version 2 footer ([`FOOTER_VERSION_V2`]): the v1 entry,
/// then `producer_id: u64`, `epoch: u32`, `sequence: u64`.
pub const CHUNK_ENTRY_LEN_V2: usize = CHUNK_ENTRY_LEN + 20;
/// Fixed part of the footer before the entries (version + chunk count).
const FOOTER_HEADER_LEN: usize = 5;
/// Suffix length a reader GETs first: footer + trailer of any segment with up to ~1,480
/// chunks (~1,020 with a v2 footer) fit, so one request is the common case.
pub const SUFFIX_READ_LEN: usize = 64 * 1024;

/// The idempotent-producer batch that wrote a chunk: who wrote it (`producer_id`, `epoch`)
/// and the sequence number of its first record.
///
/// Carried in the segment footer (version 2) so that a broker recovering a sealed segment
/// from its local spool after a crash can recommit each chunk with its producer identity;
/// the metadata service deduplicates by `(producer_id, epoch, sequence)`.
///
/// Producer ids start at 1: `0` is never a valid id (the footer encodes "no producer" as
/// id 0, and [`crate::segment::SegmentBuilder::finish`] rejects a tag with id 0).
///
/// The derived ordering is by `(producer_id, epoch, sequence)`; `Option<ProducerTag>`
/// orders `None` first, which is the chunk order inside a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProducerTag {
    /// Producer id assigned by the metadata service; at least 1.
    pub producer_id: u64,
    /// Producer epoch: bumped when a producer id is re-initialised, fencing older
    /// instances.
    pub epoch: u32,
    /// Sequence number of the batch's first record within `(producer_id, epoch)`.
    pub sequence: u64,
}

/// Where one chunk lives in a segment, and what it holds.
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
    /// The idempotent-producer batch that wrote the chunk, if any. `None` for records
    /// appended without a producer (all such records of a partition share one chunk);
    /// `Some` chunks hold exactly one producer batch each. Stored only in a version 2
    /// footer; chunks read from a version 1 footer have `None`.
    pub producer: Option<ProducerTag>,
}

impl ChunkInfo {
    /// The key chunks are ordered by in a segment: `(topic_id, partition, producer)`.
    fn order_key(&self) -> (u64, u32, Option<ProducerTag>) {
        (self.topic_id, self.partition, self.producer)
    }
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
///
/// Writes footer version 1 when no chunk has a producer (byte-identical to segments
/// written before producer tags existed), version 2 otherwise. A producer tag with
/// `producer_id` 0 is rejected: id 0 encodes "no producer".
pub(crate) fn encode_footer(chunks: &[ChunkInfo], out: &mut Vec<u8>) -> Result<()> {
    let chunk_count = u32::try_from(chunks.len())
        .map_err(|_| Error::corrupt("segment has more than u32::MAX chunks"))?;
    if let Some(chunk) = chunks
        .iter()
        .find(|chunk| chunk.producer.is_some_and(|tag| tag.producer_id == 0))
    {
        return Err(Error::corrupt(format!(
            "chunk of topic {} partition {} has producer id 0 (producer ids start at 1)",
            chunk.topic_id, chunk.partition
        )));
    }
    let v2 = chunks.iter().any(|chunk| chunk.producer.is_some());
    let start = out.len();
    out.push(if v2 {
        FOOTER_VERSION_V2
    } else {
        FOOTER_VERSION
    });
    out.extend_from_slice(&chunk_count.to_le_bytes());
    for chunk in chunks {
        out.extend_from_slice(&chunk.topic_id.to_le_bytes());
        out.extend_from_slice(&chunk.partition.to_le_bytes());
        out.extend_from_slice(&chunk.position.to_le_bytes());
        out.extend_from_slice(&chunk.length.to_le_bytes());
        out.extend_from_slice(&chunk.record_count.to_le_bytes());
        out.extend_from_slice(&chunk.first_timestamp_ms.to_le_bytes());
        out.extend_from_slice(&chunk.max_timestamp_ms.to_le_bytes());
        if v2 {
            // No producer: id, epoch and sequence all zero.
            let tag = chunk.producer.unwrap_or(ProducerTag {
                producer_id: 0,
                epoch: 0,
                sequence: 0,
            });
            out.extend_from_slice(&tag.producer_id.to_le_bytes());
            out.extend_from_slice(&tag.epoch.to_le_bytes());
            out.extend_from_slice(&tag.sequence.to_le_bytes());
        }
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
    let entry_len = match footer[0] {
        FOOTER_VERSION => CHUNK_ENTRY_LEN,
        FOOTER_VERSION_V2 => CHUNK_ENTRY_LEN_V2,
        version => {
            return Err(Error::UnsupportedVersion {
                what: "segment footer",
                version: u32::from(version),
            });
        }
    };
    let chunk_count = read_u32(footer, 1) as usize;
    let entries = &footer[FOOTER_HEADER_LEN..];
    if chunk_count.checked_mul(entry_len) != Some(entries.len()) {
        return Err(Error::corrupt(format!(
            "segment footer of {} bytes does not hold {chunk_count} chunk entries of {entry_len} bytes",
            footer.len()
        )));
    }
    let mut chunks: Vec<ChunkInfo> = Vec::with_capacity(chunk_count);
    let mut expected_position = 0u64;
    for entry in entries.chunks_exact(entry_len) {
        let producer = if entry_len == CHUNK_ENTRY_LEN_V2 {
            decode_producer(entry)?
        } else {
            None
        };
        let chunk = ChunkInfo {
            topic_id: read_u64(entry, 0),
            partition: read_u32(entry, 8),
            position: read_u64(entry, 12),
            length: read_u32(entry, 20),
            record_count: read_u32(entry, 24),
            first_timestamp_ms: read_i64(entry, 28),
            max_timestamp_ms: read_i64(entry, 36),
            producer,
        };
        if chunk.position != expected_position || (chunk.length as usize) < BATCH_HEADER_LEN {
            return Err(Error::corrupt(format!(
                "segment chunk at {} of {} bytes does not follow the previous chunk (expected position {expected_position})",
                chunk.position, chunk.length
            )));
        }
        if let Some(previous) = chunks.last()
            && previous.order_key() >= chunk.order_key()
        {
            return Err(Error::corrupt(
                "segment chunks are not in strictly increasing (topic, partition, producer) order",
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

/// Decodes the producer fields of a v2 chunk entry (`entry` is [`CHUNK_ENTRY_LEN_V2`]
/// bytes). `producer_id` 0 means no producer, and then epoch and sequence must be 0.
fn decode_producer(entry: &[u8]) -> Result<Option<ProducerTag>> {
    let tag = ProducerTag {
        producer_id: read_u64(entry, CHUNK_ENTRY_LEN),
        epoch: read_u32(entry, CHUNK_ENTRY_LEN + 8),
        sequence: read_u64(entry, CHUNK_ENTRY_LEN + 12),
    };
    if tag.producer_id != 0 {
        return Ok(Some(tag));
    }
    if tag.epoch != 0 || tag.sequence != 0 {
        return Err(Error::corrupt(format!(
            "segment chunk entry has no producer (id 0) but epoch {} and sequence {}",
            tag.epoch, tag.sequence
        )));
    }
    Ok(None)
}
