//! `POST /v1/topics/{topic}/records`: parse the body (JSON or binary) into the write
//! service's request, call [`crate::write::Writer::produce`], map the answer.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use silt_sdk::wire::ProduceResponse;
use tracing::Instrument;

use crate::http::{ApiError, produce_binary, produce_body, validate};
use crate::state::AppState;
use crate::write::ProduceInput;

/// `POST /v1/topics/{topic}/records`
pub(crate) async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ProduceResponse>, ApiError> {
    let started = Instant::now();
    let span = tracing::info_span!(
        "produce",
        topic = %topic,
        records = tracing::field::Empty,
        bytes = tracing::field::Empty
    );
    let result = async {
        validate::topic_name(&topic)?;
        let input = parse(&state, &headers, body).await?;
        Ok::<_, ApiError>(state.writer.produce(&topic, input).await?)
    }
    .instrument(span)
    .await;
    let metrics = &state.metrics;
    match result {
        Ok(produced) => {
            metrics.produced(produced.records, produced.bytes, started.elapsed());
            Ok(Json(ProduceResponse {
                offsets: produced.offsets,
            }))
        }
        Err(error) => {
            metrics.produce_failed(error.code.as_str());
            Err(error)
        }
    }
}

/// Reads the body within `server.max_request_bytes` and parses it by its content type.
async fn parse(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<ProduceInput, ApiError> {
    let limits = &state.config.server;
    let body = validate::read_body(body, limits.max_request_bytes).await?;
    if body.is_empty() {
        return Err(ApiError::invalid_request(
            "request body is empty; send a JSON object",
        ));
    }
    let now = state.clock.now_ms();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if produce_binary::is_binary(content_type) {
        produce_binary::parse(&body, now, limits.max_records_per_request)
    } else {
        produce_body::parse(&body, now, limits.max_records_per_request)
    }
}
