//! The broker's one typed configuration.
//!
//! Layers, later wins: built-in defaults < a TOML file (`--config`, `SILT_CONFIG`) <
//! `SILT_<SECTION>_<KEY>` environment variables < command-line flags. Unknown keys in the
//! file and unknown `SILT_` variables are errors, and [`Config::validate`] names every bad
//! setting, so a bad setup fails at start-up, not under load. Sizes accept `8MiB`, `512KiB`,
//! `1GB` or a plain byte count; durations accept `5ms`, `2s`, `1m` or plain milliseconds.

mod env;
mod units;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use units::{duration, size};
pub use units::{parse_duration, parse_size};

/// The address `silt dev` listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP server and request limits.
    pub server: ServerConfig,
    /// Where data lives.
    pub storage: StorageConfig,
    /// The write-ahead cache and its flush policy.
    pub wal: WalConfig,
    /// The read cache.
    pub cache: CacheConfig,
    /// Cluster membership (`silt broker`).
    pub cluster: ClusterSection,
    /// Client authentication and authorization.
    pub auth: AuthSection,
    /// Retention: the cluster defaults and how often it is enforced.
    pub retention: RetentionSection,
    /// Garbage collection: how often objects nothing references are deleted, and after
    /// how long.
    pub gc: GcSection,
    /// Metadata backups: how often the metadata state is uploaded to the bucket (what
    /// `silt restore` rebuilds a cluster from).
    pub backup: BackupSection,
    /// Consumer groups, as this broker serves them.
    pub groups: GroupsSection,
    /// What `/metrics` computes in the background.
    pub metrics: MetricsSection,
    /// The embedded metadata node of `silt dev` (a cluster's nodes take the same settings
    /// as `silt metadata` flags).
    pub metadata: MetadataSection,
}

/// `[metrics]`: background figures of `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// How often the cost figures (`silt_topic_stored_bytes`, `silt_topic_stored_objects`,
    /// `silt_gc_backlog_*`) are read from the metadata service (default 30 s): each refresh
    /// is one read per 100 topics, a pass over their index entries on the leader.
    #[serde(with = "duration")]
    pub cost_refresh_interval: Duration,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            cost_refresh_interval: Duration::from_secs(30),
        }
    }
}

/// `[metadata]`: how the embedded metadata node of `silt dev` keeps its state bounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataSection {
    /// Raft entries applied between two snapshots (default 5,000): the log kept on disk is
    /// about this plus 1,000 entries.
    pub snapshot_entries: u64,
    /// How long a producer id may go unused before the metadata state removes it (default
    /// 7 days); a later request with it answers 404 `producer_not_found`.
    #[serde(with = "duration")]
    pub producer_expiry: Duration,
}

impl Default for MetadataSection {
    fn default() -> Self {
        let defaults = silt_metadata::NodeSettings::default();
        MetadataSection {
            snapshot_entries: defaults.snapshot_entries,
            producer_expiry: defaults.producer_expiry,
        }
    }
}

impl MetadataSection {
    /// The metadata node's settings.
    pub fn node_settings(&self) -> silt_metadata::NodeSettings {
        silt_metadata::NodeSettings {
            snapshot_entries: self.snapshot_entries,
            producer_expiry: self.producer_expiry,
        }
    }
}

/// `[groups]`: what a broker does for consumer groups (their state lives in the metadata
/// service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsSection {
    /// How often `silt_consumer_lag_records` and `silt_consumer_lag_seconds` are computed
    /// from the metadata service (default 5 s): each refresh reads every group, so a
    /// shorter interval costs more metadata reads.
    #[serde(with = "duration")]
    pub lag_refresh_interval: Duration,
}

impl Default for GroupsSection {
    fn default() -> Self {
        GroupsSection {
            lag_refresh_interval: Duration::from_secs(5),
        }
    }
}

