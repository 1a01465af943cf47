//! Support for the long lifecycle run (`tests/lifecycle_long.rs`, issue 13): the figures
//! of a live [`Cluster`] under retention and garbage collection ([`Figures`], sampled by
//! [`Sampler`]: objects by listing the bucket, index entries, snapshot and Raft log bytes
//! on the metadata nodes' disks, their RSS, the GC backlog, the bytes retention keeps), a tailing reader that follows
//! a start offset retention moved past it ([`tail_through_trims`], recording a `reset`),
//! and a final read that starts over when retention trims under it
//! ([`final_read_through_trims`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use futures::TryStreamExt;
use silt_bookie::store::{ObjectStoreHandle, open_store};
use silt_sdk::wire::ErrorCode;
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig};

use crate::checker::{Event, Read};
use crate::harness::{Cluster, Role, http_client, try_metric};
use crate::workload::{SharedHistory, read_of};

/// One sample of the cluster's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Seconds since the sampler started.
    pub at_s: f64,
    /// Objects under the prefix (listing), segments and the rest.
    pub objects: usize,
    /// Segment objects under the prefix (listing).
    pub segments: usize,
    /// Bytes of the segments listed.
    pub segment_bytes: u64,
    /// Segments listed whose ULID time is older than the sampler's age bound.
    pub segments_too_old: usize,
    /// Segments seen by any listing so far but gone now: deleted by the collector.
    pub deleted: usize,
    /// Bytes of every segment any listing saw: what the run wrote to the bucket.
    pub written_bytes: u64,
    /// Records acknowledged so far (the history).
    pub acknowledged: u64,
    /// Index entries over all partitions (`silt_metadata_state_index_entries`, largest of
    /// the metadata nodes).
    pub index_entries: u64,
    /// The newest snapshot file, in bytes (largest of the metadata nodes).
    pub snapshot_bytes: u64,
    /// The metadata data directory without its snapshots: the Raft log and vote (largest
    /// of the metadata nodes).
    pub raft_log_bytes: u64,
    /// VmRSS of the metadata processes, in KiB (largest).
    pub metadata_rss_kib: u64,
    /// `silt_gc_backlog_objects` of the first broker that answers.
    pub gc_backlog: Option<u64>,
    /// What retention keeps of the topic: `silt_topic_stored_bytes{topic}` (the bytes of
    /// its index entries) of the first broker that answers.
    pub stored_bytes: Option<u64>,
}

impl Figures {
    /// The header of [`Figures::line`].
    pub const HEADER: &'static str = "   t_s  written_MiB  stored_KiB  acked_records  objects  segments  seg_KiB  too_old  deleted  index_entries  snapshot_KiB  raft_log_KiB  meta_rss_MiB  gc_backlog";

    /// The figures as one line of a table under [`Figures::HEADER`].
    pub fn line(&self) -> String {
        let backlog = self
            .gc_backlog
            .map_or_else(|| "-".to_owned(), |b| b.to_string());
        let stored = self
            .stored_bytes
            .map_or_else(|| "-".to_owned(), |b| (b / 1024).to_string());
        format!(
            "{:>6.0}  {:>11.1}  {:>10}  {:>13}  {:>7}  {:>8}  {:>7}  {:>7}  {:>7}  {:>13}  {:>12}  {:>12}  {:>12.1}  {:>10}",
            self.at_s,
            self.written_bytes as f64 / 1048576.0,
            stored,
            self.acknowledged,
            self.objects,
            self.segments,
            self.segment_bytes / 1024,
            self.segments_too_old,
            self.deleted,
            self.index_entries,
            self.snapshot_bytes / 1024,
            self.raft_log_bytes / 1024,
            self.metadata_rss_kib as f64 / 1024.0,
            backlog
        )
    }
}

/// Samples a cluster's [`Figures`], remembering every segment a listing saw (so deletions
/// are counted by listing).
pub struct Sampler {
    store: ObjectStoreHandle,
    topic: String,
    started: Instant,
    max_age: Duration,
    /// Every segment listed so far: name → size.
    seen: BTreeMap<String, u64>,
}

impl Sampler {
    /// A sampler of the bucket at `object_store` and of `topic`; a segment whose ULID time
    /// is more than `max_age` old counts as [`Figures::segments_too_old`].
    pub fn new(object_store: &str, topic: &str, max_age: Duration) -> Result<Sampler> {
        let store = open_store(object_store).map_err(|e| anyhow!("{object_store}: {e}"))?;
        Ok(Sampler {
            store,
            topic: topic.to_owned(),
            started: Instant::now(),
            max_age,
            seen: BTreeMap::new(),
        })
    }

