//! [`HttpClient`]: [`MetadataClient`](crate::MetadataClient) over a metadata cluster's HTTP
//! API (`crate::wire`).
//!
//! It knows every node's URL, prefers the last node that answered as leader, follows
//! `NotLeader` redirects, and moves to the next node when one is unreachable or slow.
//! One request may take [`REQUEST_TIMEOUT`] (1 s) plus [`TIMEOUT_PER_MIB`] (1 s) per MiB of
//! its body. A call gives up with [`Error::Unavailable`] after [`CALL_BUDGET`]; callers that must
//! not give up (the broker's committer) retry, and commits are idempotent.
//!
//! Once someone subscribes, a background task long-polls `/meta/v1/watch` on any
//! reachable node and publishes the applied index on the watch channel of
//! [`MetadataClient::subscribe_applied`](crate::MetadataClient::subscribe_applied).
//! [`MetadataClient::watch_changes`](crate::MetadataClient::watch_changes) asks the same
//! route for the partitions changed (`changes=true`), one call per answer, on any node.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::backup::{Backup, BackupWire};
use crate::client::Transport;
use crate::error::{Error, Result};
use crate::types::{ChangeFeed, Command, CommandResult, HeartbeatView, NodeStatus};
use crate::wire::{
    AddLearner, HeartbeatCall, ReadQuery, ReadReply, RemoteError, Reply, SetVoters, WatchReply,
};

/// How long one call keeps trying nodes before it fails.
pub(crate) const CALL_BUDGET: Duration = Duration::from_secs(8);
/// How long one HTTP request with a small body may take (a paused node must not hold a call
/// for long); a bigger body adds [`TIMEOUT_PER_MIB`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// What each MiB of request body adds to a request's timeout: a commit of many segments
/// takes the node longer to parse, propose, replicate and apply.
const TIMEOUT_PER_MIB: Duration = Duration::from_secs(1);
/// How long a node that failed a request is tried only after the others, and not
/// followed to by a redirect (a paused leader keeps being named by the followers until
/// they elect another; following them back to it would cost a timeout each time).
const SUSPECT_FOR: Duration = Duration::from_secs(3);
/// How long a watch long-poll waits on the server.
const WATCH_WAIT: Duration = Duration::from_secs(10);
/// How long a membership change may take (a learner catches up before it returns).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the leader may take to build and send a backup of its state.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed in a row before trying the next node.
const MAX_REDIRECTS: u32 = 3;

/// A [`MetadataClient`](crate::MetadataClient) of a remote metadata cluster. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every node's base URL (`http://host:port`), as configured.
    endpoints: Vec<String>,
    /// The node that answered last (most likely the leader).
    preferred: Mutex<Option<String>>,
    /// Nodes that failed a request recently, and when.
    suspects: Mutex<std::collections::HashMap<String, Instant>>,
    http: reqwest::Client,
    /// The scheme of node addresses given without one (leader hints): `https` when the
    /// client was given TLS or an `https://` endpoint, else `http`.
    scheme: &'static str,
    applied_tx: watch::Sender<u64>,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("endpoints", &self.inner.endpoints)
            .finish_non_exhaustive()
    }
}

/// `body` as JSON, encoded once for every node a call tries.
fn encode<Req: Serialize>(body: &Req) -> Result<Bytes> {
    let json = serde_json::to_vec(body)
        .map_err(|e| Error::Unavailable(format!("cannot encode a metadata request: {e}")))?;
    Ok(Bytes::from(json))
}

/// What a request body of `bytes` adds to the request's timeout: [`TIMEOUT_PER_MIB`] per
/// MiB, in proportion.
fn body_allowance(bytes: usize) -> Duration {
    let mib = bytes as f64 / f64::from(1u32 << 20);
    TIMEOUT_PER_MIB.mul_f64(mib)
}

/// Normalises `host:port` (reached with `scheme`) or a URL to a base URL without a
/// trailing slash.
fn base_url(endpoint: &str, scheme: &str) -> String {
    let trimmed = endpoint.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_owned()
    } else {
        format!("{scheme}://{trimmed}")
    }
}

/// `https` when `tls` is given or an endpoint is an `https://` URL, else `http`.
fn endpoint_scheme(endpoints: &[String], tls: Option<&crate::ClusterTls>) -> &'static str {
    let https = endpoints.iter().any(|e| e.trim().starts_with("https://"));
    if https || tls.is_some() {
        "https"
    } else {
        "http"
    }
}

