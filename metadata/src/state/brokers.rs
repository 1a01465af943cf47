//! The broker registry: which brokers heartbeat, at what address, and until when their
//! lease runs.
//!
//! Liveness is judged by readers with their own clock ([`BrokerView::lease_expires_at_ms`]);
//! the state only stores what heartbeats said. Correctness never depends on a lease:
//! commits are idempotent and producer requests deduplicated, so a broker that wakes up
//! after its lease ran out can only commit what it had uploaded, once. Entries whose lease
//! ran out more than [`FORGET_AFTER_MS`] before a later heartbeat are dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::BrokerView;

/// How long an expired broker stays listed (so `silt cluster status` shows recent deaths).
pub(crate) const FORGET_AFTER_MS: i64 = 10 * 60 * 1000;

/// Registered brokers by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Brokers {
    /// Brokers by id.
    by_id: BTreeMap<String, BrokerView>,
}

impl Brokers {
    /// Registers or renews `broker_id` and forgets long-expired brokers.
    pub(crate) fn heartbeat(
        &mut self,
        broker_id: &str,
        address: &str,
        lease_ms: u64,
        at_ms: i64,
    ) -> BrokerView {
        self.by_id
            .retain(|_, b| b.lease_expires_at_ms().saturating_add(FORGET_AFTER_MS) >= at_ms);
        let view = self
            .by_id
            .entry(broker_id.to_owned())
            .and_modify(|b| {
                b.address = address.to_owned();
                b.last_heartbeat_ms = b.last_heartbeat_ms.max(at_ms);
                b.lease_ms = lease_ms;
            })
            .or_insert_with(|| BrokerView {
                broker_id: broker_id.to_owned(),
                address: address.to_owned(),
                registered_at_ms: at_ms,
                last_heartbeat_ms: at_ms,
                lease_ms,
            });
        view.clone()
    }

    /// Every registered broker, by id.
    pub(crate) fn list(&self) -> Vec<BrokerView> {
        self.by_id.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_renew_and_long_expired_brokers_are_forgotten() {
        let mut brokers = Brokers::default();
        let first = brokers.heartbeat("a", "http://a", 3_000, 1_000);
        assert_eq!(first.lease_expires_at_ms(), 4_000);
        brokers.heartbeat("b", "http://b", 3_000, 1_500);
        let renewed = brokers.heartbeat("a", "http://a2", 3_000, 2_000);
        assert_eq!(
            (renewed.registered_at_ms, renewed.last_heartbeat_ms),
            (1_000, 2_000)
        );
        assert_eq!(renewed.address, "http://a2");
        // A heartbeat from the past never moves the lease back.
        assert_eq!(
            brokers
                .heartbeat("a", "http://a2", 3_000, 1_200)
                .last_heartbeat_ms,
            2_000
        );
        brokers.heartbeat("a", "http://a2", 3_000, 4_500 + FORGET_AFTER_MS + 1);
        let ids: Vec<String> = brokers.list().into_iter().map(|b| b.broker_id).collect();
        assert_eq!(ids, ["a"]);
    }
}
