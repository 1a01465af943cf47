//! [`LocalClient`]: [`MetadataClient`](crate::MetadataClient) over the metadata node
//! embedded in this process (`silt dev`): writes are proposed to the local openraft node,
//! reads are served from the local state machine after a linearizability check. No
//! network hop.
//!
//! Invariants: a write returns only after its entry is committed and applied, with the
//! state machine's own result; a read sees every write acknowledged before it started
//! (`ensure_linearizable`); the state lock is held only to copy out a view, never across
//! an `.await`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use std::collections::BTreeMap;

use openraft::BasicNode;
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use tokio::sync::watch;

use crate::backup::Backup;
use crate::changes::SharedChanges;
use crate::client::Transport;
use crate::error::{Error, Result, fatal_error};
use crate::liveness::SharedLiveness;
use crate::proposal::{ProposalSize, ProposalStats};
use crate::state::MetadataState;
use crate::state_machine::SharedState;
use crate::type_config::{NodeId, Raft};
use crate::types::{
    ChangeFeed, Command, CommandResult, HeartbeatView, NodeStatus, SegmentCommit,
    SegmentCommitResult,
};
use crate::wire::{HeartbeatCall, ReadQuery, ReadReply};

/// A [`MetadataClient`](crate::MetadataClient) calling into an in-process
/// [`crate::MetadataNode`]. Cheap to clone; obtain one with [`crate::MetadataNode::client`].
#[derive(Clone)]
pub struct LocalClient {
    /// The node's id.
    node_id: NodeId,
    /// The node's Raft handle.
    raft: Raft,
    /// The node's applied state.
    shared: SharedState,
    /// The node's applied-index announcer.
    applied_tx: Arc<watch::Sender<u64>>,
    /// The node's proposal counters.
    stats: Arc<ProposalStats>,
    /// The node's recent partition changes.
    changes: SharedChanges,
    /// When the node (while it leads) last heard from each group member.
    liveness: SharedLiveness,
}

impl std::fmt::Debug for LocalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalClient")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl LocalClient {
    /// A client of the node with these parts.
    pub(crate) fn new(
        node_id: NodeId,
        raft: Raft,
        shared: SharedState,
        applied_tx: Arc<watch::Sender<u64>>,
        stats: Arc<ProposalStats>,
        (changes, liveness): (SharedChanges, SharedLiveness),
    ) -> Self {
        Self {
            node_id,
            raft,
            shared,
            applied_tx,
            stats,
            changes,
            liveness,
        }
    }

    /// The node's liveness table of group members.
    pub(crate) fn liveness(&self) -> &SharedLiveness {
        &self.liveness
    }

    /// Whether this node believes it leads (its Raft metrics; not a linearizable check).
    pub(crate) fn leads(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.node_id)
    }

    /// Why Raft stopped for good, if it did.
    pub(crate) fn fatal_cause(&self) -> Option<String> {
        crate::error::fatal_cause(&self.raft.metrics().borrow())
    }

    /// Runs `read` on this node's applied state, without a linearizability check.
    pub(crate) fn read_local<T>(&self, read: impl FnOnce(&MetadataState) -> T) -> T {
        read(&self.shared.read().state)
    }

    /// A group member's heartbeat: on the leader, recorded in the liveness table and
    /// answered from the applied state (no Raft write); elsewhere [`Error::NotLeader`].
    ///
    /// A refusal (`unknown_member`, `stale_generation`) is only given after a read barrier:
    /// a leader elected a moment ago may not have applied the entries its predecessor
    /// committed (a join, a rebalance), and refusing a member on that stale view would make
    /// it rejoin and rebalance its whole group for nothing.
    pub(crate) async fn heartbeat(&self, call: &HeartbeatCall) -> Result<HeartbeatView> {
        if !self.leads() {
            let status = self.local_status();
            return Err(Error::NotLeader {
                leader_id: status.leader_id,
                leader_addr: status.leader_addr,
            });
        }
        let answer =
            |state: &MetadataState| state.heartbeat(&call.group, &call.member_id, call.generation);
        let (member, rebalanced) = match self.read_local(answer) {
            Ok(found) => found,
            Err(_) => self.read(answer).await??,
        };
        let now = tokio::time::Instant::now();
        self.liveness.lock().beat(&call.group, &call.member_id, now);
        Ok(HeartbeatView { member, rebalanced })
    }

    /// The Prometheus text of the local state's sizes and the snapshots built.
    pub(crate) fn state_metrics(&self) -> String {
        let sizes = self.read_local(MetadataState::sizes);
        crate::state_metrics::render(&sizes, self.shared.snapshot_stats())
    }

    /// The node's proposal counters (its `/metrics`).
    pub(crate) fn stats(&self) -> &ProposalStats {
        &self.stats
    }

    /// The partition changes of the entries after `after` (or a reset, see
    /// [`crate::changes`]), once this node has applied an entry past `after` or `wait`
    /// passed. Not linearizable: what this node has applied.
    pub(crate) async fn changes_since(&self, after: u64, wait: Duration) -> Result<ChangeFeed> {
        let mut applied = self.applied_tx.subscribe();
        let past = tokio::time::timeout(wait, applied.wait_for(|index| *index > after)).await;
        if matches!(past, Ok(Err(_))) {
            return Err(Error::ShuttingDown);
        }
        Ok(self.changes.lock().since(after))
    }

    /// Proposes `command` and returns the state machine's result; a refusal becomes
    /// [`Error::Rejected`], a follower answers [`Error::NotLeader`].
    pub(crate) async fn write(&self, command: Command) -> Result<CommandResult> {
        let response = self
            .raft
            .client_write(command)
            .await
            .map_err(|error| match error {
                RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                    not_leader(forward)
                }
                RaftError::APIError(other) => Error::Unavailable(other.to_string()),
                RaftError::Fatal(fatal) => fatal_error(fatal),
            })?;
        match response.data {
            Some(CommandResult::Rejected(refusal)) => Err(Error::Rejected(refusal)),
            Some(result) => Ok(result),
            None => Err(Error::Unavailable(
                "the state machine returned no result for a command".to_owned(),
            )),
        }
    }

    /// Waits until the local state reflects every write committed before this call, then
    /// runs `read` on it.
    pub(crate) async fn read<T>(&self, read: impl FnOnce(&MetadataState) -> T) -> Result<T> {
        self.read_barrier().await?;
        let applied = self.shared.read();
        Ok(read(&applied.state))
    }

    /// Waits until this node has applied everything committed before the call, as the
    /// leader confirmed by a quorum; else the leader to ask ([`Error::NotLeader`]).
    async fn read_barrier(&self) -> Result<()> {
        self.raft
            .ensure_linearizable()
            .await
            .map_err(|error| match error {
                RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)) => {
                    not_leader(forward)
                }
                RaftError::APIError(other) => Error::Unavailable(other.to_string()),
                RaftError::Fatal(fatal) => fatal_error(fatal),
            })?;
        Ok(())
    }

    /// A backup of the state after a read barrier: the state is copied under the lock
    /// (cheap: persistent maps) and encoded off the runtime's threads.
    pub(crate) async fn backup(&self) -> Result<Backup> {
        self.read_barrier().await?;
        let applied = self.shared.read().clone();
        let built = tokio::task::spawn_blocking(move || applied.backup()).await;
        let built = built.map_err(|join| Error::Storage(format!("backup task: {join}")))?;
        built.map_err(|io| Error::Storage(format!("cannot build a backup: {io}")))
    }

    /// A partition's high watermark in this node's applied state, read locally without a
    /// linearizability check (tests of followers and learners).
    #[cfg(test)]
    pub(crate) fn local_state_high_watermark(&self, topic: &str, partition: u32) -> Option<u64> {
        let applied = self.shared.read();
        applied
            .state
            .partition_slice(topic, partition, 0, 1)
            .ok()
            .map(|slice| slice.high_watermark)
    }

    /// The node's Raft handle (the HTTP server's Raft routes).
    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Serves a [`ReadQuery`] from the local state after a linearizability check.
    pub(crate) async fn query(&self, query: ReadQuery) -> Result<ReadReply> {
        self.read(move |state| state.query(&query)).await?
    }

    /// This node's view of the cluster (not linearizable: what this node knows now).
    pub(crate) fn local_status(&self) -> NodeStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let addresses: BTreeMap<u64, String> = membership
            .nodes()
            .map(|(id, node)| (*id, node.addr.clone()))
            .collect();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let learners: Vec<u64> = membership.learner_ids().collect();
        NodeStatus {
            node_id: self.node_id,
            state: format!("{:?}", metrics.state),
            leader_id: metrics.current_leader,
            leader_addr: metrics
                .current_leader
                .and_then(|leader| addresses.get(&leader).cloned()),
            term: metrics.current_term,
            last_applied: metrics.last_applied.map_or(0, |log_id| log_id.index),
            voters,
            learners,
            addresses,
        }
    }
}

