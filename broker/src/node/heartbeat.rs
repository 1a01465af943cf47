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
        let renewed = metadata
            .broker_heartbeat(
                &identity.broker_id,
                &identity.advertise,
                lease_ms,
                clock.now_ms(),
            )
            .await;
        match renewed {
            Ok(_) if !registered => {
                registered = true;
                info!(broker_id = %identity.broker_id, address = %identity.advertise, "registered with the metadata service");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "lease renewal failed; retrying"),
        }
    }
}
