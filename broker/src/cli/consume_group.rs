//! `silt consume TOPIC --group G`: reads as a member of group G with the SDK's
//! [`GroupConsumer`], printing like `silt consume` and committing as it goes (every
//! second, and on exit), so another run, or another member, goes on where it stopped.
//!
//! It starts where the group committed; a partition without a committed offset starts at
//! its high watermark, or its start with `--from-beginning`. Only printed records are
//! committed: with `--max-messages` the rest of the last batch is left for the next run.
//! Ctrl-C ends it the same way, committing and leaving, so its partitions move at once.

use std::io::Write;
use std::time::{Duration, Instant};

use silt_sdk::wire::TopicPartition;
use silt_sdk::{GroupConsumer, GroupConsumerConfig, GroupRecord, OffsetReset};

use crate::cli::ConsumeArgs;
use crate::cli::consume::render;

/// Consumes as a member of `group` until `--max-messages`, `--timeout-ms` or Ctrl-C
/// (SIGINT), then commits and leaves. (Positions move only when records are printed, so
/// stopping a poll half-way commits nothing unprinted.)
pub(super) async fn run(args: ConsumeArgs, group: String) -> anyhow::Result<()> {
    let client = args.broker.client()?;
    let mut consumer = GroupConsumer::join(client, config(&args, group)).await?;
    let printed = tokio::select! {
        printed = print_records(&mut consumer, &args) => printed,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    let closed = consumer.close().await;
    printed?;
    Ok(closed?)
}

/// The consumer's settings: automatic commits every second.
fn config(args: &ConsumeArgs, group: String) -> GroupConsumerConfig {
    let mut config = GroupConsumerConfig::new(group, vec![args.topic.clone()]);
    config.auto_offset_reset = match args.from_beginning {
        true => OffsetReset::Earliest,
        false => OffsetReset::Latest,
    };
    config.auto_commit_interval = Duration::from_secs(1);
    config.client_id = Some("silt-consume".to_owned());
    if let Some(ms) = args.timeout_ms {
        config.poll_timeout = config.poll_timeout.min(Duration::from_millis(ms));
    }
    config
}

/// Prints records until `--max-messages` were printed or none came for `--timeout-ms`.
async fn print_records(consumer: &mut GroupConsumer, args: &ConsumeArgs) -> anyhow::Result<()> {
    let mut left = args.max_messages.unwrap_or(u64::MAX);
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    while left > 0 {
        let records = consumer.poll().await?;
        if records.is_empty() {
            if idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
                break;
            }
            continue;
        }
        last_record = Instant::now();
        let count = records
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let (print, rest) = records.split_at(count);
        print_lines(print, &args.format)?;
        left -= print.len() as u64;
        leave_unprinted(consumer, rest);
    }
    Ok(())
}

/// Prints `records`, one line each.
fn print_lines(records: &[GroupRecord], format: &str) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in records {
        writeln!(out, "{}", render(r.partition, &r.record, format))?;
    }
    out.flush()?;
    Ok(())
}

/// Moves each partition back to its first record not printed, so it is not committed.
fn leave_unprinted(consumer: &mut GroupConsumer, rest: &[GroupRecord]) {
    let mut seen = std::collections::BTreeSet::new();
    for r in rest {
        let partition = TopicPartition {
            topic: r.topic.clone(),
            partition: r.partition,
        };
        if seen.insert(partition.clone()) {
            consumer.seek(&partition, r.record.offset);
        }
    }
}
