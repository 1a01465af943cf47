//! The offset commits of a segment's requests on disk, beside its spool file
//! (`SegmentSpool::write_sidecar`): the segment footer keeps producer tags but not commits,
//! so without this a segment recovered after a crash would commit its requests' records
//! without their offsets. Written before the spool file (only for a segment with a
//! commit), as JSON of the `RequestOffsetCommit`s its commit entry carries; removed with
//! the spool file.

use silt_bookie::segment::ProducerTag;
use silt_metadata::types::RequestOffsetCommit;
use ulid::Ulid;

use super::commit::offset_commits;
use super::error::PipelineError;
use super::parts::PipelineParts;
use super::upload::{Digests, RequestFacts};

/// Writes segment `id`'s offset commits to its sidecar, if it has any.
pub(super) async fn write(
    parts: &PipelineParts,
    id: Ulid,
    digests: &Digests,
) -> Result<(), PipelineError> {
    let commits = offset_commits(digests);
    if commits.is_empty() {
        return Ok(());
    }
    let bytes = serde_json::to_vec(&commits).map_err(|e| {
        PipelineError::Unavailable(format!(
            "cannot encode the offset commits of segment {id}: {e}"
        ))
    })?;
    let spool = parts.spool.clone();
    tokio::task::spawn_blocking(move || spool.write_sidecar(id, &bytes))
        .await
        .map_err(|e| PipelineError::Unavailable(format!("sidecar write task failed: {e}")))?
        .map_err(|e| {
            PipelineError::Unavailable(format!(
                "cannot write the offset commits of segment {id}: {e}"
            ))
        })
}

/// The offset commits of spooled segment `id`'s requests, by producer tag (no digests:
/// the footer keeps none); empty without a sidecar. An unreadable sidecar is an error.
pub(crate) fn read(parts: &PipelineParts, id: Ulid) -> anyhow::Result<Digests> {
    let Some(bytes) = parts.spool.read_sidecar(id)? else {
        return Ok(Digests::new());
    };
    let commits: Vec<RequestOffsetCommit> = serde_json::from_slice(&bytes)?;
    Ok(commits.into_iter().map(facts).collect())
}

/// One request's facts from its offset commit.
fn facts(commit: RequestOffsetCommit) -> (ProducerTag, RequestFacts) {
    let tag = ProducerTag {
        producer_id: commit.producer_id,
        epoch: commit.epoch,
        sequence: commit.sequence,
    };
    let facts = RequestFacts {
        digest: None,
        commit: Some(commit.commit),
    };
    (tag, facts)
}
