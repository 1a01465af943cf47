//! Topic routes: create (within the cluster quotas), list (in pages by name), describe,
//! delete; changing a topic's config is `topic_config`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use silt_metadata::types::TopicView;
use silt_sdk::wire::{
    CreateTopicRequest, DEFAULT_TOPIC_PAGE, ErrorCode, MAX_TOPIC_PAGE, PartitionInfo, Topic,
    TopicList,
};

use axum::Extension;

use crate::auth::{self, Caller, Operation, audit, authorize};
use crate::config::RetentionSection;
use crate::http::validate;
use crate::http::{ApiError, topic_config};
use crate::quota;
use crate::state::AppState;

/// Query parameters `GET /v1/topics` accepts.
const LIST_PARAMETERS: &[&str] = &["limit", "after"];

/// Compression names a topic may use.
pub(crate) const COMPRESSIONS: &[&str] = &["none", "zstd"];

/// `POST /v1/topics`
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<Topic>), ApiError> {
    let body = validate::json_body(body, state.config.server.max_request_bytes).await?;
    let request = topic_config::create_request(body)?;
    validate::topic_name(&request.name)?;
    authorize(&caller, Operation::Admin, &request.name)?;
    let result = create_checked(&state, &caller, &request).await;
    audited(&caller, "create_topic", &request.name, result)
}

/// Writes the admin operation's outcome to the audit log.
pub(crate) fn audited<T>(
    caller: &Caller,
    operation: &str,
    topic: &str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = result.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
    audit::admin(&caller.0.name, operation, topic, outcome);
    result
}

/// Checks the partition count, the config and the quotas (the cluster's and the
/// caller's), then creates the topic, owned by the caller when authentication is on.
async fn create_checked(
    state: &AppState,
    caller: &Caller,
    request: &CreateTopicRequest,
) -> Result<(StatusCode, Json<Topic>), ApiError> {
    check_create(request, state.config.server.max_partitions_per_topic)?;
    let settings = topic_config::settings_of(&request.config);
    let metadata = state.metadata.as_ref();
    quota::check_topic(metadata, &state.config.server, request.partitions).await?;
    let (name, quota) = (&caller.0.name, &caller.0.quota);
    quota::check_principal_topic(metadata, name, quota, request.partitions).await?;
    let owner = owner_of(state, caller);
    let now = state.clock.now_ms();
    let view = metadata
        .create_owned_topic(&request.name, request.partitions, settings, now, owner)
        .await?;
    let topic = topic_json(view, &state.config.retention);
    Ok((StatusCode::CREATED, Json(topic)))
}

/// The principal recorded as a created topic's owner: none without authentication (every
/// caller is the same anonymous principal), as for producer ids.
fn owner_of<'a>(state: &AppState, caller: &'a Caller) -> Option<&'a str> {
    state.auth.enabled().then_some(caller.0.name.as_str())
}

/// The partition count (1 to `max`) and the config of a create.
fn check_create(request: &CreateTopicRequest, max: u32) -> Result<(), ApiError> {
    if request.partitions == 0 || request.partitions > max {
        return Err(ApiError::new(
            ErrorCode::InvalidPartitionCount,
            format!(
                "partitions = {} must be between 1 and {max} (server.max_partitions_per_topic)",
                request.partitions
            ),
        ));
    }
    topic_config::check_config(&request.config)
}

/// `GET /v1/topics?limit=N&after=NAME`: one page of topics by name.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<TopicList>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::invalid_parameter(format!("invalid query string: {e}")))?;
    let (after, limit) = page_parameters(&query)?;
    let page = state.metadata.topic_page(after, limit).await?;
    Ok(Json(TopicList {
        topics: visible(&caller, page.topics, &state.config.retention),
        next_after: page.next_after,
    }))
}

/// The topics of a page `caller` has some rule for, in wire form. The page's
/// `next_after` stays the metadata's, so paging goes on past topics left out (a page may
/// come back shorter than `limit`, even empty, with more to come).
fn visible(caller: &Caller, topics: Vec<TopicView>, defaults: &RetentionSection) -> Vec<Topic> {
    topics
        .into_iter()
        .filter(|topic| auth::may_see(caller, &topic.name))
        .map(|topic| topic_json(topic, defaults))
        .collect()
}

