//! Start-up recovery of the write-ahead cache.
//!
//! A segment in the spool was sealed but its commit was never confirmed: the broker died
//! between seal and commit, or the commit failed. Its requests were never acknowledged, so
//! committing it now is safe, and so is a commit that already happened (commits are
//! idempotent by object name: the state machine returns the original offsets). Each one is
//! uploaded (a conditional PUT that accepts an identical existing object), committed, and
//! removed, oldest first. A spool file that fails its checksum is discarded, never committed.

use std::time::Duration;

use bytes::Bytes;
use silt_bookie::segment::{SealedSegment, read_footer, read_segment};
use silt_bookie::store::paths;
use silt_bookie::upload::upload_segment;
use tracing::{info, warn};
use ulid::Ulid;

use crate::write::pipeline::{Digests, PipelineParts, commit_with_retry, segment_commit};

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
        recover_segment(parts, id, sealed).await?;
        recovered += 1;
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
/// segment.
async fn recover_segment(
    parts: &PipelineParts,
    id: Ulid,
    sealed: SealedSegment,
) -> anyhow::Result<()> {
    let object = paths::segment_path(&parts.store.prefix, id);
    upload_segment(&parts.store, &object, sealed.bytes.clone()).await?;
    // The footer keeps no digest: a retry of one of these requests is accepted as a
    // duplicate, as before digests existed.
    let commit = segment_commit(object.as_ref(), &sealed, &Digests::new());
    let deadline = tokio::time::Instant::now() + RECOVERY_COMMIT_DEADLINE;
    let metadata = parts.metadata.as_ref();
    commit_with_retry(metadata, &parts.metrics, vec![commit], Some(deadline), None)
        .await
        .map_err(|e| anyhow::anyhow!("recovery commit of {object} failed: {e}"))?;
    parts.spool.remove(id)?;
    parts.metrics.recovered_segments.inc();
    info!(segment = %id, %object, "recovered a sealed segment");
    Ok(())
}
