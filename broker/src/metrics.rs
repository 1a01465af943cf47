//! Every Prometheus metric the broker exports, named once here, with fixed buckets.
//!
//! Counters and histograms are updated on the request, write and read paths; object-store
//! and cache counters live in `silt-bookie` as atomics and are rendered at scrape time, so
//! they cannot drift. All names start with `silt_`; no offsets or keys as labels.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use silt_bookie::cache::CacheStatsSnapshot;
use silt_bookie::store::StoreStatsSnapshot;
use silt_bookie::store::cost::{CostKey, CostOp, Tally};

/// `outcome="ok"|"<error code>"`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    /// `ok` or the error code.
    pub(crate) outcome: String,
}

/// `op="<metadata client operation>"`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Op {
    /// The operation, e.g. `partition_slice`.
    pub(crate) op: &'static str,
}

/// `reason="changed"|"deleted"|"reset"`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Reason {
    /// Why a waiting long-poll was woken.
    pub(crate) reason: &'static str,
}

/// `principal="<name>"`: bounded by the principals file (`anonymous` without one).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PrincipalLabel {
    /// The principal's name.
    pub(crate) principal: String,
}

/// `principal="<name>",direction="produce"|"fetch"`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PrincipalDirection {
    /// The principal's name.
    pub(crate) principal: String,
    /// Which byte-rate quota.
    pub(crate) direction: &'static str,
}

/// `group="<name>",topic="<name>",partition="<n>"`: at most
/// [`MAX_LAG_SERIES`](crate::groups::lag::MAX_LAG_SERIES) of them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LagLabels {
    /// The consumer group.
    pub(crate) group: String,
    /// The topic.
    pub(crate) topic: String,
    /// The partition.
    pub(crate) partition: u32,
}

/// `topic="<name>"`: bounded by the cluster's topic quota.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicLabel {
    /// The topic.
    pub(crate) topic: String,
}

