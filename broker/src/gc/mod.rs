//! Garbage collection: a background task that, every `gc.interval`, deletes the objects
//! no index entry references and that can no longer be read or committed: objects
//! released by retention or a topic delete more than `gc.grace` ago, and orphans (uploads
//! never committed) recorded more than the commit horizon plus `gc.grace` ago.
//!
//! One broker sweeps at a time: the holder of the `gc` lease, taken and renewed through the
//! metadata service ([`MetadataClient::take_lease`]) for two intervals at a time. Deleting
//! twice is harmless; the lease keeps the work and the request bill on one broker. Nothing
//! is deleted under a prefix whose cluster marker ([`marker`]) names another cluster.
//! Deletes are batched ([`delete`]: one DeleteObjects request per batch on S3) and paced at
//! [`delete::MAX_DELETES_PER_SECOND`]; after a batch, one
//! [`Command::ForgetGarbage`](silt_metadata::types::Command::ForgetGarbage) removes what
//! went from the state's lists. A failed delete leaves its object listed for the next round.
//! Then the round lists a stretch of the bucket ([`listing`]) for uploads nothing recorded
//! (a broker that died between its PUT and its commit) and deletes those no commit can
//! reference any more.

pub(crate) mod delete;
pub(crate) mod listing;
pub(crate) mod marker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use silt_metadata::limits::{MAX_GARBAGE_PER_COMMAND, commit_horizon_ms};
use silt_metadata::types::GarbageList;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::lease::Job;
use marker::Owner;

/// The lease's name in the metadata service.
pub(crate) const LEASE_NAME: &str = "gc";

/// Most batches of [`MAX_GARBAGE_PER_COMMAND`] objects one round deletes; a larger
/// backlog is worked off over the next rounds.
const MAX_BATCHES_PER_ROUND: usize = 16;

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GcError {
    /// The metadata service did not answer or refused.
    #[error("metadata service: {0}")]
    Metadata(#[from] silt_metadata::Error),
    /// The object store failed (reading or writing the cluster marker).
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The cluster marker is not the JSON silt writes.
    #[error("the cluster marker is unreadable: {0}")]
    Marker(serde_json::Error),
    /// The state names garbage outside this broker's object store prefix.
    #[error(
        "the metadata state names {object} as garbage, which is not under this broker's object store prefix {prefix:?}: is the broker started on another --object-store than the cluster's? Nothing is deleted"
    )]
    OtherPrefix {
        /// The object.
        object: String,
        /// This broker's prefix.
        prefix: String,
    },
}

/// What a collector needs.
pub(crate) struct Sweeper {
    /// The metadata service, the bucket, … and `gc.interval`.
    pub(crate) job: Job,
    /// `gc.grace`.
    pub(crate) grace: Duration,
    /// Whether backups are on (`backup.interval` > 0): then a released object is deleted
    /// only once a backup newer than its release is in the bucket.
    pub(crate) after_backup: bool,
    /// Where the next round's bucket listing starts.
    pub(crate) cursor: listing::Cursor,
    /// Whether the backups were checked for (and deleted, when backups are off).
    pub(crate) backups_checked: AtomicBool,
}

/// How one round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// The prefix's marker names another cluster: nothing deleted.
    Refused,
    /// Another broker holds the lease.
    Standby,
    /// Nothing due.
    Idle,
    /// Some objects were deleted.
    Deleted,
}

impl Round {
    /// The metric label.
    fn as_str(self) -> &'static str {
        match self {
            Round::Refused => "refused",
            Round::Standby => "standby",
            Round::Idle => "idle",
            Round::Deleted => "deleted",
        }
    }
}

/// Starts the collector: checks the prefix's marker at once (so a foreign prefix is
/// reported at start-up), then a round every `interval`, the first one `interval` after
/// start.
pub(crate) fn spawn(sweeper: Sweeper) -> JoinHandle<()> {
    tokio::spawn(async move {
        sweeper.announce().await;
        crate::lease::every(sweeper.job.interval, || sweeper.round()).await;
    })
}

impl Sweeper {
    /// Claims the prefix at start-up, logging (and counting) a foreign one.
    async fn announce(&self) {
        match self.job.owner().await {
            Ok(Owner::Ours) => debug!("the object store prefix belongs to this cluster"),
            Ok(Owner::Foreign(other)) => self.refuse(&other),
            Err(error) => warn!(%error, "cannot check the object store's cluster marker yet"),
        }
    }

    /// One round, in its own span; failures are logged and counted, and the next round
    /// tries again.
    pub(crate) async fn round(&self) {
        let now_ms = self.job.clock.now_ms();
        let span = info_span!("gc_round", now_ms, broker_id = %self.job.broker_id);
        match self.sweep(now_ms).instrument(span).await {
            Ok(round) => self.job.metrics.gc_round(round.as_str()),
            Err(error) => {
                warn!(%error, "garbage collection round failed; trying again next round");
                self.job.metrics.gc_round("error");
            }
        }
    }

