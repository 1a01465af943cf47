//! A topic's config at the edge: the checks of `config` on create and on
//! `PATCH /v1/topics/{topic}` (which changes a live topic's retention and nothing else),
//! and the config a topic is served with (retention in force: the topic's own, else the
//! cluster default of `[retention]`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::Value;
use silt_metadata::types::{TopicSettings, TopicSettingsPatch};
use silt_sdk::wire::{
    AlterTopicRequest, CreateTopicRequest, ErrorCode, MAX_RETENTION_BYTES, MAX_RETENTION_MS, Topic,
    TopicConfig, TopicConfigPatch,
};

use crate::auth::{Caller, Operation, authorize};
use crate::config::RetentionSection;
use crate::http::topics::{COMPRESSIONS, audited, topic_json};
use crate::http::{ApiError, validate};
use crate::state::AppState;

/// `PATCH /v1/topics/{topic}` with `{"config": {"retention_ms": …, "retention_bytes": …}}`:
/// per key, absent keeps it, `null` returns it to the cluster default, a value sets it.
pub(crate) async fn alter(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<Topic>, ApiError> {
    validate::topic_name(&topic)?;
    authorize(&caller, Operation::Admin, &topic)?;
    let body: Value = validate::json_body(body, state.config.server.max_request_bytes).await?;
    let result = alter_checked(&state, &topic, body).await;
    audited(&caller, "alter_topic", &topic, result)
}

/// Checks the body, then changes the topic (or, for an empty change, describes it).
async fn alter_checked(
    state: &AppState,
    topic: &str,
    body: Value,
) -> Result<Json<Topic>, ApiError> {
    let request = alter_request(body)?;
    let patch = TopicSettingsPatch {
        retention_ms: request.config.retention_ms,
        retention_bytes: request.config.retention_bytes,
    };
    let metadata = state.metadata.as_ref();
    let view = match patch == TopicSettingsPatch::default() {
        true => metadata.describe_topic(topic).await?,
        false => metadata.alter_topic(topic, patch).await?,
    };
    Ok(Json(topic_json(view, &state.config.retention)))
}

/// The PATCH body, refusing what cannot change (with its own message) before the unknown
/// and mistyped keys serde refuses, then the retention values.
fn alter_request(body: Value) -> Result<AlterTopicRequest, ApiError> {
    check_shape(&body)?;
    refuse_immutable(&body)?;
    for key in ["retention_ms", "retention_bytes"] {
        check_integer(&body, key)?;
    }
    let request: AlterTopicRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    let config = &request.config;
    retention(
        "retention_ms",
        config.retention_ms.flatten(),
        MAX_RETENTION_MS,
    )?;
    retention(
        "retention_bytes",
        config.retention_bytes.flatten(),
        MAX_RETENTION_BYTES,
    )?;
    Ok(request)
}

/// A create's body: a JSON object whose `config`, if any, is an object (serde would take
/// an array for either, as the fields in order), then the request.
pub(crate) fn create_request(body: Value) -> Result<CreateTopicRequest, ApiError> {
    let expected = r#"send a JSON object {"name": …, "partitions": …, "config": {…}}"#;
    object_shape(&body, expected)?;
    serde_json::from_value(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))
}

/// Refuses a body that is not `{"config": {…}}`-shaped, saying what is expected.
fn check_shape(body: &Value) -> Result<(), ApiError> {
    let expected = r#"send a JSON object {"config": {"retention_ms": …, "retention_bytes": …}}"#;
    object_shape(body, expected)
}

/// Refuses a body that is not an object, or whose `config` is present and not an object;
/// `expected` says what to send.
fn object_shape(body: &Value, expected: &str) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid_request(format!(
            "the body is {body}; {expected}"
        )));
    }
    match body.get("config") {
        Some(config) if !config.is_object() => Err(ApiError::invalid_request(format!(
            "config = {config} is not an object; {expected}"
        ))),
        _ => Ok(()),
    }
}

/// Refuses a `config` key whose value is not an integer (or `null`), naming key and value
/// (serde's message alone names neither).
fn check_integer(body: &Value, key: &str) -> Result<(), ApiError> {
    let Some(value) = body.get("config").and_then(|c| c.get(key)) else {
        return Ok(());
    };
    let alone = serde_json::json!({ key: value });
    match serde_json::from_value::<TopicConfigPatch>(alone) {
        Ok(_) => Ok(()),
        Err(e) => Err(ApiError::invalid_request(format!(
            "config.{key} = {value} is not valid: {e}"
        ))),
    }
}

/// Refuses a PATCH of the partition count, the name or the compression.
fn refuse_immutable(body: &Value) -> Result<(), ApiError> {
    let fixed = |what: &str| {
        ApiError::new(
            ErrorCode::InvalidConfig,
            format!(
                "{what} cannot be changed on a live topic; only config.retention_ms and config.retention_bytes can"
            ),
        )
    };
    for key in ["partitions", "name"] {
        if body.get(key).is_some() {
            return Err(fixed(key));
        }
    }
    match body.pointer("/config/compression") {
        Some(_) => Err(fixed("config.compression")),
        None => Ok(()),
    }
}