/// The broker's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// Produce requests by outcome.
    pub(crate) produce_requests: Family<Outcome, Counter>,
    /// Records acknowledged.
    pub(crate) produce_records: Counter,
    /// Record bytes acknowledged (key + value + headers).
    pub(crate) produce_bytes: Counter,
    /// Produce latency, receipt to acknowledgement.
    pub(crate) produce_latency: Histogram,
    /// Fetch requests by outcome.
    pub(crate) fetch_requests: Family<Outcome, Counter>,
    /// Records returned by fetches.
    pub(crate) fetch_records: Counter,
    /// Record bytes returned by fetches.
    pub(crate) fetch_bytes: Counter,
    /// Fetch latency, long-poll waits included.
    pub(crate) fetch_latency: Histogram,
    /// Size of each sealed segment.
    pub(crate) segment_bytes: Histogram,
    /// Segments uploaded.
    pub(crate) segments_uploaded: Counter,
    /// Segment upload latency (spool write + PUT).
    pub(crate) upload_latency: Histogram,
    /// Commit latency (one Raft entry for one or more segments).
    pub(crate) commit_latency: Histogram,
    /// Segments per commit entry.
    pub(crate) commit_batch_segments: Histogram,
    /// Segments recovered from the spool at start (sealed, never committed).
    pub(crate) recovered_segments: Counter,
    /// Metadata requests made by the read path, by operation.
    pub(crate) metadata_requests: Family<Op, Counter>,
    /// Long-polls woken to re-read their partition, by reason.
    pub(crate) long_poll_wakeups: Family<Reason, Counter>,
    /// Long-polls waiting at the high watermark now.
    pub(crate) long_polls_waiting: Gauge,
    /// Spooled segments of another cluster, set aside uncommitted.
    pub(crate) foreign_segments: Counter,
    /// Bytes staged in the open segment.
    pub(crate) wal_staged_bytes: Gauge,
    /// Sealed segments being uploaded or waiting for a slot.
    pub(crate) uploads_in_flight: Gauge,
    /// Bytes of uploaded segments kept in memory until their commit.
    pub(crate) uploaded_bytes_in_memory: Gauge,
    /// Requests by authentication and authorization outcome.
    pub(crate) auth_requests: Family<Outcome, Counter>,
    /// Reloads of the principals file by outcome.
    pub(crate) auth_reloads: Family<Outcome, Counter>,
    /// TLS handshakes and certificate reloads by outcome.
    pub(crate) tls: crate::tls::TlsCounters,
    /// Record bytes acknowledged, by principal.
    pub(crate) principal_produce_bytes: Family<PrincipalLabel, Counter>,
    /// Record bytes returned by fetches, by principal.
    pub(crate) principal_fetch_bytes: Family<PrincipalLabel, Counter>,
    /// Requests refused 429 `throttled`, by principal and direction.
    pub(crate) principal_throttled: Family<PrincipalDirection, Counter>,
    /// The waits those refusals announced, in seconds, by principal and direction.
    pub(crate) principal_throttle_wait: Family<PrincipalDirection, Counter<f64, AtomicU64>>,
    /// Records between a group's committed offset and the high watermark.
    pub(crate) consumer_lag_records: Family<LagLabels, Gauge>,
    /// Age of the oldest record a group has not consumed, in seconds (0 when caught up).
    pub(crate) consumer_lag_seconds: Family<LagLabels, Gauge<f64, AtomicU64>>,
    /// Index entries dropped by this broker's retention rounds, by topic.
    pub(crate) retention_trimmed_entries: Family<TopicLabel, Counter>,
    /// Chunk bytes those entries referenced, by topic.
    pub(crate) retention_trimmed_bytes: Family<TopicLabel, Counter>,
    /// Retention rounds by outcome: `trimmed`, `idle`, `standby` (another broker
    /// enforces), `error`.
    pub(crate) retention_rounds: Family<Outcome, Counter>,
    /// Stored bytes per topic and the GC backlog, from the metadata state (`cost`).
    pub(crate) cost: crate::cost::CostFigures,
    /// Garbage collection rounds by outcome: `deleted`, `idle`, `standby` (another broker
    /// holds the lease), `refused` (a foreign prefix), `error`.
    pub(crate) gc_rounds: Family<Outcome, Counter>,
    /// Objects the garbage collector deleted.
    pub(crate) gc_deleted_objects: Counter,
    /// Rounds that deleted nothing on principle, by reason (`foreign_cluster`).
    pub(crate) gc_refused: Family<Reason, Counter>,
    /// Released objects waiting for a backup newer than their release (backups on).
    pub(crate) gc_awaiting_backup: Gauge,
    /// Backup rounds by outcome: `uploaded`, `standby` (another broker holds the backup
    /// lease), `refused` (a foreign prefix), `error`.
    pub(crate) backup_rounds: Family<Outcome, Counter>,
    /// The log index of the newest backup this broker uploaded.
    pub(crate) backup_index: Gauge,
    /// Its size in bytes.
    pub(crate) backup_bytes: Gauge,
    /// When it was uploaded, in seconds since the Unix epoch.
    pub(crate) backup_uploaded_at: Gauge,
}

/// `register!(registry, "name", "help" => metric, ...)`: registers a clone of each metric
/// under its name, in the order given.
macro_rules! register {
    ($registry:expr, $($name:literal, $help:literal => $metric:expr),+ $(,)?) => {
        $($registry.register($name, $help, $metric.clone());)+
    };
}

/// Buckets for every latency histogram.
fn latency_buckets() -> impl Iterator<Item = f64> {
    // 100 µs .. ~52 s
    exponential_buckets(0.0001, 2.0, 20)
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::with_prefix("silt"),
            produce_requests: Family::default(),
            produce_records: Counter::default(),
            produce_bytes: Counter::default(),
            produce_latency: Histogram::new(latency_buckets()),
            fetch_requests: Family::default(),
            fetch_records: Counter::default(),
            fetch_bytes: Counter::default(),
            fetch_latency: Histogram::new(latency_buckets()),
            segment_bytes: Histogram::new(exponential_buckets(1024.0, 4.0, 12)),
            segments_uploaded: Counter::default(),
            upload_latency: Histogram::new(latency_buckets()),
            commit_latency: Histogram::new(latency_buckets()),
            commit_batch_segments: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            recovered_segments: Counter::default(),
            metadata_requests: Family::default(),
            long_poll_wakeups: Family::default(),
            long_polls_waiting: Gauge::default(),
            foreign_segments: Counter::default(),
            wal_staged_bytes: Gauge::default(),
            uploads_in_flight: Gauge::default(),
            uploaded_bytes_in_memory: Gauge::default(),
            auth_requests: Family::default(),
            auth_reloads: Family::default(),
            tls: crate::tls::TlsCounters::default(),
            principal_produce_bytes: Family::default(),
            principal_fetch_bytes: Family::default(),
            principal_throttled: Family::default(),
            principal_throttle_wait: Family::default(),
            consumer_lag_records: Family::default(),
            consumer_lag_seconds: Family::default(),
            retention_trimmed_entries: Family::default(),
            retention_trimmed_bytes: Family::default(),
            retention_rounds: Family::default(),
            cost: crate::cost::CostFigures::default(),
            gc_rounds: Family::default(),
            gc_deleted_objects: Counter::default(),
            gc_refused: Family::default(),
            gc_awaiting_backup: Gauge::default(),
            backup_rounds: Family::default(),
            backup_index: Gauge::default(),
            backup_bytes: Gauge::default(),
            backup_uploaded_at: Gauge::default(),
        };
        metrics.zero_outcomes();
        metrics.registered()
    }
}

