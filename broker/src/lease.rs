//! Cluster-wide background jobs (retention, the garbage collector, the backup uploader):
//! their rounds ([`every`]) and the named leases through the metadata service that let one
//! broker at a time do the job (the garbage collector's `gc`, the backup uploader's
//! `backup`). A lease is taken or renewed ([`MetadataClient::take_lease`]) for two of the
//! job's intervals at a time, so its holder keeps it across one late round and another
//! broker takes over within two intervals of the holder's death.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use silt_bookie::clock::Clock;
use silt_bookie::store::ObjectStoreHandle;
use silt_metadata::MetadataClient;
use silt_metadata::limits::MAX_LEASE_MS;
use tracing::debug;

use crate::gc::GcError;
use crate::gc::marker::{self, Owner};
use crate::metrics::Metrics;

/// What a cluster-wide job needs: the metadata service, the bucket, where to count, a
/// clock, this broker's name as a lease holder, its interval, and whether the prefix is
/// known to be this cluster's.
pub(crate) struct Job {
    /// The metadata service.
    pub(crate) metadata: Arc<dyn MetadataClient>,
    /// The bucket and prefix worked on.
    pub(crate) store: ObjectStoreHandle,
    /// Where rounds are counted.
    pub(crate) metrics: Arc<Metrics>,
    /// Now.
    pub(crate) clock: Arc<dyn Clock>,
    /// This broker's registry id: the lease holder's name.
    pub(crate) broker_id: String,
    /// How often the job runs (its lease lasts two of these).
    pub(crate) interval: Duration,
    /// Whether the prefix's marker was found naming this cluster (then it is not read
    /// again: silt never rewrites it).
    pub(crate) ours: AtomicBool,
}

impl Job {
    /// Takes or renews the lease `name` for this broker; whether it holds it.
    pub(crate) async fn hold(&self, name: &str) -> Result<bool, silt_metadata::Error> {
        let at_ms = self.clock.now_ms();
        hold(
            self.metadata.as_ref(),
            name,
            &self.broker_id,
            self.interval,
            at_ms,
        )
        .await
    }

    /// Whose the prefix is (writing the marker if there is none); remembered once it is
    /// this cluster's, so a round costs no marker request after that.
    pub(crate) async fn owner(&self) -> Result<Owner, GcError> {
        if self.ours.load(Ordering::Relaxed) {
            return Ok(Owner::Ours);
        }
        let cluster_id = self.metadata.cluster_id().await?;
        let owner = marker::claim(&self.store, &cluster_id).await?;
        self.ours.store(owner == Owner::Ours, Ordering::Relaxed);
        Ok(owner)
    }
}

/// Takes or renews the lease `name` for `holder`, at `at_ms`, for two `interval`s (at
/// least 1 s, at most [`MAX_LEASE_MS`]); whether `holder` holds it.
pub(crate) async fn hold(
    metadata: &dyn MetadataClient,
    name: &str,
    holder: &str,
    interval: Duration,
    at_ms: i64,
) -> Result<bool, silt_metadata::Error> {
    let length = i64::try_from(interval.as_millis().saturating_mul(2)).unwrap_or(i64::MAX);
    let until_ms = at_ms.saturating_add(length.clamp(1000, MAX_LEASE_MS as i64));
    let lease = metadata.take_lease(name, holder, until_ms, at_ms).await?;
    let held = lease.held_by(holder, at_ms);
    if !held {
        debug!(lease = name, holder = %lease.holder, "another broker holds the lease");
    }
    Ok(held)
}

/// Runs `round` every `interval`, the first time `interval` from now; a round that
/// overruns delays the next one instead of bunching them.
pub(crate) async fn every<F, Fut>(interval: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = tokio::time::Instant::now() + interval;
    let mut tick = tokio::time::interval_at(start, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        round().await;
    }
}
