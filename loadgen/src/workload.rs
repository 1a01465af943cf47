//! The HTTP workloads run against a broker:
//!
//! - [`produce`]: bulk produce, `concurrency` requests in flight for a fixed time;
//! - [`latency`]: single-record produce, one in flight; acknowledgement latency;
//! - [`consume`]: catch-up read of every partition from an offset, one reader per partition;
//! - [`e2e`]: produce→consume latency: one small record every interval, a long-polling
//!   consumer at the high watermark, latency = receive time − send time (same host clock).
//!
//! Each returns its JSON summary, with `workload_mib` (MiB of record values moved) and a
//! `markdown` row.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use silt_sdk::wire::binary::{self, BinaryRecord};

use crate::report::{
    MIB, merged, mib_per_sec, ms_cell, new_histogram, percentiles, record_micros, round3,
};

/// Creates `topic` with `partitions` partitions unless it exists.
pub(crate) async fn ensure_topic(
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

/// `(partition, start_offset, high_watermark)` of every partition of `topic`.
async fn describe(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
) -> anyhow::Result<Vec<(u64, u64, u64)>> {
    let response = http
        .get(format!("{broker}/v1/topics/{topic}"))
        .send()
        .await
        .with_context(|| format!("cannot reach broker {broker}"))?;
    if !response.status().is_success() {
        bail!(
            "describe topic {topic}: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let described: Value = response.json().await?;
    Ok(described["partitions"]
        .as_array()
        .context("topic has no partitions (does it exist?)")?
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().unwrap_or(0),
                p["start_offset"].as_u64().unwrap_or(0),
                p["high_watermark"].as_u64().unwrap_or(0),
            )
        })
        .collect())
}

fn body(record_size: usize, records: usize) -> bytes::Bytes {
    let value = "v".repeat(record_size);
    let records: Vec<Value> = (0..records).map(|_| json!({"value": value})).collect();
    bytes::Bytes::from(serde_json::to_vec(&json!({"records": records})).unwrap_or_default())
}

/// A binary produce body (`application/x-silt-records`, [`silt_sdk::wire::binary`]):
/// `records` byte values of `record_size` bytes, no key, no headers.
fn binary_body(record_size: usize, records: usize) -> bytes::Bytes {
    let value = vec![b'v'; record_size];
    let records = vec![BinaryRecord::bytes(&value); records];
    bytes::Bytes::from(binary::encode(&records))
}

/// The shape of a bulk produce run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BulkShape {
    /// Value bytes per record.
    pub record_size: usize,
    /// Records per request.
    pub records_per_request: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Binary body instead of JSON.
    pub binary: bool,
}

/// Bulk produce: `concurrency` requests of `records_per_request` × `record_size`-byte
/// values in flight for `duration`.
pub(crate) async fn produce(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    shape: BulkShape,
    duration: Duration,
) -> anyhow::Result<Value> {
    let BulkShape {
        record_size,
        records_per_request,
        concurrency,
        binary,
    } = shape;
    let (payload, content_type) = if binary {
        (
            binary_body(record_size, records_per_request),
            binary::CONTENT_TYPE,
        )
    } else {
        (body(record_size, records_per_request), "application/json")
    };
    let url = format!("{broker}/v1/topics/{topic}/records");
    let records = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, url, payload, records, errors, throttled) = (
            http.clone(),
            url.clone(),
            payload.clone(),
            records.clone(),
            errors.clone(),
            throttled.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut histogram = new_histogram()?;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("content-type", content_type)
                    .body(payload.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        record_micros(&mut histogram, sent.elapsed().as_micros() as u64);
                        records.fetch_add(records_per_request as u64, Ordering::Relaxed);
                    }
                    Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                        throttled.fetch_add(1, Ordering::Relaxed);
                        wait_retry_after(&r, deadline).await;
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
    let histogram = merged(tasks).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let total = records.load(Ordering::Relaxed);
    let value_bytes = total * record_size as u64;
    let body_bytes = total / records_per_request.max(1) as u64 * payload.len() as u64;
    let latency = percentiles(&histogram);
    let rate = total as f64 / elapsed;
    let mib_s = mib_per_sec(value_bytes, elapsed);
    Ok(json!({
        "mode": "produce", "topic": topic, "record_size": record_size,
        "records_per_request": records_per_request, "concurrency": concurrency,
        "records": total, "seconds": round3(elapsed), "acked_body_bytes": body_bytes,
        "throttled": throttled.load(Ordering::Relaxed),
        "records_per_sec": round3(rate), "value_mib_per_sec": mib_s,
        "workload_mib": round3(value_bytes as f64 / MIB),
        "errors": errors.load(Ordering::Relaxed), "request_latency": latency,
        "markdown": format!(
            "| produce {record_size} B x {records_per_request}/req ({}), {concurrency} in flight | {rate:.0} rec/s | {mib_s:.1} MiB/s | p50 {} ms / p99 {} ms per request |",
            if binary { "binary" } else { "json" },
            ms_cell(&latency["p50_ms"]), ms_cell(&latency["p99_ms"])
        )
    }))
}

