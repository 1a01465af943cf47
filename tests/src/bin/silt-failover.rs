//! `silt-failover`: measures how long acknowledgements stop when part of a cluster fails.
//!
//! It starts a cluster through [`Cluster`] (so `infra/local-cluster.sh`, 3 metadata voters,
//! 3 brokers, the shared S3-compatible server: run it with the environment of
//! `scripts/test.sh`, e.g. through `tests/run-faults.sh`-like setup), keeps one idempotent
//! SDK producer sending one record every 5 ms through broker 1 (brokers 2 and 3 as
//! failover, 2 s request timeout), and for each scenario, `--rounds` times, injects the
//! fault and records the longest gap between two consecutive acknowledgements around it:
//!
//! - `kill -9` of the metadata leader (restarted after the measurement);
//! - SIGSTOP of the metadata leader for 5 s;
//! - `kill -9` of the broker the producer is using;
//! - SIGSTOP of the broker the producer is using for 5 s.
//!
//! Output: one Markdown row per scenario (min / median / max of the gaps), for
//! `bench/RESULTS.md`. Every acknowledged record is then read back and checked (offsets
//! dense, no duplicates), so a fast failover that lost a record would not pass.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, ClientConfig, Producer, ProducerConfig};
use silt_tests::harness::{Cluster, Role};

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Measure the acknowledgement gap of metadata and broker failures")]
struct Args {
    /// Rounds per scenario.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Acknowledgement times of the probe producer.
type Acks = Arc<Mutex<Vec<(Instant, u64)>>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let cluster = Arc::new(blocking(move || Cluster::up("failover")).await?);
    let urls = cluster.broker_urls();
    let admin = Admin::new(Client::with_config(cluster.client_config(urls[0].clone()))?);
    admin
        .create_topic("probe", 1, TopicConfig::default())
        .await
        .context("create the probe topic")?;
    let client = Client::with_config(ClientConfig {
        request_timeout: Duration::from_secs(2),
        max_attempts: 50,
        max_backoff: Duration::from_millis(200),
        failover_urls: urls[1..].to_vec(),
        ..cluster.client_config(urls[0].clone())
    })?;
    let producer = Arc::new(Producer::new(
        client.clone(),
        "probe",
        ProducerConfig {
            idempotent: true,
            linger: Duration::ZERO,
            ..ProducerConfig::default()
        },
    ));
    let acks: Acks = Arc::default();
    let failures = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (producer, acks, failures, stop) = (
            producer.clone(),
            acks.clone(),
            failures.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut sequence = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let record = ProduceRecord {
                    value: Some(serde_json::json!(sequence)),
                    ..Default::default()
                };
                let sent = producer.send(record).await;
                match sent {
                    Ok(future) => match future.await {
                        Ok(offset) => acks
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((Instant::now(), offset.offset)),
                        Err(_) => *failures.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                    },
                    Err(_) => return,
                }
                sequence += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut results: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for round in 0..args.rounds {
        for scenario in [
            "kill -9 metadata leader",
            "SIGSTOP metadata leader 5 s",
            "kill -9 the producer's broker",
            "SIGSTOP the producer's broker 5 s",
        ] {
            let (target_role, target) = match scenario {
                s if s.contains("metadata") => (
                    Role::Metadata,
                    cluster.wait_for_leader(Duration::from_secs(20)).await?,
                ),
                _ => (Role::Broker, current_broker(&client, &urls)),
            };
            let before = Instant::now();
            let c = cluster.clone();
            if scenario.starts_with("kill") {
                blocking(move || c.kill9(target_role, target).map(|_| ())).await?;
            } else {
                blocking(move || c.pause(target_role, target)).await?;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            let c = cluster.clone();
            if scenario.starts_with("kill") {
                blocking(move || c.start(target_role, target)).await?;
            } else {
                blocking(move || c.resume(target_role, target)).await?;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            let gap = longest_gap(&acks, before, Instant::now());
            println!(
                "round {round}: {scenario} ({target_role} {target}): longest acknowledgement gap {} ms",
                gap.as_millis()
            );
            results.entry(scenario).or_default().push(gap);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = probe.await;
    producer.flush().await.ok();

    // Nothing acknowledged may be missing, duplicated or moved.
    let acked: Vec<u64> = acks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, offset)| *offset)
        .collect();
    let reader = Client::with_config(cluster.client_config(urls[0].clone()))?;
    let mut consumer = silt_sdk::Consumer::new(
        reader,
        "probe",
        0,
        0,
        silt_sdk::ConsumerConfig {
            wait: Duration::ZERO,
            ..Default::default()
        },
    );
    let mut read = Vec::new();
    loop {
        let batch = consumer.poll().await?;
        if batch.is_empty() {
            break;
        }
        read.extend(batch);
    }
    for (expected, record) in (0u64..).zip(&read) {
        if record.offset != expected {
            bail!(
                "offset {} read where {expected} was expected",
                record.offset
            );
        }
    }
    let mut values: Vec<u64> = read
        .iter()
        .filter_map(|r| r.value.as_ref().and_then(serde_json::Value::as_u64))
        .collect();
    let total = values.len();
    values.sort_unstable();
    values.dedup();
    if values.len() != total {
        bail!("{} duplicated records", total - values.len());
    }
    for offset in &acked {
        if *offset >= read.len() as u64 {
            bail!("acknowledged offset {offset} is missing");
        }
    }
    println!(
        "\n{} records acknowledged, {} sends failed (in doubt), {} read back, offsets dense, no duplicates\n",
        acked.len(),
        *failures.lock().unwrap_or_else(|e| e.into_inner()),
        read.len()
    );
    println!("| scenario | rounds | min gap | median gap | max gap |");
    println!("|---|---|---|---|---|");
    for (scenario, mut gaps) in results {
        gaps.sort();
        let ms = |d: Duration| format!("{} ms", d.as_millis());
        println!(
            "| {scenario} | {} | {} | {} | {} |",
            gaps.len(),
            ms(gaps[0]),
            ms(gaps[gaps.len() / 2]),
            ms(gaps[gaps.len() - 1])
        );
    }
    Ok(())
}

/// The broker (1-based) the client sends to now.
fn current_broker(client: &Client, urls: &[String]) -> usize {
    urls.iter()
        .position(|u| u == client.base_url())
        .map_or(1, |i| i + 1)
}

/// The longest gap between consecutive acknowledgements in `[from, to]`, counting from
/// `from` to the first one and from the last one to `to`.
fn longest_gap(acks: &Acks, from: Instant, to: Instant) -> Duration {
    let times: Vec<Instant> = acks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t >= from && *t <= to)
        .collect();
    let mut previous = from;
    let mut longest = Duration::ZERO;
    for t in times {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest.max(to - previous)
}

/// Runs blocking cluster control off the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("cluster control task failed")?
}
