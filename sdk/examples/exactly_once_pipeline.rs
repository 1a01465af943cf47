//! Consume-transform-produce exactly once: reads every partition of topic IN from the
//! offsets group GROUP committed, and writes f(a) for each record a to the same partition
//! of topic OUT (which needs at least IN's partition count) with an idempotent producer,
//! each request carrying the simple commit of the offsets it was made from. The broker
//! applies the records and the commit in one metadata entry or neither, so after any
//! crash the committed offsets say exactly which records of IN are in OUT.
//!
//! f(a) is `{"source_offset": <a's offset>, "value": <a's value>}`, with a's key.
//!
//! ```text
//! cargo run -p silt-sdk --example exactly_once_pipeline -- URL IN OUT GROUP [IDLE_ROUNDS]
//! ```
//!
//! With IDLE_ROUNDS it stops after that many rounds in a row found nothing to read;
//! without, it runs until killed. `SILT_TOKEN` authenticates when set.
//!
//! Restarts: set `SILT_PRODUCER_ID` to a producer id (from `POST /v1/producers`) that
//! every run of this pipeline resumes. Each run bumps its epoch before reading the
//! committed offsets, so no request of an earlier run (killed mid-request) can still be
//! committed after this run decided where to resume. Without it a new id is used and a
//! request of a killed run that is still in flight could commit after the restart read the
//! offsets. A simple commit is allowed only while the group has no members: run one
//! instance per group.
//!
//! `SILT_PIPELINE_SEPARATE_COMMIT=1` breaks it on purpose, for the fault suite's proof that
//! its check can fail: the records and the commit go in two requests (at least once), so a
//! kill between them writes the batch again after the restart.

use std::time::Duration;

use serde_json::json;
use silt_sdk::wire::{FetchedRecord, OffsetToCommit, ProduceCommit, ProduceRecord};
use silt_sdk::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, Groups, Producer, ProducerConfig,
};

/// What the pipeline reads, writes and commits.
struct Pipeline {
    client: Client,
    input: String,
    group: String,
    producer: Producer,
    /// The next offset to read, per input partition.
    positions: Vec<u64>,
    /// Records and commit in two requests (at least once; only to show the check fails).
    separate_commit: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, input, output, group, rest @ ..] = args.as_slice() else {
        return Err("usage: exactly_once_pipeline URL IN OUT GROUP [IDLE_ROUNDS]".into());
    };
    let idle_limit: Option<u32> = rest.first().map(|n| n.parse()).transpose()?;
    let mut config = ClientConfig::new(url.as_str());
    config.token = std::env::var("SILT_TOKEN").ok();
    let client = Client::with_config(config)?;
    let partitions = Admin::new(client.clone())
        .describe_topic(input)
        .await?
        .partitions
        .len();
    let producer_config = ProducerConfig {
        idempotent: true,
        producer_id: std::env::var("SILT_PRODUCER_ID")
            .ok()
            .map(|id| id.parse())
            .transpose()?,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(client.clone(), output, producer_config);
    // Fence every earlier run before learning where to resume.
    producer.init().await?;
    let mut pipeline = Pipeline {
        client,
        input: input.clone(),
        group: group.clone(),
        producer,
        positions: vec![0; partitions],
        separate_commit: std::env::var_os("SILT_PIPELINE_SEPARATE_COMMIT").is_some(),
    };
    pipeline.resync().await?;
    pipeline.run(idle_limit).await
}

impl Pipeline {
    /// Rounds over every partition until `idle_limit` rounds in a row read nothing.
    async fn run(&mut self, idle_limit: Option<u32>) -> Result<(), Box<dyn std::error::Error>> {
        let mut idle = 0;
        while idle_limit.is_none_or(|limit| idle < limit) {
            let mut moved = false;
            for partition in 0..self.positions.len() {
                moved |= self.step(partition).await?;
            }
            idle = if moved { 0 } else { idle + 1 };
        }
        Ok(())
    }

    /// Reads one batch of `partition` and writes its transform with the commit; after a
    /// failed write, learns the committed offsets again (the write may or may not have
    /// been applied: the commit says which). Whether anything was read.
    async fn step(&mut self, partition: usize) -> Result<bool, Box<dyn std::error::Error>> {
        let number = u32::try_from(partition)?;
        let offset = self.positions[partition];
        let config = ConsumerConfig {
            wait: Duration::from_millis(100),
            ..ConsumerConfig::default()
        };
        let consumer = Consumer::new(self.client.clone(), &self.input, number, offset, config);
        let fetched = consumer
            .fetch(offset, Duration::from_millis(100))
            .await?
            .records;
        let Some(last) = fetched.last().map(|r| r.offset) else {
            return Ok(false);
        };
        let records = fetched.iter().map(|r| transform(r, number)).collect();
        let commit = self.commit(number, last + 1);
        match self.write(records, commit).await {
            Ok(_) => self.positions[partition] = last + 1,
            Err(error) => {
                eprintln!("write with commit failed ({error}); reading the committed offsets");
                self.resync().await?;
            }
        }
        Ok(true)
    }

    /// Writes `records` with `commit`: in one request, or in two with `separate_commit`.
    async fn write(
        &self,
        records: Vec<ProduceRecord>,
        commit: ProduceCommit,
    ) -> Result<(), silt_sdk::Error> {
        if !self.separate_commit {
            return self
                .producer
                .send_with_commit(records, commit)
                .await
                .map(drop);
        }
        self.producer.send_batch(records).await?;
        Groups::new(self.client.clone())
            .commit_offsets(&commit.group, commit.offsets)
            .await
            .map(drop)
    }

    /// The simple commit of `partition` at `next`.
    fn commit(&self, partition: u32, next: u64) -> ProduceCommit {
        ProduceCommit {
            group: self.group.clone(),
            generation: None,
            member_id: None,
            offsets: vec![OffsetToCommit {
                topic: self.input.clone(),
                partition,
                offset: next,
                metadata: None,
            }],
        }
    }

    /// Sets every position to the group's committed offset (0 where none).
    async fn resync(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        self.positions.iter_mut().for_each(|p| *p = 0);
        let offsets = match Groups::new(self.client.clone()).offsets(&self.group).await {
            Ok(offsets) => offsets.offsets,
            Err(error) if error.code() == Some(silt_sdk::wire::ErrorCode::GroupNotFound) => {
                Vec::new()
            }
            Err(error) => return Err(error.into()),
        };
        for committed in offsets.iter().filter(|o| o.topic == self.input) {
            if let Some(position) = self.positions.get_mut(committed.partition as usize) {
                *position = committed.offset;
            }
        }
        Ok(())
    }
}

/// f(a): a's key, and its offset and value, to the same partition.
fn transform(record: &FetchedRecord, partition: u32) -> ProduceRecord {
    ProduceRecord {
        key: record.key.clone(),
        key_b64: record.key_b64.clone(),
        value: Some(json!({"source_offset": record.offset, "value": record.value})),
        partition: Some(partition),
        ..ProduceRecord::default()
    }
}