impl Metrics {
    /// Registers every metric under its exported name, in exposition order.
    fn registered(mut self) -> Self {
        let mut registry = std::mem::take(&mut self.registry);
        self.register_produce(&mut registry);
        self.register_fetch(&mut registry);
        self.register_uploads(&mut registry);
        self.register_commits(&mut registry);
        self.register_gauges(&mut registry);
        self.register_auth(&mut registry);
        self.register_principals(&mut registry);
        self.register_lag(&mut registry);
        self.register_retention(&mut registry);
        self.register_backup(&mut registry);
        self.register_gc(&mut registry);
        Metrics { registry, ..self }
    }

    /// The produce request metrics.
    fn register_produce(&self, r: &mut Registry) {
        register!(r,
            "produce_requests", "Produce requests by outcome" => self.produce_requests,
            "produce_records", "Records acknowledged" => self.produce_records,
            "produce_bytes", "Record bytes acknowledged" => self.produce_bytes,
            "produce_latency_seconds", "Produce latency, receipt to acknowledgement"
                => self.produce_latency,
        );
    }

    /// The fetch request metrics.
    fn register_fetch(&self, r: &mut Registry) {
        register!(r,
            "fetch_requests", "Fetch requests by outcome" => self.fetch_requests,
            "fetch_records", "Records returned by fetches" => self.fetch_records,
            "fetch_bytes", "Record bytes returned by fetches" => self.fetch_bytes,
            "fetch_latency_seconds", "Fetch latency including long-poll waits"
                => self.fetch_latency,
            "metadata_client_requests", "Metadata requests of the read path by operation"
                => self.metadata_requests,
            "long_poll_wakeups", "Long-polls woken to re-read their partition, by reason"
                => self.long_poll_wakeups,
            "long_polls_waiting", "Long-polls waiting at the high watermark now"
                => self.long_polls_waiting,
        );
    }

    /// Segment sizes, uploads and upload latency.
    fn register_uploads(&self, r: &mut Registry) {
        register!(r,
            "segment_size_bytes", "Size of each sealed segment" => self.segment_bytes,
            "segments_uploaded", "Segments uploaded to the object store"
                => self.segments_uploaded,
            "segment_upload_latency_seconds", "Spool write plus conditional PUT of a segment"
                => self.upload_latency,
        );
    }

    /// Commit latency and batching, and segments recovered at start.
    fn register_commits(&self, r: &mut Registry) {
        register!(r,
            "commit_latency_seconds", "Metadata commit of one entry of segments"
                => self.commit_latency,
            "commit_batch_segments", "Segments per metadata commit entry"
                => self.commit_batch_segments,
            "recovered_segments", "Sealed segments committed by the spool recovery (left by an earlier run, or in doubt)"
                => self.recovered_segments,
            "foreign_segments", "Spooled segments left by another cluster (a reused cache directory), set aside in the spool's foreign-<cluster id> folder, never committed"
                => self.foreign_segments,
        );
    }

    /// Authentication outcomes, principals file reloads and TLS.
    fn register_auth(&self, r: &mut Registry) {
        register!(r,
            "auth_requests", "Requests by auth outcome: ok, unauthenticated, forbidden"
                => self.auth_requests,
            "auth_reloads", "Reloads of the principals file by outcome: ok, error"
                => self.auth_reloads,
            "tls_handshakes", "TLS handshakes by outcome: ok, failed, timeout"
                => self.tls.handshakes,
            "tls_reloads", "Reloads of the TLS certificate and key files by outcome: ok, error"
                => self.tls.reloads,
        );
    }

