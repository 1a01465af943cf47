//! Assembles a running silt broker from a [`Config`]: the object store, the metadata
//! service (embedded for `silt dev`, or a cluster over HTTP for `silt broker`), the spool
//! and caches, the write and read services, the HTTP server, the lease heartbeat and the
//! background recovery of the spool (started last, so neither an unreachable metadata
//! service nor a hung object store keeps the broker from starting); and takes it down in
//! the right order.
//!
//! Shutdown order: stop accepting connections and let in-flight requests finish (long-polls
//! are woken and return), then seal and commit whatever is staged, then stop Raft. Nothing
//! acknowledged is lost at any step: acknowledgement already implies upload and commit.

mod heartbeat;
pub(crate) mod http_server;
mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use silt_bookie::cache::DiskCache;
use silt_bookie::clock::{Clock, SystemClock};
use silt_bookie::wal::SealPolicy;
use silt_metadata::{
    ClusterSecret, ClusterTls, HttpClient, MetadataClient, MetadataNode, NodeConfig,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ulid::Ulid;

use crate::auth::live::{Auth, spawn_reloader};
use crate::budget::ByteBudget;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::read::{Fetcher, Wakeups, spawn_feed};
use crate::server;
use crate::state::{AppState, BrokerIdentity};
use crate::tls::ServerTls;
use crate::write::pipeline::{PipelineParts, WritePipeline};
use crate::write::recovery::{backlog, spawn_recovery};
use crate::write::{WriteLimits, Writer};
use http_server::ConnectionLimits;
use storage::Storage;

/// How long shutdown waits for staged records to be sealed, uploaded and committed.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running broker: with the embedded metadata service (`silt dev`, empty
/// `cluster.metadata`) or a member of a cluster (`silt broker`).
pub struct RunningNode {
    /// The address the HTTP server listens on (HTTPS when `server.tls_cert` is set).
    pub addr: SocketAddr,
    /// The loopback plain-HTTP listener's address, when `server.plain_listen` is set.
    pub plain_addr: Option<SocketAddr>,
    /// The object store URL in use.
    pub object_store_url: String,
    /// This broker's registry id.
    pub broker_id: String,
    shutdown: watch::Sender<bool>,
    /// The listeners' accept loops (TLS or plain, then the plain loopback one).
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    /// Reloads the TLS certificate on a change or SIGHUP (when TLS is on).
    tls_reload: Option<JoinHandle<()>>,
    pipeline: WritePipeline,
    metadata: Option<MetadataNode>,
    heartbeat: JoinHandle<()>,
    /// The consumer lag metrics' refresh.
    lag: JoinHandle<()>,
    /// Retention enforcement (`retention`).
    retention: JoinHandle<()>,
    /// The cost metrics' refresh.
    cost: JoinHandle<()>,
    /// Garbage collection (`gc`).
    gc: JoinHandle<()>,
    /// The metadata backup uploader and its task (`None`: backups off).
    backup: Option<(Arc<crate::backup::Uploader>, JoinHandle<()>)>,
    /// Follows the metadata change feed into the long-polls' wake-up channels.
    change_feed: JoinHandle<()>,
    /// Reloads the principals file on a change or SIGHUP (when auth is on).
    auth_reload: Option<JoinHandle<()>>,
    recovery: JoinHandle<()>,
    disk_cache: Option<Arc<DiskCache>>,
}

/// Starts everything; returns once the server accepts connections.
pub async fn start(config: Config) -> anyhow::Result<RunningNode> {
    let auth = Auth::load(&config.auth).context("cannot start: [auth]")?;
    let limits = &config.server;
    let auth = Arc::new(auth.with_request_limits(limits.max_request_bytes, limits.max_fetch_bytes));
    let storage = Storage::open(&config).await?;
    let (metadata_node, services, recovery) = start_services(&config, &storage).await?;
    let tls = server_tls(&config, &services.metrics)?;
    let recovery_interval = config.wal.recovery_interval;
    let listeners = listen(&config).await?;
    let (addr, plain_addr) = listeners.addrs()?;
    let identity = Arc::new(identity(&config, addr, tls.is_some()));
    let heartbeat = spawn_heartbeat(&config, &services, identity.clone());
    let lag = crate::groups::lag::spawn(
        services.metadata.clone(),
        services.metrics.clone(),
        services.clock.clone(),
        config.groups.lag_refresh_interval,
    );
    let retention = spawn_retention(&config, &services, &identity.broker_id);
    let cost = crate::cost::refresh::spawn(
        services.metadata.clone(),
        services.metrics.clone(),
        storage.store.stats.costs().clone(),
        config.metrics.cost_refresh_interval,
    );
    let gc = spawn_gc(&config, &services, &storage, &identity.broker_id);
    let backup = spawn_backup(&config, &services, &storage, &identity.broker_id);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (object_store_url, disk_cache) = (storage.store.url.clone(), storage.disk_cache.clone());
    let pipeline = services.pipeline.clone();
    let wakeups = Wakeups::new(services.metrics.clone());
    let change_feed = spawn_feed(services.metadata.clone(), &wakeups);
    let metrics = services.metrics.clone();
    let auth_reload = spawn_reloader(auth.clone(), config.auth.reload_interval, metrics);
    let state = app_state(
        config,
        storage,
        services,
        (identity.clone(), auth),
        (shutdown_rx.clone(), wakeups),
    );
    let tls_reload = tls
        .as_ref()
        .map(|tls| tls.spawn_reloader(state.config.server.tls_reload_interval));
    let servers = listeners.serve(state, tls, shutdown_rx);
    Ok(RunningNode {
        addr,
        plain_addr,
        object_store_url,
        broker_id: identity.broker_id.clone(),
        shutdown,
        servers,
        tls_reload,
        pipeline,
        metadata: metadata_node,
        heartbeat,
        lag,
        retention,
        cost,
        gc,
        backup,
        change_feed,
        auth_reload,
        recovery: recovery.spawn(recovery_interval),
        disk_cache,
    })
}

/// Opens the metadata service, lists what an earlier run left in the spool (recovered
/// later, in the background), and starts the write pipeline.
async fn start_services(
    config: &Config,
    storage: &Storage,
) -> anyhow::Result<(Option<MetadataNode>, Services, PendingRecovery)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (node, metadata) = open_metadata(config).await?;
    let metrics = Arc::new(Metrics::default());
    let parts = Arc::new(storage.pipeline_parts(&metadata, &metrics, &clock));
    let backlog = backlog(&parts).context("cannot list the write-ahead cache")?;
    let pipeline = WritePipeline::start(parts.clone(), seal_policy(config));
    let services = Services {
        metadata,
        pipeline,
        metrics,
        clock,
    };
    Ok((node, services, PendingRecovery { parts, backlog }))
}