/// `[retention]`: the retention of topics that set none, and how often the enforcing
/// broker checks every partition. `-1` keeps for ever (no bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// How often retention is checked and enforced (default 1 min).
    #[serde(with = "duration")]
    pub check_interval: Duration,
    /// Default `retention_ms` of a topic: 1 to 100 years in ms, or -1 for ever (default -1).
    pub default_ms: i64,
    /// Default `retention_bytes` of each partition: 1 to 2^60, or -1 for no bound (default
    /// -1).
    pub default_bytes: i64,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            check_interval: Duration::from_secs(60),
            default_ms: -1,
            default_bytes: -1,
        }
    }
}

impl RetentionSection {
    /// The defaults as the metadata service takes them (`None`: no bound).
    pub(crate) fn defaults(&self) -> silt_metadata::types::RetentionDefaults {
        silt_metadata::types::RetentionDefaults {
            ms: u64::try_from(self.default_ms).ok(),
            bytes: u64::try_from(self.default_bytes).ok(),
        }
    }
}

/// `[gc]`: the garbage collector, which deletes objects no index entry references
/// (`broker/src/gc/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSection {
    /// How often the collector sweeps (default 5 min).
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How long a released object is kept before it is deleted, and how much longer than
    /// the commit horizon an orphan is (default 10 min). At least `server.request_timeout`:
    /// a fetch that planned its chunks before a trim reads them within it.
    #[serde(with = "duration")]
    pub grace: Duration,
}

impl Default for GcSection {
    fn default() -> Self {
        GcSection {
            interval: Duration::from_secs(5 * 60),
            grace: Duration::from_secs(10 * 60),
        }
    }
}

/// `[backup]`: uploads of the metadata state to the bucket (`broker/src/backup/`), the
/// newest of which `silt restore` rebuilds a metadata data directory from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSection {
    /// How often a backup is uploaded (default 1 min): a restore loses at most what was
    /// committed since the last one. `0s` turns backups off, and with them the rule that
    /// the garbage collector keeps released objects until a backup newer than their
    /// release is in the bucket. The same on every broker.
    #[serde(with = "duration")]
    pub interval: Duration,
}

impl Default for BackupSection {
    fn default() -> Self {
        BackupSection {
            interval: Duration::from_secs(60),
        }
    }
}

impl BackupSection {
    /// Whether backups are uploaded.
    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }
}

/// `[auth]`: who may call the broker. An empty `principals_file` turns authentication off
/// (every request is the `anonymous` principal, allowed everything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The principals file: token hashes and allow rules (default empty: auth off).
    pub principals_file: String,
    /// Whether `/metrics` needs a token too (default false).
    pub protect_metrics: bool,
    /// How often the principals file is checked for a change (default 2 s; SIGHUP
    /// reloads at once).
    #[serde(with = "duration")]
    pub reload_interval: Duration,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            principals_file: String::new(),
            protect_metrics: false,
            reload_interval: Duration::from_secs(2),
        }
    }
}

impl ServerConfig {
    /// The listener's certificate and key files, when TLS is on.
    pub(crate) fn tls_files(&self) -> Option<crate::tls::CertificateFiles> {
        let on = !self.tls_cert.is_empty() && !self.tls_key.is_empty();
        on.then(|| crate::tls::CertificateFiles {
            cert: self.tls_cert.clone().into(),
            key: self.tls_key.clone().into(),
        })
    }
}

impl AuthSection {
    /// Whether authentication is on (a principals file is configured).
    pub fn enabled(&self) -> bool {
        !self.principals_file.is_empty()
    }
}

/// `[cluster]`: how a broker joins a cluster. Empty `metadata` means the embedded
/// single-node metadata service of `silt dev`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// Metadata service URLs, comma-separated (`http://HOST:PORT,…`); empty for the
    /// embedded service (default empty).
    pub metadata: String,
    /// This broker's id in the registry (default: `broker-<ULID>`, new each start).
    pub broker_id: String,
    /// The URL clients reach this broker at (default `http://<listen address>`).
    pub advertise: String,
    /// Lease of the broker's registration; it heartbeats every third of it (default 3 s).
    #[serde(with = "duration")]
    pub lease: Duration,
    /// File holding the metadata cluster's secret (at least 32 bytes), presented on every
    /// request to the metadata service; empty when the cluster runs without one (default
    /// empty).
    pub secret_file: String,
    /// PEM file of the CA certificates the metadata nodes' TLS certificates are checked
    /// against (the only roots trusted for them); needed when `metadata` URLs are
    /// `https://` with a private CA (default empty: the system's roots).
    pub tls_ca: String,
    /// Testing only: serve `PUT/DELETE /v1/admin/faults` to inject object-store faults
    /// and a full write-ahead cache (default false; needs a build with the
    /// `fault-injection` feature).
    pub fault_injection: bool,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            metadata: String::new(),
            broker_id: String::new(),
            advertise: String::new(),
            lease: Duration::from_secs(3),
            secret_file: String::new(),
            tls_ca: String::new(),
            fault_injection: false,
        }
    }
}