/// Waits out a 429's `Retry-After` (1 s when absent), but not past `deadline`.
async fn wait_retry_after(response: &reqwest::Response, deadline: Instant) {
    let header = response.headers().get(reqwest::header::RETRY_AFTER);
    let seconds = header.and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let until = Instant::now() + Duration::from_secs(seconds.unwrap_or(1));
    tokio::time::sleep_until(until.min(deadline).into()).await;
}

/// The broker a run drives, and the bearer token it sends (if any).
pub(crate) struct Target {
    /// Broker URL, without a trailing slash.
    pub(crate) broker: String,
    /// `--token`.
    pub(crate) token: Option<String>,
    /// `--ca-file`.
    pub(crate) ca_file: Option<std::path::PathBuf>,
}

/// Bulk produce through the Rust SDK: `concurrency` [`silt_sdk::Producer`]s (batching
/// with their default linger), each sending `records_per_request` records and awaiting
/// their acknowledgements before the next round, for `duration`. Measures what an SDK
/// user gets, JSON encoding in the client included.
pub(crate) async fn produce_sdk(
    target: &Target,
    topic: &str,
    shape: BulkShape,
    duration: Duration,
) -> anyhow::Result<Value> {
    let client = silt_sdk::Client::with_config(silt_sdk::ClientConfig {
        token: target.token.clone(),
        ca_file: target.ca_file.clone(),
        ..silt_sdk::ClientConfig::new(target.broker.clone())
    })?;
    let value = Value::String("v".repeat(shape.record_size));
    let records = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..shape.concurrency.max(1) {
        let producer = silt_sdk::Producer::new(
            client.clone(),
            topic,
            silt_sdk::ProducerConfig {
                max_batch_records: shape.records_per_request,
                ..silt_sdk::ProducerConfig::default()
            },
        );
        let (value, records, errors, throttled) = (
            value.clone(),
            records.clone(),
            errors.clone(),
            throttled.clone(),
        );
        let per_round = shape.records_per_request;
        tasks.push(tokio::spawn(async move {
            let mut histogram = new_histogram()?;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let mut pending = Vec::with_capacity(per_round);
                for _ in 0..per_round {
                    let record = silt_sdk::wire::ProduceRecord {
                        value: Some(value.clone()),
                        ..silt_sdk::wire::ProduceRecord::default()
                    };
                    pending.push(producer.send(record).await?);
                }
                let mut ok = 0u64;
                for ack in pending {
                    match ack.await {
                        Ok(_) => ok += 1,
                        Err(e) if e.is_throttled() => {
                            throttled.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                records.fetch_add(ok, Ordering::Relaxed);
                record_micros(
                    &mut histogram,
                    u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                );
            }
            Ok::<_, anyhow::Error>(histogram)
        }));
    }
    let histogram = merged(tasks).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let total = records.load(Ordering::Relaxed);
    let value_bytes = total * (shape.record_size as u64 + 2);
    let latency = percentiles(&histogram);
    let rate = total as f64 / elapsed;
    let mib_s = mib_per_sec(value_bytes, elapsed);
    Ok(json!({
        "mode": "produce", "client": "sdk", "topic": topic, "record_size": shape.record_size,
        "records_per_round": shape.records_per_request, "producers": shape.concurrency,
        "records": total, "seconds": round3(elapsed),
        "records_per_sec": round3(rate), "value_mib_per_sec": mib_s,
        "workload_mib": round3(value_bytes as f64 / MIB),
        "errors": errors.load(Ordering::Relaxed), "round_latency": latency,
        "throttled": throttled.load(Ordering::Relaxed),
        "markdown": format!(
            "| produce via the SDK, {} B values, {} producers x {}/round | {rate:.0} rec/s | {mib_s:.1} MiB/s | p50 {} ms / p99 {} ms per round |",
            shape.record_size, shape.concurrency, shape.records_per_request,
            ms_cell(&latency["p50_ms"]), ms_cell(&latency["p99_ms"])
        )
    }))
}

/// Single-record produce latency, one request in flight, `count` records.
pub(crate) async fn latency(
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
        record_micros(&mut histogram, sent.elapsed().as_micros() as u64);
    }
    let latency = percentiles(&histogram);
    Ok(json!({
        "mode": "latency", "topic": topic, "record_size": record_size, "latency": latency,
        "workload_mib": round3((count * record_size as u64) as f64 / MIB),
        "markdown": format!(
            "| single-record produce, one in flight ({count} records) | p50 {} ms | p99 {} ms | max {} ms |",
            ms_cell(&latency["p50_ms"]), ms_cell(&latency["p99_ms"]), ms_cell(&latency["max_ms"])
        )
    }))
}

/// A fetch response, borrowed: only what the consumer measures.
#[derive(serde::Deserialize)]
struct FetchPage<'a> {
    #[serde(borrow)]
    records: Vec<FetchedValue<'a>>,
    next_offset: u64,
}

