//! `silt metadata` (one voter of the metadata cluster), `silt membership` (add, remove
//! or show members) and `silt auth cluster-secret` (make the cluster secret).
//!
//! A node runs with the cluster secret (`--cluster-secret-file`), or without one only on a
//! loopback address or with `--insecure`: it refuses to start otherwise, saying why. With
//! `--tls-cert`/`--tls-key` it serves HTTPS (reloading the pair on change or SIGHUP) and
//! reaches its peers over HTTPS, trusting `--tls-ca`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use silt_metadata::{
    ClusterConfig, ClusterSecret, ClusterTls, HttpClient, MetadataClient, MetadataNode,
    NodeSettings,
};

use crate::node::http_server::{self, ConnectionLimits, Listener};
use crate::tls::{CertificateFiles, ServerTls, TlsCounters};

use crate::cli::{ClusterSecretArg, MembershipCommand, MetadataArgs, ShutdownSignal, init_process};

/// `HOST:PORT` with an IP or DNS host (peers in Kubernetes are StatefulSet pod names,
/// whose IPs change when a pod is rescheduled).
fn is_host_port(text: &str) -> bool {
    if text.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    port.parse::<u16>().is_ok()
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Parses `1=HOST:PORT,2=HOST:PORT`.
fn parse_peers(text: &str) -> anyhow::Result<BTreeMap<u64, String>> {
    let mut peers = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .with_context(|| format!("--peers item {item:?} is not ID=HOST:PORT"))?;
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("--peers item {item:?}: {id:?} is not a node id"))?;
        if !is_host_port(addr.trim()) {
            anyhow::bail!("--peers item {item:?}: {addr:?} is not HOST:PORT");
        }
        if peers.insert(id, addr.trim().to_owned()).is_some() {
            anyhow::bail!("--peers names node {id} twice");
        }
    }
    if peers.is_empty() {
        anyhow::bail!("--peers is empty; give every initial voter as ID=HOST:PORT");
    }
    Ok(peers)
}

/// Runs one metadata node until Ctrl-C or SIGTERM.
pub(super) async fn run(args: MetadataArgs) -> anyhow::Result<()> {
    init_process(&args.log)?;
    let peers = parse_peers(&args.peers)?;
    if !peers.contains_key(&args.id) {
        anyhow::bail!(
            "--id {} is not among --peers ({:?})",
            args.id,
            peers.keys().collect::<Vec<_>>()
        );
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on --listen {}", args.listen))?;
    let addr = listener.local_addr()?;
    let secret = node_secret(&args, addr)?;
    let server_tls = server_tls(&args)?;
    let config = ClusterConfig {
        node_id: args.id,
        data_dir: args.data_dir.clone(),
        peers: peers.clone(),
        secret,
        tls: peer_tls(&args)?,
    };
    let node = MetadataNode::open_cluster_with(config, node_settings(&args)?)
        .await
        .context("cannot open the metadata node")?;
    let scheme = if server_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut signal = ShutdownSignal::catch();
    let server = Serving::start(listener, node.router(), server_tls, &args);
    println!(
        "silt metadata node {} listening on {scheme}://{addr} (data: {})",
        args.id,
        args.data_dir.display()
    );
    tokio::select! {
        result = bootstrap(&node, &args, &peers) => result.context("cluster bootstrap failed")?,
        () = signal.wait() => return server.stop(node).await,
    }
    tracing::info!(
        node_id = args.id,
        "metadata node is part of an initialised cluster"
    );
    tokio::select! {
        () = signal.wait() => server.stop(node).await,
        cause = node.failed() => Err(super::metadata_failed(&cause)),
    }
}

/// The node's bounding settings from its flags; a zero `--producer-expiry` is refused.
fn node_settings(args: &MetadataArgs) -> anyhow::Result<NodeSettings> {
    if args.producer_expiry.is_zero() {
        anyhow::bail!("--producer-expiry must be more than 0");
    }
    Ok(NodeSettings {
        snapshot_entries: args.snapshot_entries,
        producer_expiry: args.producer_expiry,
    })
}

/// The node's HTTPS certificate, when `--tls-cert` and `--tls-key` are given.
fn server_tls(args: &MetadataArgs) -> anyhow::Result<Option<ServerTls>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let files = CertificateFiles {
        cert: cert.clone(),
        key: key.clone(),
    };
    let tls = ServerTls::load(files, TlsCounters::default())
        .context("cannot use --tls-cert / --tls-key")?;
    Ok(Some(tls))
}

/// How the node reaches its peers: over HTTPS (trusting `--tls-ca`, else the system's
/// roots) when it serves HTTPS itself, else plain HTTP.
fn peer_tls(args: &MetadataArgs) -> anyhow::Result<Option<ClusterTls>> {
    if args.tls_cert.is_none() {
        return Ok(None);
    }
    let tls = match &args.tls_ca {
        Some(path) => ClusterTls::with_ca_file(path).context("cannot use --tls-ca")?,
        None => ClusterTls::system_roots(),
    };
    Ok(Some(tls))
}

/// Reads the cluster secret at `path`, naming the flag or setting it came from.
fn read_secret(path: &Path, from: &str) -> anyhow::Result<ClusterSecret> {
    ClusterSecret::read(path).with_context(|| format!("{from} {}", path.display()))
}