impl ClusterSection {
    /// The metadata endpoints, in order.
    pub fn metadata_endpoints(&self) -> Vec<String> {
        self.metadata
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `[server]`: the HTTP listener and the limits it enforces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address (default `127.0.0.1:7070`).
    pub listen: String,
    /// Largest request body, checked before parsing (default 16 MiB).
    #[serde(with = "size")]
    pub max_request_bytes: u64,
    /// Largest single record: key + value + headers, after base64 decoding (default 1 MiB).
    #[serde(with = "size")]
    pub max_record_bytes: u64,
    /// Most records in one produce request (default 10 000).
    pub max_records_per_request: u32,
    /// Most partitions a topic may have (default 1024).
    pub max_partitions_per_topic: u32,
    /// Most topics in the cluster; a create past it answers 409 `quota_exceeded` (default
    /// 10 000, at most `silt_metadata::limits::MAX_TOPICS`).
    pub max_topics: u64,
    /// Most partitions over all topics of the cluster; a create past it answers 409
    /// `quota_exceeded` (default 100 000, at most
    /// `silt_metadata::limits::MAX_TOTAL_PARTITIONS`).
    pub max_total_partitions: u64,
    /// Most idempotent producer ids the cluster issues (ids are never expired); a new id
    /// past it answers 409 `quota_exceeded` (default 100 000, at most
    /// `silt_metadata::limits::MAX_PRODUCER_IDS`).
    pub max_producer_ids: u64,
    /// Most records one fetch returns (default 10 000).
    pub max_fetch_records: u32,
    /// Most record bytes one fetch returns (default 16 MiB).
    #[serde(with = "size")]
    pub max_fetch_bytes: u64,
    /// Fetches reading below the memory tier (spool, disk cache, bucket) and encoding at
    /// once; more wait their turn, up to `request_timeout`. A fetch served from memory and
    /// a long-poll's wait take no slot. Bounds the CPU reads can take from the write path
    /// (default: half the cores, at least 4: a slot mostly waits on a GET, and with fewer
    /// one slow object read would hold up every cold fetch).
    pub fetch_read_concurrency: u32,
    /// Longest long-poll a fetch may ask for with `wait_ms` (default 60 s).
    #[serde(with = "duration")]
    pub max_fetch_wait: Duration,
    /// Time limit of any request other than a long-poll's wait (default 30 s).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Bytes of produce bodies being read, parsed and written at once, broker-wide (by
    /// Content-Length, else `max_request_bytes`); past it produce answers 503
    /// `unavailable` with `Retry-After` (default 256 MiB, at most 4 GiB - 1).
    #[serde(with = "size")]
    pub max_request_bytes_in_flight: u64,
    /// Bytes of fetch responses being encoded and sent at once, broker-wide; past it a
    /// fetch answers 503 `unavailable` with `Retry-After` (default 256 MiB, at most
    /// 4 GiB - 1).
    #[serde(with = "size")]
    pub max_fetch_bytes_in_flight: u64,
    /// A connection that starts a request but has not sent all its headers this long
    /// after its first byte is closed (default 10 s).
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// A request body that sends nothing for this long is refused with 408
    /// `body_timeout` (default 30 s).
    #[serde(with = "duration")]
    pub body_read_timeout: Duration,
    /// A keep-alive connection with no request in progress and no traffic for this long
    /// is closed (default 60 s).
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Open connections at most; past it a new connection is closed at once (default
    /// 10 000).
    pub max_connections: u32,
    /// PEM file of the certificate chain (leaf first) served on `listen`; with
    /// `tls_key`, the listener speaks HTTPS only (default empty: plain HTTP).
    pub tls_cert: String,
    /// PEM file of the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: String,
    /// How often the certificate and key files are checked for a change; a changed pair
    /// is served from the next connection on (default 10 s; SIGHUP reloads at once).
    #[serde(with = "duration")]
    pub tls_reload_interval: Duration,
    /// A second listener, loopback only, serving the same routes over plain HTTP next to
    /// a TLS `listen` (for a sidecar or a local tool; default empty: none).
    pub plain_listen: String,
}

/// `[storage]`: the data directory and the object store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Local directory for the metadata log, the write-ahead cache and (by default) the
    /// local object store (default `./silt-data`).
    pub data_dir: PathBuf,
    /// Object store URL: `s3://BUCKET/PREFIX` (AWS settings from the usual `AWS_*`
    /// environment), `file:///ABS/DIR`, or empty for `<data_dir>/objects` (default empty).
    pub object_store: String,
    /// Benchmarking only: add a modelled cloud latency to every object-store request,
    /// `s3-standard` or `s3-express` (default empty: none). See
    /// `silt_bookie::store::faults::FaultConfig::profile` (needs a build with the
    /// `fault-injection` feature).
    pub simulated_latency: String,
}

/// `[wal]`: the write-ahead cache's adaptive flush.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// A segment is sealed when it holds this many bytes (default 8 MiB).
    #[serde(with = "size")]
    pub max_segment_bytes: u64,
    /// While uploads are in flight, a segment is sealed at the latest this long after its
    /// first record (default 20 ms). An idle broker seals at once.
    #[serde(with = "duration")]
    pub linger: Duration,
    /// Segment uploads at once (default 4).
    pub max_uploads_in_flight: u32,
    /// Disk budget of the write-ahead cache: sealed segments not yet committed. Past it,
    /// produce answers 503 `unavailable` with `Retry-After` until uploads catch up
    /// (default 1 GiB).
    #[serde(with = "size")]
    pub max_spool_bytes: u64,
    /// How often spool files whose commit is in doubt are retried by the background
    /// recovery (default 10 s). Start-up recovery retries faster, backing off up to this.
    #[serde(with = "duration")]
    pub recovery_interval: Duration,
}

