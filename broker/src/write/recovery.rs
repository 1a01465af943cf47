//! Start-up recovery of the write-ahead cache.
//!
//! A segment in the spool was sealed but its commit was never confirmed: the broker died
//! between seal and commit, or the commit failed. Its requests were never acknowledged, so
//! committing it now is safe, and so is a commit that already happened (commits are
//! idempotent by object name: the state machine returns the original offsets). Each one is
//! uploaded (a conditional PUT that accepts an identical existing object), committed, and
//! removed, oldest first. A spool file that fails its checksum is discarded, never committed;
//! one sealed longer ago than the commit horizon
//! ([`COMMIT_HORIZON_MS`](silt_metadata::limits::COMMIT_HORIZON_MS)) is refused by the state
//! machine and discarded too (its object stays recorded as an orphan for a sweeper).

use std::time::Duration;

use bytes::Bytes;
use silt_bookie::segment::{SealedSegment, read_footer, read_segment};
use silt_bookie::store::paths;
use silt_bookie::upload::upload_segment;
use tracing::{info, warn};
use ulid::Ulid;

use crate::write::pipeline::{
    Digests, PipelineParts, commit_with_retry, refused_as_too_old, segment_commit,
};

/// How long recovery retries one segment's commit before start-up fails.
const RECOVERY_COMMIT_DEADLINE: Duration = Duration::from_secs(30);

/// Commits every sealed-but-uncommitted segment in the spool; returns how many.
pub(crate) async fn recover_spool(parts: &PipelineParts) -> anyhow::Result<usize> {
    let mut recovered = 0;
    for id in parts.spool.pending()? {
        let Some(bytes) = parts.spool.read(id)? else {
            continue;
        };
        let Some(sealed) = verified(parts, id, bytes)? else {
            continue;
        };
        if recover_segment(parts, id, sealed).await? {
            recovered += 1;
        }
    }
    Ok(recovered)
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
) -> anyhow::Result<bool> {
    let object = paths::segment_path(&parts.store.prefix, id);
    upload_segment(&parts.store, &object, sealed.bytes.clone()).await?;
    // The footer keeps no digest: a retry of one of these requests is accepted as a
    // duplicate, as before digests existed.
    let commit = segment_commit(id, object.as_ref(), &sealed, &Digests::new());
    let deadline = tokio::time::Instant::now() + RECOVERY_COMMIT_DEADLINE;
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

    use super::recover_spool;
    use crate::write::pipeline::testing::{Harness, append};

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
}
