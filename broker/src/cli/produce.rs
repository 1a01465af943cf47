//! `silt produce TOPIC`: one record per standard-input line, batched by the SDK producer.

use anyhow::Context;
use serde_json::Value;
use silt_sdk::wire::ProduceRecord;
use silt_sdk::{Producer, ProducerConfig, SendFuture};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::ProduceArgs;

/// Reads stdin to the end, sends every line, and reports how many were acknowledged.
pub(super) async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let client = args.broker.client()?;
    let producer = Producer::new(client, &args.topic, ProducerConfig::default());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut pending = Vec::new();
    let mut line_number = 0u64;
    while let Some(line) = lines
        .next_line()
        .await
        .context("cannot read standard input")?
    {
        line_number += 1;
        let record = record_of(&args, line, line_number)?;
        pending.push(producer.send(record).await?);
    }
    producer.flush().await?;
    let (acknowledged, first_error) = outcomes(pending).await;
    eprintln!(
        "produced {acknowledged} of {line_number} records to {}",
        args.topic
    );
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// The record a line stands for: `KEY<SEP>VALUE` with `--key-separator`, JSON with `--json`
/// (else strings), on `--partition` if given.
fn record_of(args: &ProduceArgs, line: String, line_number: u64) -> anyhow::Result<ProduceRecord> {
    let (key, value) = match args
        .key_separator
        .as_deref()
        .and_then(|separator| line.split_once(separator))
    {
        Some((key, value)) => (Some(key.to_owned()), value.to_owned()),
        None => (None, line),
    };
    let parse = |text: String, what: &str| -> anyhow::Result<Value> {
        if args.json {
            serde_json::from_str(&text)
                .with_context(|| format!("line {line_number}: {what} is not valid JSON"))
        } else {
            Ok(Value::String(text))
        }
    };
    Ok(ProduceRecord {
        key: key.map(|k| parse(k, "key")).transpose()?,
        value: Some(parse(value, "value")?),
        partition: args.partition,
        ..ProduceRecord::default()
    })
}

/// How many sends were acknowledged, and the first failure.
async fn outcomes(pending: Vec<SendFuture>) -> (u64, Option<silt_sdk::Error>) {
    let mut acknowledged = 0u64;
    let mut first_error = None;
    for future in pending {
        match future.await {
            Ok(_) => acknowledged += 1,
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    (acknowledged, first_error)
}
