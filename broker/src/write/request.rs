//! The write service's request and answer: what either produce body (JSON or binary)
//! becomes once parsed, and the offsets that come back.

use silt_bookie::record::Record;
use silt_bookie::segment::ProducerTag;
use silt_sdk::wire::RecordOffset;

/// One parsed record with what partitioning needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InputRecord {
    /// The record as it will be stored.
    pub(crate) record: Record,
    /// The bytes the key hashes on (a string key's UTF-8 bytes, as Kafka), if it has a key.
    pub(crate) hash_key: Option<Vec<u8>>,
    /// The partition the client named, if any (checked against the topic by the writer).
    pub(crate) partition: Option<u32>,
    /// Whether the client gave the timestamp (else the broker stamped it on arrival, and an
    /// idempotent request's digest leaves it out: a retry is stamped anew).
    pub(crate) timestamp_given: bool,
}

/// A parsed produce request: validated records, in request order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProduceInput {
    /// At least one record, at most `server.max_records_per_request`.
    pub(crate) records: Vec<InputRecord>,
    /// The idempotent producer request these records are, if any.
    pub(crate) producer: Option<ProducerTag>,
    /// The offset commit applied with the records or not at all (JSON bodies with a
    /// producer only).
    pub(crate) commit: Option<silt_metadata::types::GroupCommit>,
}

/// What an acknowledged produce request wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Produced {
    /// One `(partition, offset)` per record, in request order.
    pub(crate) offsets: Vec<RecordOffset>,
    /// Records written.
    pub(crate) records: u64,
    /// Bytes of keys, values and headers written.
    pub(crate) bytes: u64,
}