/// The background recovery, listed before the pipeline started and not yet running.
struct PendingRecovery {
    parts: Arc<PipelineParts>,
    backlog: std::collections::BTreeSet<Ulid>,
}

impl PendingRecovery {
    /// Starts it, retrying in-doubt files every `interval` (`wal.recovery_interval`).
    fn spawn(self, interval: std::time::Duration) -> JoinHandle<()> {
        spawn_recovery(self.parts, self.backlog, interval)
    }
}

/// The listener's TLS, when `server.tls_cert` and `server.tls_key` are set.
fn server_tls(config: &Config, metrics: &Metrics) -> anyhow::Result<Option<ServerTls>> {
    let Some(files) = config.server.tls_files() else {
        return Ok(None);
    };
    let tls = ServerTls::load(files, metrics.tls.clone()).context("cannot start: [server] TLS")?;
    Ok(Some(tls))
}

/// The bound sockets: `server.listen`, and `server.plain_listen` when set.
struct Listeners {
    /// `server.listen`.
    main: tokio::net::TcpListener,
    /// `server.plain_listen`.
    plain: Option<tokio::net::TcpListener>,
}

impl Listeners {
    /// Their local addresses.
    fn addrs(&self) -> std::io::Result<(SocketAddr, Option<SocketAddr>)> {
        let plain = self.plain.as_ref().map(|l| l.local_addr()).transpose()?;
        Ok((self.main.local_addr()?, plain))
    }

