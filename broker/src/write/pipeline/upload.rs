//! Upload: a sealed segment becomes one object (a conditional PUT under a unique name),
//! with a copy in the spool for crash recovery.
//!
//! With an upload slot free, the spool copy is written while the PUT runs, so it adds no
//! latency. Without one, the segment waits on disk, not in memory, so memory stays bounded
//! by the open segment and the uploads in flight. A failed upload is recorded as a possible
//! orphan (a lost response may have landed it) and its spool file is dropped: its appends
//! fail and nothing will commit it.
//!
//! Every path that fails a segment while its spool file may exist removes the file first
//! ([`drop_spool_file`]); where that fails, or the upload task panicked, the appends get
//! [`PipelineError::OutcomeUnknown`] (504 `timeout`, in doubt), never `unavailable` (503,
//! "not written"), because recovery would commit the surviving file.

use std::sync::Arc;

use bytes::Bytes;
use silt_bookie::segment::{ChunkInfo, SealedSegment, SegmentBuilder};
use silt_bookie::store::paths;
use silt_bookie::upload::upload_segment;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tracing::{Instrument, info_span, warn};
use ulid::Ulid;

use super::error::PipelineError;
use super::held::Held;
use super::parts::PipelineParts;
use super::waiter::Waiter;

/// What the commit needs of each producer request staged in one segment beyond its chunks
/// (content digest, offset commit), by tag: it rides with the sealed segment to its commit.
pub(crate) type Digests =
    std::collections::HashMap<silt_bookie::segment::ProducerTag, RequestFacts>;

/// An idempotent request's content digest and the offset commit riding with it: two
/// requests under one producer tag are the same request only if these are equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestFacts {
    /// The content digest (`None` without a producer tag).
    pub(crate) digest: Option<u64>,
    /// The offset commit applied in the same Raft entry as the request's records.
    pub(crate) commit: Option<silt_metadata::types::GroupCommit>,
}

impl RequestFacts {
    /// Whether the commit needs to know any of these.
    fn is_known(&self) -> bool {
        self.digest.is_some() || self.commit.is_some()
    }
}

/// The known facts of staged requests, by tag.
pub(super) fn known_facts(
    staged: impl Iterator<Item = (silt_bookie::segment::ProducerTag, RequestFacts)>,
) -> Digests {
    staged.filter(|(_, facts)| facts.is_known()).collect()
}

/// The outcome of one sealed segment's upload, handed to the committer.
pub(super) struct Uploaded {
    /// Seal order, from 1.
    pub(super) sequence: u64,
    pub(super) result: Result<UploadedSegment, PipelineError>,
    pub(super) waiters: Vec<Waiter>,
}

/// A segment in the bucket, awaiting its commit: what the commit needs, and its bytes
/// only if they fit the held-bytes bound (see [`super::held`]).
pub(super) struct UploadedSegment {
    pub(super) id: Ulid,
    pub(super) object: String,
    /// The object's size.
    pub(super) size: u64,
    /// Its chunks, in object order.
    pub(super) chunks: Vec<ChunkInfo>,
    /// Its bytes, to feed the hot cache at commit; `None` past the bound.
    pub(super) held: Option<Held>,
    /// Content digests of its producer requests, by tag, for the commit.
    pub(super) digests: Digests,
}

/// A sealed segment as the actor hands it over.
pub(super) struct Sealed {
    /// Seal order, from 1.
    pub(super) sequence: u64,
    /// The segment's id (its object and spool file name).
    pub(super) id: Ulid,
    /// Its content.
    pub(super) builder: SegmentBuilder,
    /// The appends waiting for its commit.
    pub(super) waiters: Vec<Waiter>,
    /// Content digests of its producer requests, by tag.
    pub(super) digests: Digests,
}

/// Uploads one sealed segment and hands the outcome to the committer. The upload runs in
/// its own task so that a panic becomes an error: the committer always gets this sequence
/// number and the actor's in-flight count always comes back down.
pub(super) async fn upload_sealed(
    parts: Arc<PipelineParts>,
    uploads: Arc<Semaphore>,
    sealed: Sealed,
    commit_tx: mpsc::UnboundedSender<Uploaded>,
    upload_done: mpsc::UnboundedSender<()>,
) {
    let Sealed {
        sequence,
        id,
        builder,
        waiters,
        digests,
    } = sealed;
    let upload = tokio::spawn(async move {
        super::sidecar::write(&parts, id, &digests).await?;
        let uploaded = seal_and_upload(&parts, id, builder, &uploads).await;
        uploaded.map(|segment| UploadedSegment { digests, ..segment })
    });
    let result = upload_task_outcome(upload.await);
    let _ = commit_tx.send(Uploaded {
        sequence,
        result,
        waiters,
    });
    let _ = upload_done.send(());
}

