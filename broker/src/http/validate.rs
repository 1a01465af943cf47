//! Input rules shared by the handlers: names, body parsing, partition numbers, query
//! parameters, JSON-kind keys and values.

use std::collections::HashMap;
use std::error::Error;

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use silt_sdk::wire::ErrorCode;
use silt_sdk::wire::json_check;
use tower_http::timeout::TimeoutError;

use crate::http::ApiError;

/// Topic names: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..` (Kafka's rule).
pub(crate) fn topic_name(name: &str) -> Result<(), ApiError> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > 249 || !valid_chars || name == "." || name == ".." {
        let shown: String = name.chars().take(60).collect();
        return Err(ApiError::new(
            ErrorCode::InvalidTopicName,
            format!(
                "invalid topic name {shown:?}: use 1-249 characters of [A-Za-z0-9._-], not \".\" or \"..\""
            ),
        ));
    }
    Ok(())
}

/// Group names: the topic rule (1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`),
/// refused as `invalid_group_name`.
pub(crate) fn group_name(name: &str) -> Result<(), ApiError> {
    topic_name(name).map_err(|_| {
        let shown: String = name.chars().take(60).collect();
        ApiError::new(
            ErrorCode::InvalidGroupName,
            format!(
                "invalid group name {shown:?}: use 1-249 characters of [A-Za-z0-9._-], not \".\" or \"..\""
            ),
        )
    })
}

/// A member id in a request: one no member can have (empty, or longer than the metadata
/// service's limit) is answered as an unknown member of `group`.
pub(crate) fn member_id(group: &str, member: &str) -> Result<(), ApiError> {
    let max = silt_metadata::limits::MAX_MEMBER_ID_BYTES;
    if !member.is_empty() && member.len() <= max {
        return Ok(());
    }
    let shown: String = member.chars().take(60).collect();
    Err(ApiError::new(
        ErrorCode::UnknownMember,
        format!(
            "unknown member {shown:?} of group {group:?}: member ids are 1 to {max} bytes; join the group again"
        ),
    ))
}

/// A JSON-kind key or value (`field` of the request's record `index`) must pass
/// [`json_check::check`]: UTF-8, surrogate escapes paired, nesting at most
/// [`json_check::MAX_DEPTH`]. Otherwise a strict reader could not read it back and every
/// fetch holding it would fail.
pub(crate) fn json_payload(index: usize, field: &str, text: &[u8]) -> Result<(), ApiError> {
    json_check::check(text).map_err(|e| {
        ApiError::invalid_record(format!("record {index} {field} is not valid JSON: {e}"))
    })
}

/// Past the limit, how much more of an oversized body is read and dropped so the client,
/// still sending, reads the 413 instead of a reset connection (a "lingering close").
const DRAIN_LIMIT: u64 = 64 << 20;

/// Reads a request body of at most `limit` bytes, never buffering more than that.
pub(crate) async fn read_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is larger than {limit} bytes (server.max_request_bytes)"),
        )
    };
    // A declared length (bounded by the limit) sizes the buffer once, instead of growing it
    // by doubling and copying.
    let declared = axum::body::HttpBody::size_hint(&body)
        .exact()
        .unwrap_or(0)
        .min(limit);
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
    let mut total = 0u64;
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| body_error(&e))?;
        total += frame.len() as u64;
        if total > limit {
            // Drain (bounded) and answer 413.
            while total <= limit + DRAIN_LIMIT {
                match stream.next().await {
                    Some(Ok(more)) => total += more.len() as u64,
                    _ => break,
                }
            }
            return Err(too_large());
        }
        buffer.extend_from_slice(&frame);
    }
    Ok(buffer.freeze())
}

/// The refusal of a body that could not be read: 408 `body_timeout` when it stalled past
/// `server.body_read_timeout` (the router's body timeout layer), else `invalid_request`.
fn body_error(error: &axum::Error) -> ApiError {
    let first: &(dyn Error + 'static) = error;
    let mut chain = std::iter::successors(Some(first), |e| (*e).source());
    if chain.any(|e| e.is::<TimeoutError>()) {
        return ApiError::new(
            ErrorCode::BodyTimeout,
            "the request body sent nothing for longer than server.body_read_timeout",
        );
    }
    ApiError::invalid_request(format!("cannot read request body: {error}"))
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub(crate) async fn json_body<T: DeserializeOwned>(body: Body, limit: u64) -> Result<T, ApiError> {
    let bytes = read_body(body, limit).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid_request(
            "request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))
}

/// Parses a partition path segment.
pub(crate) fn partition_number(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>().map_err(|_| {
        ApiError::invalid_parameter(format!(
            "partition {text:?} is not a partition number (0 to 4294967295)"
        ))
    })
}

/// One integer query parameter within `min..=max`, if present.
pub(crate) fn parameter(
    query: &HashMap<String, String>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ApiError> {
    let Some(text) = query.get(name) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
        _ => Err(ApiError::invalid_parameter(format!(
            "{name}={text:?} must be an integer from {min} to {max}"
        ))),
    }
}

/// Refuses a query parameter not in `known`, naming it; `what` names the route.
pub(crate) fn known_parameters(
    query: &HashMap<String, String>,
    what: &str,
    known: &[&str],
) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid_parameter(format!(
            "unknown query parameter {unknown:?}; {what} accepts {known:?}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka() {
        for ok in ["a", "orders", "a.b_c-D9", &"x".repeat(249)] {
            assert!(topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "a/b", "ü", &"x".repeat(250)] {
            assert!(topic_name(bad).is_err(), "{bad}");
        }
    }
}
