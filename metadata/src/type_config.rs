//! openraft's type parameters for silt's metadata service, in one place (the one adapter
//! module for the pinned `openraft` 0.9 types, with [`crate::log_store`],
//! [`crate::state_machine`] and [`crate::network`]).
//!
//! A log entry carries a [`Command`]; applying it yields `Some(CommandResult)`. Raft's
//! own entries (blank and membership) yield `None`.

use std::io::Cursor;

use crate::types::{Command, CommandResult};

openraft::declare_raft_types!(
    /// openraft type configuration of the metadata service.
    pub(crate) TypeConfig:
        D = Command,
        R = Option<CommandResult>,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A metadata node id.
pub(crate) type NodeId = u64;

/// The running Raft node.
pub(crate) type Raft = openraft::Raft<TypeConfig>;

/// A Raft log id.
pub(crate) type LogId = openraft::LogId<NodeId>;

/// A Raft log entry.
pub(crate) type Entry = openraft::Entry<TypeConfig>;

/// Membership as stored with the applied state.
pub(crate) type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

/// A snapshot's metadata.
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;

/// openraft's storage error.
pub(crate) type StorageError = openraft::StorageError<NodeId>;
