//! [`MetadataNode`]: one metadata service node (Raft node, durable log, state machine and
//! snapshots) in one data directory.
//!
//! Data directory layout: `raft-log.redb` (the Raft log, vote and commit index, see
//! [`crate::log_store`]) and `snapshots/` (see [`crate::snapshot`]).
//!
//! Invariants:
//! - The single-node cluster is initialised once, the first time the directory is opened;
//!   reopening never re-initialises (membership is read back from the log or snapshot).
//! - [`MetadataNode::open`] returns only once this node is the leader, so the first write
//!   through [`LocalClient`] does not race an election.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{Fatal, InitializeError, RaftError};
use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use tokio::sync::watch;

use crate::client::LocalClient;
use crate::error::{Error, Result};
use crate::log_store::{self, LogStore};
use crate::network::NoNetworkFactory;
use crate::state_machine::{SharedState, StateMachineStore};
use crate::type_config::{NodeId, Raft};

/// Name of the snapshot directory inside the data directory.
const SNAPSHOT_DIR: &str = "snapshots";
/// How long [`MetadataNode::open`] waits for this node to lead.
const LEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries applied since the last snapshot that trigger a new one.
const SNAPSHOT_EVERY_ENTRIES: u64 = 5_000;
/// Log entries kept behind a snapshot (for followers that lag a little); older ones are
/// purged.
const LOGS_KEPT_BEHIND_SNAPSHOT: u64 = 1_000;

/// Where and as whom a metadata node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's Raft id.
    pub node_id: u64,
    /// The directory holding the Raft log and snapshots (created if missing).
    pub data_dir: PathBuf,
}

