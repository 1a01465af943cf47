//! `baseline`: the object store's own limits, measured with the client stack silt uses
//! (`silt_bookie::store::open_store`: object_store's S3 client over reqwest + rustls/ring,
//! same environment variables, same key layout `<prefix>/segments/<hh>/<ULID>.seg`, and
//! `PutMode::Create` PUTs as segment uploads do).
//!
//! Phases, each against a fresh prefix `<prefix>/loadgen-baseline/<ULID>/…`:
//! 1. PUT throughput: `put_in_flight` concurrent PUTs of `segment_bytes` objects for
//!    `seconds`; then the same at `small_segment_bytes` (1.5 MiB: what silt's 20 ms linger
//!    sealed in the first bench);
//! 2. small-object PUT latency: `tiny_count` PUTs of `tiny_bytes` (1 KiB), one in flight;
//! 3. ranged GETs of the phase-1 segment-size objects in `range_bytes` ranges: one in
//!    flight (in write order), then `get_in_flight` at once (in reverse order, so the two
//!    read phases only share ranges if each reads more than half of what phase 1 wrote).
//!
//! Everything under the run's prefix is deleted at the end, also after a failed phase.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde_json::{Value, json};
use silt_bookie::store::paths::segment_path;
use silt_bookie::store::{ObjectStoreHandle, open_store};
use ulid::Ulid;

use crate::report::{MIB, mib_per_sec, ms_cell, new_histogram, percentiles, record_micros, round3};

/// Options of [`baseline`].
#[derive(Debug, Clone)]
pub(crate) struct BaselineOptions {
    /// Object-store URL, as given to `silt --object-store`.
    pub url: String,
    /// Object size of the main PUT phase (silt's segment size).
    pub segment_bytes: usize,
    /// Object size of the second PUT phase.
    pub small_segment_bytes: usize,
    /// Length of each timed phase.
    pub seconds: Duration,
    /// PUTs in flight in the PUT phases.
    pub put_in_flight: usize,
    /// GETs in flight in the parallel GET phase.
    pub get_in_flight: usize,
    /// Bytes per ranged GET.
    pub range_bytes: usize,
    /// Object size of the latency phase.
    pub tiny_bytes: usize,
    /// PUTs in the latency phase.
    pub tiny_count: u64,
}

/// Runs every phase and deletes what it wrote.
pub(crate) async fn baseline(options: &BaselineOptions) -> anyhow::Result<Value> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = open_store(&options.url).with_context(|| format!("opening {}", options.url))?;
    let run = Ulid::new().to_string();
    let root = handle
        .prefix
        .clone()
        .join("loadgen-baseline")
        .join(run.as_str());
    let result = phases(&handle, &root, options).await;
    let cleanup = delete_under(handle.store.as_ref(), &root).await;
    let mut summary = result?;
    summary["run_prefix"] = json!(root.to_string());
    summary["cleanup"] = match cleanup {
        Ok(deleted) => json!({"deleted": deleted}),
        Err(error) => json!({"error": format!("{error:#}")}),
    };
    let stats = handle.stats.snapshot();
    summary["client_requests"] = json!({
        "puts": stats.puts, "gets": stats.gets, "lists": stats.lists,
        "deletes": stats.deletes, "errors": stats.errors,
    });
    Ok(summary)
}

/// `len` bytes of xorshift noise (incompressible, cheap to make).
fn noise(len: usize) -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Slack past the largest object, so consecutive objects start at different bytes.
const NOISE_SLACK: usize = 1 << 20;

/// A different `size`-byte window of `data` for each `n`.
fn window(data: &Bytes, size: usize, n: u64) -> Bytes {
    let start = (n.wrapping_mul(40_503) % NOISE_SLACK as u64) as usize;
    data.slice(start..start + size)
}

