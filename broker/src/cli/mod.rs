//! Command-line interface: argument parsing and dispatch.

mod auth;
mod broker;
mod cluster;
mod consume;
mod consume_group;
mod dev;
mod exposure;
mod group;
mod metadata;
mod produce;
mod restore;
mod topic;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default broker URL of the client subcommands.
pub const DEFAULT_BROKER: &str = "http://127.0.0.1:7070";

/// A message log like Apache Kafka that keeps all its data in object storage (S3, or a
/// directory).
///
/// Programs append records (messages) to named topics over HTTP and read them back in order,
/// by offset; a topic is split into partitions, each an ordered sequence of records read on
/// its own. A record is acknowledged only once it is stored in the bucket, so servers keep no
/// data of their own.
///
/// Try it: run `silt dev` in one terminal, then in another
///   silt topic create orders --partitions 3
///   echo hello | silt produce orders
///   silt consume orders --from-beginning
#[derive(Debug, Parser)]
#[command(
    name = "silt",
    version,
    verbatim_doc_comment,
    after_help = "Client commands talk to --broker URL (or SILT_BROKER), default http://127.0.0.1:7070, with --token (or SILT_TOKEN) for a broker with auth and --ca-file (or SILT_CA_FILE) for an https:// broker with a private CA. `silt COMMAND --help` tells more."
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run all of silt on this machine, to develop against or to try it out.
    ///
    /// One process serves the API and an embedded metadata service; data goes to
    /// ./silt-data unless told otherwise.
    Dev(DevArgs),
    /// Run one API server (broker) of a multi-machine cluster.
    ///
    /// Brokers share one bucket and the metadata service, and keep nothing of their own.
    Broker(BrokerArgs),
    /// Run one node of a cluster's metadata service.
    ///
    /// The metadata service keeps the topics and the order of records, replicated with Raft
    /// over three or five nodes.
    Metadata(MetadataArgs),
    /// Show, add or remove the nodes of a cluster's metadata service.
    #[command(subcommand)]
    Membership(MembershipCommand),
    /// Show a cluster's metadata leader and nodes, and its brokers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Make credentials: client tokens for the principals file, the metadata cluster's
    /// shared secret.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Create, list, describe or delete topics.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Append records to a topic: one record per line of standard input.
    Produce(ProduceArgs),
    /// Print a topic's records to standard output, one per line.
    Consume(ConsumeArgs),
    /// List, describe, reset or delete consumer groups (with each partition's lag).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Rebuild a metadata data directory from the newest metadata backup in a cluster's
    /// bucket (after every metadata node's data was lost).
    ///
    /// Brokers upload a backup of the metadata state every backup.interval and when they
    /// stop cleanly; records committed after the newest backup was taken are not in it.
    /// Writes only into an empty directory and changes nothing in the bucket.
    Restore(RestoreArgs),
}

/// `silt restore`
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The cluster's object store: s3://BUCKET[/PREFIX] (AWS_* environment), file:///DIR
    /// or a directory.
    #[arg(long)]
    pub object_store: String,
    /// The data directory to write: that of `silt dev --data-dir DIR` (the metadata goes to
    /// DIR/metadata), or with --node the `--data-dir` of that `silt metadata` node.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Write the data directory of a one-node `silt metadata --id ID --peers ID=HOST:PORT`
    /// instead of `silt dev`'s (more nodes join it with `silt membership`).
    #[arg(long, value_name = "ID=HOST:PORT")]
    pub node: Option<String>,
}

/// `silt group …`
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List groups: state, generation, members and total lag (records behind).
    List {
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Describe a group: its members and, per partition, committed offset, lag and owner.
    Describe {
        /// The group.
        group: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Move a group's committed offsets (refused while it has members, unless --force).
    Reset(ResetArgs),
    /// Delete a group and its offsets (refused while it has members).
    Delete {
        /// The group.
        group: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
}

/// `silt group reset`
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to", "timestamp_ms", "offset"])
))]
pub struct ResetArgs {
    /// The group.
    pub group: String,
    /// Each partition's start (`earliest`) or high watermark (`latest`).
    #[arg(long, value_parser = ["earliest", "latest"])]
    pub to: Option<String>,
    /// The first record stamped at or after this time, ms since the Unix epoch.
    #[arg(long)]
    pub timestamp_ms: Option<i64>,
    /// This offset, in every partition reset.
    #[arg(long)]
    pub offset: Option<u64>,
    /// Reset every partition of this topic (repeatable) [default: the partitions the
    /// group has offsets for or its members read].
    #[arg(long)]
    pub topic: Vec<String>,
    /// Reset even while the group has members.
    #[arg(long)]
    pub force: bool,
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArg,
}

