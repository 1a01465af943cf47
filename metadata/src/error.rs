//! The metadata crate's error type.

use crate::types::CommandError;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the metadata service and its clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The state machine refused the command; nothing changed.
    #[error(transparent)]
    Rejected(#[from] CommandError),
    /// The partition does not exist in the topic.
    #[error("partition {partition} not found in topic {topic:?} ({partitions} partitions)")]
    PartitionNotFound {
        /// Topic.
        topic: String,
        /// Requested partition.
        partition: u32,
        /// The topic's partition count.
        partitions: u32,
    },
    /// No leader is available or Raft refused the request; retry later.
    #[error("metadata service unavailable: {0}")]
    Unavailable(String),
    /// Local storage of the Raft log, vote or snapshot failed.
    #[error("metadata storage error: {0}")]
    Storage(String),
    /// The node is shutting down.
    #[error("metadata service is shutting down")]
    ShuttingDown,
}