async fn phases(
    handle: &ObjectStoreHandle,
    root: &Path,
    options: &BaselineOptions,
) -> anyhow::Result<Value> {
    let store = &handle.store;
    let biggest = options
        .segment_bytes
        .max(options.small_segment_bytes)
        .max(options.tiny_bytes);
    let data = noise(biggest + NOISE_SLACK);

    // Bulk PUTs at silt's segment size, then at the segment size silt reached in practice.
    let data = &data;
    let bulk_put = |dir: &'static str, size: usize| async move {
        eprintln!(
            "baseline: PUT {size} B objects, {} in flight, {:?}",
            options.put_in_flight, options.seconds
        );
        let path = root.clone().join(dir);
        put_phase(
            store,
            &path,
            data,
            size,
            options.put_in_flight,
            options.seconds,
        )
        .await
    };
    let big = bulk_put("a", options.segment_bytes)
        .await
        .context("PUT phase (segment size)")?;
    let small = bulk_put("b", options.small_segment_bytes)
        .await
        .context("PUT phase (small segments)")?;

    eprintln!(
        "baseline: {} PUTs of {} B, one in flight",
        options.tiny_count, options.tiny_bytes
    );
    let tiny_root = root.clone().join("c");
    let mut tiny = new_histogram()?;
    let tiny_started = Instant::now();
    for n in 0..options.tiny_count {
        let path = segment_path(&tiny_root, Ulid::new());
        let payload = PutPayload::from(window(data, options.tiny_bytes, n));
        let sent = Instant::now();
        store
            .put_opts(&path, payload, create())
            .await
            .with_context(|| format!("PUT {path}"))?;
        record_micros(&mut tiny, sent.elapsed().as_micros() as u64);
    }
    let tiny_seconds = tiny_started.elapsed().as_secs_f64();

    let mut ranges = Vec::new();
    for path in &big.objects {
        let mut start = 0;
        while start < options.segment_bytes {
            let end = (start + options.range_bytes).min(options.segment_bytes);
            ranges.push((path.clone(), start as u64..end as u64));
            start = end;
        }
    }
    let ranges = Arc::new(ranges);
    eprintln!(
        "baseline: ranged GETs of {} B, one in flight, {:?}",
        options.range_bytes, options.seconds
    );
    let sequential = get_phase(store, &ranges, false, 1, options.seconds)
        .await
        .context("sequential GET phase")?;
    eprintln!(
        "baseline: ranged GETs of {} B, {} in flight, {:?}",
        options.range_bytes, options.get_in_flight, options.seconds
    );
    let parallel = get_phase(store, &ranges, true, options.get_in_flight, options.seconds)
        .await
        .context("parallel GET phase")?;

    let big_json = big.json(options.segment_bytes, options.put_in_flight);
    let small_json = small.json(options.small_segment_bytes, options.put_in_flight);
    let tiny_json = json!({
        "object_bytes": options.tiny_bytes, "in_flight": 1, "requests": tiny.len(),
        "seconds": round3(tiny_seconds), "latency": percentiles(&tiny),
    });
    let seq_json = sequential.json(options.range_bytes, 1);
    let par_json = parallel.json(options.range_bytes, options.get_in_flight);
    let mib = |bytes: usize| round3(bytes as f64 / MIB);
    let markdown = format!(
        "| object-store baseline ({} MiB PUTs, {} in flight) | PUT {:.1} MiB/s (p50 {} / p99 {} ms); {} MiB PUTs {:.1} MiB/s | {} KiB PUT p50 {} ms / p99 {} ms | GET {} MiB ranges: {:.1} MiB/s one in flight, {:.1} MiB/s {} in flight |",
        mib(options.segment_bytes),
        options.put_in_flight,
        big_json["mib_per_sec"].as_f64().unwrap_or_default(),
        ms_cell(&big_json["latency"]["p50_ms"]),
        ms_cell(&big_json["latency"]["p99_ms"]),
        mib(options.small_segment_bytes),
        small_json["mib_per_sec"].as_f64().unwrap_or_default(),
        round3(options.tiny_bytes as f64 / 1024.0),
        ms_cell(&tiny_json["latency"]["p50_ms"]),
        ms_cell(&tiny_json["latency"]["p99_ms"]),
        mib(options.range_bytes),
        seq_json["mib_per_sec"].as_f64().unwrap_or_default(),
        par_json["mib_per_sec"].as_f64().unwrap_or_default(),
        options.get_in_flight,
    );
    Ok(json!({
        "mode": "baseline", "object_store": handle.url,
        "phase_seconds": options.seconds.as_secs_f64(),
        "put_segment": big_json, "put_small_segment": small_json, "put_tiny": tiny_json,
        "get_sequential": seq_json, "get_parallel": par_json,
        "markdown": markdown,
    }))
}

fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    }
}

/// Outcome of a timed phase.
struct Phase {
    objects: Vec<Path>,
    requests: u64,
    bytes: u64,
    seconds: f64,
    latency: Histogram<u64>,
}

impl Phase {
    fn json(&self, unit_bytes: usize, in_flight: usize) -> Value {
        json!({
            "object_bytes": unit_bytes, "in_flight": in_flight, "requests": self.requests,
            "mib": round3(self.bytes as f64 / MIB), "seconds": round3(self.seconds),
            "mib_per_sec": mib_per_sec(self.bytes, self.seconds),
            "requests_per_sec": round3(self.requests as f64 / self.seconds.max(1e-9)),
            "latency": percentiles(&self.latency),
        })
    }
}

