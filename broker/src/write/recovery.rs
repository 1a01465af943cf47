//! Recovery of the write-ahead cache, in the background.
//!
//! A segment in the spool was sealed but its commit was never confirmed: the broker died
//! between seal and commit, or the commit failed (answered 504 `timeout`, in doubt). Its
//! requests were never acknowledged, so committing it now is safe, and so is a commit that
//! already happened (commits are idempotent by object name: the state machine returns the
//! original offsets). Each one is uploaded (a conditional PUT that accepts an identical
//! existing object), committed, and removed, oldest first. A spool file that fails its
//! checksum is discarded, never committed; one sealed longer ago than the commit horizon
//! ([`COMMIT_HORIZON_MS`](silt_metadata::limits::COMMIT_HORIZON_MS)) is refused by the state
//! machine and discarded too (its object stays recorded as an orphan for a sweeper).
//!
//! It runs as a task next to the live pipeline and server ([`spawn_recovery`]), so a broker
//! whose metadata service or object store is down at start still starts, serves what it
//! can and answers `/healthz`; it does not change `/readyz`. It owns only the files listed
//! before the pipeline started ([`backlog`]) and those the committer hands over as in doubt
//! (`pipeline::InDoubt`), never a file the live pipeline is still uploading or failing. The
//! backlog is retried with a growing backoff (up to `wal.recovery_interval`) until every
//! file is committed or dropped, with no deadline; in-doubt files every
//! `wal.recovery_interval`.
//!
//! Identity: before it commits anything, recovery learns the metadata cluster's id (retrying
//! until the service answers) and checks the spool's stamp ([`claim_spool`]). A spool
//! stamped by another cluster (a reused cache directory or volume) has its backlog moved
//! to `foreign-<that id>/` uncommitted, with an error log and the `foreign_segments`
//! metric: its topic ids name another cluster's topics, so committing it would put old
//! records into whatever topic has those ids here. The spool is then stamped with this
//! cluster's id; an unstamped spool (new, or older than stamps) is taken as this cluster's.
//!
//! Order: recovered segments commit interleaved with new ones, not before them. That is
//! safe: a recovered segment's requests were never acknowledged, so no producer waited on
//! them before sending later requests (a plain producer sends its next request only after
//! an answer, and its in-doubt request was answered `timeout`), an idempotent request
//! carries its producer tag in the footer and is admitted or refused by sequence whatever
//! the order, and a commit is idempotent by object name whichever task sends it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use silt_bookie::segment::{SealedSegment, read_footer, read_segment};
use silt_bookie::store::paths;
use silt_bookie::upload::upload_segment;
use tokio::task::JoinHandle;
use tracing::{Instrument, error, info, info_span, warn};
use ulid::Ulid;

use crate::write::pipeline::{
    Digests, PipelineParts, commit_with_retry, refused_as_too_old, segment_commit, sidecar,
};

/// How long one attempt retries one segment's commit before recovery moves on (and tries
/// it again on its next pass).
const RECOVERY_COMMIT_WINDOW: Duration = Duration::from_secs(30);
/// The first wait between passes while segments remain; it doubles up to the interval.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The segments an earlier run left in the spool; list them before the pipeline starts,
/// so that none of its own files is taken for one.
pub(crate) fn backlog(parts: &PipelineParts) -> anyhow::Result<BTreeSet<Ulid>> {
    Ok(parts.spool.pending()?.into_iter().collect())
}

/// Starts the background recovery of `backlog` and of in-doubt files; abort the task on
/// shutdown (a commit cut short is retried at the next start).
pub(crate) fn spawn_recovery(
    parts: Arc<PipelineParts>,
    backlog: BTreeSet<Ulid>,
    interval: Duration,
) -> JoinHandle<()> {
    if !backlog.is_empty() {
        info!(
            segments = backlog.len(),
            "recovering sealed segments left by an earlier run, in the background"
        );
    }
    let span = info_span!("spool_recovery");
    tokio::spawn(recovery_loop(parts, backlog, interval).instrument(span))
}

/// Retries `pending` (and what the committer hands over) until shut down.
async fn recovery_loop(parts: Arc<PipelineParts>, mut pending: BTreeSet<Ulid>, interval: Duration) {
    claim_spool(&parts, &mut pending, interval).await;
    let mut wait = FIRST_RETRY.min(interval);
    loop {
        pending.extend(parts.in_doubt.take());
        if !pending.is_empty() {
            recover_pass(&parts, &mut pending).await;
        }
        wait = next_wait(wait, interval, pending.is_empty());
        tokio::time::sleep(wait).await;
    }
}

/// Makes the spool this cluster's before anything in it is committed ([`try_claim_spool`]),
/// retrying with backoff (up to `interval`) while the metadata service or the disk fails.
async fn claim_spool(parts: &PipelineParts, pending: &mut BTreeSet<Ulid>, interval: Duration) {
    let mut wait = FIRST_RETRY.min(interval);
    while let Err(error) = try_claim_spool(parts, pending).await {
        warn!(
            error = format!("{error:#}"),
            "cannot check which cluster the spool belongs to yet; nothing is recovered until then"
        );
        tokio::time::sleep(wait).await;
        wait = next_wait(wait, interval, false);
    }
}

