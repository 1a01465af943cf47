//! `silt dev`: everything in one process, on embedded defaults.

use tracing_subscriber::EnvFilter;

use crate::cli::DevArgs;
use crate::config::{Config, Overrides};
use crate::node;

/// Runs until Ctrl-C or SIGTERM, then shuts down cleanly.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("invalid --log / SILT_LOG filter {:?}: {e}", args.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // object_store's reqwest has no bundled TLS provider; install ring (an error means one
    // is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        object_store: args.object_store,
    };
    let config = Config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    tracing::info!(config = ?config, "effective configuration");
    let node = node::start(config.clone()).await?;
    println!(
        "silt dev listening on http://{} (data: {}, object store: {})",
        node.addr,
        config.storage.data_dir.display(),
        node.object_store_url
    );
    wait_for_signal().await;
    eprintln!("shutting down: finishing in-flight requests and committing staged records");
    node.shutdown().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
