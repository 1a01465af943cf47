//! `silt cluster status`: the cluster as a broker sees it.

use crate::cli::ClusterCommand;

/// Runs a `silt cluster` subcommand.
pub(super) async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Status { broker } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let url = format!("{}/v1/cluster", broker.broker.trim_end_matches('/'));
            let mut request = reqwest::Client::new().get(&url);
            if let Some(token) = &broker.token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
            let status = response.status();
            let body: serde_json::Value = response
                .json()
                .await
                .map_err(|e| anyhow::anyhow!("{url} did not answer JSON: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&body)?);
            if !status.is_success() {
                anyhow::bail!("{url} answered {status}");
            }
            Ok(())
        }
    }
}