    /// One sample: the metadata figures first, then the listing.
    pub async fn sample(&mut self, cluster: &Cluster, history: &SharedHistory) -> Result<Figures> {
        let mut figures = metadata_figures(cluster).await;
        figures.gc_backlog = broker_metric(cluster, "silt_gc_backlog_objects").await;
        let stored = format!("silt_topic_stored_bytes{{topic=\"{}\"}}", self.topic);
        figures.stored_bytes = broker_metric(cluster, &stored).await;
        figures.acknowledged = acknowledged(history);
        self.list_into(&mut figures).await?;
        figures.at_s = self.started.elapsed().as_secs_f64();
        Ok(figures)
    }

    /// Lists the prefix and notes the segments seen, without sampling anything else: call
    /// it more often than a segment lives (retention plus the grace) so that every
    /// segment written is counted in [`Figures::written_bytes`] and, once gone,
    /// [`Figures::deleted`].
    pub async fn track(&mut self) -> Result<()> {
        self.list().await.map(|_| ())
    }

    /// Every object under the prefix; the segments among them are noted as seen.
    async fn list(&mut self) -> Result<Vec<object_store::ObjectMeta>> {
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .store
            .list(Some(&self.store.prefix))
            .try_collect()
            .await
            .context("cannot list the bucket")?;
        for object in &listed {
            let name = object.location.to_string();
            if segment_time_ms(&name).is_some() {
                self.seen.insert(name, object.size);
            }
        }
        Ok(listed)
    }

    /// Lists the prefix into `figures`.
    async fn list_into(&mut self, figures: &mut Figures) -> Result<()> {
        let listed = self.list().await?;
        let oldest_allowed = now_ms().saturating_sub(self.max_age.as_millis() as u64);
        let times = listed
            .iter()
            .filter_map(|o| Some((segment_time_ms(o.location.as_ref())?, o.size)));
        for (ulid_ms, size) in times {
            figures.segments += 1;
            figures.segment_bytes += size;
            figures.segments_too_old += usize::from(ulid_ms < oldest_allowed);
        }
        figures.objects = listed.len();
        figures.deleted = self.seen.len() - figures.segments;
        figures.written_bytes = self.seen.values().sum();
        Ok(())
    }
}

/// The ULID time of a segment object (`…/segments/<hh>/<ULID>.seg`); None for any other.
fn segment_time_ms(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    if !name.contains("/segments/") && !name.starts_with("segments/") {
        return None;
    }
    let ulid = stem.rsplit('/').next()?;
    ulid::Ulid::from_string(ulid).ok().map(|u| u.timestamp_ms())
}

fn now_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

/// Records acknowledged in `history` so far.
fn acknowledged(history: &SharedHistory) -> u64 {
    let h = history.lock().unwrap_or_else(|e| e.into_inner());
    let acks = h.events().iter().filter(|e| matches!(e, Event::Ack { .. }));
    acks.count() as u64
}

/// The largest of each metadata figure over the metadata nodes.
async fn metadata_figures(cluster: &Cluster) -> Figures {
    let http = http_client();
    let mut figures = Figures::default();
    for i in 1..=cluster.size(Role::Metadata) {
        let url = cluster.metadata_url(i);
        let entries = try_metric(&http, &url, "silt_metadata_state_index_entries").await;
        figures.index_entries = figures.index_entries.max(entries.unwrap_or(0));
        let data = cluster.process_dir(Role::Metadata, i).join("data");
        figures.snapshot_bytes = figures.snapshot_bytes.max(newest_snapshot_bytes(&data));
        let log = dir_bytes(&data).saturating_sub(dir_bytes(&data.join("snapshots")));
        figures.raft_log_bytes = figures.raft_log_bytes.max(log);
        let rss = cluster
            .pid(Role::Metadata, i)
            .and_then(rss_kib)
            .unwrap_or(0);
        figures.metadata_rss_kib = figures.metadata_rss_kib.max(rss);
    }
    figures
}

/// The `sample` of the first broker that answers.
async fn broker_metric(cluster: &Cluster, sample: &str) -> Option<u64> {
    let http = http_client();
    for url in cluster.broker_urls() {
        if let Some(value) = try_metric(&http, &url, sample).await {
            return Some(value);
        }
    }
    None
}

/// The size of the newest `*.snap` file under `data/snapshots` (0 without one).
fn newest_snapshot_bytes(data: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(data.join("snapshots")) else {
        return 0;
    };
    let mut snapshots: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "snap"))
        .collect();
    snapshots.sort();
    let newest = snapshots.pop();
    newest
        .and_then(|p| p.metadata().ok())
        .map_or(0, |m| m.len())
}