/// Learns the cluster id; sets `pending` aside if the spool is stamped by another cluster,
/// and stamps the spool with this cluster's id.
pub(crate) async fn try_claim_spool(
    parts: &PipelineParts,
    pending: &mut BTreeSet<Ulid>,
) -> anyhow::Result<()> {
    let cluster = parts.metadata.cluster_id().await?;
    match parts.spool.cluster_stamp()? {
        Some(stamp) if stamp == cluster => return Ok(()),
        Some(stamp) => set_aside_foreign(parts, pending, &stamp, &cluster)?,
        None => {}
    }
    parts.spool.stamp_cluster(&cluster)?;
    Ok(())
}

/// Moves `pending`, left by cluster `stamp`, out of the spool uncommitted.
fn set_aside_foreign(
    parts: &PipelineParts,
    pending: &mut BTreeSet<Ulid>,
    stamp: &str,
    cluster: &str,
) -> anyhow::Result<()> {
    let ids: Vec<Ulid> = pending.iter().copied().collect();
    let folder = parts.spool.set_aside(&ids, stamp)?;
    pending.clear();
    parts.metrics.foreign_segments.inc_by(ids.len() as u64);
    error!(
        segments = ids.len(),
        spool_cluster = stamp,
        cluster,
        folder = %folder.display(),
        "the spool was left by another metadata cluster (a reused cache directory?): its segments are set aside, never committed here"
    );
    Ok(())
}

/// The wait before the next pass: the interval when nothing is left, else the backoff.
fn next_wait(wait: Duration, interval: Duration, done: bool) -> Duration {
    if done {
        interval
    } else {
        (wait * 2).min(interval)
    }
}

/// Tries each of `pending` once, oldest first; removes those committed or dropped and
/// returns how many were committed.
pub(crate) async fn recover_pass(parts: &PipelineParts, pending: &mut BTreeSet<Ulid>) -> usize {
    let mut recovered = 0;
    for id in pending.clone() {
        match recover_file(parts, id).await {
            Ok(committed) => {
                pending.remove(&id);
                recovered += usize::from(committed);
            }
            Err(error) => {
                warn!(error = format!("{error:#}"), segment = %id, "spooled segment not recovered yet; retrying later");
            }
        }
    }
    recovered
}

/// Recovers one spool file; `true` if it was committed, `false` if it was gone, corrupt or
/// too old (and is now dropped).
async fn recover_file(parts: &PipelineParts, id: Ulid) -> anyhow::Result<bool> {
    let Some(bytes) = parts.spool.read(id)? else {
        return Ok(false);
    };
    let Some(sealed) = verified(parts, id, bytes)? else {
        return Ok(false);
    };
    let Some(facts) = offset_commits(parts, id)? else {
        return Ok(false);
    };
    recover_segment(parts, id, sealed, &facts).await
}

/// The offset commits riding with a spooled segment's requests (its sidecar); `None`, and
/// the segment discarded, if the sidecar is unreadable: committing the records without
/// their offsets would break the promise, and none of them was acknowledged.
fn offset_commits(parts: &PipelineParts, id: Ulid) -> anyhow::Result<Option<Digests>> {
    match sidecar::read(parts, id) {
        Ok(facts) => Ok(Some(facts)),
        Err(error) => {
            warn!(%error, segment = %id, "spooled segment's offset commits are unreadable; discarding it (it was never acknowledged)");
            parts.spool.remove(id)?;
            Ok(None)
        }
    }
}

/// The spooled segment if every checksum holds; otherwise its spool file is discarded.
fn verified(
    parts: &PipelineParts,
    id: Ulid,
    bytes: Bytes,
) -> anyhow::Result<Option<SealedSegment>> {
    // Verify every chunk, not only the footer: a segment that fails any checksum is
    // never committed (its requests were never acknowledged, so dropping it is safe).
    match read_footer(&bytes).and_then(|chunks| {
        read_segment(&bytes)?;
        Ok(chunks)
    }) {
        Ok(chunks) => Ok(Some(SealedSegment { bytes, chunks })),
        Err(error) => {
            warn!(%error, segment = %id, "spooled segment fails its checksums; discarding it (it was never acknowledged)");
            parts.spool.remove(id)?;
            Ok(None)
        }
    }
}