/// `[cache]`: the read cache's memory and disk tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Bytes of recent chunks kept in memory (default 256 MiB).
    #[serde(with = "size")]
    pub memory_bytes: u64,
    /// Bytes of chunks kept on local disk (foyer) between memory and the object store;
    /// 0 disables the tier (default 512 MiB, at least 1 MiB when enabled).
    #[serde(with = "size")]
    pub disk_bytes: u64,
    /// On a cold read, GET the chunk's whole segment (one request for every partition in
    /// it) instead of the chunk alone (default true). Fewer GETs for catch-up reads of
    /// many partitions; more bytes read for a lone partition.
    pub whole_segment_reads: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_owned(),
            max_request_bytes: 16 << 20,
            max_record_bytes: 1 << 20,
            max_records_per_request: 10_000,
            max_partitions_per_topic: 1024,
            max_topics: 10_000,
            max_total_partitions: 100_000,
            max_producer_ids: 100_000,
            max_fetch_records: 10_000,
            max_fetch_bytes: 16 << 20,
            fetch_read_concurrency: default_read_slots(),
            max_fetch_wait: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_request_bytes_in_flight: 256 << 20,
            max_fetch_bytes_in_flight: 256 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_reload_interval: Duration::from_secs(10),
            plain_listen: String::new(),
        }
    }
}

/// Half the available parallelism, at least 4: the default `server.fetch_read_concurrency`.
fn default_read_slots() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cores / 2).unwrap_or(u32::MAX).max(4)
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./silt-data"),
            object_store: String::new(),
            simulated_latency: String::new(),
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            max_segment_bytes: 8 << 20,
            linger: Duration::from_millis(20),
            max_uploads_in_flight: 4,
            max_spool_bytes: 1 << 30,
            recovery_interval: Duration::from_secs(10),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 256 << 20,
            disk_bytes: 512 << 20,
            whole_segment_reads: true,
        }
    }
}

