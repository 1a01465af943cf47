//! The Raft network: [`HttpNetworkFactory`] for clusters (JSON over HTTP to the peers'
//! `/raft/*` routes, served by [`crate::server`]), and [`NoNetworkFactory`] for the
//! embedded single node of `silt dev`, which never sends a Raft RPC (every call fails
//! with [`Unreachable`], so openraft backs off instead of hanging).
//!
//! A peer's address is the `addr` of its [`BasicNode`] in the membership. Each RPC is
//! bounded by openraft's hard TTL; a connection failure is `Unreachable` (openraft backs
//! off), a body the peer refused as too large (HTTP 413) is `PayloadTooLarge` with a hint
//! of half the entries (openraft retries at once with fewer), any other transport failure
//! a `NetworkError` (retried), and an error the peer returns a `RemoteError`.

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
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
    /// `http` or `https`.
    scheme: &'static str,
}

impl HttpNetworkFactory {
    /// A factory with its own HTTP client, presenting `secret` (if any) to every peer.
    /// With `tls`, peers are reached over HTTPS and must present a certificate it trusts.
    pub(crate) fn new(
        secret: Option<&crate::ClusterSecret>,
        tls: Option<&crate::ClusterTls>,
    ) -> Result<Self, reqwest::Error> {
        let http = crate::tls::cluster_client(secret, tls)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(4)
            .build()?;
        let scheme = crate::tls::scheme(tls);
        Ok(Self { http, scheme })
    }
}

/// A connection to one peer.
#[derive(Debug, Clone)]
pub(crate) struct HttpNetwork {
    target: NodeId,
    node: BasicNode,
    http: reqwest::Client,
    /// `http` or `https`.
    scheme: &'static str,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetworkFactory {
    type Network = HttpNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> HttpNetwork {
        HttpNetwork {
            target,
            node: node.clone(),
            http: self.http.clone(),
            scheme: self.scheme,
        }
    }
}

impl HttpNetwork {
    /// Sends `request` to `url` within the RPC's hard TTL; a refused connection is
    /// `Unreachable`, any other failure a network error.
    async fn post<Req: Serialize, E: std::error::Error>(
        &self,
        url: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<reqwest::Response, RPCError<NodeId, BasicNode, E>> {
        let sent = self.http.post(url).timeout(option.hard_ttl()).json(request);
        sent.send().await.map_err(|error| {
            if error.is_connect() {
                RPCError::Unreachable(Unreachable::new(&error))
            } else {
                RPCError::Network(NetworkError::new(&error))
            }
        })
    }

    /// Posts one RPC carrying `entries` log entries to the peer and decodes its `Result`.
    async fn rpc<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        entries: usize,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let url = format!("{}://{}{path}", self.scheme, self.node.addr);
        let response = self.post(&url, request, option).await?;
        if response.status() == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
            return Err(too_large(entries, &url));
        }
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

/// Why a peer refused a request body.
#[derive(Debug, thiserror::Error)]
#[error("{url} refused the request body as too large (HTTP 413)")]
pub(crate) struct BodyTooLarge {
    /// The URL posted to.
    url: String,
}

/// The error for an RPC of `entries` log entries the peer refused as too large: openraft
/// resends at once with at most half of them (one entry that is still too large it treats
/// as unreachable and backs off); any other RPC is a network error.
fn too_large<E: std::error::Error>(entries: usize, url: &str) -> RPCError<NodeId, BasicNode, E> {
    let cause = BodyTooLarge {
        url: url.to_owned(),
    };
    if entries == 0 {
        return RPCError::Network(NetworkError::new(&cause));
    }
    let hint = u64::try_from(entries / 2).unwrap_or(u64::MAX).max(1);
    RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(hint).with_source_error(&cause))
}

impl RaftNetwork<TypeConfig> for HttpNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let entries = rpc.entries.len();
        self.rpc("/raft/append", &rpc, entries, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc("/raft/snapshot", &rpc, 0, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc("/raft/vote", &rpc, 0, &option).await
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    use openraft::error::RPCError;
    use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
    use openraft::raft::AppendEntriesRequest;
    use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Vote};

    use super::HttpNetworkFactory;
    use crate::types::Command;

    /// A peer whose `/raft/append` refuses bodies over 1 KiB, as axum's body limit does.
    async fn small_body_peer() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let router = axum::Router::new()
            .route(
                "/raft/append",
                post(|_body: axum::body::Bytes| async { "{}" }),
            )
            .layer(DefaultBodyLimit::max(1024));
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    fn entry(index: u64) -> Entry<crate::type_config::TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::RecordOrphans {
                objects: vec!["x".repeat(500)],
                at_ms: 0,
            }),
        }
    }

    #[tokio::test]
    async fn a_body_refused_as_too_large_asks_openraft_for_half_the_entries() {
        let addr = small_body_peer().await;
        let mut factory = HttpNetworkFactory::new(None, None).unwrap();
        let mut network = factory.new_client(2, &BasicNode { addr }).await;
        let request = AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries: (1..=8).map(entry).collect(),
        };
        let option = RPCOption::new(std::time::Duration::from_secs(5));
        let error = network.append_entries(request, option).await.unwrap_err();
        match error {
            RPCError::PayloadTooLarge(too_large) => assert_eq!(too_large.entries_hint(), 4),
            other => panic!("expected PayloadTooLarge, got {other}"),
        }
    }
}
