//! [`WriteError`]: why the write service did not acknowledge a produce request. The HTTP
//! edge (`http/error.rs`) turns it into a status and a code.

use std::time::Duration;

use crate::write::pipeline::PipelineError;

/// Why a produce request was not acknowledged. Nothing was staged for the first three.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// A record is larger than `server.max_record_bytes`.
    #[error(
        "record {index} is {size} bytes (key + value + headers); the limit is {limit} (server.max_record_bytes)"
    )]
    RecordTooLarge {
        /// The record's index in the request.
        index: usize,
        /// Its key + value + header bytes.
        size: u64,
        /// `server.max_record_bytes`.
        limit: u64,
    },
    /// A record names a partition the topic does not have.
    #[error(
        "record {index} names partition {partition}, but topic {topic:?} has {partitions} partitions (0 to {last})",
        last = partitions.saturating_sub(1)
    )]
    PartitionOutOfRange {
        /// The record's index in the request.
        index: usize,
        /// The partition it names.
        partition: u32,
        /// The topic.
        topic: String,
        /// The topic's partition count.
        partitions: u32,
    },
    /// Looking up the topic or the producer failed (not found, or the metadata service is
    /// unavailable).
    #[error(transparent)]
    Metadata(#[from] silt_metadata::Error),
    /// The records were not acknowledged within `server.request_timeout`: they may or may
    /// not be written.
    #[error(
        "records were not committed within {0:?} (server.request_timeout); they may or may not be written"
    )]
    Timeout(Duration),
    /// A broken invariant of the write service (a bug): the request's outcome is unknown.
    #[error("internal write error: {0}")]
    Internal(String),
    /// The pipeline refused or failed the append.
    #[error("{}", describe(topic, error))]
    Pipeline {
        /// The topic written to.
        topic: String,
        /// What the pipeline answered.
        error: PipelineError,
    },
}

impl WriteError {
    /// The pipeline's answer to a request for `topic`.
    pub(crate) fn pipeline(topic: &str, error: PipelineError) -> Self {
        let topic = topic.to_owned();
        WriteError::Pipeline { topic, error }
    }
}

/// The message of a pipeline failure, naming the topic where the pipeline could not.
fn describe(topic: &str, error: &PipelineError) -> String {
    match error {
        PipelineError::TopicNotFound => {
            format!("topic {topic:?} was deleted while the records were being written")
        }
        PipelineError::PartitionNotFound(partition) => {
            format!("partition {partition} of topic {topic:?} no longer exists")
        }
        PipelineError::ShuttingDown => "broker is shutting down; retry on another broker".into(),
        other => other.to_string(),
    }
}