/// A configuration that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

/// Values given on the command line; `None` keeps the lower layers' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`: overrides `server.listen`.
    pub listen: Option<String>,
    /// `--data-dir` (`silt broker`: `--cache-dir`): overrides `storage.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `--object-store`: overrides `storage.object_store`.
    pub object_store: Option<String>,
    /// `--metadata`: overrides `cluster.metadata`.
    pub metadata: Option<String>,
    /// `--broker-id`: overrides `cluster.broker_id`.
    pub broker_id: Option<String>,
    /// `--advertise`: overrides `cluster.advertise`.
    pub advertise: Option<String>,
    /// `--fault-injection` (test builds): turns `cluster.fault_injection` on.
    pub fault_injection: bool,
}

impl Config {
    /// Builds the effective configuration from `file` (if any), the environment and flags.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table = file.map(read_file).transpose()?.unwrap_or_default();
        env::apply_all(&mut table, env)?;
        let mut config: Config = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError(e.message().to_owned()))?;
        overrides.apply(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// The listen address (validated).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server
            .listen
            .parse()
            .map_err(|_| ConfigError(format!("server.listen = {:?}", self.server.listen)))
    }

    /// The object store URL, with the default filled in.
    pub fn object_store_url(&self) -> Result<String, ConfigError> {
        if !self.storage.object_store.is_empty() {
            return Ok(self.storage.object_store.clone());
        }
        let dir = objects_dir(&self.storage.data_dir)?;
        Ok(format!("file://{}", dir.display()))
    }
}

