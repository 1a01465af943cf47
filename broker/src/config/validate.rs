//! [`Config::validate`]: every setting checked at start-up, each bad one named by its key,
//! so a bad setup fails at boot and not under load.

use std::net::SocketAddr;
use std::time::Duration;

use super::{
    CacheConfig, ClusterSection, Config, ConfigError, DEFAULT_LISTEN, RetentionSection,
    ServerConfig, StorageConfig, WalConfig,
};

impl Config {
    /// Checks every setting; the error lists each bad one by its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.server.check(&mut problems);
        self.storage.check(&mut problems);
        self.wal.check(&mut problems);
        self.cache.check(&mut problems);
        self.cluster.check(&mut problems);
        if self.auth.reload_interval.is_zero() {
            problems.push("auth.reload_interval must be more than 0".to_owned());
        }
        if self.metrics.cost_refresh_interval.is_zero() {
            problems.push("metrics.cost_refresh_interval must be more than 0".to_owned());
        }
        if self.groups.lag_refresh_interval.is_zero() {
            problems.push("groups.lag_refresh_interval must be more than 0".to_owned());
        }
        self.retention.check(&mut problems);
        if self.metadata.snapshot_entries == 0 {
            problems.push("metadata.snapshot_entries must be more than 0".to_owned());
        }
        if self.metadata.producer_expiry.is_zero() {
            problems.push("metadata.producer_expiry must be more than 0".to_owned());
        }
        self.check_gc(&mut problems);
        self.check_backup(&mut problems);
        match problems.is_empty() {
            true => Ok(()),
            false => Err(ConfigError(problems.join("; "))),
        }
    }
}

impl Config {
    /// `[backup]`: off (`0s`), or from 1 s (each round builds and uploads the whole state)
    /// to 1 day (what a restore may lose, and how long released objects wait).
    fn check_backup(&self, problems: &mut Vec<String>) {
        let interval = self.backup.interval;
        let range = std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(86_400);
        if !interval.is_zero() && !range.contains(&interval) {
            problems.push(format!(
                "backup.interval = {interval:?} must be 0s (backups off) or from 1s to 1d: each round uploads the whole metadata state, and a restore loses up to one interval"
            ));
        }
    }

    /// `[gc]`: a positive interval, and a grace no shorter than `server.request_timeout`
    /// (a fetch that planned its chunks before a trim must still find their objects).
    fn check_gc(&self, problems: &mut Vec<String>) {
        if self.gc.interval.is_zero() {
            problems.push("gc.interval must be more than 0".to_owned());
        }
        let timeout = self.server.request_timeout;
        if self.gc.grace < timeout {
            problems.push(format!(
                "gc.grace = {:?} must be at least server.request_timeout ({timeout:?}): a fetch may read a trimmed object that long after the trim",
                self.gc.grace
            ));
        }
    }
}

impl RetentionSection {
    fn check(&self, problems: &mut Vec<String>) {
        if self.check_interval.is_zero() {
            problems.push("retention.check_interval must be more than 0".to_owned());
        }
        use silt_metadata::limits::{MAX_RETENTION_BYTES, MAX_RETENTION_MS};
        for (key, value, max) in [
            ("retention.default_ms", self.default_ms, MAX_RETENTION_MS),
            (
                "retention.default_bytes",
                self.default_bytes,
                MAX_RETENTION_BYTES,
            ),
        ] {
            if value != -1 && !(1..=max).contains(&value) {
                problems.push(format!(
                    "{key} = {value} must be -1 (no bound) or 1 to {max}"
                ));
            }
        }
    }
}

/// Whether a setting is a URL the brokers can use (`http://` or `https://`).
fn is_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

