//! `silt topic create|list|describe|delete`

use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client};

use crate::cli::TopicCommand;

/// Runs a topic subcommand.
pub(super) async fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            compression,
            broker,
        } => {
            let admin = Admin::new(Client::new(broker.broker)?);
            let topic = admin
                .create_topic(&name, partitions, TopicConfig { compression })
                .await?;
            println!(
                "created topic {} with {} partitions (id {})",
                topic.name, topic.partition_count, topic.id
            );
        }
        TopicCommand::List { broker } => {
            let admin = Admin::new(Client::new(broker.broker)?);
            let topics = admin.list_topics().await?;
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
        TopicCommand::Describe { name, broker } => {
            let admin = Admin::new(Client::new(broker.broker)?);
            let topic = admin.describe_topic(&name).await?;
            println!("{}", serde_json::to_string_pretty(&topic)?);
        }
        TopicCommand::Delete { name, broker } => {
            let admin = Admin::new(Client::new(broker.broker)?);
            admin.delete_topic(&name).await?;
            println!("deleted topic {name}");
        }
    }
    Ok(())
}