/// `silt auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Print a new random token, and the [[principal]] table (with the token's SHA-256) to
    /// paste into the principals file.
    Token(TokenArgs),
    /// Print a new metadata cluster secret (32 random bytes, base64url) to standard
    /// output; save it to a file (mode 600) given to every metadata node, broker and
    /// `silt membership` command.
    ClusterSecret,
}

/// `silt auth token`
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The principal's name (1 to 128 of A-Z a-z 0-9 . _ - @).
    #[arg(long, default_value = "client")]
    pub name: String,
    /// An allow rule, OPERATION:RESOURCE (produce, consume, admin or cluster; a name, a
    /// prefix ending in *, or *); repeat for more.
    #[arg(long)]
    pub allow: Vec<String>,
}

/// `silt dev`
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// TOML config file (sections server, storage, wal, cache).
    #[arg(long, env = "SILT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Local data directory [default: ./silt-data].
    #[arg(long, env = "SILT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:7070].
    #[arg(long, env = "SILT_LISTEN")]
    pub listen: Option<String>,
    /// Object store: s3://BUCKET[/PREFIX] (AWS_* environment) or file:///DIR
    /// [default: <data-dir>/objects].
    #[arg(long, env = "SILT_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Listen on a non-loopback address without authentication (no principals file).
    #[arg(long, env = "SILT_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "SILT_LOG",
        default_value = "info,openraft=warn,foyer=warn"
    )]
    pub log: String,
}

/// `silt broker`
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Metadata service URLs, comma-separated: http://HOST:PORT,…
    #[arg(long, env = "SILT_METADATA", required = true)]
    pub metadata: String,
    /// Listen address [default: 127.0.0.1:7070].
    #[arg(long, env = "SILT_LISTEN")]
    pub listen: Option<String>,
    /// Local directory for the write-ahead cache and the disk read cache. Disposable:
    /// nothing acknowledged lives only here.
    #[arg(long, env = "SILT_CACHE_DIR", required = true)]
    pub cache_dir: PathBuf,
    /// Object store shared by every broker: s3://BUCKET[/PREFIX] (AWS_* environment) or
    /// file:///DIR.
    #[arg(long, env = "SILT_OBJECT_STORE", required = true)]
    pub object_store: String,
    /// Registry id [default: broker-<ULID>, new each start].
    #[arg(long)]
    pub broker_id: Option<String>,
    /// URL clients reach this broker at [default: http://<listen address>].
    #[arg(long)]
    pub advertise: Option<String>,
    /// Testing only: serve PUT/DELETE /v1/admin/faults.
    #[cfg(feature = "fault-injection")]
    #[arg(long)]
    pub fault_injection: bool,
    /// TOML config file (sections server, storage, wal, cache, cluster, auth).
    #[arg(long, env = "SILT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen on a non-loopback address without authentication (no principals file).
    #[arg(long, env = "SILT_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "SILT_LOG",
        default_value = "info,openraft=warn,foyer=warn"
    )]
    pub log: String,
}

