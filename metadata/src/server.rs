//! The metadata node's HTTP server: Raft's RPCs from peers (`/raft/*`) and the metadata
//! API brokers call through [`crate::HttpClient`] (`/meta/v1/*`, bodies in [`crate::wire`]).
//!
//! - `POST /raft/append`, `/raft/vote`, `/raft/snapshot`: openraft's RPCs, JSON.
//! - `POST /meta/v1/write`: a [`Command`]; a follower answers `NotLeader` with the leader's
//!   address. Segment commits from every broker are **group-committed**: commits that
//!   arrive while earlier ones are being proposed are merged into one Raft entry (safe
//!   because commits are idempotent by object name and each broker waits for its own).
//!   Each commit is checked on its own first (`state::validate::segments`), so a bad
//!   commit is refused alone and never sinks the group it would have joined, and a group
//!   never grows past one proposal's limits ([`crate::proposal`]: segments, chunks, bytes).
//!   Segments this node has applied already are answered from its state, not proposed
//!   again (a broker's retry of a commit that did apply costs no new entry).
//! - `POST /meta/v1/read`: a [`ReadQuery`], served by the leader after a linearizability
//!   check.
//! - `GET /meta/v1/watch?after=N&timeout_ms=T[&changes=true]`: answers as soon as this
//!   node has applied an entry past `N` (or after `T`, at most 30 s) with its applied
//!   index; with `changes=true` also with the partitions changed after `N` (new high
//!   watermark, or topic deleted) from this node's in-memory ring of recent changes, or
//!   `reset` when the ring no longer covers `N` (body: [`WatchReply`]). Any node serves
//!   it, not linearizably; brokers use it to wake only the long-polls of changed
//!   partitions.
//! - `GET /meta/v1/status`: this node's [`NodeStatus`].
//! - `POST /meta/v1/members/learner`, `POST /meta/v1/members/voters`: membership changes
//!   (leader only). A voter set that adds a node which is not a learner within 64 entries of
//!   the leader's log is refused with 409 ([`RemoteError::MembershipRefused`]).
//! - `GET /healthz`: 200 while Raft runs; 503 naming the cause once it stopped for good
//!   (a fatal storage error such as a full disk), so a supervisor restarts the node.
//! - `GET /readyz`: 200 when this node knows a leader (it can serve or forward requests)
//!   and, if it leads, a quorum confirms that now; 503 otherwise; the body says which.
//! - `GET /metrics`: Prometheus text of this node's Raft state, its state's sizes and
//!   snapshots, its segment-commit
//!   proposals and the requests its gate refused (`silt_metadata_*`).
//!
//! Every route but `/healthz`, `/readyz` and `/metrics` is behind the gate
//! ([`crate::gate`]): with a cluster secret configured, a request without it gets 401 and
//! reaches no handler.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use openraft::BasicNode;
use openraft::error::{ClientWriteError, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::client::{LocalClient, MetadataClient};
use crate::error::{Error, fatal_error};
use crate::gate::{self, Gate, Refusals};
use crate::limits::MAX_APPEND_BYTES;
use crate::proposal::{ProposalSize, ProposalStats};
use crate::secret::ClusterSecret;
use crate::state::validate;
use crate::type_config::{NodeId, TypeConfig};
use crate::types::{
    Command, CommandResult, HeartbeatView, NodeStatus, SegmentCommit, SegmentCommitResult,
};
use crate::wire::{
    AddLearner, HeartbeatCall, ReadQuery, ReadReply, RemoteError, Reply, SetVoters, WatchReply,
};

/// Largest request body (Raft batches and snapshot chunks). An AppendEntries carries at
/// most [`MAX_APPEND_BYTES`] beyond its first entry, far below this; only an entry written
/// before proposals were bounded can pass it, and the 413 it gets makes the sender's
/// openraft send fewer entries (`network.rs`).
const MAX_BODY_BYTES: usize = 64 << 20;
const _: () = assert!(MAX_BODY_BYTES >= 16 * MAX_APPEND_BYTES);
/// Longest watch wait a client may ask for.
const MAX_WATCH_WAIT: Duration = Duration::from_secs(30);
/// Group commits proposed at once.
const GROUP_COMMITS_IN_FLIGHT: usize = 4;
/// How many log entries a learner may lag behind the leader's last index and still be made
/// a voter.
const CATCH_UP_MARGIN: u64 = 64;

/// One broker's commit waiting to be merged into a group.
struct PendingCommit {
    segments: Vec<SegmentCommit>,
    done: oneshot::Sender<Reply<Vec<SegmentCommitResult>>>,
}

/// What every handler shares.
#[derive(Clone)]
struct ServerState {
    /// The node.
    client: LocalClient,
    /// The group-commit queue.
    commits: mpsc::Sender<PendingCommit>,
    /// The gate's refusal counters.
    refusals: Arc<Refusals>,
}

/// The node's router, its cluster routes behind a gate admitting requests that present
/// `secret` (every request if `None`). Spawns the group-commit task (it ends when the
/// router is dropped).
pub(crate) fn router(client: LocalClient, secret: Option<ClusterSecret>) -> Router {
    let (commits, pending) = mpsc::channel(4096);
    tokio::spawn(group_commit_loop(client.clone(), pending));
    let gate = Gate::new(secret);
    let state = ServerState {
        client,
        commits,
        refusals: gate.refusals(),
    };
    cluster_routes()
        .route_layer(middleware::from_fn_with_state(gate, gate::require_secret))
        .merge(probe_routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The routes only the cluster may call (peers, brokers, admin commands).
fn cluster_routes() -> Router<ServerState> {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .route("/meta/v1/write", post(write))
        .route("/meta/v1/read", post(read))
        .route("/meta/v1/heartbeat", post(heartbeat))
        .route("/meta/v1/backup", post(backup))
        .route("/meta/v1/watch", get(watch))
        .route("/meta/v1/status", get(status))
        .route("/meta/v1/members/learner", post(add_learner))
        .route("/meta/v1/members/voters", post(set_voters))
}

/// The routes open to anyone (supervisors' probes and the metrics scraper).
fn probe_routes() -> Router<ServerState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn append(
    State(state): State<ServerState>,
    Json(rpc): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>> {
    Json(state.client.raft().append_entries(rpc).await)
}

async fn vote(
    State(state): State<ServerState>,
    Json(rpc): Json<VoteRequest<NodeId>>,
) -> Json<Result<VoteResponse<NodeId>, RaftError<NodeId>>> {
    Json(state.client.raft().vote(rpc).await)
}

async fn snapshot(
    State(state): State<ServerState>,
    Json(rpc): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>> {
    Json(state.client.raft().install_snapshot(rpc).await)
}

async fn write(
    State(state): State<ServerState>,
    Json(command): Json<Command>,
) -> Json<Reply<CommandResult>> {
    // The proposal time (`at_ms`) a client sent is dropped: the node proposing the entry
    // stamps its own.
    if let Command::CommitSegments { segments, .. } = command {
        if let Err(refusal) = validate::segments(&segments) {
            return Json(Err(RemoteError::Rejected(refusal)));
        }
        let (done, answer) = oneshot::channel();
        if state
            .commits
            .send(PendingCommit { segments, done })
            .await
            .is_err()
        {
            return Json(Err(RemoteError::ShuttingDown));
        }
        return Json(match answer.await {
            Ok(reply) => reply.map(CommandResult::Committed),
            Err(_) => Err(RemoteError::ShuttingDown),
        });
    }
    Json(state.client.write(command).await.map_err(RemoteError::from))
}

/// Merges queued commits (each valid on its own) into one Raft entry each time, a few
/// entries in flight. A group stays within one proposal's limits
/// ([`ProposalSize::admits`]): a commit that would push it past them starts the next group.
async fn group_commit_loop(client: LocalClient, mut pending: mpsc::Receiver<PendingCommit>) {
    let slots = Arc::new(Semaphore::new(GROUP_COMMITS_IN_FLIGHT));
    let mut carried: Option<PendingCommit> = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match pending.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (group, next) = fill_group(first, &mut pending);
        carried = next;
        tokio::spawn(commit_group(client.clone(), group, permit));
    }
}

/// The group starting with `first`: every queued commit that fits one proposal with it,
/// and the first one that did not (it starts the next group).
fn fill_group(
    first: PendingCommit,
    pending: &mut mpsc::Receiver<PendingCommit>,
) -> (Vec<PendingCommit>, Option<PendingCommit>) {
    let mut size = ProposalSize::of_all(&first.segments);
    let mut group = vec![first];
    while let Ok(next) = pending.try_recv() {
        let next_size = ProposalSize::of_all(&next.segments);
        if !size.admits(next_size) {
            return (group, Some(next));
        }
        size = size.plus(next_size);
        group.push(next);
    }
    (group, None)
}

/// Commits a group's segments together and answers each broker with its own slice.
async fn commit_group(
    client: LocalClient,
    group: Vec<PendingCommit>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut all: Vec<SegmentCommit> = Vec::new();
    let mut waiters = Vec::with_capacity(group.len());
    for pending in group {
        waiters.push((pending.segments.len(), pending.done));
        all.extend(pending.segments);
    }
    answer_group(waiters, client.commit_segments(all).await);
}

/// Sends each broker of a group (how many segments it sent, where to answer) its own
/// slice of the group's results, or the group's error.
fn answer_group(
    waiters: Vec<(usize, oneshot::Sender<Reply<Vec<SegmentCommitResult>>>)>,
    outcome: Result<Vec<SegmentCommitResult>, Error>,
) {
    match outcome {
        Ok(results) => {
            let mut results = results.into_iter();
            for (count, done) in waiters {
                let mine: Vec<SegmentCommitResult> = results.by_ref().take(count).collect();
                let _ = done.send(Ok(mine));
            }
        }
        Err(error) => {
            let error = RemoteError::from(error);
            for (_, done) in waiters {
                let _ = done.send(Err(error.clone()));
            }
        }
    }
}

async fn read(
    State(state): State<ServerState>,
    Json(query): Json<ReadQuery>,
) -> Json<Reply<ReadReply>> {
    Json(state.client.query(query).await.map_err(RemoteError::from))
}

/// `POST /meta/v1/backup` (body `{}`): a backup of the leader's state (else `NotLeader`,
/// and the client follows), the snapshot file in base64.
async fn backup(
    State(state): State<ServerState>,
    Json(_): Json<serde_json::Value>,
) -> Json<Reply<crate::backup::BackupWire>> {
    let backup = state.client.backup().await;
    Json(backup.map(Into::into).map_err(RemoteError::from))
}

/// `POST /meta/v1/heartbeat`: a group member is alive; answered from this node's state if
/// it leads (else `NotLeader`, and the client follows), never a Raft write.
async fn heartbeat(
    State(state): State<ServerState>,
    Json(call): Json<HeartbeatCall>,
) -> Json<Reply<HeartbeatView>> {
    Json(
        state
            .client
            .heartbeat(&call)
            .await
            .map_err(RemoteError::from),
    )
}

/// `GET /meta/v1/watch` parameters.
#[derive(Debug, Deserialize)]
struct WatchParams {
    /// The caller knows everything up to this log index.
    after: u64,
    /// Longest wait, at most [`MAX_WATCH_WAIT`] (default 10 s).
    timeout_ms: Option<u64>,
    /// Whether to answer with the partitions changed after `after`.
    #[serde(default)]
    changes: bool,
}

/// `GET /meta/v1/watch`: see the module doc.
async fn watch(
    State(state): State<ServerState>,
    Query(params): Query<WatchParams>,
) -> Json<WatchReply> {
    let wait = Duration::from_millis(params.timeout_ms.unwrap_or(10_000)).min(MAX_WATCH_WAIT);
    if params.changes {
        return Json(watch_changes(&state.client, params.after, wait).await);
    }
    let mut applied = state.client.subscribe_applied();
    let _ = tokio::time::timeout(wait, applied.wait_for(|index| *index > params.after)).await;
    let current = *applied.borrow();
    Json(WatchReply::applied(current))
}

/// The watch answer with the partitions changed after `after` (a reset while the node
/// shuts down: the caller re-reads).
async fn watch_changes(client: &LocalClient, after: u64, wait: Duration) -> WatchReply {
    match client.changes_since(after, wait).await {
        Ok(feed) => WatchReply::of_feed(feed),
        Err(_) => WatchReply::of_feed(crate::types::ChangeFeed::Reset {
            applied: *client.subscribe_applied().borrow(),
        }),
    }
}

async fn status(State(state): State<ServerState>) -> Json<NodeStatus> {
    Json(state.client.local_status())
}

/// `GET /healthz`: 200 while Raft runs; 503 naming the cause once it stopped for good (a
/// fatal storage error), so a supervisor restarts the node.
async fn healthz(State(state): State<ServerState>) -> (StatusCode, String) {
    match state.client.failure() {
        Some(cause) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failed: {cause}\n"),
        ),
        None => (StatusCode::OK, "ok\n".to_owned()),
    }
}

/// `GET /readyz`: 200 when this node knows a leader and, if it is the leader, confirms its
/// leadership with a quorum now (live, not from cached metrics); 503 otherwise.
async fn readyz(State(state): State<ServerState>) -> (StatusCode, String) {
    let status = state.client.local_status();
    let unavailable = |why: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
    };
    if let Some(cause) = state.client.failure() {
        return unavailable(cause);
    }
    match status.leader_id {
        Some(leader) if leader == status.node_id && !state.client.is_ready().await => {
            unavailable("leadership not confirmed by a quorum".to_owned())
        }
        Some(leader) => (StatusCode::OK, format!("ready: leader {leader}\n")),
        None => unavailable(format!("no leader known ({})", status.state)),
    }
}

async fn metrics(
    State(state): State<ServerState>,
) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_metrics(
            &state.client.local_status(),
            state.client.stats(),
            &state.refusals,
        ) + &state.client.state_metrics(),
    )
}