/// The upload task's result. A task that panicked is in doubt, never `unavailable`: its
/// spool file may exist (a blocking spool write may even still be running), and recovery
/// would then commit it.
fn upload_task_outcome(
    joined: Result<Result<UploadedSegment, PipelineError>, tokio::task::JoinError>,
) -> Result<UploadedSegment, PipelineError> {
    joined.unwrap_or_else(|error| {
        warn!(%error, "segment upload task panicked; its requests are in doubt");
        Err(PipelineError::OutcomeUnknown(format!(
            "segment upload task panicked ({error}); its spool copy may survive and be committed by recovery, so the records may or may not appear"
        )))
    })
}

/// Finishes the segment, writes it to the spool and uploads it.
async fn seal_and_upload(
    parts: &PipelineParts,
    id: Ulid,
    builder: SegmentBuilder,
    uploads: &Arc<Semaphore>,
) -> Result<UploadedSegment, PipelineError> {
    let object = paths::segment_path(&parts.store.prefix, id);
    let span = info_span!("segment_upload", segment = %id, bytes = tracing::field::Empty);
    async {
        let started = Instant::now();
        let sealed = finish(id, builder).await?;
        tracing::Span::current().record("bytes", sealed.bytes.len());
        let (_permit, sealed) = put(parts, id, &object, sealed, uploads).await?;
        crate::failpoints::reached("upload.after_put", &object);
        parts
            .metrics
            .segment_uploaded(sealed.bytes.len(), started.elapsed());
        let SealedSegment { bytes, chunks } = sealed;
        Ok(UploadedSegment {
            id,
            object: object.to_string(),
            size: bytes.len() as u64,
            chunks,
            held: parts.held.try_hold(bytes),
            digests: Digests::new(),
        })
    }
    .instrument(span)
    .await
}

/// Uploads the segment, with the spool copy written alongside if an upload slot is free,
/// else from the spool once one is; a failed upload is recorded as a possible orphan. The
/// slot's permit comes back with the segment, held until the upload is counted.
async fn put(
    parts: &PipelineParts,
    id: Ulid,
    object: &object_store::path::Path,
    sealed: SealedSegment,
    uploads: &Arc<Semaphore>,
) -> Result<(OwnedSemaphorePermit, SealedSegment), PipelineError> {
    let (permit, sealed, uploaded) = match uploads.clone().try_acquire_owned() {
        Ok(permit) => upload_with_spool_copy(parts, id, object, sealed, permit).await,
        Err(_) => upload_from_spool(parts, id, object, sealed, uploads).await?,
    };
    match uploaded {
        Ok(()) => Ok((permit, sealed)),
        Err(error) => Err(upload_failed(parts, id, object, error)),
    }
}

/// A slot's permit, the segment, and whether its PUT succeeded.
type UploadOutcome = (
    OwnedSemaphorePermit,
    SealedSegment,
    Result<(), silt_bookie::Error>,
);

/// Builds the segment's bytes and footer off the async workers.
async fn finish(id: Ulid, builder: SegmentBuilder) -> Result<SealedSegment, PipelineError> {
    tokio::task::spawn_blocking(move || builder.finish())
        .await
        .map_err(|e| PipelineError::Unavailable(format!("segment seal task failed: {e}")))?
        .map_err(|e| PipelineError::Unavailable(format!("cannot seal segment {id}: {e}")))
}

/// A slot is free: the spool copy (for recovery) is written while the PUT runs.
async fn upload_with_spool_copy(
    parts: &PipelineParts,
    id: Ulid,
    object: &object_store::path::Path,
    sealed: SealedSegment,
    permit: OwnedSemaphorePermit,
) -> UploadOutcome {
    let (spooled, uploaded) = tokio::join!(
        write_spool(parts, id, sealed.bytes.clone()),
        upload_segment(&parts.store, object, sealed.bytes.clone())
    );
    if let Err(error) = spooled {
        // The segment is still committed; only crash recovery loses its copy.
        warn!(error, "segment not spooled; it is committed from memory");
    }
    (permit, sealed, uploaded)
}