    /// Serves `state` on each until `stop` turns true (TLS on the main one when on).
    fn serve(
        self,
        state: AppState,
        tls: Option<ServerTls>,
        stop: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<std::io::Result<()>>> {
        let listener = http_server::Listener {
            limits: connection_limits(&state.config),
            app: server::router(state),
            tls,
            stop,
        };
        let plain = self.plain.map(|socket| {
            let plain = http_server::Listener {
                tls: None,
                ..listener.clone()
            };
            tokio::spawn(http_server::serve(socket, plain))
        });
        let main = tokio::spawn(http_server::serve(self.main, listener));
        std::iter::once(main).chain(plain).collect()
    }
}

/// Binds `server.listen` and `server.plain_listen`.
async fn listen(config: &Config) -> anyhow::Result<Listeners> {
    let main = bind(config.listen_addr()?, "server.listen").await?;
    let plain = match config.server.plain_listen.as_str() {
        "" => None,
        addr => Some(bind(addr.parse()?, "server.plain_listen").await?),
    };
    Ok(Listeners { main, plain })
}

/// Binds `addr`, the value of `setting`.
async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await;
    listener.with_context(|| format!("cannot listen on {setting} = {addr}"))
}

/// Starts renewing this broker's lease.
fn spawn_heartbeat(
    config: &Config,
    services: &Services,
    identity: Arc<BrokerIdentity>,
) -> JoinHandle<()> {
    let (metadata, clock) = (services.metadata.clone(), services.clock.clone());
    let lease = config.cluster.lease;
    tokio::spawn(heartbeat::heartbeat_loop(metadata, identity, lease, clock))
}

/// Starts enforcing retention every `retention.check_interval`.
fn spawn_retention(config: &Config, services: &Services, broker_id: &str) -> JoinHandle<()> {
    let enforcer = crate::retention::Enforcer {
        metadata: services.metadata.clone(),
        metrics: services.metrics.clone(),
        clock: services.clock.clone(),
        broker_id: broker_id.to_owned(),
        defaults: config.retention.defaults(),
    };
    crate::retention::spawn(enforcer, config.retention.check_interval)
}

/// Starts the garbage collector: a round every `gc.interval`.
fn spawn_gc(
    config: &Config,
    services: &Services,
    storage: &Storage,
    broker_id: &str,
) -> JoinHandle<()> {
    crate::gc::spawn(crate::gc::Sweeper {
        job: job(services, storage, broker_id, config.gc.interval),
        grace: config.gc.grace,
        after_backup: config.backup.enabled(),
        cursor: crate::gc::listing::Cursor::default(),
        backups_checked: std::sync::atomic::AtomicBool::new(false),
    })
}

/// The context of a cluster-wide job of this broker that runs every `interval`.
fn job(
    services: &Services,
    storage: &Storage,
    broker_id: &str,
    interval: std::time::Duration,
) -> crate::lease::Job {
    crate::lease::Job {
        metadata: services.metadata.clone(),
        store: storage.store.clone(),
        metrics: services.metrics.clone(),
        clock: services.clock.clone(),
        broker_id: broker_id.to_owned(),
        interval,
        ours: std::sync::atomic::AtomicBool::new(false),
    }
}

/// Starts the metadata backup uploader if `backup.interval` is not 0: the uploader (for
/// the final backup at shutdown) and its task.
fn spawn_backup(
    config: &Config,
    services: &Services,
    storage: &Storage,
    broker_id: &str,
) -> Option<(Arc<crate::backup::Uploader>, JoinHandle<()>)> {
    if !config.backup.enabled() {
        return None;
    }
    let interval = config.backup.interval;
    let job = job(services, storage, broker_id, interval);
    let uploader = Arc::new(crate::backup::Uploader { job });
    Some((uploader.clone(), crate::backup::spawn(uploader)))
}

/// The embedded one-node metadata service (empty `cluster.metadata`), or a client of the
/// cluster named there.
async fn open_metadata(
    config: &Config,
) -> anyhow::Result<(Option<MetadataNode>, Arc<dyn MetadataClient>)> {
    let endpoints = config.cluster.metadata_endpoints();
    if !endpoints.is_empty() {
        let secret = cluster_secret(config)?;
        let tls = cluster_tls(config)?;
        let client = HttpClient::connect_with(&endpoints, secret.as_ref(), tls.as_ref())
            .context("cannot set up the metadata client (cluster.metadata)")?;
        return Ok((None, Arc::new(client)));
    }
    let node = embedded_metadata(config).await?;
    let client = Arc::new(node.client());
    Ok((Some(node), client))
}

