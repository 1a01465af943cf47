//! The Raft network for this release: none.
//!
//! The embedded single-node deployment (`silt dev`) never sends a Raft RPC: it is the only
//! voter. Every call here fails with [`Unreachable`], so if openraft ever tried to reach
//! another node it would back off instead of hanging. The cluster transport (HTTP, on
//! its own listener) arrives with the multi-node issue.

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::type_config::{NodeId, TypeConfig};

/// Why every RPC fails.
#[derive(Debug, thiserror::Error)]
#[error("no raft transport to node {target}: cluster transport arrives with the multi-node issue")]
pub(crate) struct NoTransport {
    /// The node that could not be reached.
    target: NodeId,
}

/// Creates [`NoNetwork`] clients.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoNetworkFactory;

/// A connection to another node that fails every call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoNetwork {
    /// The node this client would reach.
    target: NodeId,
}

impl NoNetwork {
    /// The error every call returns.
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, E> {
        RPCError::Unreachable(Unreachable::new(&NoTransport {
            target: self.target,
        }))
    }
}

impl RaftNetworkFactory<TypeConfig> for NoNetworkFactory {
    type Network = NoNetwork;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> NoNetwork {
        NoNetwork { target }
    }
}

impl RaftNetwork<TypeConfig> for NoNetwork {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}
