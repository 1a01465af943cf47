//! Consumer-group routes: commit and read offsets, reset them, list, describe and delete
//! groups. A group is the ACL resource `group:NAME` ([`groups::resource`]): committing,
//! reading and resetting need `consume` on it and on every topic they touch (offsets of
//! topics the caller may not consume are left out of what it reads); deleting needs `admin`
//! on it. Each write is one Raft write in the metadata service.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use silt_metadata::types::{CommittedOffsetView, GroupView, OffsetCommit};
use silt_sdk::wire::{
    CommitOffsetsRequest, CommittedOffset, GroupDescription, GroupList, GroupOffsets, GroupSummary,
    ResetOffsetsRequest,
};
use tracing::Instrument;

use crate::auth::{Caller, Operation, audit, authorize};
use crate::groups;
use crate::http::ApiError;
use crate::http::validate;
use crate::state::AppState;

/// `PUT /v1/groups/{group}/offsets`
pub(crate) async fn commit(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<GroupOffsets>, ApiError> {
    let request: CommitOffsetsRequest =
        validate::json_body(body, state.config.server.max_request_bytes).await?;
    authorize_group(&caller, &group)?;
    authorize_topics(&caller, request.offsets.iter().map(|o| o.topic.as_str()))?;
    let member = (request.member_id.as_deref(), request.generation);
    let offsets = request.offsets.into_iter().map(offset_commit).collect();
    let span = tracing::info_span!("commit_offsets", group = %group);
    let committed = state.metadata.commit_offsets(&group, member, offsets);
    let committed = committed.instrument(span).await?;
    Ok(Json(group_offsets(group, committed)))
}

/// `GET /v1/groups/{group}/offsets`
pub(crate) async fn offsets(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<GroupOffsets>, ApiError> {
    authorize_group(&caller, &group)?;
    let view = state.metadata.describe_group(&group).await?;
    let offsets = readable(&caller, view.offsets);
    Ok(Json(GroupOffsets { group, offsets }))
}

/// `POST /v1/groups/{group}/offsets/reset`
pub(crate) async fn reset(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<GroupOffsets>, ApiError> {
    let request: ResetOffsetsRequest =
        validate::json_body(body, state.config.server.max_request_bytes).await?;
    authorize_group(&caller, &group)?;
    let topics = request.topics.as_deref();
    let metadata = state.metadata.as_ref();
    let partitions = groups::reset_partitions(metadata, &group, topics).await?;
    authorize_topics(&caller, partitions.iter().map(|(t, _)| t.as_str()))?;
    let timeout = state.config.server.request_timeout;
    let targets = groups::reset_targets(&state.fetcher, &request, partitions, timeout).await?;
    let span = tracing::info_span!("reset_offsets", group = %group);
    let set = metadata
        .reset_offsets(&group, targets)
        .instrument(span)
        .await?;
    Ok(Json(group_offsets(group, set)))
}

/// `GET /v1/groups`: the groups the caller may consume from, by name.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<GroupList>, ApiError> {
    let groups = state.metadata.list_groups().await?;
    let groups = groups
        .into_iter()
        .filter(|g| {
            caller
                .0
                .allows(Operation::Consume, &groups::resource(&g.group))
        })
        .map(|g| GroupSummary {
            group: g.group,
            state: "empty".to_owned(),
            generation: g.generation,
            members: 0,
            offsets: g.offsets,
        })
        .collect();
    Ok(Json(GroupList { groups }))
}

/// `GET /v1/groups/{group}`
pub(crate) async fn describe(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<GroupDescription>, ApiError> {
    authorize_group(&caller, &group)?;
    let view = state.metadata.describe_group(&group).await?;
    Ok(Json(description(&caller, view)))
}

/// `DELETE /v1/groups/{group}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    validate::group_name(&group)?;
    authorize(&caller, Operation::Admin, &groups::resource(&group))?;
    let result = state
        .metadata
        .delete_group(&group)
        .await
        .map_err(ApiError::from);
    let outcome = result.as_ref().map_or_else(|e| e.code.as_str(), |()| "ok");
    audit::admin(&caller.0.name, "delete_group", &group, outcome);
    result.map(|()| StatusCode::NO_CONTENT)
}

/// A valid group name and `consume` on the group.
fn authorize_group(caller: &Caller, group: &str) -> Result<(), ApiError> {
    validate::group_name(group)?;
    Ok(authorize(
        caller,
        Operation::Consume,
        &groups::resource(group),
    )?)
}

/// `consume` on each of `topics` (each checked once).
fn authorize_topics<'a>(
    caller: &Caller,
    topics: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    for topic in topics.collect::<BTreeSet<_>>() {
        authorize(caller, Operation::Consume, topic)?;
    }
    Ok(())
}

/// The offsets of topics `caller` may consume, in wire form.
fn readable(caller: &Caller, offsets: Vec<CommittedOffsetView>) -> Vec<CommittedOffset> {
    offsets
        .into_iter()
        .filter(|o| caller.0.allows(Operation::Consume, &o.topic))
        .map(committed_json)
        .collect()
}

/// A group's description as `caller` may see it.
fn description(caller: &Caller, view: GroupView) -> GroupDescription {
    GroupDescription {
        state: "empty".to_owned(),
        generation: view.generation,
        members: Vec::new(),
        offsets: readable(caller, view.offsets),
        group: view.group,
    }
}

/// The answer of a commit or a reset: the offsets it set.
fn group_offsets(group: String, set: Vec<CommittedOffsetView>) -> GroupOffsets {
    let offsets = set.into_iter().map(committed_json).collect();
    GroupOffsets { group, offsets }
}

/// The wire form of an offset to commit.
fn offset_commit(o: silt_sdk::wire::OffsetToCommit) -> OffsetCommit {
    OffsetCommit {
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        metadata: o.metadata,
    }
}

/// The wire form of a committed offset.
fn committed_json(o: CommittedOffsetView) -> CommittedOffset {
    CommittedOffset {
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        metadata: o.metadata,
        lag: o.lag,
        committed_at_ms: o.committed_at_ms,
    }
}
