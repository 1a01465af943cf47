//! [`ReadError`]: why a fetch found no records to return. The HTTP edge (`http/error.rs`)
//! turns it into a status and a code.

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The offset is below the partition's start offset or past its high watermark.
    #[error(
        "offset {offset} is outside partition {partition} of topic {topic:?}: readable offsets are {start_offset} to {high_watermark} (the high watermark)"
    )]
    OffsetOutOfRange {
        /// The topic read.
        topic: String,
        /// The partition read.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The first readable offset.
        start_offset: u64,
        /// One past the last readable offset.
        high_watermark: u64,
    },
    /// The index or a chunk contradicts itself (a missing entry, a gap, a wrong record
    /// count); nothing corrupt is returned.
    #[error("{0}")]
    Corrupt(String),
    /// The metadata service refused or could not answer the lookup.
    #[error(transparent)]
    Metadata(#[from] silt_metadata::Error),
    /// A chunk could not be read or failed its checksum.
    #[error(transparent)]
    Storage(#[from] silt_bookie::Error),
    /// Waiting for a read slot and reading the chunks took longer than the request's
    /// time limit.
    #[error(
        "the fetch could not read its records within {0:?} (server.request_timeout): the object store is slow or every read slot is busy (server.fetch_read_concurrency)"
    )]
    DeadlineExceeded(std::time::Duration),
    /// The broker is shutting down.
    #[error("broker is shutting down")]
    ShuttingDown,
}
