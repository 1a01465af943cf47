//! `silt cluster status`: the cluster as a broker sees it.

use crate::cli::ClusterCommand;

/// Runs a `silt cluster` subcommand.
pub(super) async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Status { broker } => {
            let admin = silt_sdk::Admin::new(broker.client()?);
            let status = admin.cluster_status().await?;
            println!("{}", serde_json::to_string_pretty(&status)?);
            Ok(())
        }
    }
}