impl ServerConfig {
    fn check(&self, problems: &mut Vec<String>) {
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen = {:?} is not HOST:PORT with an IP host (e.g. {DEFAULT_LISTEN})",
                self.listen
            ));
        }
        self.check_request_sizes(problems);
        self.check_counts(problems);
        self.check_tls(problems);
        for (key, value) in [
            ("server.tls_reload_interval", self.tls_reload_interval),
            ("server.request_timeout", self.request_timeout),
            ("server.header_read_timeout", self.header_read_timeout),
            ("server.body_read_timeout", self.body_read_timeout),
            ("server.idle_timeout", self.idle_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!("{key} must be more than 0"));
            }
        }
    }

    /// TLS needs both files; the plain listener is a loopback address next to TLS.
    fn check_tls(&self, problems: &mut Vec<String>) {
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            problems.push(
                "server.tls_cert and server.tls_key are set together or not at all".to_owned(),
            );
        }
        if self.plain_listen.is_empty() {
            return;
        }
        match self.plain_listen.parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_loopback() && !self.tls_cert.is_empty() => {}
            Ok(addr) if addr.ip().is_loopback() => problems.push(
                "server.plain_listen is only for a TLS listen (server.tls_cert): listen is plain HTTP already".to_owned(),
            ),
            _ => problems.push(format!(
                "server.plain_listen = {:?} must be a loopback HOST:PORT (e.g. 127.0.0.1:7071): plain HTTP is never served to the network",
                self.plain_listen
            )),
        }
    }

    /// A record fits in a request, and a request in 1GiB.
    fn check_request_sizes(&self, problems: &mut Vec<String>) {
        if self.max_record_bytes == 0 || self.max_record_bytes > self.max_request_bytes {
            problems.push(format!(
                "server.max_record_bytes = {} must be between 1 and server.max_request_bytes ({})",
                self.max_record_bytes, self.max_request_bytes
            ));
        }
        if self.max_request_bytes > 1 << 30 {
            problems.push("server.max_request_bytes must be at most 1GiB".to_owned());
        }
    }

    /// Every count and fetch limit is at least 1.
    fn check_counts(&self, problems: &mut Vec<String>) {
        for (key, value) in [
            (
                "server.max_records_per_request",
                self.max_records_per_request,
            ),
            (
                "server.max_partitions_per_topic",
                self.max_partitions_per_topic,
            ),
            ("server.max_fetch_records", self.max_fetch_records),
            ("server.fetch_read_concurrency", self.fetch_read_concurrency),
            ("server.max_connections", self.max_connections),
        ] {
            if value == 0 {
                problems.push(format!("{key} must be at least 1"));
            }
        }
        if self.max_fetch_bytes == 0 {
            problems.push("server.max_fetch_bytes must be at least 1".to_owned());
        }
        self.check_budgets(problems);
        self.check_quotas(problems);
        let ceiling = silt_metadata::limits::MAX_PARTITIONS_PER_TOPIC;
        if self.max_partitions_per_topic > ceiling {
            problems.push(format!(
                "server.max_partitions_per_topic = {} must be at most {ceiling} (the metadata service's limit)",
                self.max_partitions_per_topic
            ));
        }
    }
}

impl ServerConfig {
    /// The cluster quotas are 1 to the metadata service's ceilings.
    fn check_quotas(&self, problems: &mut Vec<String>) {
        use silt_metadata::limits::{MAX_PRODUCER_IDS, MAX_TOPICS, MAX_TOTAL_PARTITIONS};
        for (key, value, ceiling) in [
            ("server.max_topics", self.max_topics, MAX_TOPICS),
            (
                "server.max_total_partitions",
                self.max_total_partitions,
                MAX_TOTAL_PARTITIONS,
            ),
            (
                "server.max_producer_ids",
                self.max_producer_ids,
                MAX_PRODUCER_IDS,
            ),
        ] {
            if !(1..=ceiling).contains(&value) {
                problems.push(format!(
                    "{key} = {value} must be between 1 and {ceiling} (the metadata service's limit)"
                ));
            }
        }
    }

