//! `silt consume TOPIC`: prints records, one per line, from every partition (or one).
//!
//! Without `--from-beginning` it starts at the high watermark. Like Kafka's console
//! consumer it then waits for new records until interrupted, `--max-messages` records were
//! printed or none arrived for `--timeout-ms`; `--exit-at-end` stops instead once it has
//! read up to the high watermarks seen at start. Each partition is read by its own task
//! (long-polling while it waits), and lines are printed as they arrive. With `--group` it
//! reads as a member of a consumer group instead ([`super::consume_group`]). A partition
//! whose records at the reader's position were dropped by retention meanwhile is read on
//! from its new start offset (a warning is logged).

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use silt_sdk::wire::{FetchedRecord, PartitionInfo};
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig};
use tokio::sync::mpsc;

use crate::cli::ConsumeArgs;

/// Runs the consumer.
pub(super) async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    if let Some(group) = args.group.clone() {
        return super::consume_group::run(args, group).await;
    }
    let client = args.broker.client()?;
    let partitions = chosen_partitions(&client, &args).await?;
    // Each reader sends its lines, or its error, which ends the command.
    let (lines, mut received) = mpsc::channel::<Line>(1024);
    let mut readers = tokio::task::JoinSet::new();
    for p in partitions {
        readers.spawn(read_partition(reader(&client, &args, p), lines.clone()));
    }
    drop(lines);
    let stdout = std::io::stdout();
    let mut left = args.max_messages.unwrap_or(u64::MAX);
    while left > 0
        && let Some(line) = next_line(&mut received, args.timeout_ms).await
    {
        let line = line?;
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        left -= 1;
    }
    readers.abort_all();
    Ok(())
}

/// The next line; `None` once every reader ended, or after `timeout_ms` without one.
async fn next_line(received: &mut mpsc::Receiver<Line>, timeout_ms: Option<u64>) -> Option<Line> {
    match timeout_ms {
        Some(ms) => tokio::time::timeout(Duration::from_millis(ms), received.recv())
            .await
            .ok()
            .flatten(),
        None => received.recv().await,
    }
}

/// A printed line, or the error that ends the command.
type Line = Result<String, silt_sdk::Error>;

/// The partitions to read (all, or `--partition`), refusing one the topic does not have.
async fn chosen_partitions(
    client: &Client,
    args: &ConsumeArgs,
) -> anyhow::Result<Vec<PartitionInfo>> {
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
        let has = partition_range(topic.partition_count);
        match args.partition {
            Some(p) => anyhow::bail!("topic {:?} has no partition {p}: {has}", args.topic),
            None => anyhow::bail!("topic {:?} has nothing to consume: {has}", args.topic),
        }
    }
    Ok(partitions)
}

/// "it has 3 partitions, 0 to 2", for messages.
fn partition_range(count: u32) -> String {
    match count {
        0 => "it has no partitions".to_owned(),
        1 => "it has one partition, 0".to_owned(),
        n => format!("it has {n} partitions, 0 to {}", n - 1),
    }
}

/// One partition's reader: where it starts and, with `--exit-at-end`, where it stops.
struct Reader {
    consumer: Consumer,
    partition: u32,
    format: String,
    /// `None` unless `--exit-at-end`: read forever.
    end: Option<u64>,
}

fn reader(client: &Client, args: &ConsumeArgs, p: PartitionInfo) -> Reader {
    let start = if args.from_beginning {
        p.start_offset
    } else {
        p.high_watermark
    };
    let wait = if args.exit_at_end {
        Duration::ZERO
    } else {
        Duration::from_secs(10)
    };
    let config = ConsumerConfig {
        wait,
        ..ConsumerConfig::default()
    };
    Reader {
        consumer: Consumer::new(client.clone(), &args.topic, p.partition, start, config),
        partition: p.partition,
        format: args.format.clone(),
        end: args.exit_at_end.then_some(p.high_watermark),
    }
}

/// Sends the partition's records as lines until its end (with `--exit-at-end`; else
/// forever), or its error.
async fn read_partition(mut reader: Reader, lines: mpsc::Sender<Line>) {
    while reader
        .end
        .is_none_or(|end| reader.consumer.position() < end)
    {
        let batch = match reader.consumer.poll().await {
            Ok(batch) => batch,
            Err(error) if resumed_at_start(&mut reader.consumer, &error).await => continue,
            Err(error) => {
                let _ = lines.send(Err(error)).await;
                return;
            }
        };
        for record in batch {
            let line = render(reader.partition, &record, &reader.format);
            if lines.send(Ok(line)).await.is_err() {
                return;
            }
        }
    }
}

/// Whether a poll refused because retention dropped the records at the position moved the
/// reader to the partition's start offset (it logs a warning), so reading goes on.
async fn resumed_at_start(consumer: &mut Consumer, error: &silt_sdk::Error) -> bool {
    matches!(consumer.reset_if_trimmed(error).await, Ok(Some(_)))
}

/// A record as printed: its value (`value` format) or the whole record with its
/// partition (`json`).
pub(super) fn render(partition: u32, record: &FetchedRecord, format: &str) -> String {
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