/// One fetched record's value, borrowed.
#[derive(serde::Deserialize)]
struct FetchedValue<'a> {
    #[serde(borrow, default, deserialize_with = "present_raw")]
    value: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    value_b64: Option<std::borrow::Cow<'a, str>>,
}

/// A present `value`, `null` included, is `Some` (the broker stores `null` as 4 bytes).
fn present_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de serde_json::value::RawValue>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

impl FetchedValue<'_> {
    /// Bytes the broker stores for the value: its JSON text, or the decoded bytes.
    fn stored_len(&self) -> u64 {
        if let Some(b64) = &self.value_b64 {
            let padding = b64.bytes().rev().take_while(|b| *b == b'=').count();
            return (b64.len() / 4 * 3).saturating_sub(padding) as u64;
        }
        self.value.map_or(0, |raw| raw.get().len() as u64)
    }
}

/// Catch-up read of every partition of `topic` from `from_offset` (or its start offset, if
/// later) to the high watermark seen at the start, `concurrency` partitions at once.
pub(crate) async fn consume(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    concurrency: usize,
    max_bytes: u64,
    from_offset: u64,
) -> anyhow::Result<Value> {
    let partitions = describe(http, broker, topic).await?;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let records = Arc::new(AtomicU64::new(0));
    let json_bytes = Arc::new(AtomicU64::new(0));
    let value_total = Arc::new(AtomicU64::new(0));
    let fetches = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (partition, start, end) in partitions {
        let (http, semaphore, records, json_bytes, value_total, fetches) = (
            http.clone(),
            semaphore.clone(),
            records.clone(),
            json_bytes.clone(),
            value_total.clone(),
            fetches.clone(),
        );
        let url = format!("{broker}/v1/topics/{topic}/partitions/{partition}/records");
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await?;
            let mut offset = from_offset.max(start);
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
                let status = response.status();
                let body = response.bytes().await?;
                if !status.is_success() {
                    bail!(
                        "partition {partition} offset {offset}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                fetches.fetch_add(1, Ordering::Relaxed);
                json_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                // Borrowed parse: the values are measured, not built, so the reader's own
                // CPU stays small next to the broker's.
                let page: FetchPage<'_> = serde_json::from_slice(&body)?;
                let values: u64 = page.records.iter().map(FetchedValue::stored_len).sum();
                value_total.fetch_add(values, Ordering::Relaxed);
                let next = page.next_offset;
                if next <= offset {
                    bail!("no progress at offset {offset} of partition {partition}");
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
    let values = value_total.load(Ordering::Relaxed);
    let rate = total as f64 / elapsed;
    let value_mib_s = mib_per_sec(values, elapsed);
    let json_mib_s = mib_per_sec(json_bytes.load(Ordering::Relaxed), elapsed);
    Ok(json!({
        "mode": "consume", "topic": topic, "concurrency": concurrency, "from_offset": from_offset,
        "records": total, "fetches": fetches.load(Ordering::Relaxed), "seconds": round3(elapsed),
        "records_per_sec": round3(rate), "value_mib_per_sec": value_mib_s,
        "response_mib_per_sec": json_mib_s,
        "workload_mib": round3(values as f64 / MIB),
        "markdown": format!(
            "| catch-up consume, {concurrency} partition readers | {rate:.0} rec/s | {value_mib_s:.1} MiB/s of values ({json_mib_s:.1} MiB/s of JSON) | {total} records in {elapsed:.1} s |"
        )
    }))
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Options of [`e2e`].
#[derive(Debug, Clone)]
pub(crate) struct E2eOptions {
    /// Records to send.
    pub count: u64,
    /// Time between sends.
    pub interval: Duration,
    /// Bytes of each value's JSON text (at least what `run`, `seq` and the times need).
    pub record_size: usize,
    /// Produce requests in flight at most (sends are on schedule until this many wait).
    pub max_in_flight: usize,
    /// How long the consumer waits for stragglers after the last acknowledgement.
    pub drain: Duration,
}

/// Produce→consume latency on partition 0 of `topic` (see the module docs).
pub(crate) async fn e2e(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    options: E2eOptions,
) -> anyhow::Result<Value> {
    let partitions = describe(http, broker, topic).await?;
    let start = partitions
        .iter()
        .find(|(p, _, _)| *p == 0)
        .map(|(_, _, hw)| *hw)
        .context("topic has no partition 0")?;
    let run = ulid::Ulid::new().to_string();
    let count = options.count;
    // Set once the producer is done: the consumer gives up `drain` after it.
    let (done_tx, done_rx) = tokio::sync::watch::channel(None::<Instant>);

    let consumer = {
        let http = http.clone();
        let url = format!("{broker}/v1/topics/{topic}/partitions/0/records");
        let run = run.clone();
        let drain = options.drain;
        tokio::spawn(async move {
            let mut histogram = new_histogram()?;
            let mut seen = HashSet::new();
            let mut duplicates = 0u64;
            let mut fetches = 0u64;
            let mut offset = start;
            while (seen.len() as u64) < count {
                if done_rx.borrow().is_some_and(|done| done.elapsed() > drain) {
                    break;
                }
                let response = http
                    .get(&url)
                    .query(&[
                        ("offset", offset.to_string()),
                        ("max_records", "1000".into()),
                        ("wait_ms", "5000".into()),
                    ])
                    .send()
                    .await?;
                let status = response.status();
                let body = response.bytes().await?;
                let received = now_micros();
                if !status.is_success() {
                    bail!(
                        "fetch at offset {offset}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                fetches += 1;
                let parsed: Value = serde_json::from_slice(&body)?;
                for record in parsed["records"].as_array().into_iter().flatten() {
                    let value = &record["value"];
                    if value["run"].as_str() != Some(run.as_str()) {
                        continue;
                    }
                    let (Some(seq), Some(sent)) =
                        (value["seq"].as_u64(), value["sent_us"].as_u64())
                    else {
                        continue;
                    };
                    if seen.insert(seq) {
                        record_micros(&mut histogram, received.saturating_sub(sent));
                    } else {
                        duplicates += 1;
                    }
                }
                offset = parsed["next_offset"]
                    .as_u64()
                    .context("no next_offset")?
                    .max(offset);
            }
            Ok::<_, anyhow::Error>((histogram, seen.len() as u64, duplicates, fetches))
        })
    };

    let url = format!("{broker}/v1/topics/{topic}/records");
    let limit = Arc::new(tokio::sync::Semaphore::new(options.max_in_flight.max(1)));
    let mut sends = tokio::task::JoinSet::new();
    let mut ticker = tokio::time::interval(options.interval.max(Duration::from_micros(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let value = |seq: u64, sent_us: u64, pad: &str| json!({"run": run, "seq": seq, "sent_ms": sent_us / 1000, "sent_us": sent_us, "pad": pad});
    let bare = serde_json::to_vec(&value(count, now_micros(), ""))?.len();
    let pad = "p".repeat(options.record_size.saturating_sub(bare));
    let value_len = serde_json::to_vec(&value(count, now_micros(), &pad))?.len() as u64;
    let started = Instant::now();
    for seq in 0..count {
        ticker.tick().await;
        let permit = Arc::clone(&limit).acquire_owned().await?;
        let sent_us = now_micros();
        let payload = serde_json::to_vec(
            &json!({"records": [{"partition": 0, "value": value(seq, sent_us, &pad)}]}),
        )?;
        let (http, url) = (http.clone(), url.clone());
        sends.spawn(async move {
            let sent = Instant::now();
            let response = http
                .post(&url)
                .header("content-type", "application/json")
                .body(payload)
                .send()
                .await;
            drop(permit);
            match response {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    Some(sent.elapsed().as_micros() as u64)
                }
                _ => None,
            }
        });
    }
    let mut acks = new_histogram()?;
    let mut errors = 0u64;
    while let Some(result) = sends.join_next().await {
        match result {
            Ok(Some(micros)) => record_micros(&mut acks, micros),
            _ => errors += 1,
        }
    }
    let send_seconds = started.elapsed().as_secs_f64();
    let _ = done_tx.send(Some(Instant::now()));
    let (latency, received, duplicates, fetches) = consumer.await??;
    let e2e = percentiles(&latency);
    let ack = percentiles(&acks);
    let value_bytes = received * value_len;
    Ok(json!({
        "mode": "e2e", "topic": topic, "count": count, "value_bytes": value_len,
        "interval_ms": round3(options.interval.as_secs_f64() * 1000.0),
        "sent": count, "acked": acks.len(), "produce_errors": errors, "received": received,
        "lost": count.saturating_sub(received), "duplicates": duplicates,
        "consumer_fetches": fetches, "send_seconds": round3(send_seconds),
        "e2e_latency": e2e, "produce_ack_latency": ack,
        "workload_mib": round3(value_bytes as f64 / MIB),
        "markdown": format!(
            "| produce→consume, 1 record every {} ms ({count} records, {} received) | e2e p50 {} ms / p99 {} ms | p99.9 {} ms / max {} ms | ack p50 {} ms / p99 {} ms |",
            options.interval.as_millis(), received,
            ms_cell(&e2e["p50_ms"]), ms_cell(&e2e["p99_ms"]), ms_cell(&e2e["p999_ms"]), ms_cell(&e2e["max_ms"]),
            ms_cell(&ack["p50_ms"]), ms_cell(&ack["p99_ms"])
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_bytes_match_what_the_broker_stores() {
        let page = br#"{"records":[{"offset":0,"value":"vvvv","headers":{}},
            {"offset":1,"value":{"a": [1, null]}},{"offset":2,"value":null},
            {"offset":3,"value_b64":"aGVsbG8="},{"offset":4,"value_b64":"aGk="},
            {"offset":5,"value_b64":""},{"offset":6}],"next_offset":7,"high_watermark":7}"#;
        let page: FetchPage<'_> = serde_json::from_slice(page).unwrap();
        let sizes: Vec<u64> = page.records.iter().map(FetchedValue::stored_len).collect();
        assert_eq!(sizes, vec![6, 16, 4, 5, 2, 0, 0]);
        assert_eq!(page.next_offset, 7);
    }
}