/// A follower's refusal, with where the leader is.
fn not_leader(forward: ForwardToLeader<NodeId, BasicNode>) -> Error {
    Error::NotLeader {
        leader_id: forward.leader_id,
        leader_addr: forward.leader_node.map(|node| node.addr),
    }
}

#[async_trait]
impl Transport for LocalClient {
    async fn write(&self, command: Command) -> Result<CommandResult> {
        LocalClient::write(self, command).await
    }

    async fn query(&self, query: ReadQuery) -> Result<ReadReply> {
        LocalClient::query(self, query).await
    }

    async fn build_backup(&self) -> Result<Backup> {
        LocalClient::backup(self).await
    }

    fn applied(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    async fn changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed> {
        self.changes_since(after, wait).await
    }

    async fn node_status(&self) -> Result<NodeStatus> {
        Ok(self.local_status())
    }

    async fn ready(&self) -> bool {
        // Writes through this client are proposed on this node, so it must lead, and lead
        // now: a live check, not the cached metrics (a stopped node's metrics stay stale).
        let leads = self.raft.metrics().borrow().current_leader == Some(self.node_id);
        let live = tokio::time::timeout(READY_CHECK_TIMEOUT, self.raft.ensure_linearizable());
        leads && self.fatal().is_none() && matches!(live.await, Ok(Ok(_)))
    }

    fn fatal(&self) -> Option<String> {
        crate::error::fatal_cause(&self.raft.metrics().borrow())
    }

    async fn heartbeat(&self, call: HeartbeatCall) -> Result<HeartbeatView> {
        LocalClient::heartbeat(self, &call).await
    }

    fn applied_commits(&self, segments: &[SegmentCommit]) -> Vec<Option<SegmentCommitResult>> {
        let applied = self.shared.read();
        let known: Vec<_> = segments
            .iter()
            .map(|segment| applied.state.previous_commit(segment))
            .collect();
        let answered = known.iter().filter(|k| k.is_some()).count();
        if answered > 0 {
            tracing::debug!(answered, "segments answered from the applied state");
            self.stats.answered(answered);
        }
        known
    }

    fn proposing(&self, size: ProposalSize) {
        self.stats.proposed(size);
    }
}

/// How long the readiness check waits for this node to confirm its leadership.
const READY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
