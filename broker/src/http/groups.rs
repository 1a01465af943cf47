//! Consumer-group routes: join, heartbeat, leave; commit and read offsets, reset them;
//! list, describe and delete groups. A group is the ACL resource `group:NAME`
//! ([`groups::resource`]): joining, heartbeating, leaving, committing, reading and resetting
//! need `consume` on it, and joining, committing and resetting on every topic they touch
//! (offsets of topics the caller may not consume are left out of what it reads); deleting
//! needs `admin` on it. Each write is one Raft write in the metadata service; a heartbeat
//! is answered by the metadata leader from memory.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use silt_metadata::types::{
    CommittedOffsetView, GroupView, MemberAssignment, MemberView, OffsetCommit,
    TopicPartition as Assigned,
};
use silt_sdk::wire::{
    CommitOffsetsRequest, CommittedOffset, GroupDescription, GroupList, GroupMember, GroupOffsets,
    GroupSummary, HeartbeatRequest, JoinGroupRequest, MemberState, ResetOffsetsRequest,
    TopicPartition,
};
use tracing::Instrument;

use crate::auth::{Caller, Operation, audit, authorize};
use crate::groups;
use crate::http::ApiError;
use crate::http::validate;
use crate::state::AppState;

/// `POST /v1/groups/{group}/members`: join (a Raft write; a new generation).
pub(crate) async fn join(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<MemberState>, ApiError> {
    let request: JoinGroupRequest =
        validate::json_body(body, state.config.server.max_request_bytes).await?;
    authorize_group(&caller, &group)?;
    authorize_topics(&caller, request.topics.iter().map(String::as_str))?;
    if let Some(member) = &request.member_id {
        validate::member_id(&group, member)?;
    }
    let join = groups::member_join(request)?;
    let span = tracing::info_span!("join_group", group = %group);
    let joined = state
        .metadata
        .join_group(&group, join)
        .instrument(span)
        .await?;
    Ok(Json(member_state(group, joined, false)))
}

/// `POST /v1/groups/{group}/members/{member}/heartbeat`: answered by the metadata leader
/// from memory, never a Raft write.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<MemberState>, ApiError> {
    let request: HeartbeatRequest = optional_body(&state, body).await?;
    authorize_group(&caller, &group)?;
    validate::member_id(&group, &member)?;
    let metadata = state.metadata.as_ref();
    let beat = metadata.group_heartbeat(&group, &member, request.generation);
    let beat = beat.await?;
    Ok(Json(member_state(group, beat.member, beat.rebalanced)))
}

/// `DELETE /v1/groups/{group}/members/{member}`: leave (a Raft write; a new generation).
pub(crate) async fn leave(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    authorize_group(&caller, &group)?;
    validate::member_id(&group, &member)?;
    state.metadata.leave_group(&group, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body that may be empty (then the default).
async fn optional_body<T: serde::de::DeserializeOwned + Default>(
    state: &AppState,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = validate::read_body(body, state.config.server.max_request_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))
}

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
    if let (Some(member), Some(_)) = (&request.member_id, request.generation) {
        validate::member_id(&group, member)?;
    }
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
    if partitions.is_empty() {
        // A group with neither offsets nor members: nothing to move.
        return Ok(Json(group_offsets(group, Vec::new())));
    }
    let targets = groups::reset_targets(&state.fetcher, &request, partitions, timeout).await?;
    let span = tracing::info_span!("reset_offsets", group = %group);
    let set = metadata.reset_offsets(&group, targets, request.force);
    let set = set.instrument(span).await?;
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
            state: state_name(g.members).to_owned(),
            group: g.group,
            generation: g.generation,
            members: u32::try_from(g.members).unwrap_or(u32::MAX),
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
pub(crate) fn authorize_group(caller: &Caller, group: &str) -> Result<(), ApiError> {
    validate::group_name(group)?;
    Ok(authorize(
        caller,
        Operation::Consume,
        &groups::resource(group),
    )?)
}

/// `consume` on each of `topics` (each checked once).
pub(crate) fn authorize_topics<'a>(
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
        state: state_name(view.members.len() as u64).to_owned(),
        generation: view.generation,
        members: view.members.into_iter().map(member_json).collect(),
        offsets: readable(caller, view.offsets),
        group: view.group,
    }
}

/// `empty` without members, else `stable` (assignments are computed when membership
/// changes, so a group is never between generations).
fn state_name(members: u64) -> &'static str {
    if members == 0 { "empty" } else { "stable" }
}

/// The wire form of a member.
fn member_json(m: MemberView) -> GroupMember {
    GroupMember {
        member_id: m.member_id,
        client_id: m.client_id,
        topics: m.topics,
        session_timeout_ms: m.session_timeout_ms,
        assignment: m.assignment.into_iter().map(partition_json).collect(),
    }
}

/// What a join or heartbeat answers; `rebalanced`: the member named an older generation.
fn member_state(group: String, m: MemberAssignment, rebalanced: bool) -> MemberState {
    let state = if rebalanced { "rebalance" } else { "stable" };
    MemberState {
        group,
        member_id: m.member_id,
        generation: m.generation,
        state: state.to_owned(),
        assignment: m.assignment.into_iter().map(partition_json).collect(),
        session_timeout_ms: m.session_timeout_ms,
    }
}

/// The wire form of an assigned partition.
fn partition_json(p: Assigned) -> TopicPartition {
    TopicPartition {
        topic: p.topic,
        partition: p.partition,
    }
}

/// The answer of a commit or a reset: the offsets it set.
fn group_offsets(group: String, set: Vec<CommittedOffsetView>) -> GroupOffsets {
    let offsets = set.into_iter().map(committed_json).collect();
    GroupOffsets { group, offsets }
}

/// The wire form of an offset to commit.
pub(crate) fn offset_commit(o: silt_sdk::wire::OffsetToCommit) -> OffsetCommit {
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
