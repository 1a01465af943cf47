//! The metadata crate's error type.

use openraft::error::Fatal;

use crate::type_config::NodeId;
use crate::types::CommandError;

/// The crate's result type: `Err` is an [`Error`].
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
        /// The topic's name.
        topic: String,
        /// The partition number asked for.
        partition: u32,
        /// The topic's partition count.
        partitions: u32,
    },
    /// This node does not lead; the request belongs on the leader (if one is known).
    #[error("metadata node is not the leader (leader: {leader_id:?} at {leader_addr:?})")]
    NotLeader {
        /// The leader's id, if known.
        leader_id: Option<u64>,
        /// The leader's `host:port`, if known.
        leader_addr: Option<String>,
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
    /// A membership change was refused as unsafe (a new voter that is not a caught-up
    /// learner); nothing changed.
    #[error("membership change refused: {0}")]
    MembershipRefused(String),
}

impl Error {
    /// Whether retrying (later, or on another node) may succeed: the request was not
    /// refused on its merits.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::NotLeader { .. })
    }
}

/// Maps a fatal Raft error (the Raft core stopped, its storage failed, or it panicked) to
/// the crate's error.
pub(crate) fn fatal_error(fatal: Fatal<NodeId>) -> Error {
    match fatal {
        Fatal::Stopped => Error::ShuttingDown,
        Fatal::StorageError(storage) => Error::Storage(storage.to_string()),
        Fatal::Panicked => Error::Unavailable("the raft core panicked".to_owned()),
    }
}

/// Why Raft stopped for good, from its metrics: a fatal error, or the shutdown state.
pub(crate) fn fatal_cause(
    metrics: &openraft::RaftMetrics<NodeId, openraft::BasicNode>,
) -> Option<String> {
    match &metrics.running_state {
        Err(fatal) => Some(format!("raft stopped: {fatal}")),
        Ok(()) if metrics.state == openraft::ServerState::Shutdown => {
            Some("raft shut down".to_owned())
        }
        Ok(()) => None,
    }
}