/// `silt metadata`
#[derive(Debug, clap::Args)]
pub struct MetadataArgs {
    /// This node's id (a key of --peers).
    #[arg(long, env = "SILT_METADATA_ID")]
    pub id: u64,
    /// Listen address, IP:PORT (Raft peers and brokers connect here).
    #[arg(long, env = "SILT_METADATA_LISTEN")]
    pub listen: String,
    /// The initial voters: ID=HOST:PORT,… (this node included; HOST is an IP or a DNS
    /// name, e.g. a StatefulSet pod's). Only used to initialise the cluster the first
    /// time; later membership lives in the Raft log.
    #[arg(long, env = "SILT_METADATA_PEERS")]
    pub peers: String,
    /// Directory of the Raft log and snapshots.
    #[arg(long, env = "SILT_METADATA_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Join a running cluster instead of initialising one: never bootstrap, wait to be
    /// added with `silt membership add` (--peers then only needs this node, ID=HOST:PORT).
    #[arg(long, env = "SILT_METADATA_JOIN")]
    pub join: bool,
    /// File holding the cluster secret (at least 32 bytes; make one with `silt auth
    /// cluster-secret`): every route but /healthz, /readyz and /metrics then requires it,
    /// and this node presents it to its peers. Required on a non-loopback --listen unless
    /// --insecure.
    #[arg(long, env = "SILT_METADATA_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// PEM certificate chain this node serves HTTPS with (with --tls-key). The whole
    /// cluster then speaks HTTPS: peers are reached at https://HOST:PORT.
    #[arg(long, env = "SILT_METADATA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SILT_METADATA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM file of the CA the peers' certificates chain to (the only root trusted for
    /// them; default the system's roots). Needs --tls-cert.
    #[arg(long, env = "SILT_METADATA_TLS_CA", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Raft entries applied between two snapshots: the log kept on disk is about this plus
    /// 1,000 entries.
    #[arg(long, env = "SILT_METADATA_SNAPSHOT_ENTRIES", default_value_t = silt_metadata::NodeSettings::default().snapshot_entries, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_entries: u64,
    /// How long a producer id may go unused before it is removed (a later request with it
    /// answers 404 producer_not_found; the SDK producer then takes a new id).
    #[arg(long, env = "SILT_METADATA_PRODUCER_EXPIRY", default_value = "7d", value_parser = crate::config::parse_duration)]
    pub producer_expiry: std::time::Duration,
    /// How often --tls-cert and --tls-key are checked for a change (SIGHUP: at once).
    #[arg(long, env = "SILT_METADATA_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = crate::config::parse_duration)]
    pub tls_reload_interval: std::time::Duration,
    /// Run without a cluster secret on a non-loopback --listen: anyone who can reach the
    /// port can rewrite the metadata and the membership. For isolated test networks only.
    #[arg(long, env = "SILT_METADATA_INSECURE")]
    pub insecure: bool,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "SILT_LOG", default_value = "info,openraft=warn")]
    pub log: String,
}

/// `silt membership …`
#[derive(Debug, Subcommand)]
pub enum MembershipCommand {
    /// Show the members as the leader sees them.
    Show {
        /// Any metadata node's URL.
        #[arg(long, env = "SILT_METADATA")]
        metadata: String,
        /// The cluster secret.
        #[command(flatten)]
        secret: ClusterSecretArg,
    },
    /// Add a node: it joins as a learner, catches up with the log, then becomes a voter.
    Add {
        /// The new node's id.
        #[arg(long)]
        id: u64,
        /// The new node's HOST:PORT (it must be running `silt metadata` already).
        #[arg(long)]
        addr: String,
        /// Any metadata node's URL.
        #[arg(long, env = "SILT_METADATA")]
        metadata: String,
        /// The cluster secret.
        #[command(flatten)]
        secret: ClusterSecretArg,
    },
    /// Remove a node from the voters (and the cluster).
    Remove {
        /// The node's id.
        #[arg(long)]
        id: u64,
        /// Any metadata node's URL.
        #[arg(long, env = "SILT_METADATA")]
        metadata: String,
        /// The cluster secret.
        #[command(flatten)]
        secret: ClusterSecretArg,
    },
}

/// The cluster secret a client of the metadata service presents.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterSecretArg {
    /// File holding the metadata cluster's secret (as given to `silt metadata
    /// --cluster-secret-file`); needed when the cluster runs with one.
    #[arg(long, env = "SILT_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// PEM file of the CA the metadata nodes' certificates chain to (as given to `silt
    /// metadata --tls-ca`); for a cluster serving HTTPS with a private CA.
    #[arg(long, env = "SILT_CLUSTER_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

/// `silt cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print the cluster as a broker sees it (JSON).
    Status {
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
}

