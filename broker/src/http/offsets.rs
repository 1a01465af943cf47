//! `GET /v1/topics/{topic}/partitions/{p}/offsets?timestamp_ms=T|at=earliest|latest[&topic_id]`
//!
//! Kafka's ListOffsets: the offset of the first record stamped at or after `timestamp_ms`
//! (the high watermark when none is), or the partition's earliest or latest offset. Needs
//! `consume` on the topic. The lookup itself lives in `read/time_lookup.rs`.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use silt_sdk::wire::OffsetLookup;
use tracing::Instrument;

use crate::auth::{Caller, Operation, authorize};
use crate::http::ApiError;
use crate::http::validate;
use crate::read::{Bound, OffsetFound, Position};
use crate::state::AppState;

/// Query parameters the route accepts.
pub(crate) const PARAMETERS: &[&str] = &["timestamp_ms", "at", "topic_id"];

/// What is looked up.
enum Lookup {
    /// The first record at or after a timestamp.
    Time(i64),
    /// A bound.
    Bound(Bound),
}

/// `GET /v1/topics/{topic}/partitions/{p}/offsets`
pub(crate) async fn offsets(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<OffsetLookup>, ApiError> {
    authorize(&caller, Operation::Consume, &topic)?;
    validate::topic_name(&topic)?;
    let partition = validate::partition_number(&partition)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid_parameter(format!("invalid query string: {e}")))?;
    validate::known_parameters(&query, "an offset lookup", PARAMETERS)?;
    let lookup = lookup(&query)?;
    let topic_id = validate::parameter(&query, "topic_id", 1, u64::MAX)?;
    let at = Position::new(&topic, partition, 0, topic_id);
    let span = tracing::info_span!("offset_lookup", topic = %topic, partition);
    let (fetcher, timeout) = (&state.fetcher, state.config.server.request_timeout);
    let found = async {
        match lookup {
            Lookup::Time(t) => fetcher.offset_at_time(&at, t, timeout).await,
            Lookup::Bound(bound) => fetcher.offset_at_bound(&at, bound).await,
        }
    };
    let found = found.instrument(span).await?;
    Ok(Json(answer(topic, partition, found)))
}

/// Exactly one of `timestamp_ms` (an integer, milliseconds since the Unix epoch, may be
/// negative) and `at` (`earliest` or `latest`).
fn lookup(query: &HashMap<String, String>) -> Result<Lookup, ApiError> {
    match (
        query.get("timestamp_ms"),
        query.get("at").map(String::as_str),
    ) {
        (Some(text), None) => text.parse::<i64>().map(Lookup::Time).map_err(|_| {
            ApiError::invalid_parameter(format!(
                "timestamp_ms={text:?} must be an integer: milliseconds since the Unix epoch"
            ))
        }),
        (None, Some("earliest")) => Ok(Lookup::Bound(Bound::Earliest)),
        (None, Some("latest")) => Ok(Lookup::Bound(Bound::Latest)),
        (None, Some(other)) => Err(ApiError::invalid_parameter(format!(
            "at={other:?} must be \"earliest\" or \"latest\""
        ))),
        _ => Err(ApiError::invalid_parameter(
            "give exactly one of timestamp_ms (milliseconds since the Unix epoch) and at (earliest or latest)",
        )),
    }
}

/// The wire answer.
fn answer(topic: String, partition: u32, found: OffsetFound) -> OffsetLookup {
    OffsetLookup {
        topic,
        partition,
        offset: found.offset,
        timestamp_ms: found.timestamp_ms,
        start_offset: found.start_offset,
        high_watermark: found.high_watermark,
        topic_id: found.topic_id,
    }
}
