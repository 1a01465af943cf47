//! `silt broker`: one stateless broker of a cluster.

use crate::cli::{BrokerArgs, ShutdownSignal, init_process, log_config};
use crate::config::{Config, Overrides};
use crate::node;

/// Runs until Ctrl-C or SIGTERM, then shuts down cleanly.
pub(super) async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    init_process(&args.log)?;
    #[cfg(feature = "fault-injection")]
    let fault_injection = args.fault_injection;
    #[cfg(not(feature = "fault-injection"))]
    let fault_injection = false;
    let overrides = Overrides {
        listen: args.listen,
        data_dir: Some(args.cache_dir),
        object_store: Some(args.object_store),
        metadata: Some(args.metadata),
        broker_id: args.broker_id,
        advertise: args.advertise,
        fault_injection,
    };
    let config = Config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    log_config(&config);
    super::exposure::check(&config, args.insecure)?;
    let mut signal = ShutdownSignal::catch();
    let node = node::start(config.clone()).await?;
    println!(
        "silt broker listening on {} (broker id {}, cache: {}, object store: {}, metadata: {})",
        node.url(),
        node.broker_id,
        config.storage.data_dir.display(),
        node.object_store_url,
        config.cluster.metadata
    );
    node.announce_plain_listener();
    signal.wait().await;
    eprintln!("shutting down: finishing in-flight requests and committing staged records");
    node.shutdown().await
}