/// A running metadata node. Call [`MetadataNode::shutdown`] to stop it: dropping it
/// leaves the Raft tasks (and the open log database) running until the runtime ends.
pub struct MetadataNode {
    /// This node's id.
    node_id: NodeId,
    /// The Raft node.
    raft: Raft,
    /// The applied state, shared with the state machine.
    shared: SharedState,
    /// The applied-index announcer, shared with the state machine.
    applied_tx: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for MetadataNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataNode")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl MetadataNode {
    /// Opens the node's storage in `config.data_dir`, starts Raft, initialises a
    /// single-node cluster if this directory never was, and waits (up to 10 s) until this
    /// node leads; else [`Error::Unavailable`].
    pub async fn open(config: NodeConfig) -> Result<MetadataNode> {
        let NodeConfig { node_id, data_dir } = config;
        tokio::fs::create_dir_all(&data_dir).await.map_err(|e| {
            Error::Storage(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let log_store = LogStore::open(&data_dir.join(log_store::FILE_NAME))
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let state_machine = StateMachineStore::open(data_dir.join(SNAPSHOT_DIR))
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let shared = state_machine.shared();
        let applied_tx = state_machine.applied_sender();

        let raft = Raft::new(
            node_id,
            Arc::new(raft_config()?),
            NoNetworkFactory,
            log_store,
            state_machine,
        )
        .await
        .map_err(fatal_error)?;
        let node = MetadataNode {
            node_id,
            raft,
            shared,
            applied_tx,
        };
        if let Err(error) = node.start().await {
            // Release the storage before reporting: a retry may reopen the directory.
            let _ = node.raft.shutdown().await;
            return Err(error);
        }
        tracing::info!(node_id, data_dir = %data_dir.display(), "metadata node is leader");
        Ok(node)
    }

    /// Initialises the cluster if needed and waits for leadership.
    async fn start(&self) -> Result<()> {
        if !self.raft.is_initialized().await.map_err(fatal_error)? {
            let members = BTreeMap::from([(self.node_id, BasicNode::default())]);
            match self.raft.initialize(members).await {
                Ok(()) => tracing::info!(node_id = self.node_id, "initialised single-node cluster"),
                // Already initialised (raced with the log's own membership): fine.
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(RaftError::APIError(other)) => {
                    return Err(Error::Unavailable(other.to_string()));
                }
                Err(RaftError::Fatal(fatal)) => return Err(fatal_error(fatal)),
            }
        }
        let node_id = self.node_id;
        self.raft
            .wait(Some(LEADER_TIMEOUT))
            .metrics(
                move |metrics| {
                    metrics.state == ServerState::Leader && metrics.current_leader == Some(node_id)
                },
                "metadata node becomes leader",
            )
            .await
            .map_err(|e| {
                Error::Unavailable(format!("node {node_id} did not become leader: {e}"))
            })?;
        Ok(())
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// A client that calls into this node.
    pub fn client(&self) -> LocalClient {
        LocalClient::new(
            self.node_id,
            self.raft.clone(),
            self.shared.clone(),
            Arc::clone(&self.applied_tx),
        )
    }

    /// The Raft node (tests and the future cluster transport).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Stops Raft and releases the storage. Clients of this node then fail with
    /// [`Error::ShuttingDown`].
    pub async fn shutdown(self) -> Result<()> {
        self.raft
            .shutdown()
            .await
            .map_err(|e| Error::Unavailable(format!("raft did not shut down cleanly: {e}")))
    }
}

/// openraft's configuration for one node: small timeouts (a lone voter elects itself
/// fast after a restart), snapshots every [`SNAPSHOT_EVERY_ENTRIES`].
fn raft_config() -> Result<Config> {
    Config {
        cluster_name: "silt-metadata".to_owned(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY_ENTRIES),
        max_in_snapshot_log_to_keep: LOGS_KEPT_BEHIND_SNAPSHOT,
        ..Config::default()
    }
    .validate()
    .map_err(|e| Error::Unavailable(format!("invalid raft config: {e}")))
}

/// Maps a fatal Raft error to the crate's error.
pub(crate) fn fatal_error(fatal: Fatal<NodeId>) -> Error {
    match fatal {
        Fatal::Stopped => Error::ShuttingDown,
        Fatal::StorageError(storage) => Error::Storage(storage.to_string()),
        Fatal::Panicked => Error::Unavailable("the raft core panicked".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MetadataClient;
    use crate::types::{ChunkCommit, SegmentCommit, TopicSettings};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reopens_from_a_snapshot_and_the_log_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig {
            node_id: 7,
            data_dir: dir.path().to_owned(),
        };
        let node = MetadataNode::open(config.clone()).await.unwrap();
        let client = node.client();
        let topic = client
            .create_topic("t", 3, TopicSettings::default(), 42)
            .await
            .unwrap();
        let commit = |object: &str, partition: u32| SegmentCommit {
            object: object.to_owned(),
            size: 10,
            chunks: vec![ChunkCommit {
                topic_id: topic.id,
                partition,
                position: 0,
                length: 10,
                record_count: 2,
                first_timestamp_ms: 1,
                max_timestamp_ms: 1,
            }],
        };
        for i in 0..20u32 {
            client
                .commit_segments(vec![commit(&format!("a-{i}"), i % 3)])
                .await
                .unwrap();
        }

        node.raft().trigger().snapshot().await.unwrap();
        let applied = client.subscribe_applied().borrow().to_owned();
        let snapshotted = node
            .raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "snapshot built",
            )
            .await
            .unwrap();
        let snapshot_index = snapshotted.snapshot.map(|s| s.index).unwrap();
        // Purge everything the snapshot covers, so a restart must use it.
        node.raft()
            .trigger()
            .purge_log(snapshot_index)
            .await
            .unwrap();
        node.raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(
                |m| m.purged.is_some_and(|p| p.index >= snapshot_index),
                "log purged",
            )
            .await
            .unwrap();
        // Entries after the snapshot are replayed from the log.
        for i in 0..5u32 {
            client
                .commit_segments(vec![commit(&format!("b-{i}"), i % 3)])
                .await
                .unwrap();
        }
        let before = client.list_topics().await.unwrap();
        let slices_before = [
            client.partition_slice("t", 0, 0, 1_000).await.unwrap(),
            client.partition_slice("t", 1, 0, 1_000).await.unwrap(),
            client.partition_slice("t", 2, 0, 1_000).await.unwrap(),
        ];
        node.shutdown().await.unwrap();

        let snapshots = std::fs::read_dir(dir.path().join(SNAPSHOT_DIR))
            .unwrap()
            .count();
        assert_eq!(snapshots, 1);

        let node = MetadataNode::open(config).await.unwrap();
        let metrics = node.raft().metrics().borrow().clone();
        assert_eq!(metrics.snapshot.map(|s| s.index), Some(snapshot_index));
        assert!(metrics.purged.is_some_and(|p| p.index >= snapshot_index));
        let client = node.client();
        assert_eq!(client.list_topics().await.unwrap(), before);
        for (partition, slice) in (0u32..).zip(&slices_before) {
            assert_eq!(
                &client
                    .partition_slice("t", partition, 0, 1_000)
                    .await
                    .unwrap(),
                slice
            );
        }
        assert_eq!(
            before[0]
                .partitions
                .iter()
                .map(|p| p.high_watermark)
                .sum::<u64>(),
            50
        );
        // A segment committed before the snapshot is still deduplicated.
        let again = client
            .commit_segments(vec![commit("a-0", 0)])
            .await
            .unwrap();
        assert_eq!(
            again[0].chunks,
            [crate::types::ChunkOutcome::Committed { base_offset: 0 }]
        );
        node.shutdown().await.unwrap();
    }
}