    /// The consumer lag gauges (`groups::lag`).
    fn register_lag(&self, r: &mut Registry) {
        register!(r,
            "consumer_lag_records", "Records between a group's committed offset and the partition's high watermark"
                => self.consumer_lag_records,
            "consumer_lag_seconds", "Age of the oldest record a group has not consumed (the chunk holding its committed offset), 0 when caught up"
                => self.consumer_lag_seconds,
        );
    }

    /// The retention counters (`retention`).
    fn register_retention(&self, r: &mut Registry) {
        register!(r,
            "retention_trimmed_entries", "Index entries dropped by retention, by topic"
                => self.retention_trimmed_entries,
            "retention_trimmed_bytes", "Chunk bytes of the index entries dropped by retention, by topic"
                => self.retention_trimmed_bytes,
            "retention_rounds", "Retention rounds by outcome: trimmed, idle, standby (another broker enforces), error"
                => self.retention_rounds,
        );
    }

    /// The garbage collector's metrics (`gc`).
    fn register_gc(&self, r: &mut Registry) {
        register!(r,
            "gc_rounds", "Garbage collection rounds by outcome: deleted, idle, standby (another broker holds the gc lease), refused (a foreign prefix), error"
                => self.gc_rounds,
            "gc_deleted_objects", "Objects deleted by the garbage collector" => self.gc_deleted_objects,
            "gc_refused", "Garbage collection rounds that deleted nothing on principle, by reason: foreign_cluster (the prefix's marker names another cluster)"
                => self.gc_refused,
            "gc_awaiting_backup_objects", "Released objects kept until a metadata backup newer than their release is in the bucket (as of the collector's last round)"
                => self.gc_awaiting_backup,
        );
    }

    /// The backup uploader's metrics (`backup`).
    fn register_backup(&self, r: &mut Registry) {
        register!(r,
            "backup_rounds", "Metadata backup rounds by outcome: uploaded, standby (another broker holds the backup lease), refused (a foreign prefix), error"
                => self.backup_rounds,
            "backup_index", "Log index of the newest metadata backup this broker uploaded" => self.backup_index,
            "backup_bytes", "Size of the newest metadata backup this broker uploaded" => self.backup_bytes,
            "backup_uploaded_at_seconds", "When this broker last uploaded a metadata backup (Unix seconds)"
                => self.backup_uploaded_at,
        );
    }

    /// Exports every backup outcome from the start, at 0, so that a rate over them (the
    /// alert on failing backups) sees each series before its first increment.
    fn zero_outcomes(&self) {
        for outcome in ["uploaded", "standby", "refused", "error"] {
            let outcome = outcome.to_owned();
            let _ = self.backup_rounds.get_or_create(&Outcome { outcome });
        }
    }

    /// Counts one backup round by `outcome`.
    pub(crate) fn backup_round(&self, outcome: &str) {
        let outcome = outcome.to_owned();
        self.backup_rounds.get_or_create(&Outcome { outcome }).inc();
    }

    /// Records a backup of log `index`, `bytes` long, uploaded at `at_ms`.
    pub(crate) fn backup_uploaded(&self, index: u64, bytes: usize, at_ms: i64) {
        self.backup_index
            .set(i64::try_from(index).unwrap_or(i64::MAX));
        self.backup_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.backup_uploaded_at.set(at_ms / 1000);
    }

