//! The broker's lease in the metadata service's registry, renewed every third of it.
//!
//! Correctness never depends on the lease: it only tells `GET /v1/cluster` (and operators)
//! which brokers are alive. A failed renewal is logged and retried at the next tick.

use std::sync::Arc;
use std::time::Duration;

use silt_bookie::clock::Clock;
use silt_metadata::MetadataClient;
use tracing::info;

use crate::state::BrokerIdentity;

/// Renews `identity`'s lease every third of `lease`, forever.
pub(crate) async fn heartbeat_loop(
    metadata: Arc<dyn MetadataClient>,
    identity: Arc<BrokerIdentity>,
    lease: Duration,
    clock: Arc<dyn Clock>,
) {
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = false;
    loop {
        tick.tick().await;
        let renewed = renew(metadata.as_ref(), &identity, lease_ms, clock.now_ms()).await;
        registered = report(renewed, registered, &identity);
    }
}

/// One renewal of the lease.
async fn renew(
    metadata: &dyn MetadataClient,
    identity: &BrokerIdentity,
    lease_ms: u64,
    now_ms: i64,
) -> silt_metadata::Result<()> {
    let (broker_id, address) = (&identity.broker_id, &identity.advertise);
    let renewed = metadata.broker_heartbeat(broker_id, address, lease_ms, now_ms);
    renewed.await.map(drop)
}

/// Logs the first successful renewal and every failure; whether the broker is registered.
fn report(renewed: silt_metadata::Result<()>, registered: bool, identity: &BrokerIdentity) -> bool {
    match renewed {
        Ok(()) if !registered => {
            info!(broker_id = %identity.broker_id, address = %identity.advertise, "registered with the metadata service");
            true
        }
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "lease renewal failed; retrying");
            registered
        }
    }
}