/// No slot: the segment waits on disk for one, then is read back and uploaded.
async fn upload_from_spool(
    parts: &PipelineParts,
    id: Ulid,
    object: &object_store::path::Path,
    sealed: SealedSegment,
    uploads: &Arc<Semaphore>,
) -> Result<UploadOutcome, PipelineError> {
    let SealedSegment { bytes, chunks } = sealed;
    write_spool(parts, id, bytes)
        .await
        .map_err(|error| drop_spool_file(parts, id, PipelineError::Unavailable(error)))?;
    let permit = uploads
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| drop_spool_file(parts, id, PipelineError::ShuttingDown))?;
    let bytes = read_spool(parts, id)
        .await
        .map_err(|error| drop_spool_file(parts, id, error))?;
    let uploaded = upload_segment(&parts.store, object, bytes.clone()).await;
    Ok((permit, SealedSegment { bytes, chunks }, uploaded))
}

/// Writes the segment's spool file (off the async workers).
async fn write_spool(parts: &PipelineParts, id: Ulid, bytes: Bytes) -> Result<(), String> {
    let spool = parts.spool.clone();
    tokio::task::spawn_blocking(move || spool.write_sealed(id, &bytes))
        .await
        .map_err(|e| format!("spool write task failed: {e}"))?
        .map_err(|e| format!("cannot write segment {id} to the spool: {e}"))
}

/// Reads a spooled segment back (off the async workers).
async fn read_spool(parts: &PipelineParts, id: Ulid) -> Result<Bytes, PipelineError> {
    let spool = parts.spool.clone();
    tokio::task::spawn_blocking(move || spool.read(id))
        .await
        .map_err(|e| PipelineError::Unavailable(format!("spool read task failed: {e}")))?
        .map_err(|e| PipelineError::Unavailable(format!("cannot read spooled segment {id}: {e}")))?
        .ok_or_else(|| PipelineError::Unavailable(format!("spooled segment {id} vanished")))
}

/// Records the object as a possible orphan, drops its spool file and names the failure.
fn upload_failed(
    parts: &PipelineParts,
    id: Ulid,
    object: &object_store::path::Path,
    error: silt_bookie::Error,
) -> PipelineError {
    warn!(%error, segment = %id, "segment upload failed; its requests fail");
    record_orphan(parts, object.to_string());
    let failed = PipelineError::Unavailable(format!("object store upload failed: {error}"));
    drop_spool_file(parts, id, failed)
}

/// Fails a segment that will not be committed: its spool file is removed, so recovery
/// never commits records whose requests were failed. If the file cannot be removed, the
/// records may still appear, so the answer is outcome-unknown (504), never `unavailable`
/// (503), after which plain producers retry and could duplicate them.
fn drop_spool_file(parts: &PipelineParts, id: Ulid, error: PipelineError) -> PipelineError {
    match parts.spool.remove(id) {
        Ok(()) => error,
        Err(remove) => {
            warn!(error = %remove, segment = %id, "cannot remove the spool file of a failed segment; its requests are in doubt");
            PipelineError::OutcomeUnknown(format!(
                "{error}; the segment's spool file could not be removed ({remove}), so crash recovery may still commit these records"
            ))
        }
    }
}

