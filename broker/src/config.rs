//! The broker's one typed configuration.
//!
//! Layers, later wins: built-in defaults < a TOML file (`--config`, `SILT_CONFIG`) <
//! `SILT_<SECTION>_<KEY>` environment variables < command-line flags. Unknown keys in the
//! file and unknown `SILT_` variables are errors, and [`Config::validate`] names every bad
//! setting, so a bad setup fails at start-up, not under load. Sizes accept `8MiB`, `512KiB`,
//! `1GB` or a plain byte count; durations accept `5ms`, `2s`, `1m` or plain milliseconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The address `silt dev` listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// Environment variables starting with `SILT_` that are not config keys (as are all
/// `SILT_TEST_*`, which belong to the test suite).
const NON_CONFIG_VARS: &[&str] = &[
    "SILT_CONFIG",
    "SILT_BROKER",
    "SILT_LOG",
    "SILT_FAILPOINTS",
    "SILT_BIN",
    // Short forms of the three `silt dev` flags, read by the command line parser.
    "SILT_DATA_DIR",
    "SILT_LISTEN",
    "SILT_OBJECT_STORE",
    // `silt broker`'s --metadata and --cache-dir, read by the command line parser (the
    // loader refused them, so the broker could not be configured by environment alone).
    "SILT_METADATA",
    "SILT_CACHE_DIR",
];

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
    /// Testing only: serve `PUT/DELETE /v1/admin/faults` to inject object-store faults
    /// and a full write-ahead cache (default false).
    pub fault_injection: bool,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            metadata: String::new(),
            broker_id: String::new(),
            advertise: String::new(),
            lease: Duration::from_secs(3),
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
    /// Most records one fetch returns (default 10 000).
    pub max_fetch_records: u32,
    /// Most record bytes one fetch returns (default 16 MiB).
    #[serde(with = "size")]
    pub max_fetch_bytes: u64,
    /// Fetches reading and encoding records at once; more wait their turn (a long-poll's
    /// wait takes no slot). Bounds the CPU reads can take from the write path
    /// (default: half the cores, at least 1).
    pub fetch_read_concurrency: u32,
    /// Longest long-poll a fetch may ask for with `wait_ms` (default 60 s).
    #[serde(with = "duration")]
    pub max_fetch_wait: Duration,
    /// Time limit of any request other than a long-poll's wait (default 30 s).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
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
    /// `silt_bookie::store::faulty::FaultConfig::profile`.
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
            max_fetch_records: 10_000,
            max_fetch_bytes: 16 << 20,
            fetch_read_concurrency: std::thread::available_parallelism()
                .map(|n| u32::try_from(n.get() / 2).unwrap_or(1).max(1))
                .unwrap_or(1),
            max_fetch_wait: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }
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
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--object-store`
    pub object_store: Option<String>,
    /// `--metadata`
    pub metadata: Option<String>,
    /// `--broker-id`
    pub broker_id: Option<String>,
    /// `--advertise`
    pub advertise: Option<String>,
    /// `--fault-injection`
    pub fault_injection: bool,
}

impl Config {
    /// Builds the effective configuration from `file` (if any), the environment and flags.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(format!(
                        "config file {} is not valid TOML: {e}",
                        path.display()
                    ))
                })?
            }
            None => toml::Table::new(),
        };
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("SILT_")
                    && !k.starts_with("SILT_TEST_")
                    && !NON_CONFIG_VARS.contains(&k.as_str())
            })
            .collect();
        env.sort();
        for (name, value) in env {
            apply_env(&mut table, &name, &value)?;
        }
        let mut config: Config = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError(e.message().to_owned()))?;
        if let Some(listen) = &overrides.listen {
            config.server.listen.clone_from(listen);
        }
        if let Some(dir) = &overrides.data_dir {
            config.storage.data_dir.clone_from(dir);
        }
        if let Some(url) = &overrides.object_store {
            config.storage.object_store.clone_from(url);
        }
        if let Some(metadata) = &overrides.metadata {
            config.cluster.metadata.clone_from(metadata);
        }
        if let Some(id) = &overrides.broker_id {
            config.cluster.broker_id.clone_from(id);
        }
        if let Some(advertise) = &overrides.advertise {
            config.cluster.advertise.clone_from(advertise);
        }
        if overrides.fault_injection {
            config.cluster.fault_injection = true;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting; the error lists each bad one by its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen = {:?} is not HOST:PORT with an IP host (e.g. {DEFAULT_LISTEN})",
                self.server.listen
            ));
        }
        let s = &self.server;
        if s.max_record_bytes == 0 || s.max_record_bytes > s.max_request_bytes {
            problems.push(format!(
                "server.max_record_bytes = {} must be between 1 and server.max_request_bytes ({})",
                s.max_record_bytes, s.max_request_bytes
            ));
        }
        if s.max_request_bytes > 1 << 30 {
            problems.push("server.max_request_bytes must be at most 1GiB".to_owned());
        }
        for (key, value) in [
            ("server.max_records_per_request", s.max_records_per_request),
            (
                "server.max_partitions_per_topic",
                s.max_partitions_per_topic,
            ),
            ("server.max_fetch_records", s.max_fetch_records),
            ("server.fetch_read_concurrency", s.fetch_read_concurrency),
            ("wal.max_uploads_in_flight", self.wal.max_uploads_in_flight),
        ] {
            if value == 0 {
                problems.push(format!("{key} must be at least 1"));
            }
        }
        if s.max_fetch_bytes == 0 {
            problems.push("server.max_fetch_bytes must be at least 1".to_owned());
        }
        if s.request_timeout.is_zero() {
            problems.push("server.request_timeout must be more than 0".to_owned());
        }
        if self.wal.max_segment_bytes < 1024 || self.wal.max_segment_bytes > 1 << 30 {
            problems.push(format!(
                "wal.max_segment_bytes = {} must be between 1KiB and 1GiB",
                self.wal.max_segment_bytes
            ));
        }
        let url = &self.storage.object_store;
        if !(url.is_empty()
            || url.starts_with("s3://")
            || url.starts_with("file://")
            || url.starts_with("memory://"))
        {
            problems.push(format!(
                "storage.object_store = {url:?} must be s3://BUCKET[/PREFIX], file:///DIR or empty"
            ));
        }
        if self.cache.disk_bytes != 0 && self.cache.disk_bytes < 1 << 20 {
            problems.push(format!(
                "cache.disk_bytes = {} must be 0 (off) or at least 1MiB",
                self.cache.disk_bytes
            ));
        }
        let model = &self.storage.simulated_latency;
        if !model.is_empty() && silt_bookie::store::faulty::FaultConfig::profile(model).is_none() {
            problems.push(format!(
                "storage.simulated_latency = {model:?} must be empty or one of {:?}",
                silt_bookie::store::faulty::FaultConfig::profile_names()
            ));
        }
        if self.wal.max_spool_bytes < self.wal.max_segment_bytes {
            problems.push(format!(
                "wal.max_spool_bytes = {} must be at least wal.max_segment_bytes ({})",
                self.wal.max_spool_bytes, self.wal.max_segment_bytes
            ));
        }
        let c = &self.cluster;
        if c.lease < Duration::from_millis(500) || c.lease > Duration::from_secs(600) {
            problems.push(format!(
                "cluster.lease = {:?} must be between 500ms and 10m",
                c.lease
            ));
        }
        for endpoint in c.metadata_endpoints() {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                problems.push(format!(
                    "cluster.metadata: {endpoint:?} is not a URL (http://HOST:PORT)"
                ));
            }
        }
        let advertise_ok = c.advertise.is_empty()
            || c.advertise.starts_with("http://")
            || c.advertise.starts_with("https://");
        if !advertise_ok {
            problems.push(format!(
                "cluster.advertise = {:?} is not a URL (http://HOST:PORT)",
                c.advertise
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems.join("; ")))
        }
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
        let dir = self.storage.data_dir.join("objects");
        std::fs::create_dir_all(&dir).map_err(|e| {
            ConfigError(format!(
                "storage.data_dir: cannot create {}: {e}",
                dir.display()
            ))
        })?;
        let dir = dir.canonicalize().map_err(|e| {
            ConfigError(format!(
                "storage.data_dir: cannot resolve {}: {e}",
                dir.display()
            ))
        })?;
        Ok(format!("file://{}", dir.display()))
    }
}

/// Sets `section.key` from `SILT_SECTION_KEY`.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let rest = name.trim_start_matches("SILT_").to_ascii_lowercase();
    let sections = ["server", "storage", "wal", "cache", "cluster"];
    let Some((section, key)) = sections.iter().find_map(|section| {
        rest.strip_prefix(section)
            .and_then(|k| k.strip_prefix('_'))
            .map(|key| (*section, key.to_owned()))
    }) else {
        return Err(ConfigError(format!(
            "unknown environment variable {name}: config variables are SILT_<SECTION>_<KEY> with a section of {}",
            sections.join(", ")
        )));
    };
    let parsed = match (value.parse::<i64>(), value.parse::<bool>()) {
        (Ok(n), _) => toml::Value::Integer(n),
        (_, Ok(b)) => toml::Value::Boolean(b),
        _ => toml::Value::String(value.to_owned()),
    };
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(section_table) => {
            section_table.insert(key, parsed);
            Ok(())
        }
        _ => Err(ConfigError(format!("{section} must be a table"))),
    }
}

/// Splits `"8MiB"` into `(8, "mib")`; `example` goes into the error message.
fn number_and_unit(text: &str, example: &str) -> Result<(u64, String), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .parse()
        .map_err(|_| format!("{text:?} is not {example}"))?;
    Ok((number, unit.trim().to_ascii_lowercase()))
}

/// Parses `8MiB`, `512KiB`, `1GB`, `100` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = number_and_unit(text, "a size such as 8MiB or 1048576")?;
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses `5ms`, `2s`, `1m`, `100` (milliseconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = number_and_unit(text, "a duration such as 5ms or 2s")?;
    match unit.as_str() {
        "" | "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "us" => Ok(Duration::from_micros(number)),
        other => Err(format!("unknown duration unit {other:?} in {text:?}")),
    }
}

/// Serde for sizes: a number of bytes or a string with a unit.
mod size {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(text) => super::parse_size(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// Serde for durations: milliseconds or a string with a unit.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", value.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Millis(n) => Ok(Duration::from_millis(n)),
            Raw::Text(text) => super::parse_duration(&text).map_err(serde::de::Error::custom),
        }
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
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("8 parsecs").is_err());
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_millis(15)));
        assert!(parse_duration("-1s").is_err());
    }
}
