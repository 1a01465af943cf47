//! Backups of the metadata state in the bucket: every `backup.interval`, the holder of the
//! `backup` lease ([`crate::lease`]) asks the metadata leader for a backup of its state
//! ([`MetadataClient::backup`]: a snapshot file as of the leader's last applied entry),
//! uploads it as `<prefix>/metadata/snapshot-<20-digit log index>.snap` ([`objects`]),
//! records it in the state ([`MetadataClient::record_backup`], which lets the garbage
//! collector delete what was released before it), then deletes the older backups. Every
//! broker uploads one more when it shuts down cleanly, after its last commits.
//!
//! `silt restore` rebuilds a metadata data directory from the newest backup: what a
//! restore can lose is what was committed after that backup was taken (at most one
//! `backup.interval` plus an upload, or nothing after a clean shutdown of every broker).
//!
//! Nothing is uploaded under a prefix whose cluster marker names another cluster
//! ([`crate::gc::marker`]).

pub(crate) mod objects;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{Instrument, error, info, info_span, warn};

use crate::gc::marker::Owner;
use crate::lease::Job;

/// The lease's name in the metadata service.
pub(crate) const LEASE_NAME: &str = "backup";

/// How long a clean shutdown waits for its final backup.
pub(crate) const FINAL_UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    /// The metadata service did not answer or refused.
    #[error("metadata service: {0}")]
    Metadata(#[from] silt_metadata::Error),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The cluster marker could not be read or written.
    #[error("cluster marker: {0}")]
    Marker(#[from] crate::gc::GcError),
    /// The prefix belongs to another cluster.
    #[error("the object store prefix belongs to cluster {0}: no backup is written there")]
    Foreign(String),
}

/// What an uploader needs: the metadata service, the bucket, … and `backup.interval`.
pub(crate) struct Uploader {
    /// The job's context.
    pub(crate) job: Job,
}

/// Starts the uploader: a round every `interval`, the first one `interval` after start.
pub(crate) fn spawn(uploader: Arc<Uploader>) -> JoinHandle<()> {
    tokio::spawn(
        async move { crate::lease::every(uploader.job.interval, || uploader.round()).await },
    )
}

impl Uploader {
    /// One round: uploads a backup if this broker holds the lease. Failures are logged and
    /// counted; the next round tries again.
    pub(crate) async fn round(&self) {
        let span = info_span!("backup_round", broker_id = %self.job.broker_id);
        let outcome = async {
            let at_ms = self.job.clock.now_ms();
            let metadata = self.job.metadata.as_ref();
            let lease = crate::lease::hold(
                metadata,
                LEASE_NAME,
                &self.job.broker_id,
                self.job.interval,
                at_ms,
            );
            match lease.await {
                Ok(true) => self.upload().await.map(|_| "uploaded"),
                Ok(false) => Ok("standby"),
                Err(error) => Err(error.into()),
            }
        };
        match outcome.instrument(span).await {
            Ok(outcome) => self.job.metrics.backup_round(outcome),
            Err(error) => self.failed(&error),
        }
    }

    /// The final backup of a clean shutdown, whoever holds the lease, within
    /// [`FINAL_UPLOAD_TIMEOUT`].
    pub(crate) async fn final_upload(&self) {
        let span = info_span!("backup_final", broker_id = %self.job.broker_id);
        let upload = tokio::time::timeout(FINAL_UPLOAD_TIMEOUT, self.upload().instrument(span));
        match upload.await {
            Ok(Ok(index)) => info!(index, "final metadata backup uploaded"),
            Ok(Err(error)) => {
                warn!(%error, "the final metadata backup failed: a restore would start from the previous one");
                self.job.metrics.backup_round("error");
            }
            Err(_) => {
                warn!("the final metadata backup did not finish within {FINAL_UPLOAD_TIMEOUT:?}");
                self.job.metrics.backup_round("error");
            }
        }
    }

    /// Logs and counts a failed backup.
    fn failed(&self, error: &BackupError) {
        if let BackupError::Foreign(_) = error {
            error!(%error, prefix = %self.job.store.prefix, "metadata backup refused");
            self.job.metrics.backup_round("refused");
        } else {
            warn!(%error, "metadata backup failed; trying again next round");
            self.job.metrics.backup_round("error");
        }
    }

    /// Takes a backup, uploads and records it, and deletes older ones; its log index.
    pub(crate) async fn upload(&self) -> Result<u64, BackupError> {
        self.check_owner().await?;
        let backup = self.job.metadata.backup().await?;
        let bytes = backup.file.len();
        objects::put(&self.job.store, backup.index, backup.file).await?;
        self.job.metadata.record_backup(backup.index).await?;
        self.job
            .metrics
            .backup_uploaded(backup.index, bytes, self.job.clock.now_ms());
        info!(index = backup.index, bytes, "metadata backup uploaded");
        match objects::prune(&self.job.store, backup.index).await {
            Ok(newer) if !newer.is_empty() => warn!(
                ?newer,
                root = %objects::root(&self.job.store.prefix),
                "the bucket holds metadata backups with a higher index than this cluster's newest, which it did not write (a copy? another cluster?): silt restore takes the newest that decodes and is this cluster's; delete them"
            ),
            Ok(_) => {}
            Err(error) => {
                warn!(%error, "older metadata backups were not deleted; the next upload tries again");
            }
        }
        Ok(backup.index)
    }

    /// Refuses a prefix whose marker names another cluster (writing the marker if absent).
    async fn check_owner(&self) -> Result<(), BackupError> {
        match self.job.owner().await? {
            Owner::Ours => Ok(()),
            Owner::Foreign(other) => Err(BackupError::Foreign(other)),
        }
    }
}

#[cfg(test)]
mod tests;