impl Inner {
    /// The base URL of the node at `addr` (`host:port` or a URL).
    fn url_of(&self, addr: &str) -> String {
        base_url(addr, self.scheme)
    }
}

impl HttpClient {
    /// A client of the cluster whose nodes listen at `endpoints` (`http://host:port` or
    /// `host:port`), presenting no cluster secret (for a cluster run without one). The
    /// applied-index watch starts with its first subscriber.
    pub fn connect(endpoints: &[String]) -> Result<HttpClient> {
        Self::connect_with_secret(endpoints, None)
    }

    /// [`HttpClient::connect`], every request presenting `secret` (if any) as its bearer
    /// token.
    pub fn connect_with_secret(
        endpoints: &[String],
        secret: Option<&crate::ClusterSecret>,
    ) -> Result<HttpClient> {
        Self::connect_with(endpoints, secret, None)
    }

    /// [`HttpClient::connect_with_secret`], reaching nodes over HTTPS with `tls` (if
    /// any): endpoints and leader hints without a scheme become `https://` URLs, and
    /// certificates must chain to its CA.
    pub fn connect_with(
        endpoints: &[String],
        secret: Option<&crate::ClusterSecret>,
        tls: Option<&crate::ClusterTls>,
    ) -> Result<HttpClient> {
        let scheme = endpoint_scheme(endpoints, tls);
        let endpoints: Vec<String> = endpoints
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| base_url(e, scheme))
            .collect();
        if endpoints.is_empty() {
            return Err(Error::Unavailable(
                "no metadata endpoints given (--metadata http://HOST:PORT[,…])".to_owned(),
            ));
        }
        let http = crate::tls::cluster_client(secret, tls)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        let (applied_tx, _) = watch::channel(0);
        let client = HttpClient {
            inner: Arc::new(Inner {
                endpoints,
                preferred: Mutex::new(None),
                suspects: Mutex::new(std::collections::HashMap::new()),
                http,
                scheme,
                applied_tx,
                watcher: Mutex::new(None),
            }),
        };
        Ok(client)
    }

    /// Starts the applied-index watch unless it runs (on the first subscriber, so a
    /// client nobody subscribes to sends no watch requests).
    fn start_watcher(&self) {
        let mut watcher = self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if watcher.is_none()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            *watcher = Some(runtime.spawn(watch_loop(Arc::downgrade(&self.inner))));
        }
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// Adds (or re-adds) a node as a learner; returns once it has caught up with the log.
    pub async fn add_learner(&self, node_id: u64, addr: &str) -> Result<NodeStatus> {
        let body = AddLearner {
            node_id,
            addr: addr.to_owned(),
        };
        self.call_with("/meta/v1/members/learner", &body, MEMBERSHIP_TIMEOUT)
            .await
    }

    /// Makes exactly `voters` the voters (each already a member); others leave.
    pub async fn set_voters(&self, voters: Vec<u64>) -> Result<NodeStatus> {
        self.call_with(
            "/meta/v1/members/voters",
            &SetVoters { voters },
            MEMBERSHIP_TIMEOUT,
        )
        .await
    }

    /// Posts `body` to `path`, following the leader; see the module doc.
    async fn call<Req: Serialize + Sync, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp> {
        self.call_with(path, body, REQUEST_TIMEOUT).await
    }

    /// [`HttpClient::call`] with `timeout` per request, plus [`TIMEOUT_PER_MIB`] of body.
    async fn call_with<Req: Serialize + Sync, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        let body = encode(body)?;
        let timeout = timeout + body_allowance(body.len());
        let deadline = Instant::now() + CALL_BUDGET;
        let mut backoff = Duration::from_millis(25);
        let mut last_failure = String::from("no node answered");
        loop {
            for start in self.inner.candidates() {
                match self.try_node(start, path, &body, timeout).await {
                    Attempt::Done(result) => return result,
                    Attempt::Failed(failure) => last_failure = failure,
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "no metadata leader answered within {CALL_BUDGET:?}; last failure: {last_failure}"
                )));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Posts to the node at `start`, following its `NotLeader` redirects (at most
    /// [`MAX_REDIRECTS`], never back to the same node or to a suspect one).
    async fn try_node<Resp: DeserializeOwned>(
        &self,
        start: String,
        path: &str,
        body: &Bytes,
        timeout: Duration,
    ) -> Attempt<Resp> {
        let mut url = start;
        let mut redirects = 0;
        loop {
            match self.inner.post::<Resp>(&url, path, body, timeout).await {
                Ok(Ok(reply)) => {
                    self.inner.answered(&url);
                    return Attempt::Done(Ok(reply));
                }
                Ok(Err(RemoteError::NotLeader {
                    leader_addr: Some(addr),
                    ..
                })) if redirects < MAX_REDIRECTS
                    && self.inner.url_of(&addr) != url
                    && !self.inner.is_suspect(&self.inner.url_of(&addr)) =>
                {
                    redirects += 1;
                    url = self.inner.url_of(&addr);
                }
                Ok(Err(error)) => return refused(&url, Error::from(error)),
                Err(transport) if is_unauthorized(&transport) => {
                    return Attempt::Done(Err(unauthorized(&url)));
                }
                Err(transport) => {
                    self.inner.suspect(&url);
                    return Attempt::Failed(transport_failure(&url, &transport));
                }
            }
        }
    }
}

