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

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use tokio::sync::watch;

use crate::changes::SharedChanges;
use crate::client::LocalClient;
use crate::error::{Error, Result, fatal_error};
use crate::liveness::SharedLiveness;
use crate::log_store::{self, LogStore};
use crate::network::{HttpNetworkFactory, NoNetworkFactory};
use crate::proposal::ProposalStats;
use crate::secret::ClusterSecret;
use crate::state_machine::{SharedState, StateMachineStore};
use crate::tls::ClusterTls;
use crate::type_config::{NodeId, Raft};
use crate::types::NodeStatus;

/// Name of the snapshot directory inside the data directory.
pub(crate) const SNAPSHOT_DIR: &str = "snapshots";
/// How long [`MetadataNode::open`] waits for this node to lead.
const LEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries applied since the last snapshot that trigger a new one, by default.
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

/// How a metadata node keeps its state bounded: when it snapshots, and how long an idle
/// producer id lives. The same on every node of a cluster (the leader's counts for what it
/// proposes; each node snapshots on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Entries applied since the last snapshot that trigger a new one (default 5,000;
    /// at least 1). Lower means a shorter log and more snapshot work.
    pub snapshot_entries: u64,
    /// How long a producer id may go unused before it is removed (default 7 days, as
    /// Kafka's `transactional.id.expiration.ms`: an exactly-once pipeline resuming its id
    /// after a long weekend still finds it). At least 1 ms.
    pub producer_expiry: Duration,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            snapshot_entries: SNAPSHOT_EVERY_ENTRIES,
            producer_expiry: DEFAULT_PRODUCER_EXPIRY,
        }
    }
}

