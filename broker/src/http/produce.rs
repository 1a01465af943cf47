//! `POST /v1/topics/{topic}/records`: parse the body (JSON or binary) into the write
//! service's request, call [`crate::write::Writer::produce`], map the answer. The body's
//! bytes count against `server.max_request_bytes_in_flight` until the answer, and it is
//! parsed on the blocking pool.

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use silt_sdk::wire::ProduceResponse;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use axum::Extension;

use crate::auth::throttle::Direction;
use crate::auth::{Caller, Operation, authorize};
use crate::http::{ApiError, produce_binary, produce_body, produce_commit, validate};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::write::{ProduceInput, Produced};

/// `POST /v1/topics/{topic}/records`
pub(crate) async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ProduceResponse>, ApiError> {
    let started = Instant::now();
    let result = async {
        validate::topic_name(&topic)?;
        authorize(&caller, Operation::Produce, &topic)?;
        let _body_bytes = take_body_bytes(&state, &body)?;
        let declared = declared_len(&body);
        admit(&state, &caller, declared.unwrap_or(0))?;
        let body = read_charged_body(&state, &caller, body, declared).await?;
        let input = parse(&state, &headers, body).await?;
        produce_commit::authorize_commit(&caller, input.commit.as_ref())?;
        Ok::<_, ApiError>(state.writer.produce(&topic, input).await?)
    }
    .instrument(produce_span(&topic))
    .await;
    let offsets = counted(&state.metrics, result, started)
        .inspect(|p| principal_bytes(&state.metrics, &caller, p.bytes))?
        .offsets;
    Ok(Json(ProduceResponse { offsets }))
}

/// The request's span; the writer records its record and byte counts.
fn produce_span(topic: &str) -> tracing::Span {
    tracing::info_span!(
        "produce",
        topic = %topic,
        records = tracing::field::Empty,
        bytes = tracing::field::Empty
    )
}

/// Counts the request's outcome, acknowledged or refused by error code.
fn counted(
    metrics: &Metrics,
    result: Result<Produced, ApiError>,
    started: Instant,
) -> Result<Produced, ApiError> {
    result
        .inspect(|p| metrics.produced(p.records, p.bytes, started.elapsed()))
        .inspect_err(|error| metrics.produce_failed(error.code.as_str()))
}

/// Counts the acknowledged record bytes for the caller.
fn principal_bytes(metrics: &Metrics, caller: &Caller, bytes: u64) {
    metrics.principal_bytes(&caller.0.name, Direction::Produce.as_str(), bytes);
}

/// Admits the request under the caller's produce byte rate, charging the body's declared
/// length, or refuses it (429 `throttled`, counted) before anything of it is read.
fn admit(state: &AppState, caller: &Caller, declared: u64) -> Result<(), ApiError> {
    let throttle = &state.auth.throttle;
    let admitted = throttle.admit(&caller.0, Direction::Produce, declared, Instant::now());
    Ok(admitted.inspect_err(|refused| refused.count(&state.metrics))?)
}

/// Reads the body within `server.max_request_bytes`; one that declared no length is
/// charged to the caller's produce bucket once its length is known.
async fn read_charged_body(
    state: &AppState,
    caller: &Caller,
    body: Body,
    declared: Option<u64>,
) -> Result<Bytes, ApiError> {
    let body = read_nonempty_body(body, state.config.server.max_request_bytes).await?;
    if declared.is_none() {
        let (throttle, len) = (&state.auth.throttle, body.len() as u64);
        throttle.charge(&caller.0, Direction::Produce, len, Instant::now());
    }
    Ok(body)
}

/// The body's `Content-Length`, if it declared one.
fn declared_len(body: &Body) -> Option<u64> {
    axum::body::HttpBody::size_hint(body).exact()
}

/// Parses the read body by its content type on the blocking pool (a large body is
/// seconds of CPU that must not stall the async workers).
async fn parse(
    state: &AppState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<ProduceInput, ApiError> {
    let limits = &state.config.server;
    let (now, max_records) = (state.clock.now_ms(), limits.max_records_per_request);
    let binary = produce_binary::is_binary(content_type(headers));
    tokio::task::spawn_blocking(move || parse_by_type(&body, binary, now, max_records))
        .await
        .map_err(|e| ApiError::internal(format!("produce body parser failed: {e}")))?
}

/// Parses a read body as the binary layout or as JSON.
fn parse_by_type(
    body: &Bytes,
    binary: bool,
    now: i64,
    max_records: u32,
) -> Result<ProduceInput, ApiError> {
    match binary {
        true => produce_binary::parse(body, now, max_records),
        false => produce_body::parse(body, now, max_records),
    }
}

/// Takes the body's bytes from `server.max_request_bytes_in_flight` until the permit
/// drops: its `Content-Length`, or `server.max_request_bytes` when it declares none.
fn take_body_bytes(state: &AppState, body: &Body) -> Result<OwnedSemaphorePermit, ApiError> {
    let limit = state.config.server.max_request_bytes;
    let declared = declared_len(body);
    Ok(state
        .request_bytes
        .try_take(declared.unwrap_or(limit).min(limit))?)
}

/// Reads the body within `limit` bytes, refusing an empty one.
async fn read_nonempty_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let body = validate::read_body(body, limit).await?;
    if body.is_empty() {
        return Err(ApiError::invalid_request(
            "request body is empty; send a JSON object",
        ));
    }
    Ok(body)
}

/// The request's `Content-Type`, JSON when it has none (or an unreadable one).
fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
}
