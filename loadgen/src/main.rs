//! `silt-loadgen`: drives a silt broker over HTTP and reports throughput and latency.
//!
//! - `produce`: open-loop-free bulk produce: `--concurrency` requests in flight, each with
//!   `--records-per-request` records of `--record-size` bytes, for `--duration`.
//! - `latency`: one record in flight at a time; produce-acknowledgement latency percentiles.
//! - `consume`: catch-up read of every partition from offset 0 with one reader per
//!   partition, up to `--concurrency` at once.
//!
//! Each prints a JSON summary and a Markdown row for `bench/RESULTS.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Load generator for silt.
#[derive(Debug, Parser)]
#[command(name = "silt-loadgen", version)]
struct Cli {
    /// Broker URL.
    #[arg(
        long,
        env = "SILT_BROKER",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    broker: String,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Bulk produce throughput.
    Produce {
        /// Topic (created if missing).
        #[arg(long, default_value = "loadgen")]
        topic: String,
        /// Partitions when creating the topic.
        #[arg(long, default_value_t = 8)]
        partitions: u32,
        /// Value bytes per record.
        #[arg(long, default_value_t = 1024)]
        record_size: usize,
        /// Records per request.
        #[arg(long, default_value_t = 500)]
        records_per_request: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Run time in seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Single-record produce latency, one in flight.
    Latency {
        /// Topic (created if missing).
        #[arg(long, default_value = "loadgen-latency")]
        topic: String,
        /// Value bytes.
        #[arg(long, default_value_t = 1024)]
        record_size: usize,
        /// Records to send.
        #[arg(long, default_value_t = 500)]
        count: u64,
    },
    /// Catch-up consume throughput from offset 0.
    Consume {
        /// Topic.
        #[arg(long, default_value = "loadgen")]
        topic: String,
        /// Partition readers at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Bytes per fetch.
        #[arg(long, default_value_t = 8 << 20)]
        max_bytes: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()?;
    let broker = cli.broker.trim_end_matches('/').to_owned();
    let summary = match cli.command {
        Mode::Produce {
            topic,
            partitions,
            record_size,
            records_per_request,
            concurrency,
            seconds,
        } => {
            ensure_topic(&http, &broker, &topic, partitions).await?;
            produce(
                &http,
                &broker,
                &topic,
                record_size,
                records_per_request,
                concurrency,
                Duration::from_secs(seconds),
            )
            .await?
        }
        Mode::Latency {
            topic,
            record_size,
            count,
        } => {
            ensure_topic(&http, &broker, &topic, 1).await?;
            latency(&http, &broker, &topic, record_size, count).await?
        }
        Mode::Consume {
            topic,
            concurrency,
            max_bytes,
        } => consume(&http, &broker, &topic, concurrency, max_bytes).await?,
    };
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(row) = summary.get("markdown").and_then(Value::as_str) {
        println!("{row}");
    }
    Ok(())
}

async fn ensure_topic(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<()> {
    let response = http
        .post(format!("{broker}/v1/topics"))
        .json(&json!({"name": topic, "partitions": partitions}))
        .send()
        .await
        .with_context(|| format!("cannot reach broker {broker}"))?;
    match response.status().as_u16() {
        201 | 409 => Ok(()),
        status => bail!(
            "create topic: {status} {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

fn body(record_size: usize, records: usize) -> Vec<u8> {
    let value = "v".repeat(record_size);
    let records: Vec<Value> = (0..records).map(|_| json!({"value": value})).collect();
    serde_json::to_vec(&json!({"records": records})).unwrap_or_default()
}

fn percentiles(histogram: &Histogram<u64>) -> Value {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    json!({
        "p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        "max_ms": histogram.max() as f64 / 1000.0, "count": histogram.len()
    })
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 120_000_000, 3).context("histogram")
}

#[allow(clippy::too_many_arguments)]
async fn produce(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    record_size: usize,
    records_per_request: usize,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Value> {
    let payload = bytes_of(body(record_size, records_per_request));
    let url = format!("{broker}/v1/topics/{topic}/records");
    let records = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, payload, records, errors) = (
            http.clone(),
            url.clone(),
            payload.clone(),
            records.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut histogram = new_histogram()?;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(payload.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        histogram.record(sent.elapsed().as_micros() as u64)?;
                        records.fetch_add(records_per_request as u64, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Ok::<_, anyhow::Error>(histogram)
        }));
    }
    let mut histogram = new_histogram()?;
    for task in tasks {
        histogram.add(task.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = records.load(Ordering::Relaxed);
    let mib = total as f64 * record_size as f64 / (1 << 20) as f64;
    let latency = percentiles(&histogram);
    Ok(json!({
        "mode": "produce", "records": total, "seconds": elapsed,
        "records_per_sec": total as f64 / elapsed, "value_mib_per_sec": mib / elapsed,
        "errors": errors.load(Ordering::Relaxed), "request_latency": latency,
        "markdown": format!(
            "| produce {record_size} B x {records_per_request}/req, {concurrency} in flight | {:.0} rec/s | {:.1} MiB/s | p50 {} ms / p99 {} ms per request |",
            total as f64 / elapsed, mib / elapsed, latency["p50_ms"], latency["p99_ms"]
        )
    }))
}

fn bytes_of(body: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(body)
}

async fn latency(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    record_size: usize,
    count: u64,
) -> anyhow::Result<Value> {
    let payload = body(record_size, 1);
    let url = format!("{broker}/v1/topics/{topic}/records");
    let mut histogram = new_histogram()?;
    for i in 0..count {
        let sent = Instant::now();
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.clone())
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("record {i}: {}", response.text().await.unwrap_or_default());
        }
        let _ = response.bytes().await;
        histogram.record(sent.elapsed().as_micros() as u64)?;
    }
    let latency = percentiles(&histogram);
    Ok(json!({
        "mode": "latency", "latency": latency,
        "markdown": format!(
            "| single-record produce, one in flight ({count} records) | p50 {} ms | p99 {} ms | max {} ms |",
            latency["p50_ms"], latency["p99_ms"], latency["max_ms"]
        )
    }))
}

async fn consume(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    concurrency: usize,
    max_bytes: u64,
) -> anyhow::Result<Value> {
    let described: Value = http
        .get(format!("{broker}/v1/topics/{topic}"))
        .send()
        .await?
        .json()
        .await?;
    let partitions: Vec<(u64, u64)> = described["partitions"]
        .as_array()
        .context("topic has no partitions (does it exist?)")?
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().unwrap_or(0),
                p["high_watermark"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let records = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (partition, end) in partitions {
        let (http, semaphore, records, bytes) = (
            http.clone(),
            semaphore.clone(),
            records.clone(),
            bytes.clone(),
        );
        let url = format!("{broker}/v1/topics/{topic}/partitions/{partition}/records");
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await?;
            let mut offset = 0;
            while offset < end {
                let response = http
                    .get(&url)
                    .query(&[
                        ("offset", offset.to_string()),
                        ("max_records", "10000".into()),
                        ("max_bytes", max_bytes.to_string()),
                    ])
                    .send()
                    .await?;
                let body = response.bytes().await?;
                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                let parsed: Value = serde_json::from_slice(&body)?;
                let next = parsed["next_offset"].as_u64().context("no next_offset")?;
                if next <= offset {
                    bail!("no progress at offset {offset}: {parsed}");
                }
                records.fetch_add(next - offset, Ordering::Relaxed);
                offset = next;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = records.load(Ordering::Relaxed);
    let mib = bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64;
    Ok(json!({
        "mode": "consume", "records": total, "seconds": elapsed,
        "records_per_sec": total as f64 / elapsed, "response_mib_per_sec": mib / elapsed,
        "markdown": format!("| catch-up consume, {concurrency} partition readers | {:.0} rec/s | {:.1} MiB/s of JSON responses | |", total as f64 / elapsed, mib / elapsed)
    }))
}
