//! `eos`: the cost of a produce carrying an offset commit (exactly once) against the same
//! idempotent produce without one. One request in flight; the two kinds alternate in
//! rounds (each kind with its own producer id) so drift hits both alike. Each request
//! writes `records` records to `<topic>-out`; the commit sets group `<topic>-group`'s
//! offset of `<topic>-in`/0 (filled first) to the request's number.

use std::time::Instant;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::report::{ms_cell, new_histogram, percentiles, record_micros, round3};
use crate::workload::ensure_topic;

/// What to run.
pub(crate) struct EosShape {
    /// Value bytes per record.
    pub(crate) record_size: usize,
    /// Records per request.
    pub(crate) records: usize,
    /// Requests of each kind.
    pub(crate) count: u64,
}

/// Requests per kind in one round.
const ROUND: u64 = 50;

/// Runs the A/B and summarises both kinds.
pub(crate) async fn eos_ab(
    http: &reqwest::Client,
    broker: &str,
    topic: &str,
    shape: EosShape,
) -> anyhow::Result<Value> {
    let (input, output) = (format!("{topic}-in"), format!("{topic}-out"));
    ensure_topic(http, broker, &input, 1).await?;
    ensure_topic(http, broker, &output, 1).await?;
    fill_input(http, broker, &input, shape.count).await?;
    let mut kinds = [
        Kind::new(http, broker, false).await?,
        Kind::new(http, broker, true).await?,
    ];
    let url = format!("{broker}/v1/topics/{output}/records");
    let group = format!("{topic}-group");
    while kinds[1].sent < shape.count {
        for kind in &mut kinds {
            for _ in 0..ROUND.min(shape.count - kind.sent) {
                let body = kind.body(&shape, &input, &group);
                kind.send(http, &url, &body).await?;
            }
        }
    }
    Ok(summary(&kinds, &shape))
}

/// `count` one-byte records in `input`, so every commit's offset is in range.
async fn fill_input(
    http: &reqwest::Client,
    broker: &str,
    input: &str,
    count: u64,
) -> anyhow::Result<()> {
    let url = format!("{broker}/v1/topics/{input}/records");
    let mut left = count;
    while left > 0 {
        let n = left.min(5_000);
        let records: Vec<Value> = (0..n).map(|_| json!({"value": 0})).collect();
        let response = http
            .post(&url)
            .json(&json!({"records": records}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("filling {input}: {}", response.text().await?);
        }
        left -= n;
    }
    Ok(())
}

/// One kind of request, with its producer and latencies.
struct Kind {
    with_commit: bool,
    producer: (u64, u64),
    sent: u64,
    histogram: Histogram<u64>,
    started: Option<Instant>,
    busy_secs: f64,
}

impl Kind {
    /// A kind with a new producer id.
    async fn new(http: &reqwest::Client, broker: &str, with_commit: bool) -> anyhow::Result<Self> {
        let issued: Value = http
            .post(format!("{broker}/v1/producers"))
            .json(&json!({}))
            .send()
            .await?
            .json()
            .await?;
        let id = issued["producer_id"].as_u64().context("no producer_id")?;
        let epoch = issued["epoch"].as_u64().context("no epoch")?;
        Ok(Kind {
            with_commit,
            producer: (id, epoch),
            sent: 0,
            histogram: new_histogram()?,
            started: None,
            busy_secs: 0.0,
        })
    }

    /// The next request's body.
    fn body(&self, shape: &EosShape, input: &str, group: &str) -> Value {
        let value = "v".repeat(shape.record_size);
        let records: Vec<Value> = (0..shape.records)
            .map(|_| json!({"value": value}))
            .collect();
        let (id, epoch) = self.producer;
        let mut body = json!({"records": records, "producer": {"id": id, "epoch": epoch, "sequence": self.sent}});
        if self.with_commit {
            let offset = json!({"topic": input, "partition": 0, "offset": self.sent + 1});
            body["commit"] = json!({"group": group, "offsets": [offset]});
        }
        body
    }

    /// Sends one request and records its latency.
    async fn send(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        body: &Value,
    ) -> anyhow::Result<()> {
        let sent = Instant::now();
        self.started.get_or_insert(sent);
        let response = http.post(url).json(body).send().await?;
        if !response.status().is_success() {
            bail!(
                "produce (commit: {}): {}",
                self.with_commit,
                response.text().await?
            );
        }
        let elapsed = sent.elapsed();
        self.busy_secs += elapsed.as_secs_f64();
        record_micros(
            &mut self.histogram,
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        );
        self.sent += 1;
        Ok(())
    }

    /// This kind's figures.
    fn figures(&self) -> Value {
        let latency = percentiles(&self.histogram);
        let rate = self.sent as f64 / self.busy_secs.max(1e-9);
        json!({"requests": self.sent, "requests_per_sec": round3(rate), "latency": latency})
    }
}

/// Both kinds and the overhead of the commit.
fn summary(kinds: &[Kind; 2], shape: &EosShape) -> Value {
    let (plain, eos) = (kinds[0].figures(), kinds[1].figures());
    let p50 = |v: &Value| v["latency"]["p50_ms"].as_f64().unwrap_or(0.0);
    let overhead = round3((p50(&eos) / p50(&plain).max(1e-9) - 1.0) * 100.0);
    json!({
        "mode": "eos", "record_size": shape.record_size, "records_per_request": shape.records,
        "plain": plain, "exactly_once": eos, "p50_overhead_percent": overhead,
        "markdown": format!(
            "| idempotent produce, {} x {} B, one in flight | plain p50 {} ms / p99 {} ms | with commit p50 {} ms / p99 {} ms | p50 {overhead:+.1}% |",
            shape.records, shape.record_size,
            ms_cell(&plain["latency"]["p50_ms"]), ms_cell(&plain["latency"]["p99_ms"]),
            ms_cell(&eos["latency"]["p50_ms"]), ms_cell(&eos["latency"]["p99_ms"])
        )
    })
}