/// The node's cluster secret, or `None` where running without one is allowed: on a
/// loopback `addr` (only this machine reaches it) or with `--insecure`. Refuses a
/// non-loopback address without either.
fn node_secret(args: &MetadataArgs, addr: SocketAddr) -> anyhow::Result<Option<ClusterSecret>> {
    if let Some(path) = &args.cluster_secret_file {
        return read_secret(path, "--cluster-secret-file").map(Some);
    }
    if addr.ip().is_loopback() {
        tracing::warn!(%addr, "no cluster secret: the metadata routes are open to every process on this machine (loopback only)");
    } else if args.insecure {
        tracing::warn!(%addr, "no cluster secret (--insecure): anyone who reaches this port can rewrite the metadata and the membership");
    } else {
        anyhow::bail!(
            "refusing to listen on {addr} without a cluster secret: anyone who reaches it could rewrite the metadata and the membership. Give --cluster-secret-file (make one with `silt auth cluster-secret`), listen on a loopback address, or pass --insecure (SILT_METADATA_INSECURE=1) on an isolated network"
        );
    }
    Ok(None)
}

/// `silt auth cluster-secret`: prints a new secret.
pub(super) fn print_cluster_secret() -> anyhow::Result<()> {
    println!("{}", silt_metadata::secret::generate()?);
    Ok(())
}

/// Initialises the cluster (only the lowest id does, see `MetadataNode::bootstrap`), or
/// with `--join` waits forever to be added by `silt membership add`.
async fn bootstrap(
    node: &MetadataNode,
    args: &MetadataArgs,
    peers: &BTreeMap<u64, String>,
) -> silt_metadata::Result<()> {
    if !args.join {
        return node.bootstrap(peers).await;
    }
    tracing::info!(
        node_id = args.id,
        "waiting to be added to a cluster (--join)"
    );
    std::future::pending().await
}

/// The connection limits of a metadata node's listener: peers keep a few connections
/// each, busy with heartbeats, so only runaway or silent clients meet them.
const METADATA_CONNECTION_LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 4_096,
    header_read_timeout: std::time::Duration::from_secs(10),
    idle_timeout: std::time::Duration::from_secs(60),
};

/// The node's HTTP server, stopped gracefully before the node.
struct Serving {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Reloads the certificate (when serving HTTPS).
    tls_reload: Option<tokio::task::JoinHandle<()>>,
}

impl Serving {
    /// Serves `router` on `socket`, over TLS when `tls` is given.
    fn start(
        socket: tokio::net::TcpListener,
        router: axum::Router,
        tls: Option<ServerTls>,
        args: &MetadataArgs,
    ) -> Serving {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tls_reload = tls
            .as_ref()
            .map(|tls| tls.spawn_reloader(args.tls_reload_interval));
        let listener = Listener {
            app: router,
            limits: METADATA_CONNECTION_LIMITS,
            tls,
            stop: stopped,
        };
        let task = tokio::spawn(http_server::serve(socket, listener));
        Serving {
            stop,
            task,
            tls_reload,
        }
    }

    /// Stops serving, then shuts the node down.
    async fn stop(self, node: MetadataNode) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(reload) = self.tls_reload {
            reload.abort();
        }
        node.shutdown().await.context("metadata node shutdown")
    }
}

/// Runs a `silt membership` subcommand through the metadata client (it finds the leader).
pub(super) async fn membership(command: MembershipCommand) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (MembershipCommand::Show { metadata, secret }
    | MembershipCommand::Add {
        metadata, secret, ..
    }
    | MembershipCommand::Remove {
        metadata, secret, ..
    }) = &command;
    let tls = secret
        .tls_ca
        .as_deref()
        .map(ClusterTls::with_ca_file)
        .transpose()
        .context("cannot use --tls-ca")?;
    let secret = client_secret(secret)?;
    let endpoints = std::slice::from_ref(metadata);
    let client = HttpClient::connect_with(endpoints, secret.as_ref(), tls.as_ref())?;
    let before = client.status().await?;
    let status = match command {
        MembershipCommand::Show { .. } => before,
        MembershipCommand::Add { id, addr, .. } => {
            client.add_learner(id, &addr).await?;
            let mut voters = before.voters;
            if !voters.contains(&id) {
                voters.push(id);
            }
            client.set_voters(voters).await?
        }
        MembershipCommand::Remove { id, .. } => {
            let voters = before.voters.into_iter().filter(|v| *v != id).collect();
            client.set_voters(voters).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&status)?);
    Ok(())
}

/// The secret a `silt membership` command presents, if given.
fn client_secret(arg: &ClusterSecretArg) -> anyhow::Result<Option<ClusterSecret>> {
    arg.cluster_secret_file
        .as_deref()
        .map(|path| read_secret(path, "--cluster-secret-file"))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_take_ip_or_dns_hosts() {
        let peers = parse_peers("0=127.0.0.1:7080, 1=silt-metadata-1.silt-metadata:7080").unwrap();
        assert_eq!(peers[&0], "127.0.0.1:7080");
        assert_eq!(peers[&1], "silt-metadata-1.silt-metadata:7080");
        for bad in [
            "1=host",
            "1=:7080",
            "1=host:99999",
            "1=ho st:1",
            "x=host:1",
            "",
        ] {
            assert!(parse_peers(bad).is_err(), "{bad:?} accepted");
        }
    }
}
