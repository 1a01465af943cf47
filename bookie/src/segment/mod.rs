//! The level-0 segment object (format v1, see `FORMAT.md`).
//!
//! A segment holds chunks of many partitions back to back (one chunk = one framed batch,
//! [`crate::batch`]), then a footer indexing them, then a fixed-size trailer. The trailer's
//! fixed position lets a reader fetch footer and trailer with one suffix-range GET.
//!
//! A chunk may carry the idempotent-producer batch that wrote it ([`ProducerTag`], stored
//! in footer version 2), so a segment recovered from the local spool can be recommitted
//! with its producer identity.
//!
//! * [`writer`]: [`SegmentBuilder`] stages records per partition (and producer batch) and
//!   seals a segment.
//! * [`footer`]: footer and trailer encoding and parsing.
//! * [`reader`]: chunk extraction and [`fetch_footer`] against object storage.

pub mod footer;
pub mod reader;
pub mod writer;

pub use footer::{
    CHUNK_ENTRY_LEN, CHUNK_ENTRY_LEN_V2, ChunkInfo, FOOTER_VERSION, FOOTER_VERSION_V2, FooterRead,
    ProducerTag, SEGMENT_FORMAT_VERSION, SEGMENT_MAGIC, SUFFIX_READ_LEN, TRAILER_LEN, parse_footer,
    read_footer,
};
pub use reader::{chunk_bytes, fetch_footer, read_segment};
pub use writer::{SealedSegment, SegmentBuilder};

#[cfg(test)]
mod tests;