/// How trying one node (and the leaders it pointed to) ended.
enum Attempt<T> {
    /// The call's outcome: a reply, or an error that no other node would change.
    Done(Result<T>),
    /// A transient failure (which node, and why); the next node may answer.
    Failed(String),
}

/// What went wrong reaching `url`, with every cause (reqwest's own message leaves them
/// out), and what to check when TLS refused the node's certificate.
fn transport_failure(url: &str, error: &reqwest::Error) -> String {
    let mut text = format!("{url}: {error}");
    let mut tls = false;
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = next {
        text.push_str(&format!(": {cause}"));
        tls |= cause.is::<rustls::Error>();
        // An io::Error's source() skips the error it wraps (where rustls puts its own).
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => inner.source(),
            None => cause.source(),
        };
    }
    if tls || text.contains("certificate") {
        text.push_str(" (TLS refused the node's certificate: check that it chains to the CA given as cluster.tls_ca / --tls-ca and names the address used)");
    }
    text
}

/// Whether the node refused the request for lacking the cluster secret (HTTP 401).
fn is_unauthorized(error: &reqwest::Error) -> bool {
    error.status() == Some(reqwest::StatusCode::UNAUTHORIZED)
}

/// The error of a call the node at `url` refused for lacking the cluster secret: final,
/// since every node requires the same secret.
fn unauthorized(url: &str) -> Error {
    Error::Unavailable(format!(
        "{url} refused the request (401): it requires the cluster secret and this client has none or another one (cluster.secret_file / --cluster-secret-file)"
    ))
}

/// The attempt's end when the node at `url` answered with `error`: the call's outcome if
/// the error is final, else a failure to move on from.
fn refused<T>(url: &str, error: Error) -> Attempt<T> {
    if error.is_transient() {
        Attempt::Failed(format!("{url}: {error}"))
    } else {
        Attempt::Done(Err(error))
    }
}

impl Inner {
    /// Nodes to try: the preferred one first, recently failed ones last.
    fn candidates(&self) -> Vec<String> {
        let preferred = self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut out = Vec::with_capacity(self.endpoints.len() + 1);
        if let Some(preferred) = preferred {
            out.push(preferred);
        }
        for endpoint in &self.endpoints {
            if !out.contains(endpoint) {
                out.push(endpoint.clone());
            }
        }
        // Stable: the preferred node stays first among the healthy ones.
        out.sort_by_key(|url| self.is_suspect(url));
        out
    }

    /// Marks `url` as recently failed.
    fn suspect(&self, url: &str) {
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url.to_owned(), Instant::now());
    }

    /// Whether `url` failed within [`SUSPECT_FOR`].
    fn is_suspect(&self, url: &str) -> bool {
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .is_some_and(|at| at.elapsed() < SUSPECT_FOR)
    }

    /// Records that `url` answered: it becomes the preferred node and is no longer
    /// suspect.
    fn answered(&self, url: &str) {
        *self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(url.to_owned());
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(url);
    }

    async fn post<Resp: DeserializeOwned>(
        &self,
        url: &str,
        path: &str,
        body: &Bytes,
        timeout: Duration,
    ) -> std::result::Result<Reply<Resp>, reqwest::Error> {
        let response = self
            .http
            .post(format!("{url}{path}"))
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await?;
        // A refusal on the merits (409) carries its reason in the body.
        if response.status() == reqwest::StatusCode::CONFLICT {
            return response.json::<Reply<Resp>>().await;
        }
        response.error_for_status()?.json::<Reply<Resp>>().await
    }

    async fn get<Resp: DeserializeOwned>(
        &self,
        url: &str,
        path_and_query: &str,
        timeout: Duration,
    ) -> std::result::Result<Resp, reqwest::Error> {
        self.http
            .get(format!("{url}{path_and_query}"))
            .timeout(timeout)
            .send()
            .await?
            .error_for_status()?
            .json::<Resp>()
            .await
    }
}

