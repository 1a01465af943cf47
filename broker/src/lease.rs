//! Named leases through the metadata service: one broker at a time does a cluster-wide
//! background job (the garbage collector's `gc`, the backup uploader's `backup`). A lease
//! is taken or renewed ([`MetadataClient::take_lease`]) for two of the job's intervals at a
//! time, so its holder keeps it across one late round and another broker takes over within
//! two intervals of the holder's death.

use std::time::Duration;

use silt_metadata::MetadataClient;
use silt_metadata::limits::MAX_LEASE_MS;
use tracing::debug;

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