    /// Counts one garbage collection round by `outcome`.
    pub(crate) fn gc_round(&self, outcome: &str) {
        let outcome = outcome.to_owned();
        self.gc_rounds.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts one round refused for `reason`.
    pub(crate) fn gc_refused(&self, reason: &'static str) {
        self.gc_refused.get_or_create(&Reason { reason }).inc();
    }

    /// Counts what retention dropped from `topic`.
    pub(crate) fn retention_trimmed(&self, topic: &str, entries: u64, bytes: u64) {
        let label = TopicLabel {
            topic: topic.to_owned(),
        };
        self.retention_trimmed_entries
            .get_or_create(&label)
            .inc_by(entries);
        self.retention_trimmed_bytes
            .get_or_create(&label)
            .inc_by(bytes);
    }

    /// Counts one retention round by `outcome`.
    pub(crate) fn retention_round(&self, outcome: &str) {
        let outcome = outcome.to_owned();
        self.retention_rounds
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    /// Replaces every consumer lag series by `points`: `(labels, records, seconds)`.
    pub(crate) fn set_lag(&self, points: &[(LagLabels, u64, f64)]) {
        self.consumer_lag_records.clear();
        self.consumer_lag_seconds.clear();
        for (labels, records, seconds) in points {
            let records = i64::try_from(*records).unwrap_or(i64::MAX);
            self.consumer_lag_records.get_or_create(labels).set(records);
            self.consumer_lag_seconds
                .get_or_create(labels)
                .set(*seconds);
        }
    }

    /// The per-principal byte and throttle counters.
    fn register_principals(&self, r: &mut Registry) {
        register!(r,
            "principal_produce_bytes", "Record bytes acknowledged, by principal"
                => self.principal_produce_bytes,
            "principal_fetch_bytes", "Record bytes returned by fetches, by principal"
                => self.principal_fetch_bytes,
            "principal_throttled_requests", "Requests refused 429 throttled (over a byte-rate quota on this broker), by principal and direction"
                => self.principal_throttled,
            "principal_throttle_wait_seconds", "Waits announced by throttled refusals (Retry-After before rounding), by principal and direction"
                => self.principal_throttle_wait,
        );
    }

    /// Record bytes `principal` produced (acknowledged) or fetched, by `direction`.
    pub(crate) fn principal_bytes(&self, principal: &str, direction: &str, bytes: u64) {
        let family = match direction {
            "produce" => &self.principal_produce_bytes,
            _ => &self.principal_fetch_bytes,
        };
        let label = PrincipalLabel {
            principal: principal.to_owned(),
        };
        family.get_or_create(&label).inc_by(bytes);
    }

    /// One request of `principal` throttled in `direction`, told to wait `wait`.
    pub(crate) fn throttled(&self, principal: &str, direction: &'static str, wait: Duration) {
        let label = PrincipalDirection {
            principal: principal.to_owned(),
            direction,
        };
        self.principal_throttled.get_or_create(&label).inc();
        let seconds = wait.as_secs_f64();
        self.principal_throttle_wait
            .get_or_create(&label)
            .inc_by(seconds);
    }

    /// The staged-bytes and uploads-in-flight gauges.
    fn register_gauges(&self, r: &mut Registry) {
        register!(r,
            "wal_staged_bytes", "Bytes staged in the open segment" => self.wal_staged_bytes,
            "uploads_in_flight", "Sealed segments uploading or waiting for an upload slot"
                => self.uploads_in_flight,
            "uploaded_bytes_in_memory", "Bytes of uploaded segments kept in memory until their commit (for the hot cache; at most cache.memory_bytes)"
                => self.uploaded_bytes_in_memory,
        );
    }

    /// An acknowledged produce request.
    pub(crate) fn produced(&self, records: u64, bytes: u64, latency: Duration) {
        Self::outcome(&self.produce_requests, "ok");
        self.produce_records.inc_by(records);
        self.produce_bytes.inc_by(bytes);
        self.produce_latency.observe(latency.as_secs_f64());
    }

    /// A refused or failed produce request, by error code.
    pub(crate) fn produce_failed(&self, code: &str) {
        Self::outcome(&self.produce_requests, code);
    }

    /// One request's auth outcome: `ok`, `unauthenticated` or `forbidden`.
    pub(crate) fn auth_outcome(&self, outcome: &str) {
        Self::outcome(&self.auth_requests, outcome);
    }

    /// One reload of the principals file: `ok` or `error`.
    pub(crate) fn auth_reloaded(&self, outcome: &str) {
        Self::outcome(&self.auth_reloads, outcome);
    }

    /// A fetch that returned (possibly no) records.
    pub(crate) fn fetched(&self, records: u64, bytes: u64, latency: Duration) {
        Self::outcome(&self.fetch_requests, "ok");
        self.fetch_records.inc_by(records);
        self.fetch_bytes.inc_by(bytes);
        self.fetch_latency.observe(latency.as_secs_f64());
    }

    /// A refused or failed fetch, by error code.
    pub(crate) fn fetch_failed(&self, code: &str) {
        Self::outcome(&self.fetch_requests, code);
    }

    /// One metadata request of the read path.
    pub(crate) fn metadata_request(&self, op: &'static str) {
        self.metadata_requests.get_or_create(&Op { op }).inc();
    }

    /// One long-poll woken to re-read its partition.
    pub(crate) fn long_poll_woken(&self, reason: &'static str) {
        self.long_poll_wakeups
            .get_or_create(&Reason { reason })
            .inc();
    }

    /// A segment of `bytes` uploaded in `latency` (spool write and PUT).
    pub(crate) fn segment_uploaded(&self, bytes: usize, latency: Duration) {
        self.segments_uploaded.inc();
        self.segment_bytes.observe(bytes as f64);
        self.upload_latency.observe(latency.as_secs_f64());
    }

    /// One commit entry of `segments` segments, confirmed in `latency`.
    pub(crate) fn segments_committed(&self, segments: usize, latency: Duration) {
        self.commit_latency.observe(latency.as_secs_f64());
        self.commit_batch_segments.observe(segments as f64);
    }
}

impl Metrics {
    /// Counts one produce or fetch outcome.
    fn outcome(family: &Family<Outcome, Counter>, outcome: &str) {
        family
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Prometheus text exposition of everything, store and cache counters and the
    /// per-topic `costs` included.
    pub(crate) fn render(
        &self,
        store: &StoreStatsSnapshot,
        cache: &CacheStatsSnapshot,
        spooled_bytes: u64,
        costs: &[(CostKey, CostOp, Tally)],
    ) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            out.clear();
        }
        render_store(&mut out, store);
        crate::cost::render(&mut out, &self.cost.get(), costs);
        render_cache(&mut out, cache);
        render_spool(&mut out, spooled_bytes);
        out.push_str("# EOF\n");
        out
    }
}

/// Appends one metric family: `(name, type)`, help, and `(labels, value)` samples.
fn family(out: &mut String, (name, kind): (&str, &str), help: &str, samples: &[(&str, u64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        if labels.is_empty() {
            out.push_str(&format!("{name} {value}\n"));
        } else {
            out.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
}

/// The spool's bytes on disk, read at scrape time.
fn render_spool(out: &mut String, spooled_bytes: u64) {
    family(
        out,
        ("silt_wal_spooled_bytes", "gauge"),
        "Sealed segment bytes on local disk awaiting upload or commit",
        &[("", spooled_bytes)],
    );
}

/// The object store's request, error and byte counters.
fn render_store(out: &mut String, store: &StoreStatsSnapshot) {
    family(
        out,
        ("silt_object_store_requests_total", "counter"),
        "Object-store requests by operation",
        &[
            ("op=\"put\"", store.puts),
            ("op=\"get\"", store.gets),
            ("op=\"head\"", store.heads),
            ("op=\"delete\"", store.deletes),
            ("op=\"list\"", store.lists),
        ],
    );
    family(
        out,
        ("silt_object_store_errors_total", "counter"),
        "Object-store requests that failed",
        &[("", store.errors)],
    );
    family(
        out,
        ("silt_object_store_bytes_total", "counter"),
        "Object-store payload bytes by operation",
        &[
            ("op=\"put\"", store.put_bytes),
            ("op=\"get\"", store.get_bytes),
        ],
    );
}

/// The chunk cache's tier, coalescing and read-ahead counters.
fn render_cache(out: &mut String, cache: &CacheStatsSnapshot) {
    family(
        out,
        ("silt_cache_requests_total", "counter"),
        "Chunk reads by the tier that answered",
        &[
            ("tier=\"memory\",result=\"hit\"", cache.memory_hits),
            ("tier=\"memory\",result=\"miss\"", cache.memory_misses),
            ("tier=\"spool\",result=\"hit\"", cache.disk_hits),
            ("tier=\"spool\",result=\"miss\"", cache.disk_misses),
            ("tier=\"disk\",result=\"hit\"", cache.disk_cache_hits),
            ("tier=\"disk\",result=\"miss\"", cache.disk_cache_misses),
            (
                "tier=\"object_store\",result=\"hit\"",
                cache.object_store_hits,
            ),
            (
                "tier=\"object_store\",result=\"miss\"",
                cache.object_store_misses,
            ),
        ],
    );
    family(
        out,
        ("silt_cache_coalesced_reads_total", "counter"),
        "Chunk reads that joined a read already in flight instead of a second GET",
        &[("", cache.coalesced_reads)],
    );
    family(
        out,
        ("silt_cache_prefetched_chunks_total", "counter"),
        "Chunks read ahead for sequential readers",
        &[("", cache.prefetched_chunks)],
    );
}