/// `in_flight` workers PUT `size`-byte objects under `root` until `duration` has passed.
async fn put_phase(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    data: &Bytes,
    size: usize,
    in_flight: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (store, root, data, counter) = (
            Arc::clone(store),
            root.clone(),
            data.clone(),
            Arc::clone(&counter),
        );
        workers.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            let mut objects = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let path = segment_path(&root, Ulid::new());
                let payload = PutPayload::from(window(&data, size, n));
                let sent = Instant::now();
                store
                    .put_opts(&path, payload, create())
                    .await
                    .with_context(|| format!("PUT {path}"))?;
                record_micros(&mut latency, sent.elapsed().as_micros() as u64);
                objects.push(path);
            }
            Ok::<_, anyhow::Error>((objects, latency))
        }));
    }
    let mut phase = Phase {
        objects: Vec::new(),
        requests: 0,
        bytes: 0,
        seconds: 0.0,
        latency: new_histogram()?,
    };
    for worker in workers {
        let (objects, latency) = worker.await??;
        phase.latency.add(latency)?;
        phase.objects.extend(objects);
    }
    phase.seconds = started.elapsed().as_secs_f64();
    phase.requests = phase.objects.len() as u64;
    phase.bytes = phase.requests * size as u64;
    Ok(phase)
}

/// `in_flight` workers GET `ranges` (from the end if `reverse`) until `duration` has
/// passed or every range is read.
async fn get_phase(
    store: &Arc<dyn ObjectStore>,
    ranges: &Arc<Vec<(Path, std::ops::Range<u64>)>>,
    reverse: bool,
    in_flight: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (store, ranges, next) = (Arc::clone(store), Arc::clone(ranges), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            let (mut requests, mut bytes) = (0u64, 0u64);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ranges.len() {
                    break;
                }
                let (path, range) = &ranges[if reverse { ranges.len() - 1 - i } else { i }];
                let sent = Instant::now();
                let got = store
                    .get_range(path, range.clone())
                    .await
                    .with_context(|| format!("GET {path} {range:?}"))?;
                record_micros(&mut latency, sent.elapsed().as_micros() as u64);
                requests += 1;
                bytes += got.len() as u64;
            }
            Ok::<_, anyhow::Error>((requests, bytes, latency))
        }));
    }
    let mut phase = Phase {
        objects: Vec::new(),
        requests: 0,
        bytes: 0,
        seconds: 0.0,
        latency: new_histogram()?,
    };
    for worker in workers {
        let (requests, bytes, latency) = worker.await??;
        phase.requests += requests;
        phase.bytes += bytes;
        phase.latency.add(latency)?;
    }
    phase.seconds = started.elapsed().as_secs_f64();
    Ok(phase)
}

/// Deletes every object under `root`, 16 at a time; returns how many.
async fn delete_under(store: &dyn ObjectStore, root: &Path) -> anyhow::Result<u64> {
    let paths: Vec<Path> = store
        .list(Some(root))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .with_context(|| format!("listing {root}"))?;
    let deleted = futures::stream::iter(paths)
        .map(|path| async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(1u64),
                Err(error) => Err(anyhow::Error::from(error).context(format!("DELETE {path}"))),
            }
        })
        .buffer_unordered(16)
        .try_fold(0u64, |total, n| async move { Ok(total + n) })
        .await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn baseline_on_a_local_store_reports_every_phase_and_cleans_up() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("silt-loadgen-baseline-{}", Ulid::new()));
        let options = BaselineOptions {
            url: dir.display().to_string(),
            segment_bytes: 256 << 10,
            small_segment_bytes: 64 << 10,
            seconds: Duration::from_millis(200),
            put_in_flight: 2,
            get_in_flight: 3,
            range_bytes: 100 << 10,
            tiny_bytes: 1024,
            tiny_count: 5,
        };
        let summary = baseline(&options).await?;
        assert!(
            summary["put_segment"]["requests"].as_u64().unwrap() > 0,
            "{summary}"
        );
        assert!(
            summary["put_small_segment"]["mib_per_sec"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert_eq!(summary["put_tiny"]["requests"], 5);
        assert!(summary["get_sequential"]["requests"].as_u64().unwrap() > 0);
        assert!(summary["get_parallel"]["requests"].as_u64().unwrap() > 0);
        let deleted = summary["cleanup"]["deleted"].as_u64().unwrap();
        let written = summary["put_segment"]["requests"].as_u64().unwrap()
            + summary["put_small_segment"]["requests"].as_u64().unwrap()
            + 5;
        assert_eq!(deleted, written, "{summary}");
        let handle = open_store(&options.url)?;
        let left: Vec<_> = handle.store.list(None).try_collect().await?;
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn windows_differ_and_fit() {
        let data = noise(1000 + NOISE_SLACK);
        let a = window(&data, 1000, 1);
        let b = window(&data, 1000, 2);
        assert_eq!(a.len(), 1000);
        assert_ne!(a, b);
    }
}
