//! `silt topic create|list|describe|delete`

use silt_sdk::Admin;
use silt_sdk::wire::{Topic, TopicConfig};

use crate::cli::{BrokerArg, TopicCommand};

/// Runs a topic subcommand.
pub(super) async fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            compression,
            broker,
        } => {
            let topic = admin(broker)?
                .create_topic(&name, partitions, TopicConfig { compression })
                .await?;
            println!(
                "created topic {} with {} partitions (id {})",
                topic.name, topic.partition_count, topic.id
            );
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
