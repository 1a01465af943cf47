//! Command-line interface: argument parsing and dispatch.

mod consume;
mod dev;
mod produce;
mod topic;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default broker URL of the client subcommands.
pub const DEFAULT_BROKER: &str = "http://127.0.0.1:7070";

/// silt: a durable, ordered, partitioned log on object storage.
#[derive(Debug, Parser)]
#[command(name = "silt", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a broker and an embedded single-node metadata service in one process.
    Dev(DevArgs),
    /// Topic administration.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Produce records from standard input, one per line.
    Produce(ProduceArgs),
    /// Consume records to standard output, one per line.
    Consume(ConsumeArgs),
}

/// `silt dev`
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// TOML config file (sections server, storage, wal, cache).
    #[arg(long, env = "SILT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Local data directory [default: ./silt-data].
    #[arg(long, env = "SILT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:7070].
    #[arg(long, env = "SILT_LISTEN")]
    pub listen: Option<String>,
    /// Object store: s3://BUCKET[/PREFIX] (AWS_* environment) or file:///DIR
    /// [default: <data-dir>/objects].
    #[arg(long, env = "SILT_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "SILT_LOG",
        default_value = "info,openraft=warn,foyer=warn"
    )]
    pub log: String,
}

/// Where a client subcommand sends its requests.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArg {
    /// Broker URL.
    #[arg(long, env = "SILT_BROKER", default_value = DEFAULT_BROKER, global = true)]
    pub broker: String,
}

/// `silt topic …`
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Chunk compression: none or zstd.
        #[arg(long)]
        compression: Option<String>,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// List topics.
    List {
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Describe a topic as JSON.
    Describe {
        /// Topic name.
        name: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
        /// Broker.
        #[command(flatten)]
        broker: BrokerArg,
    },
}

/// `silt produce`
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Topic.
    pub topic: String,
    /// Split each line at the first SEP into key and value.
    #[arg(long)]
    pub key_separator: Option<String>,
    /// Parse each value (and key) as JSON instead of sending it as a string.
    #[arg(long)]
    pub json: bool,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArg,
}

/// `silt consume`
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topic.
    pub topic: String,
    /// Read only this partition [default: all].
    #[arg(long)]
    pub partition: Option<u32>,
    /// Start at each partition's start offset instead of its high watermark.
    #[arg(long)]
    pub from_beginning: bool,
    /// Keep waiting for new records instead of stopping at the high watermark.
    #[arg(long)]
    pub follow: bool,
    /// Output: `value` (the value per line) or `json` (the whole record per line).
    #[arg(long, default_value = "value", value_parser = ["value", "json"])]
    pub format: String,
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArg,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Topic(command) => topic::run(command).await,
        Command::Produce(args) => produce::run(args).await,
        Command::Consume(args) => consume::run(args).await,
    }
}