/// The bytes of every file under `dir`, recursively (0 when it is missing).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let size = |entry: std::fs::DirEntry| match entry.metadata() {
        Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    entries.filter_map(|e| e.ok()).map(size).sum()
}

/// VmRSS of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How a tailing reader reads.
#[derive(Debug, Clone)]
pub struct Tail {
    /// The topic.
    pub topic: String,
    /// Its name in the history.
    pub name: String,
    /// The partition it follows from offset 0.
    pub partition: u32,
    /// Pause after each poll: a slow reader falls behind retention and is reset.
    pub pause: Duration,
}

/// Follows one partition from offset 0 until `stop`, recording every record it gets;
/// when retention dropped the records at its position (416 `offset_out_of_range`) it
/// moves to the start offset ([`Consumer::reset_if_trimmed`]) and records the `reset`.
pub async fn tail_through_trims(
    client: Client,
    tail: Tail,
    history: SharedHistory,
    stop: Arc<AtomicBool>,
) {
    let config = ConsumerConfig {
        wait: Duration::from_secs(1),
        max_records: 500,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(client, &tail.topic, tail.partition, 0, config);
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll().await {
            Ok(records) => {
                let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
                for record in &records {
                    h.observed(&tail.name, read_of(tail.partition, record));
                }
            }
            Err(error) => reset_or_wait(&mut consumer, &tail, &error, &history).await,
        }
        tokio::time::sleep(tail.pause).await;
    }
}

/// After a failed poll: the reset when retention moved the start past the position,
/// else a short wait before the next try.
async fn reset_or_wait(
    consumer: &mut Consumer,
    tail: &Tail,
    error: &silt_sdk::Error,
    history: &SharedHistory,
) {
    match consumer.reset_if_trimmed(error).await {
        Ok(Some(start)) => {
            let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
            h.reset(&tail.name, tail.partition, start);
        }
        _ => tokio::time::sleep(Duration::from_millis(200)).await,
    }
}

/// Reads every partition of `topic` from its start to its high watermark through
/// `client` and records the reads and ranges; a partition whose start retention moves
/// during its read is read again from the new start (at most 20 times each).
pub async fn final_read_through_trims(
    client: &Client,
    topic: &str,
    history: &SharedHistory,
) -> Result<()> {
    let partitions = Admin::new(client.clone())
        .describe_topic(topic)
        .await
        .with_context(|| format!("final read: describe {topic}"))?
        .partitions
        .len();
    for partition in 0..partitions as u32 {
        let (start, high_watermark, reads) = read_partition(client, topic, partition).await?;
        let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
        h.final_range(partition, start, high_watermark);
        for read in reads {
            h.read(read);
        }
    }
    Ok(())
}

/// One partition's `[start, high watermark)` and its records, read again when a trim
/// moves the start under the read.
async fn read_partition(
    client: &Client,
    topic: &str,
    partition: u32,
) -> Result<(u64, u64, Vec<Read>)> {
    for _attempt in 0..20 {
        let described = Admin::new(client.clone()).describe_topic(topic).await?;
        let Some(view) = described.partitions.get(partition as usize) else {
            bail!("{topic} has no partition {partition}");
        };
        let (start, high_watermark) = (view.start_offset, view.high_watermark);
        match read_range(client, topic, partition, start, high_watermark).await {
            Ok(reads) => return Ok((start, high_watermark, reads)),
            Err(e) if e.code() == Some(ErrorCode::OffsetOutOfRange) => continue,
            Err(e) => bail!("final read of {topic}/{partition} from {start}: {e}"),
        }
    }
    bail!("final read of {topic}/{partition}: retention moved the start 20 times under it")
}

/// The records of `[start, high_watermark)`.
async fn read_range(
    client: &Client,
    topic: &str,
    partition: u32,
    start: u64,
    high_watermark: u64,
) -> silt_sdk::Result<Vec<Read>> {
    let config = ConsumerConfig {
        wait: Duration::ZERO,
        max_bytes: 8 << 20,
        max_records: 5000,
    };
    let mut consumer = Consumer::new(client.clone(), topic, partition, start, config);
    let mut reads = Vec::new();
    let mut empty_polls = 0;
    while consumer.position() < high_watermark && empty_polls < 100 {
        let records = consumer.poll().await?;
        if records.is_empty() {
            empty_polls += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        reads.extend(records.iter().map(|r| read_of(partition, r)));
    }
    Ok(reads)
}