    /// The in-flight byte budgets fit a semaphore of `u32` permits and are not empty.
    fn check_budgets(&self, problems: &mut Vec<String>) {
        for (key, value) in [
            (
                "server.max_request_bytes_in_flight",
                self.max_request_bytes_in_flight,
            ),
            (
                "server.max_fetch_bytes_in_flight",
                self.max_fetch_bytes_in_flight,
            ),
        ] {
            if value == 0 || value > u64::from(u32::MAX) {
                problems.push(format!(
                    "{key} = {value} must be between 1 and {} bytes",
                    u32::MAX
                ));
            }
        }
    }
}

impl StorageConfig {
    fn check(&self, problems: &mut Vec<String>) {
        let url = &self.object_store;
        if !(url.is_empty()
            || url.starts_with("s3://")
            || url.starts_with("file://")
            || url.starts_with("memory://"))
        {
            problems.push(format!(
                "storage.object_store = {url:?} must be s3://BUCKET[/PREFIX], file:///DIR or empty"
            ));
        }
        let model = &self.simulated_latency;
        if !model.is_empty() && !latency_models().contains(&model.as_str()) {
            problems.push(unknown_latency_model(model));
        }
    }
}

/// The problem with a latency model this build does not know.
fn unknown_latency_model(model: &str) -> String {
    match latency_models() {
        [] => format!(
            "storage.simulated_latency = {model:?} needs a build with the fault-injection feature (benchmarks and tests only)"
        ),
        models => {
            format!("storage.simulated_latency = {model:?} must be empty or one of {models:?}")
        }
    }
}

/// The modelled cloud latencies this build knows (none without `fault-injection`).
fn latency_models() -> &'static [&'static str] {
    #[cfg(feature = "fault-injection")]
    return silt_bookie::store::faults::FaultConfig::profile_names();
    #[cfg(not(feature = "fault-injection"))]
    return &[];
}

impl WalConfig {
    fn check(&self, problems: &mut Vec<String>) {
        if self.max_uploads_in_flight == 0 {
            problems.push("wal.max_uploads_in_flight must be at least 1".to_owned());
        }
        if self.max_segment_bytes < 1024 || self.max_segment_bytes > 1 << 30 {
            problems.push(format!(
                "wal.max_segment_bytes = {} must be between 1KiB and 1GiB",
                self.max_segment_bytes
            ));
        }
        if self.recovery_interval.is_zero() {
            problems.push("wal.recovery_interval must be more than 0".to_owned());
        }
        if self.max_spool_bytes < self.max_segment_bytes {
            problems.push(format!(
                "wal.max_spool_bytes = {} must be at least wal.max_segment_bytes ({})",
                self.max_spool_bytes, self.max_segment_bytes
            ));
        }
    }
}

impl CacheConfig {
    fn check(&self, problems: &mut Vec<String>) {
        if self.disk_bytes != 0 && self.disk_bytes < 1 << 20 {
            problems.push(format!(
                "cache.disk_bytes = {} must be 0 (off) or at least 1MiB",
                self.disk_bytes
            ));
        }
    }
}

impl ClusterSection {
    fn check(&self, problems: &mut Vec<String>) {
        if self.lease < Duration::from_millis(500) || self.lease > Duration::from_secs(600) {
            problems.push(format!(
                "cluster.lease = {:?} must be between 500ms and 10m",
                self.lease
            ));
        }
        self.check_urls(problems);
        if self.fault_injection && !cfg!(feature = "fault-injection") {
            problems.push(
                "cluster.fault_injection needs a build with the fault-injection feature (tests only)"
                    .to_owned(),
            );
        }
    }

    /// Every metadata endpoint and the advertised address are URLs.
    fn check_urls(&self, problems: &mut Vec<String>) {
        for endpoint in self.metadata_endpoints() {
            if !is_url(&endpoint) {
                problems.push(format!(
                    "cluster.metadata: {endpoint:?} is not a URL (http://HOST:PORT)"
                ));
            }
        }
        if !(self.advertise.is_empty() || is_url(&self.advertise)) {
            problems.push(format!(
                "cluster.advertise = {:?} is not a URL (http://HOST:PORT)",
                self.advertise
            ));
        }
    }
}