/// Checks a create's config: compression and retention.
pub(crate) fn check_config(config: &TopicConfig) -> Result<(), ApiError> {
    if let Some(compression) = &config.compression
        && !COMPRESSIONS.contains(&compression.as_str())
    {
        return Err(ApiError::new(
            ErrorCode::InvalidConfig,
            format!("config.compression = {compression:?} must be one of {COMPRESSIONS:?}"),
        ));
    }
    retention("retention_ms", config.retention_ms, MAX_RETENTION_MS)?;
    retention(
        "retention_bytes",
        config.retention_bytes,
        MAX_RETENTION_BYTES,
    )
}

/// A retention value: absent, -1 (no bound) or 1 to `max`.
fn retention(key: &str, value: Option<i64>, max: i64) -> Result<(), ApiError> {
    match value {
        None | Some(-1) => Ok(()),
        Some(v) if (1..=max).contains(&v) => Ok(()),
        Some(v) => Err(ApiError::new(
            ErrorCode::InvalidConfig,
            format!("config.{key} = {v} must be -1 (no bound) or 1 to {max}"),
        )),
    }
}

/// The settings a create stores.
pub(crate) fn settings_of(config: &TopicConfig) -> TopicSettings {
    TopicSettings {
        compression: config.compression.clone(),
        retention_ms: config.retention_ms,
        retention_bytes: config.retention_bytes,
    }
}

/// The config a topic is served with: its compression, and the retention in force (its
/// own, else the cluster default; -1 for no bound).
pub(crate) fn served_config(settings: TopicSettings, defaults: &RetentionSection) -> TopicConfig {
    TopicConfig {
        compression: settings.compression,
        retention_ms: Some(settings.retention_ms.unwrap_or(defaults.default_ms)),
        retention_bytes: Some(settings.retention_bytes.unwrap_or(defaults.default_bytes)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(body: Value) -> (ErrorCode, String) {
        let error = alter_request(body)
            .err()
            .unwrap_or_else(|| ApiError::internal("accepted"));
        (error.code, error.message)
    }

    #[test]
    fn a_patch_changes_only_retention_and_names_the_bad_value() {
        let (code, message) = refusal(json!({"config": {"retention_ms": 0}}));
        assert_eq!(code, ErrorCode::InvalidConfig);
        assert!(message.contains("retention_ms = 0"), "{message}");
        let (code, message) = refusal(json!({"config": {"retention_bytes": -5}}));
        assert!(
            code == ErrorCode::InvalidConfig && message.contains("-5"),
            "{message}"
        );
        let (code, message) = refusal(json!({"partitions": 4, "config": {}}));
        assert!(
            code == ErrorCode::InvalidConfig && message.contains("partitions"),
            "{message}"
        );
        let (code, _) = refusal(json!({"config": {"compression": "zstd"}}));
        assert_eq!(code, ErrorCode::InvalidConfig);
        let (code, message) = refusal(json!({"config": {"retention": 5}}));
        assert!(
            code == ErrorCode::InvalidRequest && message.contains("retention"),
            "{message}"
        );
        let (code, _) = refusal(json!({"config": {"retention_ms": "1d"}}));
        assert_eq!(code, ErrorCode::InvalidRequest);
        let (code, _) = refusal(json!({"config": {"retention_ms": 1.5}}));
        assert_eq!(code, ErrorCode::InvalidRequest);
        let (code, _) = refusal(json!({}));
        assert_eq!(code, ErrorCode::InvalidRequest);
        let ok = alter_request(json!({"config": {"retention_ms": null, "retention_bytes": -1}}));
        let config = ok.map(|r| r.config).ok();
        assert_eq!(
            config.map(|c| (c.retention_ms, c.retention_bytes)),
            Some((Some(None), Some(Some(-1))))
        );
    }

    #[test]
    fn a_create_takes_objects_only() {
        let refused = |body: Value| create_request(body).err().map(|e| e.code);
        let invalid = Some(ErrorCode::InvalidRequest);
        assert_eq!(
            refused(json!({"name": "t", "config": [null, null]})),
            invalid
        );
        assert_eq!(refused(json!(["t", 1, {}])), invalid);
        assert_eq!(refused(json!({"name": "t", "config": {}})), None);
    }

    #[test]
    fn the_edge_and_the_state_machine_share_the_retention_bounds() {
        use silt_metadata::limits;
        assert_eq!(MAX_RETENTION_MS, limits::MAX_RETENTION_MS);
        assert_eq!(MAX_RETENTION_BYTES, limits::MAX_RETENTION_BYTES);
    }

    #[test]
    fn a_topic_is_served_with_the_retention_in_force() {
        let defaults = RetentionSection {
            default_ms: 1000,
            ..RetentionSection::default()
        };
        let own = TopicSettings {
            retention_bytes: Some(5),
            ..TopicSettings::default()
        };
        let served = served_config(own, &defaults);
        assert_eq!(
            (served.retention_ms, served.retention_bytes),
            (Some(1000), Some(5))
        );
    }
}
