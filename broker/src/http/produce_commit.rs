//! The `commit` of a JSON produce body: a consumer-group offset commit applied in the
//! same metadata entry as the request's records, or not at all. It is checked here
//! against the state machine's input rules (a malformed one must not ride in an entry
//! with other requests' segments) and needs an idempotent producer: the commit is bound
//! to the request by its producer tag, and the request's records then have chunks of
//! their own, which the state machine can refuse without touching other requests.

use silt_bookie::segment::ProducerTag;
use silt_metadata::types::GroupCommit;
use silt_sdk::wire::ProduceCommit;

use crate::auth::Caller;
use crate::http::groups::{authorize_group, authorize_topics, offset_commit};
use crate::http::{ApiError, validate};

/// The group commit of a produce body, checked; refused without a producer.
pub(crate) fn group_commit(
    commit: ProduceCommit,
    producer: Option<&ProducerTag>,
) -> Result<GroupCommit, ApiError> {
    if producer.is_none() {
        return Err(ApiError::invalid_request(format!(
            "commit (group {:?}) needs an idempotent producer: add \"producer\" from POST /v1/producers",
            commit.group
        )));
    }
    validate::group_name(&commit.group)?;
    if let (Some(member), Some(_)) = (&commit.member_id, commit.generation) {
        validate::member_id(&commit.group, member)?;
    }
    let commit = GroupCommit {
        group: commit.group,
        generation: commit.generation,
        member_id: commit.member_id,
        offsets: commit.offsets.into_iter().map(offset_commit).collect(),
    };
    commit
        .check()
        .map_err(|refusal| ApiError::from(silt_metadata::Error::Rejected(refusal)))?;
    Ok(commit)
}

/// A produce with a commit also needs `consume` on the group and on every topic whose
/// offsets it commits (as `PUT /v1/groups/{group}/offsets`).
pub(crate) fn authorize_commit(
    caller: &Caller,
    commit: Option<&GroupCommit>,
) -> Result<(), ApiError> {
    let Some(commit) = commit else {
        return Ok(());
    };
    authorize_group(caller, &commit.group)?;
    authorize_topics(caller, commit.offsets.iter().map(|o| o.topic.as_str()))
}