    /// Deletes what is due at `now_ms`, if the prefix is this cluster's and this broker
    /// holds the lease.
    pub(crate) async fn sweep(&self, now_ms: i64) -> Result<Round, GcError> {
        if let Owner::Foreign(other) = self.job.owner().await? {
            self.refuse(&other);
            return Ok(Round::Refused);
        }
        if !self.hold_lease().await? {
            return Ok(Round::Standby);
        }
        self.retire_stale_backups().await?;
        let mut deleted = self.sweep_recorded(now_ms).await?;
        if self.hold_lease().await? {
            deleted += self.sweep_listing(self.listing_due(now_ms)).await?;
        }
        self.job.metrics.gc_deleted_objects.inc_by(deleted);
        Ok(if deleted > 0 {
            Round::Deleted
        } else {
            Round::Idle
        })
    }

    /// Deletes the garbage the state lists as due at `now_ms`, batch by batch while this
    /// broker holds the lease; answers how many objects went.
    async fn sweep_recorded(&self, now_ms: i64) -> Result<u64, GcError> {
        let mut deleted = 0;
        for _ in 0..MAX_BATCHES_PER_ROUND {
            let due = self.due(now_ms).await?;
            if due.due.is_empty() {
                break;
            }
            self.check_prefix(&due)?;
            let (gone, more) = self.delete(due).await?;
            deleted += gone;
            if !more || !self.hold_lease().await? {
                break;
            }
        }
        Ok(deleted)
    }

    /// With backups off, deletes the backups an earlier run left in the bucket (once per
    /// process, before any released object goes): they would name objects this collector
    /// deletes, and a restore from one would serve an index of missing objects.
    async fn retire_stale_backups(&self) -> Result<(), GcError> {
        if self.after_backup || self.backups_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        let deleted = crate::backup::objects::delete_all(&self.job.store).await?;
        if deleted > 0 {
            warn!(
                deleted,
                "backups are off (backup.interval = 0s): deleted the metadata backups an earlier run left in the bucket, which would name objects this collector deletes"
            );
        }
        self.backups_checked.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Refuses a batch naming an object outside this broker's prefix.
    fn check_prefix(&self, list: &GarbageList) -> Result<(), GcError> {
        let prefix = self.job.store.prefix.as_ref();
        let under = |name: &str| {
            prefix.is_empty()
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        match list.due.iter().find(|g| !under(&g.object)) {
            Some(foreign) => {
                self.job.metrics.gc_refused("other_prefix");
                Err(GcError::OtherPrefix {
                    object: foreign.object.clone(),
                    prefix: prefix.to_owned(),
                })
            }
            None => Ok(()),
        }
    }

    /// `gc.grace` in milliseconds.
    fn grace_ms(&self) -> i64 {
        i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX)
    }

    /// What a bucket listing at `now_ms` may delete.
    fn listing_due(&self, now_ms: i64) -> listing::ListingDue {
        let released_before = now_ms.saturating_sub(self.grace_ms());
        listing::ListingDue {
            sealed_before: released_before.saturating_sub(commit_horizon_ms()),
            released_before,
        }
    }

    /// Logs and counts a round refused because the prefix is `other`'s.
    fn refuse(&self, other: &str) {
        error!(
            prefix = %self.job.store.prefix,
            marker_cluster_id = other,
            "the object store prefix belongs to another cluster (its marker names {other}): garbage collection deletes nothing there"
        );
        self.job.metrics.gc_refused("foreign_cluster");
    }

    /// Takes or renews the `gc` lease; whether this broker holds it.
    async fn hold_lease(&self) -> Result<bool, GcError> {
        Ok(self.job.hold(LEASE_NAME).await?)
    }

    /// The garbage due at `now_ms` (at most one batch). The backlog, due or not, is on
    /// `/metrics` from the cost figures (`silt_gc_backlog_objects`, every broker).
    async fn due(&self, now_ms: i64) -> Result<GarbageList, GcError> {
        let released_before = now_ms.saturating_sub(self.grace_ms());
        let orphaned_before = released_before.saturating_sub(commit_horizon_ms());
        let limit = MAX_GARBAGE_PER_COMMAND;
        let list =
            self.job
                .metadata
                .garbage(released_before, orphaned_before, limit, self.after_backup);
        let list = list.await?;
        self.job
            .metrics
            .gc_awaiting_backup
            .set(list.awaiting_backup as i64);
        Ok(list)
    }

    /// Deletes one batch and forgets what went; how many went, and whether the whole batch
    /// went and another may follow.
    async fn delete(&self, list: GarbageList) -> Result<(u64, bool), GcError> {
        let names: Vec<String> = list.due.into_iter().map(|g| g.object).collect();
        let (asked, full) = (names.len(), names.len() == MAX_GARBAGE_PER_COMMAND);
        let gone = delete::delete_batch(self.job.store.store.as_ref(), names).await;
        let count = gone.len();
        if !gone.is_empty() {
            self.job.metadata.forget_garbage(gone).await?;
        }
        info!(
            deleted = count,
            asked, "garbage collection deleted recorded garbage"
        );
        Ok((count as u64, count == asked && full))
    }
}

#[cfg(test)]
mod tests;
