//! `silt consume TOPIC`: prints records, one per line, from every partition (or one).
//!
//! Without `--from-beginning` it starts at the high watermark; without `--follow` it stops
//! once it has read up to the high watermarks seen at start. Each partition is read by its
//! own task (long-polling with `--follow`), and lines are printed as they arrive.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use silt_sdk::wire::FetchedRecord;
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig};
use tokio::sync::mpsc;

use crate::cli::ConsumeArgs;

/// Runs the consumer.
pub(super) async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
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
        let count = topic.partition_count;
        let has = match count {
            0 => "it has no partitions".to_owned(),
            1 => "it has one partition, 0".to_owned(),
            n => format!("it has {n} partitions, 0 to {}", n - 1),
        };
        match args.partition {
            Some(p) => anyhow::bail!("topic {:?} has no partition {p}: {has}", args.topic),
            None => anyhow::bail!("topic {:?} has nothing to consume: {has}", args.topic),
        }
    }
    let wait = if args.follow {
        Duration::from_secs(10)
    } else {
        Duration::ZERO
    };
    // Each reader sends its lines, or its error, which ends the command.
    let (lines, mut received) = mpsc::channel::<Result<String, silt_sdk::Error>>(1024);
    let mut readers = tokio::task::JoinSet::new();
    for p in partitions {
        let start = if args.from_beginning {
            p.start_offset
        } else {
            p.high_watermark
        };
        let mut consumer = Consumer::new(
            client.clone(),
            &args.topic,
            p.partition,
            start,
            ConsumerConfig {
                wait,
                ..ConsumerConfig::default()
            },
        );
        let (lines, format, follow, end) = (
            lines.clone(),
            args.format.clone(),
            args.follow,
            p.high_watermark,
        );
        readers.spawn(async move {
            while follow || consumer.position() < end {
                let batch = match consumer.poll().await {
                    Ok(batch) => batch,
                    Err(error) => {
                        let _ = lines.send(Err(error)).await;
                        return;
                    }
                };
                for record in batch {
                    if lines
                        .send(Ok(render(p.partition, &record, &format)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
    drop(lines);
    let stdout = std::io::stdout();
    while let Some(line) = received.recv().await {
        let line = line?;
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    while readers.join_next().await.is_some() {}
    Ok(())
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
