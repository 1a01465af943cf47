//! `silt topic create|alter|list|describe|delete`

use silt_sdk::Admin;
use silt_sdk::wire::{Topic, TopicConfig, TopicConfigPatch};

use crate::cli::{BrokerArg, TopicCommand};

/// Runs a topic subcommand.
pub(super) async fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            compression,
            retention_ms,
            retention_bytes,
            broker,
        } => {
            let config = TopicConfig {
                compression,
                retention_ms,
                retention_bytes,
            };
            let topic = admin(broker)?
                .create_topic(&name, partitions, config)
                .await?;
            println!(
                "created topic {} with {} partitions (id {})",
                topic.name, topic.partition_count, topic.id
            );
        }
        TopicCommand::Alter {
            name,
            retention_ms,
            retention_bytes,
            broker,
        } => {
            let patch = TopicConfigPatch {
                retention_ms: retention_ms.map(|v| v.0),
                retention_bytes: retention_bytes.map(|v| v.0),
            };
            if patch == TopicConfigPatch::default() {
                anyhow::bail!("nothing to change: give --retention-ms and/or --retention-bytes");
            }
            let topic = admin(broker)?.alter_topic(&name, patch).await?;
            print_retention(&topic);
        }
        TopicCommand::List { broker } => print_list(&admin(broker)?.list_topics().await?),
        TopicCommand::Describe { name, broker } => {
            let topic = admin(broker)?.describe_topic(&name).await?;
            println!("{}", serde_json::to_string_pretty(&topic)?);
        }
        TopicCommand::Delete { name, broker } => {
            admin(broker)?.delete_topic(&name).await?;
            println!("deleted topic {name}");
        }
    }
    Ok(())
}

fn admin(broker: BrokerArg) -> anyhow::Result<Admin> {
    Ok(Admin::new(broker.client()?))
}

/// The retention in force after an alter.
fn print_retention(topic: &Topic) {
    let shown = |value: Option<i64>| match value {
        Some(-1) | None => "unbounded".to_owned(),
        Some(value) => value.to_string(),
    };
    println!(
        "altered topic {}: retention_ms {}, retention_bytes {}",
        topic.name,
        shown(topic.config.retention_ms),
        shown(topic.config.retention_bytes)
    );
}

/// One line per topic: name, partitions, and records held (high watermark minus start).
fn print_list(topics: &[Topic]) {
    println!("{:<40} {:>10} {:>14}", "TOPIC", "PARTITIONS", "RECORDS");
    for topic in topics {
        let records: u64 = topic
            .partitions
            .iter()
            .map(|p| p.high_watermark - p.start_offset)
            .sum();
        println!(
            "{:<40} {:>10} {:>14}",
            topic.name, topic.partition_count, records
        );
    }
}