/// Records (in the background, best effort) an object whose upload failed: it may exist
/// all the same (a lost response), and nothing will ever commit it.
fn record_orphan(parts: &PipelineParts, object: String) {
    let metadata = parts.metadata.clone();
    let at_ms = parts.clock.now_ms();
    tokio::spawn(async move {
        if let Err(error) = metadata.record_orphans(vec![object.clone()], at_ms).await {
            warn!(%error, object, "cannot record an orphaned object for garbage collection");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use silt_bookie::store::ObjectStoreHandle;
    use silt_bookie::store::faults::{FaultConfig, FaultControl, LatencyModel};

    use super::super::testing::{Harness, append, policy};
    use super::super::{PipelineError, WritePipeline};

    #[tokio::test]
    async fn a_failed_upload_fails_its_appends_drops_the_spool_file_and_records_an_orphan() {
        let control = FaultControl::new(FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        });
        let store = ObjectStoreHandle::in_memory().with_faults(control.clone());
        let harness = Harness::new(store).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let failed = pipeline.append(vec![append(0, 1)]).await;
        assert!(
            matches!(&failed, Err(PipelineError::Unavailable(m)) if m.contains("upload failed")),
            "{failed:?}"
        );
        assert_eq!(harness.parts.spool.pending().unwrap(), vec![]);
        let mut orphans = 0;
        for _ in 0..100 {
            orphans = harness.parts.metadata.orphans(10).await.unwrap().count;
            if orphans > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(orphans, 1);
        // Nothing was committed: once the store heals, the partition starts at 0.
        control.clear();
        assert_eq!(pipeline.append(vec![append(0, 1)]).await.unwrap(), vec![0]);
        pipeline.close().await;
        harness.stop().await;
    }

    /// A pipeline with one upload slot, 1 KiB segments and PUTs slowed by `put_latency`,
    /// so that segments queue for the slot.
    async fn one_slot_pipeline(put_latency: Duration) -> (Harness, WritePipeline) {
        let control = FaultControl::new(FaultConfig {
            put: LatencyModel::Fixed(put_latency),
            ..FaultConfig::default()
        });
        let harness = Harness::new(ObjectStoreHandle::in_memory().with_faults(control)).await;
        let mut one_slot = policy();
        one_slot.max_uploads_in_flight = 1;
        one_slot.max_segment_bytes = 1024;
        let pipeline = WritePipeline::start(harness.parts.clone(), one_slot);
        (harness, pipeline)
    }

    #[tokio::test]
    async fn segments_waiting_for_a_slot_wait_on_disk_and_are_uploaded_from_it() {
        let (harness, pipeline) = one_slot_pipeline(Duration::from_millis(30)).await;
        let appends = (0..6).map(|_| pipeline.append(vec![append(0, 200)]));
        let results = futures::future::join_all(appends).await;
        let mut offsets: Vec<u64> = results.into_iter().map(|r| r.unwrap()[0]).collect();
        offsets.sort_unstable();
        assert_eq!(offsets, vec![0, 200, 400, 600, 800, 1000]);
        // Six records of 200 bytes do not fit a 1 KiB segment: several segments were uploaded.
        assert!(harness.parts.metrics.segments_uploaded.get() >= 2);
        assert_eq!(harness.parts.spool.pending().unwrap(), vec![]);
        pipeline.close().await;
        harness.stop().await;
    }

    /// Waits (bounded) until the spool holds `count` segment files; returns their ids.
    async fn spooled(harness: &Harness, count: usize) -> Vec<ulid::Ulid> {
        for _ in 0..2_000 {
            let pending = harness.parts.spool.pending().unwrap();
            if pending.len() >= count {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the spool never held {count} segment files");
    }

    /// Replaces a spool file by a non-empty directory of the same name, so that reading
    /// and removing it fail (even for root, unlike a read-only directory).
    fn make_unremovable(harness: &Harness, id: ulid::Ulid) {
        let path = harness.parts.spool.segment_file(id);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("pinned"), b"x").unwrap();
    }

    #[tokio::test]
    async fn a_failed_upload_whose_spool_file_cannot_be_removed_is_outcome_unknown() {
        let control = FaultControl::new(FaultConfig {
            put: LatencyModel::Fixed(Duration::from_millis(200)),
            error_rate: 1.0,
            ..FaultConfig::default()
        });
        let store = ObjectStoreHandle::in_memory().with_faults(control);
        let harness = Harness::new(store).await;
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        let append = tokio::spawn({
            let pipeline = pipeline.clone();
            async move { pipeline.append(vec![append(0, 1)]).await }
        });
        let ids = spooled(&harness, 1).await;
        make_unremovable(&harness, ids[0]);
        let failed = append.await.unwrap();
        assert!(
            matches!(&failed, Err(PipelineError::OutcomeUnknown(m)) if m.contains("could not be removed")),
            "{failed:?}"
        );
        pipeline.close().await;
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_segment_waiting_for_a_slot_whose_file_cannot_be_read_or_removed_is_outcome_unknown()
    {
        let (harness, pipeline) = one_slot_pipeline(Duration::from_millis(300)).await;
        let spawn_append = |partition| {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { pipeline.append(vec![append(partition, 2_000)]).await })
        };
        let first = spawn_append(0);
        spooled(&harness, 1).await;
        // Sealed while the first holds the only slot: it waits in the spool.
        let second = spawn_append(1);
        let ids = spooled(&harness, 2).await;
        make_unremovable(&harness, ids[1]);
        assert_eq!(first.await.unwrap().unwrap(), vec![0]);
        let failed = second.await.unwrap();
        assert!(
            matches!(&failed, Err(PipelineError::OutcomeUnknown(m)) if m.contains("could not be removed")),
            "{failed:?}"
        );
        pipeline.close().await;
        harness.stop().await;
    }

    /// Stands in for an upload task that panics.
    fn exploding_upload() -> Result<super::UploadedSegment, PipelineError> {
        panic!("injected upload panic")
    }

    #[tokio::test]
    async fn a_panicked_upload_task_is_outcome_unknown() {
        let joined = tokio::spawn(async { exploding_upload() }).await;
        let outcome = super::upload_task_outcome(joined);
        assert!(
            matches!(&outcome, Err(PipelineError::OutcomeUnknown(m)) if m.contains("panicked")),
            "{:?}",
            outcome.err()
        );
    }
}
