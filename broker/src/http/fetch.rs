//! `GET /v1/topics/{topic}/partitions/{p}/records?offset&max_records&max_bytes&wait_ms`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use silt_sdk::wire::FetchResponse;
use tracing::Instrument;

use crate::http::ApiError;
use crate::http::validate;
use crate::metrics::Metrics;
use crate::read::{FetchLimits, Fetcher};
use crate::state::AppState;

/// Query parameters a fetch accepts.
pub const PARAMETERS: &[&str] = &["offset", "max_records", "max_bytes", "wait_ms"];
/// Default `max_records`.
pub const DEFAULT_MAX_RECORDS: u32 = 1000;
/// Default `max_bytes`.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;

/// `GET /v1/topics/{topic}/partitions/{p}/records`
pub async fn fetch(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<FetchResponse>, ApiError> {
    let started = Instant::now();
    let result = fetch_inner(&state, &topic, &partition, query).await;
    let metrics = &state.metrics;
    match &result {
        Ok((response, bytes)) => {
            Metrics::outcome(&metrics.fetch_requests, "ok");
            metrics.fetch_records.inc_by(response.records.len() as u64);
            metrics.fetch_bytes.inc_by(*bytes);
            metrics
                .fetch_latency
                .observe(started.elapsed().as_secs_f64());
        }
        Err(error) => Metrics::outcome(&metrics.fetch_requests, error.code.as_str()),
    }
    result.map(|(response, _)| Json(response))
}

async fn fetch_inner(
    state: &AppState,
    topic: &str,
    partition: &str,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<(FetchResponse, u64), ApiError> {
    validate::topic_name(topic)?;
    let partition = validate::partition_number(partition)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid_parameter(format!("invalid query string: {e}")))?;
    if let Some(unknown) = query.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
        return Err(ApiError::invalid_parameter(format!(
            "unknown query parameter {unknown:?}; fetch accepts {PARAMETERS:?}"
        )));
    }
    let limits = &state.config.server;
    let offset = parameter(&query, "offset", 0, u64::MAX)?.unwrap_or(0);
    let max_records = parameter(
        &query,
        "max_records",
        1,
        u64::from(limits.max_fetch_records),
    )?
    .map_or(DEFAULT_MAX_RECORDS.min(limits.max_fetch_records), |v| {
        v as u32
    });
    let max_bytes = parameter(&query, "max_bytes", 1, limits.max_fetch_bytes)?
        .unwrap_or(DEFAULT_MAX_BYTES.min(limits.max_fetch_bytes));
    let max_wait = u64::try_from(limits.max_fetch_wait.as_millis()).unwrap_or(u64::MAX);
    let wait_ms = parameter(&query, "wait_ms", 0, max_wait)?.unwrap_or(0);
    let span = tracing::info_span!("fetch", topic = %topic, partition, offset);
    let fetcher = Fetcher::new(state.metadata.clone(), state.reader.clone());
    fetcher
        .fetch(
            topic,
            partition,
            offset,
            FetchLimits {
                max_records,
                max_bytes,
                wait: Duration::from_millis(wait_ms),
            },
            state.shutdown.clone(),
        )
        .instrument(span)
        .await
}

fn parameter(
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