/// The metadata cluster's secret from `cluster.secret_file`, if set.
fn cluster_secret(config: &Config) -> anyhow::Result<Option<ClusterSecret>> {
    let path = &config.cluster.secret_file;
    if path.is_empty() {
        return Ok(None);
    }
    ClusterSecret::read(std::path::Path::new(path))
        .map(Some)
        .context("cannot use cluster.secret_file")
}

/// The metadata nodes' CA from `cluster.tls_ca`, if set.
fn cluster_tls(config: &Config) -> anyhow::Result<Option<ClusterTls>> {
    let path = &config.cluster.tls_ca;
    if path.is_empty() {
        return Ok(None);
    }
    ClusterTls::with_ca_file(std::path::Path::new(path))
        .map(Some)
        .context("cannot use cluster.tls_ca")
}

/// The one-node metadata service under `storage.data_dir/metadata`.
async fn embedded_metadata(config: &Config) -> anyhow::Result<MetadataNode> {
    let data_dir = config.storage.data_dir.join("metadata");
    let node_config = NodeConfig {
        node_id: 1,
        data_dir,
    };
    let node = MetadataNode::open_with(node_config, config.metadata.node_settings());
    node.await
        .context("cannot start the embedded metadata service")
}

/// The `[wal]` settings as the staging actor's seal policy.
fn seal_policy(config: &Config) -> SealPolicy {
    SealPolicy {
        max_segment_bytes: usize::try_from(config.wal.max_segment_bytes).unwrap_or(usize::MAX),
        linger: config.wal.linger,
        max_uploads_in_flight: config.wal.max_uploads_in_flight as usize,
        ..SealPolicy::default()
    }
}

/// This broker's id and address: as configured, else a fresh id and the bound address.
fn identity(config: &Config, addr: SocketAddr, tls: bool) -> BrokerIdentity {
    let cluster = &config.cluster;
    let scheme = if tls { "https" } else { "http" };
    BrokerIdentity {
        broker_id: configured_or(&cluster.broker_id, || format!("broker-{}", Ulid::new())),
        advertise: configured_or(&cluster.advertise, || format!("{scheme}://{addr}")),
    }
}

/// `value`, or `default()` when it is empty.
fn configured_or(value: &str, default: impl FnOnce() -> String) -> String {
    if value.is_empty() {
        default()
    } else {
        value.to_owned()
    }
}

/// The services every handler reaches.
struct Services {
    metadata: Arc<dyn MetadataClient>,
    pipeline: WritePipeline,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

/// What every handler reaches; `who` is this broker's identity and the principals in
/// force, `reads` the shutdown signal and the long-polls' wake-up channels.
fn app_state(
    config: Config,
    storage: Storage,
    services: Services,
    who: (Arc<BrokerIdentity>, Arc<Auth>),
    reads: (watch::Receiver<bool>, Arc<Wakeups>),
) -> AppState {
    let (shutdown, wakeups) = reads;
    let (identity, auth) = who;
    let metadata = services.metadata;
    AppState {
        writer: Arc::new(Writer::new(
            metadata.clone(),
            services.pipeline,
            write_limits(&config),
        )),
        fetcher: fetcher(&metadata, &storage, &config, wakeups, &services.metrics),
        request_bytes: ByteBudget::new(
            config.server.max_request_bytes_in_flight,
            "server.max_request_bytes_in_flight",
        ),
        fetch_bytes: ByteBudget::new(
            config.server.max_fetch_bytes_in_flight,
            "server.max_fetch_bytes_in_flight",
        ),
        config: Arc::new(config),
        clock: services.clock,
        metadata,
        reader: storage.reader,
        metrics: services.metrics,
        store: storage.store,
        spool: storage.spool,
        shutdown,
        identity,
        auth,
        #[cfg(feature = "fault-injection")]
        faults: storage.faults,
    }
}

/// The read service: index lookups through `metadata`, chunks through the storage's
/// reader, cold reads within the read slots, long-polls woken through `wakeups`.
fn fetcher(
    metadata: &Arc<dyn MetadataClient>,
    storage: &Storage,
    config: &Config,
    wakeups: Arc<Wakeups>,
    metrics: &Arc<Metrics>,
) -> Fetcher {
    let (reader, slots) = (storage.reader.clone(), read_slots(config));
    Fetcher::new(metadata.clone(), reader, slots, wakeups, metrics.clone())
}

/// The `[server]` limits the writer enforces.
fn write_limits(config: &Config) -> WriteLimits {
    WriteLimits {
        max_record_bytes: config.server.max_record_bytes,
        request_timeout: config.server.request_timeout,
    }
}

/// The slots of `server.fetch_read_concurrency`, shared by every fetch.
fn read_slots(config: &Config) -> Arc<tokio::sync::Semaphore> {
    let slots = config.server.fetch_read_concurrency as usize;
    Arc::new(tokio::sync::Semaphore::new(slots))
}

/// The `[server]` connection limits.
fn connection_limits(config: &Config) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: config.server.max_connections,
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
    }
}