/// Where a client subcommand sends its requests, and as whom.
#[derive(Clone, clap::Args)]
pub struct BrokerArg {
    /// Broker URL.
    #[arg(long, env = "SILT_BROKER", default_value = DEFAULT_BROKER, global = true)]
    pub broker: String,
    /// Bearer token for a broker with a principals file (`silt auth token` makes one).
    #[arg(long, env = "SILT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed an https:// broker's certificate (then the only
    /// root trusted; default: the system's roots).
    #[arg(long, env = "SILT_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for BrokerArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.token.as_ref().map(|_| "<redacted>");
        f.debug_struct("BrokerArg")
            .field("broker", &self.broker)
            .field("token", &token)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl BrokerArg {
    /// An SDK client for the broker, sending the token if one was given.
    pub fn client(&self) -> anyhow::Result<silt_sdk::Client> {
        let config = silt_sdk::ClientConfig {
            token: self.token.clone(),
            ca_file: self.ca_file.clone(),
            ..silt_sdk::ClientConfig::new(self.broker.clone())
        };
        Ok(silt_sdk::Client::with_config(config)?)
    }
}

/// `silt topic …`
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Chunk compression: none or zstd.
        #[arg(long)]
        compression: Option<String>,
        /// How long records are kept, in ms (-1: for ever) [default: the cluster's].
        #[arg(long, allow_hyphen_values = true)]
        retention_ms: Option<i64>,
        /// How many bytes each partition keeps at least (-1: no bound) [default: the
        /// cluster's].
        #[arg(long, allow_hyphen_values = true)]
        retention_bytes: Option<i64>,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Change a live topic's retention: a number, -1 (no bound) or `default` (the
    /// cluster's); a setting not given is kept.
    Alter {
        /// Topic name.
        name: String,
        /// How long records are kept, in ms: N, -1 or default.
        #[arg(long, allow_hyphen_values = true, value_parser = retention_value)]
        retention_ms: Option<RetentionValue>,
        /// How many bytes each partition keeps at least: N, -1 or default.
        #[arg(long, allow_hyphen_values = true, value_parser = retention_value)]
        retention_bytes: Option<RetentionValue>,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// List topics.
    List {
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Describe a topic as JSON.
    Describe {
        /// Topic name.
        name: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
}

/// A retention setting of `silt topic alter`: a value, or `None` for the cluster default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionValue(pub Option<i64>);

/// Parses `N`, `-1` or `default`.
fn retention_value(text: &str) -> Result<RetentionValue, String> {
    if text == "default" {
        return Ok(RetentionValue(None));
    }
    text.parse::<i64>()
        .map(|value| RetentionValue(Some(value)))
        .map_err(|_| format!("{text:?} is not a number, -1 or default"))
}

/// `silt produce`
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Topic.
    pub topic: String,
    /// Split each line at the first SEP into key and value.
    #[arg(long)]
    pub key_separator: Option<String>,
    /// Parse each value (and key) as JSON instead of sending it as a string.
    #[arg(long)]
    pub json: bool,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArg,
}

/// `silt consume`
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topic.
    pub topic: String,
    /// Read only this partition [default: all].
    #[arg(long)]
    pub partition: Option<u32>,
    /// Start at each partition's start offset instead of its high watermark.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop once every partition is read up to the high watermark it had at start,
    /// instead of waiting for new records (the default, as Kafka's console consumer).
    #[arg(long, conflicts_with = "follow")]
    pub exit_at_end: bool,
    /// Wait for new records: the default; kept so older scripts still run.
    #[arg(long, hide = true)]
    pub follow: bool,
    /// Stop after printing this many records.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_messages: Option<u64>,
    /// Stop when no record has arrived for this many milliseconds.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,
    /// Read as a member of this consumer group: start where it committed, commit as it
    /// goes and on exit, share the partitions with its other members.
    #[arg(long, conflicts_with_all = ["partition", "exit_at_end"])]
    pub group: Option<String>,
    /// Output: `value` (the value per line) or `json` (the whole record per line).
    #[arg(long, default_value = "value", value_parser = ["value", "json"])]
    pub format: String,
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArg,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::test_horizon::install()?;
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Broker(args) => broker::run(args).await,
        Command::Metadata(args) => metadata::run(args).await,
        Command::Membership(command) => metadata::membership(command).await,
        Command::Cluster(command) => cluster::run(command).await,
        Command::Topic(command) => topic::run(command).await,
        Command::Produce(args) => produce::run(args).await,
        Command::Consume(args) => consume::run(args).await,
        Command::Group(command) => group::run(command).await,
        Command::Restore(args) => restore::run(args).await,
        Command::Auth(command) => auth::run(command),
    }
}