/// The Prometheus text of one node's status (gauges), its proposal counters and its
/// gate's refusals.
fn render_metrics(status: &NodeStatus, stats: &ProposalStats, refusals: &Refusals) -> String {
    let gauges: [(&str, &str, u64); 6] = [
        (
            "silt_metadata_is_leader",
            "1 when this node is the Raft leader",
            u64::from(status.state == "Leader"),
        ),
        (
            "silt_metadata_has_leader",
            "1 when this node knows a leader",
            u64::from(status.leader_id.is_some()),
        ),
        ("silt_metadata_term", "Current Raft term", status.term),
        (
            "silt_metadata_last_applied_index",
            "Index of the last applied log entry",
            status.last_applied,
        ),
        (
            "silt_metadata_voters",
            "Voting members this node knows",
            status.voters.len() as u64,
        ),
        (
            "silt_metadata_learners",
            "Non-voting members this node knows",
            status.learners.len() as u64,
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in gauges {
        out.push_str(&metric(name, help, "gauge", value));
    }
    for (name, help, value) in stats.counters() {
        out.push_str(&metric(name, help, "counter", value));
    }
    out.push_str(&refusal_metric(refusals));
    out
}

/// The gate's refusals, one counter labelled by reason (`missing`, `wrong`).
fn refusal_metric(refusals: &Refusals) -> String {
    let name = "silt_metadata_unauthorized_requests_total";
    let mut out = format!(
        "# HELP {name} Requests refused for lacking the cluster secret, by reason\n# TYPE {name} counter\n"
    );
    for (reason, count) in refusals.by_reason() {
        out.push_str(&format!("{name}{{reason=\"{reason}\"}} {count}\n"));
    }
    out
}

/// One metric in the Prometheus text format.
fn metric(name: &str, help: &str, kind: &str, value: u64) -> String {
    format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
}

/// Maps a membership-change failure.
fn membership_error(error: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> RemoteError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => RemoteError::NotLeader {
            leader_id: forward.leader_id,
            leader_addr: forward.leader_node.map(|node| node.addr),
        },
        RaftError::APIError(other) => RemoteError::Unavailable(other.to_string()),
        RaftError::Fatal(fatal) => RemoteError::from(fatal_error(fatal)),
    }
}

async fn add_learner(
    State(state): State<ServerState>,
    Json(request): Json<AddLearner>,
) -> Json<Reply<NodeStatus>> {
    let node = BasicNode {
        addr: request.addr.clone(),
    };
    Json(
        match state
            .client
            .raft()
            .add_learner(request.node_id, node, true)
            .await
        {
            Ok(_) => Ok(state.client.local_status()),
            Err(error) => Err(membership_error(error)),
        },
    )
}

/// `POST /meta/v1/members/voters`: 409 if a new voter is not a caught-up learner
/// ([`check_new_voters`]), else the change (forwarded to the leader by the caller).
async fn set_voters(
    State(state): State<ServerState>,
    Json(request): Json<SetVoters>,
) -> (StatusCode, Json<Reply<NodeStatus>>) {
    if request.voters.is_empty() {
        let refusal = Error::Unavailable("refusing to remove every voter".to_owned());
        return (StatusCode::OK, Json(Err(RemoteError::from(refusal))));
    }
    let voters: BTreeSet<NodeId> = request.voters.iter().copied().collect();
    let checked = check_new_voters(&state.client.raft().metrics().borrow(), &voters);
    if let Err(refusal) = checked {
        tracing::warn!(%refusal, ?voters, "refused a voter set");
        return (
            StatusCode::CONFLICT,
            Json(Err(RemoteError::MembershipRefused(refusal))),
        );
    }
    let changed = state.client.raft().change_membership(voters, false).await;
    let reply = match changed {
        Ok(_) => Ok(state.client.local_status()),
        Err(error) => Err(membership_error(error)),
    };
    (StatusCode::OK, Json(reply))
}

/// On the leader, whether every node `voters` adds to the current voters is a learner whose
/// replicated log is within [`CATCH_UP_MARGIN`] entries of the leader's last index: a voter
/// that lags (or is unreachable) would count in every quorum and stall every write. Other
/// nodes pass (the change is refused as `NotLeader`).
fn check_new_voters(
    metrics: &openraft::RaftMetrics<NodeId, BasicNode>,
    voters: &BTreeSet<NodeId>,
) -> Result<(), String> {
    if metrics.state != openraft::ServerState::Leader {
        return Ok(());
    }
    let current: BTreeSet<NodeId> = metrics.membership_config.membership().voter_ids().collect();
    let last = metrics.last_log_index.unwrap_or(0);
    let replication = metrics.replication.as_ref();
    for node in voters.difference(&current) {
        let Some(matched) = replication.and_then(|r| r.get(node)) else {
            return Err(format!(
                "node {node} is not a learner of this cluster: add it as a learner first (silt membership add)"
            ));
        };
        check_caught_up(*node, matched.map(|log_id| log_id.index), last)?;
    }
    Ok(())
}

/// Whether learner `node`, whose log matches the leader's up to `matched`, is within
/// [`CATCH_UP_MARGIN`] of the leader's `last` index.
fn check_caught_up(node: NodeId, matched: Option<u64>, last: u64) -> Result<(), String> {
    let Some(matched) = matched else {
        return Err(format!(
            "node {node} has not replicated any of the leader's {last} log entries (is it running and reachable?); wait until it has caught up"
        ));
    };
    let behind = last.saturating_sub(matched);
    if behind > CATCH_UP_MARGIN {
        return Err(format!(
            "node {node} is {behind} log entries behind the leader (at {matched} of {last}; at most {CATCH_UP_MARGIN} allowed); wait until it has caught up"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn metrics_render_the_raft_state() {
        let status = crate::types::NodeStatus {
            node_id: 2,
            state: "Leader".to_owned(),
            leader_id: Some(2),
            leader_addr: None,
            term: 7,
            last_applied: 42,
            voters: vec![1, 2, 3],
            learners: vec![],
            addresses: BTreeMap::new(),
        };
        let stats = crate::proposal::ProposalStats::default();
        stats.proposed(crate::proposal::ProposalSize {
            segments: 3,
            chunks: 5,
            bytes: 900,
        });
        stats.answered(2);
        let refusals = crate::gate::Refusals::default();
        let text = super::render_metrics(&status, &stats, &refusals);
        for line in [
            "silt_metadata_is_leader 1",
            "silt_metadata_has_leader 1",
            "silt_metadata_term 7",
            "silt_metadata_last_applied_index 42",
            "silt_metadata_voters 3",
            "silt_metadata_learners 0",
            "silt_metadata_commit_proposals_total 1",
            "silt_metadata_commit_proposed_segments_total 3",
            "silt_metadata_commit_proposed_bytes_total 900",
            "silt_metadata_commit_answered_from_state_total 2",
            "silt_metadata_unauthorized_requests_total{reason=\"missing\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in {text}"
            );
        }
    }

    use crate::types::{ChunkCommit, SegmentCommit, TopicSettings};
    use crate::wire::AddLearner;
    use crate::{ClusterConfig, HttpClient, MetadataClient, MetadataNode};

    async fn serve(node: &MetadataNode, listener: tokio::net::TcpListener) {
        let router = node.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
    }

    /// A node added after the log was purged behind a snapshot can only catch up by
    /// receiving that snapshot over HTTP (`/raft/snapshot`, in chunks).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_node_catches_up_from_a_snapshot_sent_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let mut peers = BTreeMap::new();
        let mut listeners = Vec::new();
        for id in 1..=4u64 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            peers.insert(id, listener.local_addr().unwrap().to_string());
            listeners.push(listener);
        }
        let voters: BTreeMap<u64, String> = peers
            .iter()
            .filter(|(id, _)| **id <= 3)
            .map(|(i, a)| (*i, a.clone()))
            .collect();
        let mut nodes = Vec::new();
        for (id, listener) in (1..=4u64).zip(listeners) {
            let node = MetadataNode::open_cluster(ClusterConfig {
                node_id: id,
                data_dir: dir.path().join(format!("n{id}")),
                peers: if id <= 3 {
                    voters.clone()
                } else {
                    BTreeMap::from([(4, peers[&4].clone())])
                },
                secret: None,
                tls: None,
            })
            .await
            .unwrap();
            serve(&node, listener).await;
            nodes.push(node);
        }
        let boot = nodes[..3].iter().map(|n| n.bootstrap(&voters));
        tokio::time::timeout(Duration::from_secs(20), futures::future::try_join_all(boot))
            .await
            .unwrap()
            .unwrap();
        let client = HttpClient::connect(&voters.values().cloned().collect::<Vec<_>>()).unwrap();
        let topic = client
            .create_topic("t", 1, TopicSettings::default(), 1)
            .await
            .unwrap();
        for i in 0..30 {
            let segment = SegmentCommit {
                object: format!("s{i}"),
                size: 10,
                sealed_at_ms: None,
                offset_commits: Vec::new(),
                chunks: vec![ChunkCommit {
                    topic_id: topic.id,
                    partition: 0,
                    position: 0,
                    length: 10,
                    record_count: 1,
                    first_timestamp_ms: 1,
                    max_timestamp_ms: 1,
                    producer: None,
                }],
            };
            client.commit_segments(vec![segment]).await.unwrap();
        }
        // Snapshot and purge the log on every voter.
        for node in &nodes[..3] {
            node.raft().trigger().snapshot().await.unwrap();
        }
        for node in &nodes[..3] {
            let m = node
                .raft()
                .wait(Some(Duration::from_secs(10)))
                .metrics(|m| m.snapshot.is_some(), "snapshot")
                .await
                .unwrap();
            let index = m.snapshot.map(|s| s.index).unwrap();
            node.raft().trigger().purge_log(index).await.unwrap();
        }
        let leader = client.status().await.unwrap();
        let leader_addr = leader.leader_addr.unwrap();
        let http = reqwest::Client::new();
        // The leader's /metrics shows its state's sizes and the snapshot it built.
        let text = http
            .get(format!("http://{leader_addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "silt_metadata_state_segments 30",
            "silt_metadata_state_index_entries 30",
            "silt_metadata_snapshots_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in {text}"
            );
        }
        let bytes = text
            .lines()
            .find_map(|l| l.strip_prefix("silt_metadata_snapshot_bytes "))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(bytes.is_some_and(|b| b > 0), "{text}");
        let reply: crate::wire::Reply<crate::types::NodeStatus> = http
            .post(format!("http://{leader_addr}/meta/v1/members/learner"))
            .json(&AddLearner {
                node_id: 4,
                addr: peers[&4].clone(),
            })
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply.unwrap();
        let applied = leader.last_applied;
        let caught_up = nodes[3]
            .raft()
            .wait(Some(Duration::from_secs(20)))
            .metrics(
                |m| m.last_applied.is_some_and(|l| l.index >= applied),
                "learner caught up",
            )
            .await
            .unwrap();
        assert!(
            caught_up.snapshot.is_some(),
            "the learner installed a snapshot"
        );
        // The learner's state machine holds the whole partition index.
        let state = nodes[3].client().local_state_high_watermark("t", 0);
        assert_eq!(state, Some(30));
        for node in nodes {
            node.shutdown().await.unwrap();
        }
    }

    /// Three voters on 127.0.0.1, bootstrapped: the nodes and their addresses.
    async fn three_nodes(dir: &std::path::Path) -> (Vec<MetadataNode>, Vec<String>) {
        let mut peers = BTreeMap::new();
        let mut listeners = Vec::new();
        for id in 1..=3u64 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            peers.insert(id, listener.local_addr().unwrap().to_string());
            listeners.push(listener);
        }
        let mut nodes = Vec::new();
        for (id, listener) in (1..=3u64).zip(listeners) {
            let config = ClusterConfig {
                node_id: id,
                data_dir: dir.join(format!("n{id}")),
                peers: peers.clone(),
                secret: None,
                tls: None,
            };
            let node = MetadataNode::open_cluster(config).await.unwrap();
            serve(&node, listener).await;
            nodes.push(node);
        }
        let boot = nodes.iter().map(|n| n.bootstrap(&peers));
        tokio::time::timeout(Duration::from_secs(20), futures::future::try_join_all(boot))
            .await
            .unwrap()
            .unwrap();
        (nodes, peers.into_values().collect())
    }

    #[test]
    fn a_learner_within_the_margin_is_caught_up() {
        assert!(super::check_caught_up(4, Some(936), 1000).is_ok());
        let behind = super::check_caught_up(4, Some(935), 1000).unwrap_err();
        assert!(
            behind.contains("node 4 is 65 log entries behind"),
            "{behind}"
        );
        let never = super::check_caught_up(4, None, 3).unwrap_err();
        assert!(never.contains("node 4 has not replicated"), "{never}");
    }

    /// The reported wedge: a learner nobody runs, then a voter set naming it. The voter
    /// set is refused with 409, naming the node and how far behind it is, and the voters
    /// stay as they were; a node that is not even a learner is refused too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_voter_set_adding_a_learner_that_has_not_caught_up_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (nodes, addrs) = three_nodes(dir.path()).await;
        let client = HttpClient::connect(&addrs).unwrap();
        client
            .create_topic("t", 1, TopicSettings::default(), 1)
            .await
            .unwrap();
        let leader = client.status().await.unwrap();
        let leader_node = nodes
            .iter()
            .find(|n| n.node_id() == leader.node_id)
            .unwrap();
        let nobody = openraft::BasicNode {
            addr: "127.0.0.1:1".to_owned(),
        };
        leader_node
            .raft()
            .add_learner(4, nobody, false)
            .await
            .unwrap();

        let http = crate::tls::cluster_client(None, None).build().unwrap();
        let url = format!(
            "http://{}/meta/v1/members/voters",
            addrs[leader.node_id as usize - 1]
        );
        let response = http
            .post(url)
            .timeout(Duration::from_secs(10))
            .json(&crate::wire::SetVoters {
                voters: vec![1, 2, 3, 4],
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409);
        let reply: crate::wire::Reply<crate::types::NodeStatus> = response.json().await.unwrap();
        let refusal = crate::Error::from(reply.unwrap_err()).to_string();
        assert!(
            refusal.contains("node 4 has not replicated") && refusal.contains("caught up"),
            "{refusal}"
        );
        let stranger = client.set_voters(vec![1, 2, 3, 9]).await.unwrap_err();
        assert!(
            matches!(&stranger, crate::Error::MembershipRefused(m) if m.contains("node 9 is not a learner")),
            "{stranger}"
        );
        let after = client.status().await.unwrap();
        assert_eq!(after.voters, [1, 2, 3]);
        client
            .create_topic("still-writable", 1, TopicSettings::default(), 2)
            .await
            .unwrap();
        for node in nodes {
            node.shutdown().await.unwrap();
        }
    }
}