/// The page a list asks for: `after` (a topic name) and `limit` (1 to [`MAX_TOPIC_PAGE`],
/// default [`DEFAULT_TOPIC_PAGE`]).
fn page_parameters(query: &HashMap<String, String>) -> Result<(Option<&str>, usize), ApiError> {
    validate::known_parameters(query, "GET /v1/topics", LIST_PARAMETERS)?;
    let max = u64::from(MAX_TOPIC_PAGE);
    let limit = validate::parameter(query, "limit", 1, max)?.unwrap_or(DEFAULT_TOPIC_PAGE.into());
    let after = query.get("after").map(String::as_str);
    if let Some(name) = after {
        validate::topic_name(name).map_err(|e| {
            ApiError::invalid_parameter(format!(
                "after={name:?} is not a topic name: {}",
                e.message
            ))
        })?;
    }
    Ok((after, usize::try_from(limit).unwrap_or(usize::MAX)))
}

/// `GET /v1/topics/{topic}`
pub(crate) async fn describe(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Topic>, ApiError> {
    validate::topic_name(&topic)?;
    auth::authorize_describe(&caller, &topic)?;
    let view = state.metadata.describe_topic(&topic).await?;
    Ok(Json(topic_json(view, &state.config.retention)))
}

/// `DELETE /v1/topics/{topic}?topic_id=N`: deletes the topic by name and id. Without
/// `topic_id` the id is the one the name has now (one linearizable read); the delete names
/// it, so a retry of it (a lost reply) never deletes a topic recreated in between.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    validate::topic_name(&topic)?;
    authorize(&caller, Operation::Admin, &topic)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid_parameter(format!("invalid query string: {e}")))?;
    let topic_id = topic_id_parameter(&query, "DELETE /v1/topics/{topic}")?;
    let result = delete_by_id(&state, &topic, topic_id).await;
    audited(&caller, "delete_topic", &topic, result)
}

/// Deletes `topic` by `topic_id`, else by the id its name has now.
async fn delete_by_id(
    state: &AppState,
    topic: &str,
    topic_id: Option<u64>,
) -> Result<StatusCode, ApiError> {
    let topic_id = match topic_id {
        Some(id) => id,
        None => state.metadata.describe_topic(topic).await?.id,
    };
    state.metadata.delete_topic(topic, Some(topic_id)).await?;
    state.writer.forget_topic(topic);
    Ok(StatusCode::NO_CONTENT)
}

/// The optional `topic_id` parameter (1 or more), the only one `route` accepts.
fn topic_id_parameter(
    query: &HashMap<String, String>,
    route: &str,
) -> Result<Option<u64>, ApiError> {
    validate::known_parameters(query, route, &["topic_id"])?;
    validate::parameter(query, "topic_id", 1, u64::MAX)
}

/// The wire form of a topic, with the retention in force (`defaults` where it sets none).
pub(crate) fn topic_json(view: TopicView, defaults: &RetentionSection) -> Topic {
    Topic {
        partition_count: u32::try_from(view.partitions.len()).unwrap_or(u32::MAX),
        partitions: view
            .partitions
            .iter()
            .map(|p| PartitionInfo {
                partition: p.partition,
                start_offset: p.start_offset,
                high_watermark: p.high_watermark,
            })
            .collect(),
        name: view.name,
        id: view.id,
        config: topic_config::served_config(view.settings, defaults),
        created_at_ms: view.created_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::principals::Principal;

    fn caller(rules: &[&str]) -> Caller {
        let rules = rules.iter().map(|r| r.parse().unwrap()).collect();
        let name = "p".to_owned();
        Caller(Arc::new(Principal {
            name,
            rules,
            quota: Default::default(),
        }))
    }

    use silt_metadata::types::TopicSettings;

    fn view(name: &str) -> TopicView {
        TopicView {
            id: 1,
            name: name.to_owned(),
            settings: TopicSettings::default(),
            created_at_ms: 0,
            partitions: Vec::new(),
        }
    }

    #[test]
    fn a_list_shows_only_topics_the_principal_has_a_rule_for() {
        let page = || ["orders", "orders-eu", "payments"].map(view).to_vec();
        let defaults = RetentionSection::default();
        let visible = |caller: &Caller, page| visible(caller, page, &defaults);
        let names = |topics: Vec<Topic>| topics.into_iter().map(|t| t.name).collect::<Vec<_>>();
        let orders = caller(&["produce:orders*"]);
        assert_eq!(names(visible(&orders, page())), ["orders", "orders-eu"]);
        let reader = caller(&["consume:payments"]);
        assert_eq!(names(visible(&reader, page())), ["payments"]);
        assert!(visible(&caller(&[]), page()).is_empty());
        let admin = caller(&["admin:*"]);
        assert_eq!(visible(&admin, page()).len(), 3);
    }
}
