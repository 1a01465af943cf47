//! `silt consume TOPIC`: prints records, one per line, from every partition (or one).
//!
//! Without `--from-beginning` it starts at the high watermark; without `--follow` it stops
//! once it has read up to the high watermarks seen at start.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use silt_sdk::wire::FetchedRecord;
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig};

use crate::cli::ConsumeArgs;

/// Runs the consumer.
pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let client = Client::new(args.broker.broker.clone())?;
    let topic = Admin::new(client.clone())
        .describe_topic(&args.topic)
        .await?;
    let partitions: Vec<_> = topic
        .partitions
        .iter()
        .filter(|p| args.partition.is_none_or(|only| only == p.partition))
        .copied()
        .collect();
    if partitions.is_empty() {
        anyhow::bail!(
            "topic {} has no partition {:?} ({} partitions)",
            args.topic,
            args.partition,
            topic.partition_count
        );
    }
    let wait = if args.follow {
        Duration::from_secs(if partitions.len() == 1 { 10 } else { 1 })
    } else {
        Duration::ZERO
    };
    let mut consumers: Vec<(u32, Consumer, u64)> = partitions
        .iter()
        .map(|p| {
            let start = if args.from_beginning {
                p.start_offset
            } else {
                p.high_watermark
            };
            let consumer = Consumer::new(
                client.clone(),
                &args.topic,
                p.partition,
                start,
                ConsumerConfig {
                    wait,
                    ..ConsumerConfig::default()
                },
            );
            (p.partition, consumer, p.high_watermark)
        })
        .collect();
    let stdout = std::io::stdout();
    loop {
        let mut all_done = true;
        for (partition, consumer, end) in &mut consumers {
            if !args.follow && consumer.position() >= *end {
                continue;
            }
            all_done = false;
            let records = consumer.poll().await?;
            let mut out = stdout.lock();
            for record in records {
                writeln!(out, "{}", render(*partition, &record, &args.format))?;
            }
            out.flush()?;
        }
        if all_done {
            return Ok(());
        }
    }
}

fn render(partition: u32, record: &FetchedRecord, format: &str) -> String {
    if format == "json" {
        let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("partition".into(), json!(partition));
        }
        return value.to_string();
    }
    match (&record.value, &record.value_b64) {
        (Some(Value::String(text)), _) => text.clone(),
        (Some(other), _) => other.to_string(),
        (None, Some(b64)) => b64.clone(),
        (None, None) => String::new(),
    }
}
