//! Reading segments: chunk extraction from bytes in memory and footer fetch from storage.
//!
//! Invariants: [`fetch_footer`] costs one suffix-range GET, plus one ranged GET only when
//! the footer is larger than [`SUFFIX_READ_LEN`]. Returned chunk indexes passed the footer
//! CRC and layout checks of [`parse_footer`]; chunk bytes are verified by
//! [`crate::batch::decode_batch`] when decoded.

use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStoreExt};

use crate::batch::decode_batch;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::segment::footer::{ChunkInfo, FooterRead, SUFFIX_READ_LEN, parse_footer, read_footer};
use crate::store::ObjectStoreHandle;
use crate::store::cost::{Shares, attributed};
use crate::store::retry::{RetryPolicy, retrying};

/// The bytes of `chunk` inside a whole segment, bounds-checked.
pub fn chunk_bytes<'a>(segment: &'a [u8], chunk: &ChunkInfo) -> Result<&'a [u8]> {
    let start = usize::try_from(chunk.position).ok();
    let end = start.and_then(|start| start.checked_add(chunk.length as usize));
    match (start, end) {
        (Some(start), Some(end)) if end <= segment.len() => Ok(&segment[start..end]),
        _ => Err(Error::corrupt(format!(
            "chunk at {} of {} bytes lies outside the {}-byte segment",
            chunk.position,
            chunk.length,
            segment.len()
        ))),
    }
}

/// Verifies and decodes a whole segment: every chunk with its records.
pub fn read_segment(segment: &[u8]) -> Result<Vec<(ChunkInfo, Vec<Record>)>> {
    let chunks = read_footer(segment)?;
    let mut out = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let records = decode_batch(chunk_bytes(segment, &chunk)?)?;
        if records.len() != chunk.record_count as usize {
            return Err(Error::corrupt(format!(
                "chunk at {} holds {} records, footer says {}",
                chunk.position,
                records.len(),
                chunk.record_count
            )));
        }
        out.push((chunk, records));
    }
    Ok(out)
}

/// Fetches a segment's chunk index with one suffix-range GET (a second only for a footer
/// larger than [`SUFFIX_READ_LEN`]). The GETs are billed to the segment's topics by share.
pub async fn fetch_footer(store: &ObjectStoreHandle, path: &Path) -> Result<Vec<ChunkInfo>> {
    let costs = store.stats.costs();
    let shares = |chunks: &Result<Vec<ChunkInfo>>| {
        chunks
            .as_ref()
            .map_or_else(|_| Shares::default(), |c| Shares::of_chunks(c))
    };
    attributed(costs, fetch_footer_unbilled(store, path), shares).await
}

/// [`fetch_footer`]'s GETs.
async fn fetch_footer_unbilled(store: &ObjectStoreHandle, path: &Path) -> Result<Vec<ChunkInfo>> {
    let policy = RetryPolicy::for_bytes(SUFFIX_READ_LEN as u64);
    let (object_len, tail) = retrying("segment footer GET", policy, || async {
        let options = GetOptions::new().with_range(Some(GetRange::Suffix(SUFFIX_READ_LEN as u64)));
        let result = store.store.get_opts(path, options).await?;
        let object_len = result.meta.size;
        Ok((object_len, result.bytes().await?))
    })
    .await?;
    match parse_footer(&tail, object_len)? {
        FooterRead::Complete(chunks) => Ok(chunks),
        FooterRead::NeedBytes(needed) => {
            let start = object_len.saturating_sub(needed);
            let tail = retrying("segment footer GET", RetryPolicy::for_bytes(needed), || {
                store.store.get_range(path, start..object_len)
            })
            .await?;
            match parse_footer(&tail, object_len)? {
                FooterRead::Complete(chunks) => Ok(chunks),
                FooterRead::NeedBytes(again) => Err(Error::corrupt(format!(
                    "segment {path} footer still needs {again} bytes after reading {needed}"
                ))),
            }
        }
    }
}