/// Uploads (an identical existing object is accepted), commits and removes one spooled
/// segment; `false` if the state machine refused it as older than the commit horizon (its
/// spool file is dropped all the same: none of its requests was acknowledged).
async fn recover_segment(
    parts: &PipelineParts,
    id: Ulid,
    sealed: SealedSegment,
    facts: &Digests,
) -> anyhow::Result<bool> {
    let object = paths::segment_path(&parts.store.prefix, id);
    upload_segment(&parts.store, &object, sealed.bytes.clone()).await?;
    // The footer keeps no digest: a retry of one of these requests is accepted as a
    // duplicate, as before digests existed. Offset commits come from the sidecar.
    let size = sealed.bytes.len() as u64;
    let commit = segment_commit(id, object.as_ref(), size, &sealed.chunks, facts);
    let deadline = tokio::time::Instant::now() + RECOVERY_COMMIT_WINDOW;
    let metadata = parts.metadata.as_ref();
    let results = commit_with_retry(metadata, &parts.metrics, vec![commit], Some(deadline), None)
        .await
        .map_err(|e| anyhow::anyhow!("recovery commit of {object} failed: {e}"))?;
    parts.spool.remove(id)?;
    if results.first().is_some_and(refused_as_too_old) {
        warn!(segment = %id, %object, "spooled segment is older than the commit horizon; dropped uncommitted (it was never acknowledged; the object is recorded as an orphan)");
        return Ok(false);
    }
    parts.metrics.recovered_segments.inc();
    info!(segment = %id, %object, "recovered a sealed segment");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use silt_bookie::batch::Compression;
    use silt_bookie::segment::SegmentBuilder;
    use silt_bookie::store::ObjectStoreHandle;
    use silt_metadata::limits::COMMIT_HORIZON_MS;
    use ulid::Ulid;

    use super::{backlog, recover_pass, try_claim_spool};
    use crate::write::pipeline::PipelineParts;
    use crate::write::pipeline::testing::{Harness, append};

    /// One recovery pass over what the spool holds; how many segments it committed.
    async fn recover_spool(parts: &PipelineParts) -> anyhow::Result<usize> {
        Ok(recover_pass(parts, &mut backlog(parts)?).await)
    }

    /// Spools a one-record segment for partition 0 of topic `t`, sealed `age_ms` ago.
    fn spool_segment(harness: &Harness, age_ms: i64) -> Ulid {
        let now = harness.parts.clock.now_ms();
        let sealed_at = u64::try_from(now - age_ms).unwrap();
        let id = Ulid::from_parts(sealed_at, 7);
        let mut builder = SegmentBuilder::new();
        let records = append(0, 1).records;
        builder.append(1, 0, Compression::None, None, &records);
        let sealed = builder.finish().unwrap();
        harness.parts.spool.write_sealed(id, &sealed.bytes).unwrap();
        id
    }

    /// Partition 0's high watermark of topic `t`.
    async fn high_watermark(harness: &Harness) -> u64 {
        let topic = harness.parts.metadata.describe_topic("t").await.unwrap();
        topic.partitions[0].high_watermark
    }

    #[tokio::test]
    async fn a_spooled_segment_older_than_the_commit_horizon_is_dropped_uncommitted() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        spool_segment(&harness, COMMIT_HORIZON_MS + 60_000);
        let recovered = recover_spool(&harness.parts).await.unwrap();
        assert_eq!(recovered, 0);
        assert_eq!(high_watermark(&harness).await, 0);
        assert_eq!(harness.parts.spool.pending().unwrap(), vec![]);
        let orphans = harness.parts.metadata.orphans(10).await.unwrap();
        assert_eq!(orphans.count, 1);
        assert!(orphans.objects[0].1 > 0, "{orphans:?}");
        // A segment within the horizon is still recovered.
        spool_segment(&harness, 60_000);
        assert_eq!(recover_spool(&harness.parts).await.unwrap(), 1);
        assert_eq!(high_watermark(&harness).await, 1);
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_segment_handed_over_in_doubt_is_committed_by_the_background_recovery() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let id = spool_segment(&harness, 1_000);
        let recovery = super::spawn_recovery(
            harness.parts.clone(),
            Default::default(),
            std::time::Duration::from_millis(10),
        );
        harness.parts.in_doubt.add(id);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while !harness.parts.spool.pending().unwrap().is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "never recovered");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(high_watermark(&harness).await, 1);
        recovery.abort();
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_spool_of_another_cluster_is_set_aside_and_this_clusters_is_kept() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let parts = &harness.parts;
        let ours = parts.metadata.cluster_id().await.unwrap();
        let old = spool_segment(&harness, 1_000);
        parts.spool.stamp_cluster("another-cluster").unwrap();
        let mut pending = backlog(parts).unwrap();
        try_claim_spool(parts, &mut pending).await.unwrap();
        assert!(pending.is_empty(), "{pending:?}");
        let aside = parts.spool.dir().join("foreign-another-cluster");
        assert!(aside.join(format!("{old}.seg")).exists());
        assert_eq!(parts.spool.cluster_stamp().unwrap(), Some(ours));
        assert_eq!(parts.metrics.foreign_segments.get(), 1);
        // Stamped by this cluster: the backlog stays and is committed.
        spool_segment(&harness, 1_000);
        let mut pending = backlog(parts).unwrap();
        try_claim_spool(parts, &mut pending).await.unwrap();
        assert_eq!(recover_pass(parts, &mut pending).await, 1);
        assert_eq!(high_watermark(&harness).await, 1);
        harness.stop().await;
    }
}
