//! `silt group list|describe|reset|delete`: consumer groups, with each committed offset's
//! lag (records behind the partition's high watermark, as the offsets API computes it).

use silt_sdk::Groups;
use silt_sdk::wire::{CommittedOffset, GroupDescription, ResetOffsetsRequest, ResetTo};

use crate::cli::{BrokerArg, GroupCommand, ResetArgs};

/// Runs a group subcommand.
pub(super) async fn run(command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { broker } => list(&groups(broker)?).await,
        GroupCommand::Describe { group, broker } => {
            print_description(&groups(broker)?.describe(&group).await?);
            Ok(())
        }
        GroupCommand::Reset(args) => reset(args).await,
        GroupCommand::Delete { group, broker } => {
            groups(broker)?.delete(&group).await?;
            println!("deleted group {group}");
            Ok(())
        }
    }
}

/// The SDK's group calls against `broker`.
fn groups(broker: BrokerArg) -> anyhow::Result<Groups> {
    Ok(Groups::new(broker.client()?))
}

/// One line per group with its total lag.
async fn list(groups: &Groups) -> anyhow::Result<()> {
    let list = groups.list().await?;
    println!(
        "{:<40} {:<8} {:>10} {:>8} {:>12}",
        "GROUP", "STATE", "GENERATION", "MEMBERS", "LAG"
    );
    for group in list.groups {
        let offsets = groups.offsets(&group.group).await?;
        let lag: u64 = offsets.offsets.iter().map(|o| o.lag).sum();
        println!(
            "{:<40} {:<8} {:>10} {:>8} {:>12}",
            group.group, group.state, group.generation, group.members, lag
        );
    }
    Ok(())
}

/// The group's state, members and, per partition, offset, lag and owner.
fn print_description(group: &GroupDescription) {
    println!(
        "group {} ({}, generation {}, {} members)",
        group.group,
        group.state,
        group.generation,
        group.members.len()
    );
    print_offsets(&group.offsets, |topic, partition| {
        owner(group, topic, partition)
    });
}

/// The member that reads `topic`/`partition`, or `-`.
fn owner(group: &GroupDescription, topic: &str, partition: u32) -> String {
    let reads = |m: &&silt_sdk::wire::GroupMember| {
        m.assignment
            .iter()
            .any(|tp| tp.topic == topic && tp.partition == partition)
    };
    group
        .members
        .iter()
        .find(reads)
        .map_or_else(|| "-".to_owned(), |m| m.member_id.clone())
}

/// A table of offsets with their lag and, from `owner`, who reads each partition.
fn print_offsets(offsets: &[CommittedOffset], owner: impl Fn(&str, u32) -> String) {
    println!(
        "{:<30} {:>9} {:>14} {:>12}  OWNER",
        "TOPIC", "PARTITION", "OFFSET", "LAG"
    );
    for o in offsets {
        println!(
            "{:<30} {:>9} {:>14} {:>12}  {}",
            o.topic,
            o.partition,
            o.offset,
            o.lag,
            owner(&o.topic, o.partition)
        );
    }
}

/// Moves the group's offsets and prints where they are now.
async fn reset(args: ResetArgs) -> anyhow::Result<()> {
    let body = ResetOffsetsRequest {
        to: reset_target(&args)?,
        topics: (!args.topic.is_empty()).then(|| args.topic.clone()),
        force: args.force,
    };
    let offsets = groups(args.broker)?
        .reset_offsets(&args.group, &body)
        .await?;
    println!("reset group {}", offsets.group);
    print_offsets(&offsets.offsets, |_, _| "-".to_owned());
    Ok(())
}

/// Where `--to`, `--timestamp-ms` or `--offset` says (clap makes exactly one present).
fn reset_target(args: &ResetArgs) -> anyhow::Result<ResetTo> {
    match (args.to.as_deref(), args.timestamp_ms, args.offset) {
        (Some("earliest"), None, None) => Ok(ResetTo::Earliest),
        (Some("latest"), None, None) => Ok(ResetTo::Latest),
        (None, Some(ms), None) => Ok(ResetTo::TimestampMs(ms)),
        (None, None, Some(offset)) => Ok(ResetTo::Offset(offset)),
        _ => anyhow::bail!(
            "say where to: --to earliest, --to latest, --timestamp-ms T or --offset N"
        ),
    }
}
