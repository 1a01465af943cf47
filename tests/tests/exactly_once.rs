//! The exactly-once pipeline (`sdk/examples/exactly_once_pipeline.rs`, built as
//! `silt-exactly-once`) as a real process against a real `silt dev`, `kill -9`ed at random
//! points and restarted 20 times while topic IN is produced; every fifth time the broker
//! is `kill -9`ed and restarted as well (a request with a commit may then be recovered from
//! its spool); then a last run drains IN.
//! OUT must hold f(a) for every record a of IN exactly once, in order per partition
//! (`checker::check_transform`). The seed of the kill points is printed; set
//! `EXACTLY_ONCE_SEED` to replay it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig, Groups, Producer, ProducerConfig};
use silt_tests::checker::{PartitionRecords, check_transform};
use silt_tests::harness::{Silt, SiltOptions, exactly_once_binary, http_client};

const PARTITIONS: u32 = 2;
const BATCHES: u64 = 60;
const PER_BATCH: u64 = 10;
const KILLS: usize = 20;

/// A small deterministic generator for the kill points (xorshift64).
struct Rng(u64);

impl Rng {
    /// A number in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Starts the pipeline reading `in` and writing `out` for group `g`, resuming `producer_id`.
fn start_pipeline(url: &str, producer_id: u64, idle_rounds: Option<u32>) -> Child {
    let mut command = Command::new(exactly_once_binary());
    command.args([url, "in", "out", "g"]);
    if let Some(rounds) = idle_rounds {
        command.arg(rounds.to_string());
    }
    command
        .env("SILT_PRODUCER_ID", producer_id.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Writes batches `batches` of `PER_BATCH` records to `in`, alternating partitions; a
/// failed batch is sent again (a copy in IN is more input, which the check allows).
async fn produce_input(client: Client, batches: std::ops::Range<u64>) {
    let producer = Producer::new(client, "in", ProducerConfig::default());
    for batch in batches {
        let partition = u32::try_from(batch % u64::from(PARTITIONS)).unwrap();
        let records = (0..PER_BATCH)
            .map(|i| ProduceRecord {
                value: Some(json!({"n": batch * PER_BATCH + i})),
                partition: Some(partition),
                ..ProduceRecord::default()
            })
            .collect::<Vec<_>>();
        let deadline = Instant::now() + Duration::from_secs(60);
        while producer.send_batch(records.clone()).await.is_err() {
            assert!(Instant::now() < deadline, "IN refuses batch {batch}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every record of `topic`, by partition.
async fn read_all(client: &Client, topic: &str) -> BTreeMap<u32, PartitionRecords> {
    let mut all = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let config = ConsumerConfig {
            wait: Duration::ZERO,
            ..ConsumerConfig::default()
        };
        let consumer = Consumer::new(client.clone(), topic, partition, 0, config);
        let mut records = PartitionRecords::new();
        loop {
            let page = consumer
                .fetch(records.len() as u64, Duration::ZERO)
                .await
                .unwrap();
            let last = page.records.is_empty() || page.next_offset >= page.high_watermark;
            records.extend(
                page.records
                    .into_iter()
                    .map(|r| (r.offset, r.value.unwrap())),
            );
            if last {
                break;
            }
        }
        all.insert(partition, records);
    }
    all
}

/// Whether group `g` has committed the end of every partition of `in`.
async fn drained(client: &Client, expected: u64) -> bool {
    let Ok(offsets) = Groups::new(client.clone()).offsets("g").await else {
        return false;
    };
    offsets.offsets.iter().map(|o| o.offset).sum::<u64>() == expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_killed_20_times_writes_each_record_exactly_once_in_order() {
    let seed = std::env::var("EXACTLY_ONCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| (u64::from(std::process::id()) * 2_654_435_761) | 1);
    eprintln!("exactly_once seed: {seed} (EXACTLY_ONCE_SEED={seed} replays the kill points)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("SILT_WAL_LINGER".to_owned(), "2ms".to_owned())];
    let options = SiltOptions {
        object_store: None,
        env: env.clone(),
    };
    let mut silt = Silt::start(dir.path(), options);
    let mut client = Client::new(&silt.url).unwrap();
    let admin = Admin::new(client.clone());
    for topic in ["in", "out"] {
        admin
            .create_topic(topic, PARTITIONS, TopicConfig::default())
            .await
            .unwrap();
    }
    let issued = http_client()
        .post(format!("{}/v1/producers", silt.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let producer_id = issued.json::<serde_json::Value>().await.unwrap()["producer_id"]
        .as_u64()
        .unwrap();
    let per_run = BATCHES / KILLS as u64;
    for run in 0..KILLS as u64 {
        let mut pipeline = start_pipeline(&silt.url, producer_id, None);
        produce_input(client.clone(), run * per_run..(run + 1) * per_run).await;
        tokio::time::sleep(Duration::from_millis(rng.below(800))).await;
        if run % 5 == 4 {
            silt.restart(env.clone());
            client = Client::new(&silt.url).unwrap();
        }
        pipeline.kill().unwrap();
        pipeline.wait().unwrap();
    }
    // A last run drains IN; it stops once idle, and is killed if it has not by then.
    let mut last = start_pipeline(&silt.url, producer_id, Some(50));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !drained(&client, BATCHES * PER_BATCH).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = last.kill();
    last.wait().unwrap();
    let input = read_all(&client, "in").await;
    let output = read_all(&client, "out").await;
    let violations = check_transform(&input, &output);
    assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
    let written: usize = output.values().map(Vec::len).sum();
    assert_eq!(written as u64, BATCHES * PER_BATCH, "seed {seed}");
}