/// Sets up logging to stderr with `filter` and the TLS provider of the HTTP clients.
fn init_process(filter: &str) -> anyhow::Result<()> {
    let env_filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log / SILT_LOG filter {filter:?}: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // reqwest (object_store, metadata client) has no bundled TLS provider; install ring
    // (an error means one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(())
}

/// Logs the effective configuration: a summary at info level, and at debug level every
/// setting on a line of its own as `section.key = value` (the names the config file and the
/// `SILT_SECTION_KEY` variables use). Credentials in URLs are never shown.
fn log_config(config: &crate::config::Config) {
    let metadata = if config.cluster.metadata.is_empty() {
        "embedded".to_owned()
    } else {
        redact(&config.cluster.metadata)
    };
    let object_store = if config.storage.object_store.is_empty() {
        format!("{}/objects", config.storage.data_dir.display())
    } else {
        redact(&config.storage.object_store)
    };
    tracing::info!(
        "configuration: listen {}, data dir {}, object store {object_store}, metadata {metadata}; --log debug shows every setting",
        config.server.listen,
        config.storage.data_dir.display(),
    );
    let table = match toml::Value::try_from(config) {
        Ok(toml::Value::Table(table)) => table,
        Ok(_) => return,
        Err(error) => {
            tracing::debug!("cannot show the configuration: {error}");
            return;
        }
    };
    for (section, settings) in &table {
        let Some(settings) = settings.as_table() else {
            continue;
        };
        for (key, value) in settings {
            let shown = match value {
                toml::Value::String(text) => toml::Value::String(redact(text)).to_string(),
                other => other.to_string(),
            };
            tracing::debug!("config {section}.{key} = {shown}");
        }
    }
}

/// `text` with the user information and query of every URL in it (a comma-separated list
/// included) replaced by `***`: where credentials could be.
fn redact(text: &str) -> String {
    text.split(',')
        .map(|part| {
            let Some((scheme, rest)) = part.split_once("://") else {
                return part.to_owned();
            };
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((_, host)) => format!("***@{host}"),
                None => authority.to_owned(),
            };
            let path = match path.split_once('?') {
                Some((path, _)) => format!("{path}?***"),
                None => path.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The error a process exits with when its metadata node stopped for good: nothing
/// acknowledged is lost, and a restart (by a supervisor) recovers it.
fn metadata_failed(cause: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the metadata service stopped for good ({cause}); exiting so that a supervisor restarts it (nothing acknowledged is lost)"
    )
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment this is made: a server makes it
/// before it prints that it listens, so a signal sent as soon as that line appears still
/// stops it cleanly (before, such a signal killed it: the handlers were installed later).
pub(crate) struct ShutdownSignal {
    /// SIGINT and SIGTERM streams; `None` where they cannot be installed (then Ctrl-C).
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignal {
    /// Starts catching the signals.
    pub(crate) fn catch() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            ShutdownSignal { streams }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    /// Waits for Ctrl-C or SIGTERM.
    pub(crate) async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_url_credentials_and_queries_only() {
        assert_eq!(redact("s3://bucket/prefix"), "s3://bucket/prefix");
        assert_eq!(redact("file:///tmp/x"), "file:///tmp/x");
        assert_eq!(redact("./silt-data"), "./silt-data");
        assert_eq!(
            redact("s3://key:secret@bucket/p?token=abc"),
            "s3://***@bucket/p?***"
        );
        assert_eq!(
            redact("http://a:1,http://u:p@b:2"),
            "http://a:1,http://***@b:2"
        );
    }

    #[test]
    fn the_fault_injection_flag_exists_only_in_test_builds() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let broker = cli.find_subcommand("broker").map(|b| {
            b.get_arguments()
                .any(|argument| argument.get_id() == "fault_injection")
        });
        assert_eq!(broker, Some(cfg!(feature = "fault-injection")));
    }
}