/// `data_dir/objects`, created, as an absolute path: the default object store.
fn objects_dir(data_dir: &Path) -> Result<PathBuf, ConfigError> {
    let dir = data_dir.join("objects");
    let problem = |what: &str, e: std::io::Error| {
        ConfigError(format!(
            "storage.data_dir: cannot {what} {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(|e| problem("create", e))?;
    dir.canonicalize().map_err(|e| problem("resolve", e))
}

/// Reads and parses a TOML config file.
fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    text.parse::<toml::Table>().map_err(|e| {
        ConfigError(format!(
            "config file {} is not valid TOML: {e}",
            path.display()
        ))
    })
}

impl Overrides {
    /// Puts the flags given over `config`.
    fn apply(&self, config: &mut Config) {
        override_with(&mut config.server.listen, self.listen.as_ref());
        override_with(&mut config.storage.data_dir, self.data_dir.as_ref());
        override_with(&mut config.storage.object_store, self.object_store.as_ref());
        override_with(&mut config.cluster.metadata, self.metadata.as_ref());
        override_with(&mut config.cluster.broker_id, self.broker_id.as_ref());
        override_with(&mut config.cluster.advertise, self.advertise.as_ref());
        if self.fault_injection {
            config.cluster.fault_injection = true;
        }
    }
}

/// Replaces `setting` with the flag's value, if the flag was given.
fn override_with<T: Clone>(setting: &mut T, flag: Option<&T>) {
    if let Some(value) = flag {
        setting.clone_from(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("silt.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:1\"\n[wal]\nlinger = \"7ms\"\nmax_segment_bytes = \"2MiB\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[("SILT_SERVER_LISTEN", "127.0.0.1:2"), ("HOME", "/x")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:2");
        assert_eq!(config.wal.linger, Duration::from_millis(7));
        assert_eq!(config.wal.max_segment_bytes, 2 << 20);
        let config = Config::load(
            None,
            env(&[("SILT_CACHE_WHOLE_SEGMENT_READS", "false")]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(!config.cache.whole_segment_reads);
        let flags = Overrides {
            listen: Some("127.0.0.1:3".into()),
            ..Overrides::default()
        };
        let config = Config::load(
            Some(&file),
            env(&[("SILT_SERVER_LISTEN", "127.0.0.1:2")]),
            &flags,
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:3");
        Config::default().validate().unwrap();
    }

    #[test]
    fn the_variables_of_silts_other_tools_are_not_config_keys() {
        let tools = env(&[
            ("SILT_LOADGEN_BIN", "/x/silt-loadgen"),
            ("SILT_BENCH_ROUNDS", "3"),
            ("SILT_FAULT_SEEDS", "7"),
            ("SILT_FAULTS_S3_PORT", "19700"),
            ("SILT_PIPELINE_SEPARATE_COMMIT", "1"),
            ("SILT_TEST_S3_PORT", "19000"),
        ]);
        assert_eq!(
            Config::load(None, tools, &Overrides::default()).unwrap(),
            Config::default()
        );
        let typo = Config::load(
            None,
            env(&[("SILT_LOADGN_BIN", "x")]),
            &Overrides::default(),
        );
        assert!(typo.unwrap_err().to_string().contains("SILT_LOADGN_BIN"));
    }

    #[test]
    fn bad_settings_are_named() {
        let err = Config::load(
            None,
            env(&[("SILT_WAL_LINGER", "fast")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fast"), "{err}");
        let err = Config::load(None, env(&[("SILT_NOPE", "1")]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SILT_NOPE"), "{err}");
        let err = Config::load(
            None,
            env(&[("SILT_SERVER_LISTN", "1")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("listn"), "{err}");
        let flags = Overrides {
            listen: Some("localhost".into()),
            object_store: Some("ftp://x".into()),
            ..Overrides::default()
        };
        let err = Config::load(None, Vec::new(), &flags)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("server.listen") && err.contains("storage.object_store"),
            "{err}"
        );
    }

    #[test]
    fn gc_settings_come_from_the_environment_and_a_grace_below_the_request_timeout_is_refused() {
        let load = |vars: &[(&str, &str)]| Config::load(None, env(vars), &Overrides::default());
        let config = load(&[
            ("SILT_GC_INTERVAL", "1s"),
            ("SILT_GC_GRACE", "2s"),
            ("SILT_SERVER_REQUEST_TIMEOUT", "2s"),
        ])
        .unwrap();
        assert_eq!(config.gc.interval, Duration::from_secs(1));
        assert_eq!(config.gc.grace, Duration::from_secs(2));
        let err = load(&[("SILT_GC_GRACE", "5s")]).unwrap_err().to_string();
        assert!(
            err.contains("gc.grace")
                && err.contains("5s")
                && err.contains("server.request_timeout"),
            "{err}"
        );
        let err = load(&[("SILT_GC_INTERVAL", "0")]).unwrap_err().to_string();
        assert!(err.contains("gc.interval"), "{err}");
    }

    #[test]
    fn backups_are_on_every_minute_by_default_and_off_at_zero() {
        let load = |vars: &[(&str, &str)]| Config::load(None, env(vars), &Overrides::default());
        let config = load(&[]).unwrap();
        assert_eq!(config.backup.interval, Duration::from_secs(60));
        assert!(config.backup.enabled());
        let config = load(&[("SILT_BACKUP_INTERVAL", "10s")]).unwrap();
        assert_eq!(config.backup.interval, Duration::from_secs(10));
        assert!(
            !load(&[("SILT_BACKUP_INTERVAL", "0s")])
                .unwrap()
                .backup
                .enabled()
        );
        for bad in ["10ms", "2d"] {
            let err = load(&[("SILT_BACKUP_INTERVAL", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("backup.interval") && err.contains("1d"),
                "{err}"
            );
        }
        let err = load(&[("SILT_BACKUP_INTERVAL", "soon")]).unwrap_err();
        assert!(
            err.to_string().contains("\"soon\" is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("8 parsecs").is_err());
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_millis(15)));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn test_machinery_settings_need_the_fault_injection_feature() {
        let mut latency = Config::default();
        latency.storage.simulated_latency = "s3-standard".into();
        let mut endpoint = Config::default();
        endpoint.cluster.fault_injection = true;
        for config in [latency, endpoint] {
            let result = config.validate();
            assert_eq!(
                result.is_ok(),
                cfg!(feature = "fault-injection"),
                "{result:?}"
            );
            if let Err(error) = result {
                assert!(
                    error.to_string().contains("fault-injection feature"),
                    "{error}"
                );
            }
        }
    }
}