/// Long-polls `/meta/v1/watch` and republishes the applied index until the client is
/// dropped.
async fn watch_loop(inner: std::sync::Weak<Inner>) {
    let mut next = 0usize;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let candidates = strong.candidates();
        let url = candidates[next % candidates.len()].clone();
        let after = *strong.applied_tx.borrow();
        let path = format!(
            "/meta/v1/watch?after={after}&timeout_ms={}",
            WATCH_WAIT.as_millis()
        );
        let answer = strong
            .get::<WatchReply>(&url, &path, WATCH_WAIT + REQUEST_TIMEOUT)
            .await;
        match answer {
            Ok(reply) => {
                let reply = reply.applied;
                strong.applied_tx.send_if_modified(|current| {
                    let newer = reply > *current;
                    if newer {
                        *current = reply;
                    }
                    newer
                });
            }
            Err(error) => {
                tracing::debug!(%error, url, "metadata watch failed; trying the next node");
                next += 1;
                drop(strong);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[async_trait]
impl Transport for HttpClient {
    async fn write(&self, command: Command) -> Result<CommandResult> {
        match self.call("/meta/v1/write", &command).await? {
            CommandResult::Rejected(refusal) => Err(Error::Rejected(refusal)),
            result => Ok(result),
        }
    }

    async fn query(&self, query: ReadQuery) -> Result<ReadReply> {
        self.call("/meta/v1/read", &query).await
    }

    async fn heartbeat(&self, call: HeartbeatCall) -> Result<HeartbeatView> {
        self.call("/meta/v1/heartbeat", &call).await
    }

    async fn build_backup(&self) -> Result<Backup> {
        let wire: BackupWire = self
            .call_with("/meta/v1/backup", &serde_json::json!({}), BACKUP_TIMEOUT)
            .await?;
        Backup::try_from(wire).map_err(|e| {
            Error::Unavailable(format!("the backup the leader sent is not base64: {e}"))
        })
    }

    fn applied(&self) -> watch::Receiver<u64> {
        self.start_watcher();
        self.inner.applied_tx.subscribe()
    }

    async fn changes(&self, after: u64, wait: Duration) -> Result<ChangeFeed> {
        let wait_ms = wait.as_millis();
        let path = format!("/meta/v1/watch?after={after}&timeout_ms={wait_ms}&changes=true");
        let mut last_failure = String::from("no metadata node configured");
        for url in self.inner.candidates() {
            let answer = self
                .inner
                .get::<WatchReply>(&url, &path, wait + REQUEST_TIMEOUT);
            match answer.await {
                Ok(reply) => return Ok(reply.into_feed()),
                Err(error) => {
                    self.inner.suspect(&url);
                    last_failure = transport_failure(&url, &error);
                }
            }
        }
        Err(Error::Unavailable(format!(
            "no metadata node answered the change watch; last failure: {last_failure}"
        )))
    }

    async fn node_status(&self) -> Result<NodeStatus> {
        let mut last = None;
        for url in self.inner.candidates() {
            match self
                .inner
                .get::<NodeStatus>(&url, "/meta/v1/status", REQUEST_TIMEOUT)
                .await
            {
                Ok(status) if status.state == "Leader" => return Ok(status),
                Ok(status) => {
                    if let Some(addr) = &status.leader_addr
                        && let Ok(leader) = self
                            .inner
                            .get::<NodeStatus>(
                                &self.inner.url_of(addr),
                                "/meta/v1/status",
                                REQUEST_TIMEOUT,
                            )
                            .await
                        && leader.state == "Leader"
                    {
                        return Ok(leader);
                    }
                    last = Some(Ok(status));
                }
                Err(error) => {
                    if last.is_none() {
                        last = Some(Err(Error::Unavailable(transport_failure(&url, &error))));
                    }
                }
            }
        }
        last.unwrap_or_else(|| Err(Error::Unavailable("no metadata node answered".to_owned())))
    }

    async fn ready(&self) -> bool {
        self.node_status()
            .await
            .is_ok_and(|status| status.leader_id.is_some())
    }
}
