//! The Raft network: [`HttpNetworkFactory`] for clusters (JSON over HTTP to the peers'
//! `/raft/*` routes, served by [`crate::server`]), and [`NoNetworkFactory`] for the
//! embedded single node of `silt dev`, which never sends a Raft RPC (every call fails
//! with [`Unreachable`], so openraft backs off instead of hanging).
//!
//! A peer's address is the `addr` of its [`BasicNode`] in the membership. Each RPC is
//! bounded by openraft's hard TTL; a connection failure is `Unreachable` (openraft backs
//! off), any other transport failure a `NetworkError` (retried), and an error the peer
//! returns a `RemoteError`.

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// Creates [`HttpNetwork`] clients sharing one connection pool.
#[derive(Debug, Clone)]
pub(crate) struct HttpNetworkFactory {
    http: reqwest::Client,
}

impl HttpNetworkFactory {
    /// A factory with its own HTTP client.
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        let http = crate::tls::client_builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(4)
            .build()?;
        Ok(Self { http })
    }
}

/// A connection to one peer.
#[derive(Debug, Clone)]
pub(crate) struct HttpNetwork {
    target: NodeId,
    node: BasicNode,
    http: reqwest::Client,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetworkFactory {
    type Network = HttpNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> HttpNetwork {
        HttpNetwork {
            target,
            node: node.clone(),
            http: self.http.clone(),
        }
    }
}

impl HttpNetwork {
    /// Posts one RPC to the peer and decodes its `Result`.
    async fn rpc<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let url = format!("http://{}{path}", self.node.addr);
        let response = self
            .http
            .post(&url)
            .timeout(option.hard_ttl())
            .json(request)
            .send()
            .await
            .map_err(|error| {
                if error.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&error))
                } else {
                    RPCError::Network(NetworkError::new(&error))
                }
            })?;
        let reply: Result<Resp, RaftError<NodeId, E>> = response
            .error_for_status()
            .map_err(|error| RPCError::Network(NetworkError::new(&error)))?
            .json()
            .await
            .map_err(|error| RPCError::Network(NetworkError::new(&error)))?;
        reply.map_err(|error| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                error,
            ))
        })
    }
}

impl RaftNetwork<TypeConfig> for HttpNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc("/raft/snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc("/raft/vote", &rpc, &option).await
    }
}
