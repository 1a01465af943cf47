//! The producer sweeper: while its node leads, it proposes
//! [`Command::ExpireProducers`] whenever the applied state holds a producer id unused for
//! longer than the node's `producer_expiry` (or one whose idle time has not started), so
//! idle ids leave the state (Kafka's `transactional.id.expiration.ms`). The removal itself
//! happens in apply, by the command's proposal time, the same on every replica.

use std::time::Duration;

use crate::client::LocalClient;
use crate::types::{Command, CommandResult};

/// Shortest and longest pause between two sweeps.
const SWEEP_BOUNDS: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(60));

/// Sweeps idle producer ids of the node `client` calls into, every tenth of `idle` (within
/// [`SWEEP_BOUNDS`]) while it leads; ends when Raft stops.
pub(crate) async fn sweep_producers(client: LocalClient, idle: Duration) {
    let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1);
    let pause = (idle / 10).clamp(SWEEP_BOUNDS.0, SWEEP_BOUNDS.1);
    loop {
        tokio::time::sleep(pause).await;
        if client.fatal_cause().is_some() {
            return;
        }
        let at_ms = crate::client::now_ms();
        if client.leads() && client.read_local(|s| s.producers_to_sweep(idle_ms, at_ms)) {
            sweep(&client, idle_ms, at_ms).await;
        }
    }
}

/// Proposes one sweep; a failure is logged (the next pause tries again).
async fn sweep(client: &LocalClient, idle_ms: u64, at_ms: i64) {
    let command = Command::ExpireProducers { idle_ms, at_ms };
    match client.write(command).await {
        Ok(CommandResult::ProducersExpired { removed }) if removed > 0 => {
            tracing::info!(removed, idle_ms, "expired idle producer ids");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not expire idle producer ids"),
    }
}
