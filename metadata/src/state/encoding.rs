//! The snapshot data's encoding: how a [`MetadataState`] becomes the bytes of a snapshot
//! file and of openraft's snapshot transfer, and back.
//!
//! Layout (version 1): the 8 bytes `SILTSNAP`, one version byte (`1`), then the state as
//! CBOR (RFC 8949, serde's field names as map keys), compressed as one zstd frame.
//! CBOR is self-describing, so the state's serde attributes (`skip_serializing_if`,
//! defaults for fields added later) work as they do in JSON; zstd takes the repeated field
//! names and object-name prefixes out. Data that starts with `{` is a snapshot written by
//! an older version as plain JSON and is decoded as such, so a node upgraded in place
//! starts from its old snapshot. Documented in `bookie/FORMAT.md` ("Metadata snapshots").
//!
//! Invariants: [`encode`] then [`decode`] gives an equal state; data of an unknown
//! version is refused with the version named, never guessed at.

use std::io;

use super::MetadataState;

/// The first bytes of binary snapshot data.
const MAGIC: &[u8; 8] = b"SILTSNAP";
/// The version byte of the layout [`encode`] writes.
const VERSION: u8 = 1;
/// The zstd level: fast enough to compress a large state in well under a second.
const ZSTD_LEVEL: i32 = 3;
/// The buffer between the CBOR encoder or decoder and zstd.
const BUFFER_BYTES: usize = 1 << 16;

/// Why snapshot data could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodingError {
    /// The state could not be written as CBOR.
    #[error("cannot encode the metadata state: {0}")]
    Encode(#[from] ciborium::ser::Error<io::Error>),
    /// The CBOR data does not decode to a state.
    #[error("snapshot data is not a metadata state: {0}")]
    Decode(#[from] ciborium::de::Error<io::Error>),
    /// JSON data (an older version's snapshot) does not decode to a state.
    #[error("JSON snapshot data is not a metadata state: {0}")]
    Json(#[from] serde_json::Error),
    /// Compression or decompression failed.
    #[error("snapshot data compression: {0}")]
    Compression(#[from] io::Error),
    /// The header names a version this build does not know.
    #[error(
        "snapshot data of version {0}; this build reads version {VERSION} and JSON (upgrade this node)"
    )]
    UnknownVersion(u8),
    /// Neither the binary header nor JSON.
    #[error("snapshot data starts with neither {MAGIC:?} nor JSON")]
    UnknownFormat,
}

impl From<EncodingError> for io::Error {
    fn from(error: EncodingError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// `state` as snapshot data: the header, then its CBOR compressed with zstd.
pub(crate) fn encode(state: &MetadataState) -> Result<Vec<u8>, EncodingError> {
    let mut data = Vec::with_capacity(1 << 16);
    data.extend_from_slice(MAGIC);
    data.push(VERSION);
    // CBOR is written in many small pieces; buffered, zstd sees them in large blocks.
    let encoder = zstd::Encoder::new(data, ZSTD_LEVEL)?;
    let mut buffered = io::BufWriter::with_capacity(BUFFER_BYTES, encoder);
    ciborium::into_writer(state, &mut buffered)?;
    let encoder = buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok(encoder.finish()?)
}

/// The state in snapshot `data`: the binary layout, or an older version's JSON.
pub(crate) fn decode(data: &[u8]) -> Result<MetadataState, EncodingError> {
    if let Some(rest) = data.strip_prefix(MAGIC) {
        return decode_binary(rest);
    }
    match data.first() {
        Some(b'{') => Ok(serde_json::from_slice(data)?),
        _ => Err(EncodingError::UnknownFormat),
    }
}

/// Decodes what follows the magic bytes: the version byte and the compressed CBOR.
fn decode_binary(rest: &[u8]) -> Result<MetadataState, EncodingError> {
    let (&version, body) = rest.split_first().ok_or(EncodingError::UnknownFormat)?;
    if version != VERSION {
        return Err(EncodingError::UnknownVersion(version));
    }
    let decoder = zstd::Decoder::new(body)?;
    Ok(ciborium::from_reader(io::BufReader::with_capacity(
        BUFFER_BYTES,
        decoder,
    ))?)
}
