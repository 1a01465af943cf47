//! A consumer-group worker: joins GROUP reading TOPIC, prints every record it is given
//! and commits after each batch (at-least-once: a record is committed only after it was
//! printed). Every line it prints is one JSON object with an `event`:
//!
//! - `{"event":"assignment","member_id":…,"generation":…,"partitions":[…]}` whenever its
//!   partitions or generation change;
//! - `{"event":"record","topic":…,"partition":…,"offset":…}` per record;
//! - `{"event":"commit_refused","code":…}` when the group refuses a commit (it rejoins);
//! - `{"event":"revoked"|"lost"|"assigned","partitions":[…]}` from the rebalance callbacks
//!   (`lost`: the group dropped the member, which joins again as a new one).
//!
//! ```text
//! cargo run -p silt-sdk --example group_worker -- http://127.0.0.1:8080 GROUP TOPIC [SESSION_MS]
//! ```
//!
//! It starts where the group committed, else at the start of each partition, and runs
//! until killed. The integration tests (`tests/tests/group_consumer.rs`) run three of
//! these and `kill -9` one and pause another.

use std::time::Duration;

use serde_json::json;
use silt_sdk::wire::TopicPartition;
use silt_sdk::{
    Client, GroupConsumer, GroupConsumerConfig, GroupRecord, OffsetReset, RebalanceListener,
};

/// Prints the rebalance callbacks.
struct PrintRebalances;

impl RebalanceListener for PrintRebalances {
    fn on_revoked(&mut self, partitions: &[TopicPartition]) {
        print_partitions("revoked", partitions);
    }

    fn on_lost(&mut self, partitions: &[TopicPartition]) {
        print_partitions("lost", partitions);
    }

    fn on_assigned(&mut self, partitions: &[TopicPartition]) {
        print_partitions("assigned", partitions);
    }
}

/// `{"event": event, "partitions": [...]}`.
fn print_partitions(event: &str, partitions: &[TopicPartition]) {
    let numbers: Vec<u32> = partitions.iter().map(|tp| tp.partition).collect();
    println!("{}", json!({"event": event, "partitions": numbers}));
}

/// The worker's settings, from the command line.
struct Args {
    broker: String,
    group: String,
    topic: String,
    session_timeout: Duration,
}

/// Reads `BROKER GROUP TOPIC [SESSION_MS]`.
fn args() -> Result<Args, String> {
    let given: Vec<String> = std::env::args().skip(1).collect();
    let [broker, group, topic, rest @ ..] = given.as_slice() else {
        return Err("usage: group_worker BROKER_URL GROUP TOPIC [SESSION_TIMEOUT_MS]".into());
    };
    let session_ms = match rest.first() {
        Some(ms) => ms
            .parse()
            .map_err(|_| format!("bad session timeout {ms:?}"))?,
        None => 10_000,
    };
    Ok(Args {
        broker: broker.clone(),
        group: group.clone(),
        topic: topic.clone(),
        session_timeout: Duration::from_millis(session_ms),
    })
}

/// The consumer's settings: manual commits, from the start without a committed offset.
fn config(args: &Args) -> GroupConsumerConfig {
    let mut config = GroupConsumerConfig::new(&args.group, vec![args.topic.clone()]);
    config.session_timeout = args.session_timeout;
    config.auto_offset_reset = OffsetReset::Earliest;
    config.enable_auto_commit = false;
    config.client_id = Some("group-worker".into());
    config
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let client = Client::new(&args.broker)?;
    let listener = Box::new(PrintRebalances);
    let mut consumer = GroupConsumer::with_listener(client, config(&args), listener).await?;
    let mut seen = None;
    loop {
        let records = match consumer.poll().await {
            Ok(records) => records,
            Err(error) => {
                eprintln!("poll failed: {error}");
                continue;
            }
        };
        report_assignment(&consumer, &mut seen);
        records.iter().for_each(print_record);
        // The "work" each batch takes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Err(error) = consumer.commit().await {
            let code = error.code().map(|c| c.as_str().to_owned());
            println!(
                "{}",
                json!({"event": "commit_refused", "code": code, "error": error.to_string()})
            );
        }
    }
}

/// Prints the assignment when the member, generation or partitions changed.
fn report_assignment(consumer: &GroupConsumer, seen: &mut Option<serde_json::Value>) {
    let partitions: Vec<u32> = consumer
        .assignment()
        .iter()
        .map(|tp| tp.partition)
        .collect();
    let now = json!({
        "event": "assignment",
        "member_id": consumer.member_id(),
        "generation": consumer.generation(),
        "partitions": partitions,
    });
    if seen.as_ref() != Some(&now) {
        println!("{now}");
        *seen = Some(now);
    }
}

/// One record's line.
fn print_record(record: &GroupRecord) {
    let line = json!({
        "event": "record",
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.record.offset,
    });
    println!("{line}");
}