/// How long an unused producer id lives by default: 7 days.
const DEFAULT_PRODUCER_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Where and as whom one voter of a metadata cluster runs.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's Raft id (a key of `peers`).
    pub node_id: u64,
    /// The directory holding the Raft log and snapshots (created if missing).
    pub data_dir: PathBuf,
    /// Every initial voter's id and `host:port` (this node's included): the address its
    /// peers and brokers reach it at.
    pub peers: BTreeMap<u64, String>,
    /// The cluster secret: the node's routes admit only requests presenting it, and its
    /// requests to peers present it. `None` runs the node open to anyone who can reach it.
    pub secret: Option<ClusterSecret>,
    /// Set when the cluster's nodes serve HTTPS: peers are reached at `https://` and their
    /// certificates checked against its CA. `None`: plain HTTP.
    pub tls: Option<ClusterTls>,
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
    /// Segment-commit proposal counters, shared by every client of this node.
    stats: Arc<ProposalStats>,
    /// The recent partition changes, recorded by the state machine.
    changes: SharedChanges,
    /// When this node (while it leads) last heard from each group member.
    liveness: SharedLiveness,
    /// The cluster secret its routes require and its requests present (`None`: open).
    secret: Option<ClusterSecret>,
    /// How it reaches its peers over HTTPS (`None`: plain HTTP).
    tls: Option<ClusterTls>,
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
        Self::open_with(config, NodeSettings::default()).await
    }

    /// [`MetadataNode::open`] with `settings`.
    pub async fn open_with(config: NodeConfig, settings: NodeSettings) -> Result<MetadataNode> {
        let NodeConfig { node_id, data_dir } = config;
        let node = Self::build(
            node_id,
            &data_dir,
            NoNetworkFactory,
            raft_config(false, &settings)?,
            None,
            None,
        )
        .await?;
        node.sweep_producers(&settings);
        if let Err(error) = node.start().await {
            // Release the storage before reporting: a retry may reopen the directory.
            let _ = node.raft.shutdown().await;
            return Err(error);
        }
        tracing::info!(node_id, data_dir = %data_dir.display(), "metadata node is leader");
        Ok(node)
    }

    /// Opens one voter of a cluster: its storage, and Raft over HTTP to `config.peers`.
    /// Returns at once (peers may not be up yet): serve [`MetadataNode::router`], then
    /// call [`MetadataNode::bootstrap`].
    pub async fn open_cluster(config: ClusterConfig) -> Result<MetadataNode> {
        Self::open_cluster_with(config, NodeSettings::default()).await
    }

    /// [`MetadataNode::open_cluster`] with `settings`.
    pub async fn open_cluster_with(
        config: ClusterConfig,
        settings: NodeSettings,
    ) -> Result<MetadataNode> {
        if !config.peers.contains_key(&config.node_id) {
            return Err(Error::Unavailable(format!(
                "node id {} is not among the peers {:?}",
                config.node_id,
                config.peers.keys().collect::<Vec<_>>()
            )));
        }
        let network = HttpNetworkFactory::new(config.secret.as_ref(), config.tls.as_ref())
            .map_err(|e| Error::Unavailable(format!("cannot build the raft HTTP client: {e}")))?;
        let node = Self::build(
            config.node_id,
            &config.data_dir,
            network,
            raft_config(true, &settings)?,
            config.secret,
            config.tls,
        )
        .await?;
        node.sweep_producers(&settings);
        Ok(node)
    }

    /// Starts the producer sweeper ([`crate::producer_expiry`]) with `settings`.
    fn sweep_producers(&self, settings: &NodeSettings) {
        let idle = settings.producer_expiry;
        tokio::spawn(crate::producer_expiry::sweep_producers(self.client(), idle));
    }

    /// Resolves, with the cause, once Raft stopped for good without being asked to (a
    /// fatal error such as a failed log write): the node can no longer serve, and only a
    /// restart brings it back. Never resolves while it runs.
    pub async fn failed(&self) -> String {
        let mut metrics = self.raft.metrics();
        loop {
            if let Some(cause) = crate::error::fatal_cause(&metrics.borrow_and_update()) {
                tracing::error!(cause, "the metadata node stopped for good");
                return cause;
            }
            if metrics.changed().await.is_err() {
                return "the raft core ended".to_owned();
            }
        }
    }

    /// The node's HTTP routes: Raft RPCs and the metadata API (listed in `server.rs`).
    pub fn router(&self) -> axum::Router {
        crate::server::router(self.client(), self.secret.clone())
    }

    /// Initialises the cluster with `peers` as its voters, once: only the lowest id does
    /// it, and only after a majority of peers answered that they are uninitialised and none
    /// that it is initialised (so a restarted or wiped node never starts a second
    /// cluster). Every other node waits to be reached by the leader. Returns when this node
    /// is part of an initialised cluster.
    pub async fn bootstrap(&self, peers: &BTreeMap<u64, String>) -> Result<()> {
        let http = crate::tls::cluster_client(self.secret.as_ref(), self.tls.as_ref())
            .timeout(Duration::from_secs(1))
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot build an HTTP client: {e}")))?;
        let lowest = peers.keys().next().copied();
        loop {
            if self.raft.is_initialized().await.map_err(fatal_error)? {
                return Ok(());
            }
            if lowest == Some(self.node_id) && self.may_initialise(&http, peers).await {
                self.initialise(peers).await?;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether a majority of `peers` (this node counted) answered that they are
    /// uninitialised and none that it is initialised.
    async fn may_initialise(&self, http: &reqwest::Client, peers: &BTreeMap<u64, String>) -> bool {
        let (mut uninitialised, mut initialised) = (0usize, false);
        for (id, addr) in peers {
            let answer = if *id == self.node_id {
                Some(false)
            } else {
                let url = format!("{}://{addr}", crate::tls::scheme(self.tls.as_ref()));
                peer_initialised(http, &url).await
            };
            match answer {
                Some(true) => initialised = true,
                Some(false) => uninitialised += 1,
                None => {}
            }
        }
        !initialised && uninitialised > peers.len() / 2
    }

    /// Initialises the cluster with `peers` as its voters. A cluster initialised already
    /// is fine; any other refusal is logged and left to the next try.
    async fn initialise(&self, peers: &BTreeMap<u64, String>) -> Result<()> {
        let members: BTreeMap<u64, BasicNode> = peers
            .iter()
            .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
            .collect();
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(
                    node_id = self.node_id,
                    ?peers,
                    "initialised the metadata cluster"
                );
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
            Err(RaftError::APIError(other)) => {
                tracing::warn!(error = %other, "cluster initialisation refused; retrying");
            }
            Err(RaftError::Fatal(fatal)) => return Err(fatal_error(fatal)),
        }
        Ok(())
    }

    /// Opens storage and starts Raft with `network`; the node's routes will require
    /// `secret`, and it reaches its peers over HTTPS with `tls`.
    async fn build<N>(
        node_id: NodeId,
        data_dir: &std::path::Path,
        network: N,
        config: Config,
        secret: Option<ClusterSecret>,
        tls: Option<ClusterTls>,
    ) -> Result<MetadataNode>
    where
        N: openraft::RaftNetworkFactory<crate::type_config::TypeConfig>,
    {
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
        let changes = state_machine.changes();

        let raft = Raft::new(node_id, Arc::new(config), network, log_store, state_machine)
            .await
            .map_err(fatal_error)?;
        let node = MetadataNode {
            node_id,
            raft,
            shared,
            applied_tx,
            stats: Arc::default(),
            changes,
            liveness: SharedLiveness::default(),
            secret,
            tls,
        };
        tokio::spawn(crate::liveness::track_sessions(node.client()));
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
            Arc::clone(&self.stats),
            (self.changes.clone(), self.liveness.clone()),
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

/// openraft's configuration: snapshots every `settings.snapshot_entries` entries, keeping
/// [`LOGS_KEPT_BEHIND_SNAPSHOT`] behind it (openraft purges the older ones); small timeouts
/// for a lone voter (it elects itself fast after a restart); for a cluster, a heartbeat
/// every 150 ms and an election after 400–800 ms of silence. Followers refuse to vote
/// while their leader's lease (the longest election timeout) runs, so a lost leader is
/// replaced within about 0.8–1.6 s (measured in bench/RESULTS.md), while a busy 2-core
/// host does not trigger spurious elections.
///
/// openraft 0.9 gives each AppendEntries RPC exactly the heartbeat interval to complete
/// (its hard TTL), with no separate setting: that is why the heartbeat is 150 ms, not
/// 100, and why what one RPC carries is bounded in bytes (one entry is at most about
/// [`MAX_PROPOSAL_BYTES`](crate::limits::MAX_PROPOSAL_BYTES), one RPC at most
/// [`MAX_APPEND_BYTES`](crate::limits::MAX_APPEND_BYTES) beyond its first entry, read so
/// by the log store), so a full RPC is sent, parsed and made durable well within it.
fn raft_config(cluster: bool, settings: &NodeSettings) -> Result<Config> {
    let (heartbeat_interval, election_timeout_min, election_timeout_max) = if cluster {
        (150, 400, 800)
    } else {
        (50, 150, 300)
    };
    Config {
        cluster_name: "silt-metadata".to_owned(),
        heartbeat_interval,
        election_timeout_min,
        election_timeout_max,
        snapshot_max_chunk_size: 1 << 20,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_entries.max(1)),
        max_in_snapshot_log_to_keep: LOGS_KEPT_BEHIND_SNAPSHOT,
        ..Config::default()
    }
    .validate()
    .map_err(|e| Error::Unavailable(format!("invalid raft config: {e}")))
}

/// Whether the metadata node at `url` (`scheme://host:port`) is part of an initialised
/// cluster (it has voters), as its status says; `None` if it did not answer.
async fn peer_initialised(http: &reqwest::Client, url: &str) -> Option<bool> {
    let response = http
        .get(format!("{url}/meta/v1/status"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .ok()?;
    let status = response.json::<NodeStatus>().await.ok()?;
    Some(!status.voters.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MetadataClient;
    use crate::types::{SegmentCommit, TopicSettings};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_node_reports_its_failure_and_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let node = MetadataNode::open(NodeConfig {
            node_id: 1,
            data_dir: dir.path().to_path_buf(),
        })
        .await
        .unwrap();
        let client = node.client();
        assert_eq!(client.failure(), None);
        assert!(client.is_ready().await);
        node.raft().shutdown().await.unwrap();
        assert!(client.failure().is_some());
        assert!(!client.is_ready().await);
        assert!(!node.failed().await.is_empty());
    }

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
        let commit =
            |object: &str, partition: u32| SegmentCommit::for_test(object, topic.id, partition);
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