impl RunningNode {
    /// The URL of the main listener: `https://ADDR` with TLS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls_reload.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Says where the plain-HTTP loopback listener is, when there is one.
    pub fn announce_plain_listener(&self) {
        if let Some(addr) = self.plain_addr {
            println!("plain HTTP also on http://{addr} (server.plain_listen, loopback only)");
        }
    }

    /// Resolves, with the cause, once the embedded metadata service stopped for good (a
    /// fatal Raft error, e.g. a failed log write); never with a remote metadata cluster.
    pub async fn metadata_failed(&self) -> String {
        match &self.metadata {
            Some(node) => node.failed().await,
            None => std::future::pending().await,
        }
    }

    /// Stops the node cleanly.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for server in self.servers {
            stop_server(server).await;
        }
        if let Some(reload) = &self.tls_reload {
            reload.abort();
        }
        close_pipeline(&self.pipeline).await;
        final_backup(self.backup.as_ref()).await;
        close_disk_cache(self.disk_cache.as_deref()).await;
        self.heartbeat.abort();
        self.lag.abort();
        self.retention.abort();
        self.cost.abort();
        self.gc.abort();
        self.change_feed.abort();
        if let Some(reload) = &self.auth_reload {
            reload.abort();
        }
        // A recovery cut short keeps its spool files for the next start.
        self.recovery.abort();
        stop_metadata(self.metadata).await
    }
}

/// Waits for the HTTP server to finish its in-flight requests.
async fn stop_server(server: JoinHandle<std::io::Result<()>>) {
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "http server stopped with an error"),
        Err(error) => tracing::warn!(%error, "http server task failed"),
    }
}

/// Seals and commits what is staged, within [`CLOSE_TIMEOUT`].
async fn close_pipeline(pipeline: &WritePipeline) {
    if tokio::time::timeout(CLOSE_TIMEOUT, pipeline.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "staged records were not all committed within {CLOSE_TIMEOUT:?}; the spool keeps them for the next start"
        );
    }
}

/// Stops the backup uploader, if backups are on, and uploads one last backup: it holds
/// every commit this broker made, its last ones included.
async fn final_backup(backup: Option<&(Arc<crate::backup::Uploader>, JoinHandle<()>)>) {
    if let Some((uploader, task)) = backup {
        task.abort();
        uploader.final_upload().await;
    }
}

/// Closes the disk cache, if there is one, so the next start finds it consistent.
async fn close_disk_cache(disk: Option<&DiskCache>) {
    if let Some(disk) = disk
        && let Err(error) = disk.close().await
    {
        tracing::warn!(%error, "disk cache did not close cleanly; it starts from what it can recover");
    }
}

/// Stops the embedded metadata service, if this node runs one.
async fn stop_metadata(metadata: Option<MetadataNode>) -> anyhow::Result<()> {
    if let Some(metadata) = metadata {
        let stopped = metadata.shutdown().await;
        stopped.context("metadata service shutdown")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_secret_file_is_read_and_refused_when_short_or_missing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        assert!(cluster_secret(&config).unwrap().is_none());
        let path = dir.path().join("secret");
        config.cluster.secret_file = path.display().to_string();
        let missing = format!("{:#}", cluster_secret(&config).unwrap_err());
        assert!(
            missing.contains("cluster.secret_file") && missing.contains("cannot read"),
            "{missing}"
        );
        std::fs::write(&path, "short").unwrap();
        let short = format!("{:#}", cluster_secret(&config).unwrap_err());
        assert!(short.contains("at least 32"), "{short}");
        std::fs::write(&path, "x".repeat(32)).unwrap();
        assert!(cluster_secret(&config).unwrap().is_some());
    }
}
