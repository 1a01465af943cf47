//! What the metadata state holds and what its snapshots cost, for `/metrics`: the sizes
//! of the state's growing parts ([`StateSizes`]) and the last snapshot's build time and
//! size ([`SnapshotStats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How much the state holds of each part that grows with use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StateSizes {
    /// Segment commit results kept (the retry answers, within the commit horizon).
    pub(crate) segments: u64,
    /// Producer ids kept.
    pub(crate) producers: u64,
    /// Index entries over all partitions.
    pub(crate) index_entries: u64,
    /// Objects recorded as garbage.
    pub(crate) orphans: u64,
}

impl StateSizes {
    /// The sizes as (name, help, value) gauges.
    fn gauges(&self) -> [(&'static str, &'static str, u64); 4] {
        [
            (
                "silt_metadata_state_segments",
                "Segment commit results the state keeps to answer retries",
                self.segments,
            ),
            (
                "silt_metadata_state_producers",
                "Producer ids the state keeps",
                self.producers,
            ),
            (
                "silt_metadata_state_index_entries",
                "Index entries over all partitions",
                self.index_entries,
            ),
            (
                "silt_metadata_state_orphans",
                "Objects recorded as garbage",
                self.orphans,
            ),
        ]
    }
}

/// The snapshots this node built: how many, and the last one's build time and size.
#[derive(Debug, Default)]
pub(crate) struct SnapshotStats {
    /// Snapshots built.
    built: AtomicU64,
    /// The last build's encode-and-save time, in microseconds.
    last_micros: AtomicU64,
    /// The last snapshot's data, in bytes.
    last_bytes: AtomicU64,
}

impl SnapshotStats {
    /// Records a snapshot of `bytes` built in `took`.
    pub(crate) fn built(&self, took: Duration, bytes: usize) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_micros.store(micros, Ordering::Relaxed);
        self.last_bytes.store(bytes as u64, Ordering::Relaxed);
        self.built.fetch_add(1, Ordering::Relaxed);
    }
}

/// The Prometheus text of the state's sizes and the snapshot stats.
pub(crate) fn render(sizes: &StateSizes, snapshots: &SnapshotStats) -> String {
    let mut out = String::new();
    for (name, help, value) in sizes.gauges() {
        out.push_str(&sample(name, help, "gauge", &value.to_string()));
    }
    let micros = snapshots.last_micros.load(Ordering::Relaxed);
    let seconds = format!("{:.6}", micros as f64 / 1e6);
    let bytes = snapshots.last_bytes.load(Ordering::Relaxed).to_string();
    let built = snapshots.built.load(Ordering::Relaxed).to_string();
    out.push_str(&sample(
        "silt_metadata_snapshot_seconds",
        "Time the last snapshot took to encode and save",
        "gauge",
        &seconds,
    ));
    out.push_str(&sample(
        "silt_metadata_snapshot_bytes",
        "Size of the last snapshot's data",
        "gauge",
        &bytes,
    ));
    out.push_str(&sample(
        "silt_metadata_snapshots_total",
        "Snapshots this node built",
        "counter",
        &built,
    ));
    out
}

/// One metric in the Prometheus text format.
fn sample(name: &str, help: &str, kind: &str, value: &str) -> String {
    format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
}
