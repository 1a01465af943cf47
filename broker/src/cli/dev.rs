//! `silt dev`: everything in one process, on embedded defaults.

use crate::cli::{DevArgs, ShutdownSignal, init_process, log_config};
use crate::config::{Config, Overrides};
use crate::node;

/// Runs until Ctrl-C or SIGTERM, then shuts down cleanly; exits with an error at once if
/// the embedded metadata service stops for good (a supervisor restarts it).
pub(super) async fn run(args: DevArgs) -> anyhow::Result<()> {
    init_process(&args.log)?;
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        object_store: args.object_store,
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    log_config(&config);
    super::exposure::check(&config, args.insecure)?;
    let mut signal = ShutdownSignal::catch();
    let node = node::start(config.clone()).await?;
    println!(
        "silt dev listening on {} (data: {}, object store: {})",
        node.url(),
        config.storage.data_dir.display(),
        node.object_store_url
    );
    node.announce_plain_listener();
    tokio::select! {
        () = signal.wait() => {}
        cause = node.metadata_failed() => return Err(super::metadata_failed(&cause)),
    }
    eprintln!("shutting down: finishing in-flight requests and committing staged records");
    node.shutdown().await
}
