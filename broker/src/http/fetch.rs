//! `GET /v1/topics/{topic}/partitions/{p}/records?offset&max_records&max_bytes&wait_ms&topic_id`
//!
//! The response names the topic id read; a request naming a `topic_id` the topic name no
//! longer has (deleted and recreated) is refused with 404 `topic_not_found`.
//!
//! The response's bytes count against `server.max_fetch_bytes_in_flight` from before it
//! is encoded until it has been sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use silt_bookie::record::{Payload, PayloadKind, Record};
use silt_sdk::wire::json_check;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use axum::Extension;

use crate::auth::throttle::Direction;
use crate::auth::{Caller, Operation, authorize};
use crate::budget::ByteBudget;
use crate::config::ServerConfig;
use crate::http::ApiError;
use crate::http::validate;
use crate::metrics::Metrics;
use crate::read::{FetchLimits, Fetched, Position};
use crate::state::AppState;

/// Query parameters a fetch accepts.
pub(crate) const PARAMETERS: &[&str] =
    &["offset", "max_records", "max_bytes", "wait_ms", "topic_id"];
/// Default `max_records`.
pub(crate) const DEFAULT_MAX_RECORDS: u32 = 1000;
/// Default `max_bytes`.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 1 << 20;

/// `GET /v1/topics/{topic}/partitions/{p}/records`
pub(crate) async fn fetch(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = match admit(&state, &caller, &topic) {
        Ok(()) => fetch_inner(&state, &topic, &partition, query)
            .await
            .inspect(|fetched| charge(&state, &caller, fetched.bytes)),
        Err(refused) => Err(refused),
    };
    let reserved = result.and_then(|fetched| reserve_response(&state.fetch_bytes, fetched));
    let (fetched, permit) = counted(&state.metrics, reserved, started)?;
    let body = response_json(&fetched);
    drop(fetched);
    Ok(held_response(body, permit))
}

/// Whether the caller may consume `topic` and its fetch bucket is not in debt (checked
/// before a long-poll waits, so a throttled consumer is refused at once).
fn admit(state: &AppState, caller: &Caller, topic: &str) -> Result<(), ApiError> {
    authorize(caller, Operation::Consume, topic)?;
    let throttle = &state.auth.throttle;
    let admitted = throttle.admit(&caller.0, Direction::Fetch, 0, Instant::now());
    Ok(admitted.inspect_err(|refused| refused.count(&state.metrics))?)
}

/// Charges the answer's record bytes to the caller's fetch bucket and counts them.
fn charge(state: &AppState, caller: &Caller, bytes: u64) {
    let throttle = &state.auth.throttle;
    throttle.charge(&caller.0, Direction::Fetch, bytes, Instant::now());
    let (metrics, name) = (&state.metrics, &caller.0.name);
    metrics.principal_bytes(name, Direction::Fetch.as_str(), bytes);
}

/// Fetched records and the response bytes they hold in `server.max_fetch_bytes_in_flight`.
type Reserved = (Fetched, OwnedSemaphorePermit);

/// Takes the response's estimated size from the fetch byte budget before encoding it, or
/// refuses the fetch with `unavailable` when the budget is spent.
fn reserve_response(budget: &ByteBudget, fetched: Fetched) -> Result<Reserved, ApiError> {
    let permit = budget.try_take(estimated_len(&fetched) as u64 + 64)?;
    Ok((fetched, permit))
}

/// The JSON response, holding `permit` until its body has been sent (or dropped).
fn held_response(body: Vec<u8>, permit: OwnedSemaphorePermit) -> Response {
    let length = body.len();
    let chunk = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(body)) });
    let held = chunk.map(move |data| {
        let _held_until_sent = &permit;
        data
    });
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(length)),
    ];
    (headers, Body::from_stream(held)).into_response()
}

/// Counts the fetch's outcome: the records and bytes returned, or the error code.
fn counted(
    metrics: &Metrics,
    result: Result<Reserved, ApiError>,
    started: Instant,
) -> Result<Reserved, ApiError> {
    result
        .inspect(|(f, _)| metrics.fetched(f.records.len() as u64, f.bytes, started.elapsed()))
        .inspect_err(|error| metrics.fetch_failed(error.code.as_str()))
}

/// Writes the `FetchResponse` JSON (`silt_sdk::wire::FetchResponse`) straight from the
/// stored records: JSON keys and values are the text the producer sent (validated when it
/// was produced, CRC-checked when read, checked again by the one-pass strict JSON check),
/// so they are copied, not parsed and re-encoded.
pub(crate) fn response_json(fetched: &Fetched) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimated_len(fetched) + 64);
    out.extend_from_slice(b"{\"records\":[");
    for (i, (offset, record)) in fetched.records.iter().enumerate() {
        comma_unless_first(&mut out, i);
        write_record(&mut out, *offset, record);
    }
    let (next, high, id) = (
        fetched.next_offset,
        fetched.high_watermark,
        fetched.topic_id,
    );
    let _ = write!(
        out,
        "],\"next_offset\":{next},\"high_watermark\":{high},\"topic_id\":{id}}}"
    );
    out
}

/// A guess at the response's size: base64 grows bytes by a third, plus room per record.
fn estimated_len(fetched: &Fetched) -> usize {
    let b64 = |len: usize| len * 4 / 3;
    let key = |r: &Record| r.key.as_ref().map_or(0, |k| b64(k.data.len()));
    let records = fetched.records.iter();
    records
        .map(|(_, r)| 96 + b64(r.value.data.len()) + key(r))
        .sum()
}

/// Appends the comma before every list element but the first.
fn comma_unless_first(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b',');
    }
}

/// Appends one record's JSON object.
fn write_record(out: &mut Vec<u8>, offset: u64, record: &Record) {
    let timestamp_ms = record.timestamp_ms;
    let _ = write!(out, "{{\"offset\":{offset},\"timestamp_ms\":{timestamp_ms}");
    if let Some(key) = &record.key {
        write_payload(out, "key", key);
    }
    write_payload(out, "value", &record.value);
    write_headers(out, &record.headers);
    out.extend_from_slice(b"}");
}

/// Appends `,"headers":{...}`.
fn write_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    out.extend_from_slice(b",\"headers\":{");
    for (h, (name, value)) in headers.iter().enumerate() {
        comma_unless_first(out, h);
        write_json_string(out, name);
        out.push(b':');
        write_json_string(out, value);
    }
    out.extend_from_slice(b"}");
}

/// Appends a payload as `,"field":<JSON as sent>` or `,"field_b64":"<base64>"`. A stored
/// JSON payload that fails the strict JSON check (one written before produce checked it,
/// say with a lone surrogate escape) goes out as base64: one such record must not make
/// the whole response unreadable for a strict client.
fn write_payload(out: &mut Vec<u8>, field: &str, payload: &Payload) {
    match payload.kind {
        PayloadKind::Json if json_check::check(&payload.data).is_ok() => {
            let _ = write!(out, ",\"{field}\":");
            out.extend_from_slice(&payload.data);
        }
        PayloadKind::Json | PayloadKind::Bytes => {
            let _ = write!(out, ",\"{field}_b64\":\"");
            write_base64(out, &payload.data);
            out.push(b'"');
        }
    }
}

/// Appends `data` in standard base64, encoded in place.
fn write_base64(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = BASE64.encode_slice(data, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Appends `text` as a JSON string.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Checks the request, then fetches within its span.
async fn fetch_inner(
    state: &AppState,
    topic: &str,
    partition: &str,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Fetched, ApiError> {
    validate::topic_name(topic)?;
    let partition = validate::partition_number(partition)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid_parameter(format!("invalid query string: {e}")))?;
    let (offset, limits) = fetch_parameters(&query, &state.config.server)?;
    let topic_id = validate::parameter(&query, "topic_id", 1, u64::MAX)?;
    let span = tracing::info_span!("fetch", topic = %topic, partition, offset, topic_id);
    let shutdown = state.shutdown.clone();
    let at = Position::new(topic, partition, offset, topic_id);
    Ok(state
        .fetcher
        .fetch(&at, limits, shutdown)
        .instrument(span)
        .await?)
}

/// A fetch's query parameters by name.
type QueryMap = HashMap<String, String>;

/// The offset and limits a fetch asks for, each checked against `[server]`'s maximums.
fn fetch_parameters(
    query: &QueryMap,
    limits: &ServerConfig,
) -> Result<(u64, FetchLimits), ApiError> {
    validate::known_parameters(query, "fetch", PARAMETERS)?;
    let offset = validate::parameter(query, "offset", 0, u64::MAX)?.unwrap_or(0);
    let limits = FetchLimits {
        max_records: max_records(query, limits)?,
        max_bytes: max_bytes(query, limits)?,
        wait: wait(query, limits)?,
        read_timeout: limits.request_timeout,
    };
    Ok((offset, limits))
}

/// `max_records`, at most `server.max_fetch_records`.
fn max_records(query: &QueryMap, limits: &ServerConfig) -> Result<u32, ApiError> {
    let max = limits.max_fetch_records;
    let value = validate::parameter(query, "max_records", 1, u64::from(max))?;
    Ok(value.map_or(DEFAULT_MAX_RECORDS.min(max), |v| v as u32))
}

/// `max_bytes`, at most `server.max_fetch_bytes`.
fn max_bytes(query: &QueryMap, limits: &ServerConfig) -> Result<u64, ApiError> {
    let max = limits.max_fetch_bytes;
    let value = validate::parameter(query, "max_bytes", 1, max)?;
    Ok(value.unwrap_or(DEFAULT_MAX_BYTES.min(max)))
}

/// `wait_ms` as a duration, at most `server.max_fetch_wait`.
fn wait(query: &QueryMap, limits: &ServerConfig) -> Result<Duration, ApiError> {
    let max_wait = u64::try_from(limits.max_fetch_wait.as_millis()).unwrap_or(u64::MAX);
    let wait_ms = validate::parameter(query, "wait_ms", 0, max_wait)?.unwrap_or(0);
    Ok(Duration::from_millis(wait_ms))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use silt_sdk::wire::FetchResponse;

    use super::*;

    #[test]
    fn written_json_is_the_wire_fetch_response() {
        let fetched = Fetched {
            records: vec![
                (
                    7,
                    Record {
                        timestamp_ms: 5,
                        key: Some(Payload::json(Bytes::from("\"k\\\"ü\"".as_bytes()))),
                        value: Payload::json(Bytes::from_static(br#"{"a": [1, null]}"#)),
                        headers: vec![("h\n".into(), "v\"".into())],
                    },
                ),
                (
                    8,
                    Record {
                        timestamp_ms: 6,
                        key: Some(Payload::bytes(vec![0u8, 255])),
                        value: Payload::bytes(Vec::new()),
                        headers: vec![],
                    },
                ),
            ],
            next_offset: 9,
            high_watermark: 10,
            topic_id: 3,
            bytes: 0,
            slot: None,
        };
        let parsed: FetchResponse = serde_json::from_slice(&response_json(&fetched)).unwrap();
        assert_eq!(parsed.next_offset, 9);
        assert_eq!(parsed.high_watermark, 10);
        assert_eq!(parsed.topic_id, Some(3));
        assert_eq!(parsed.records[0].key, Some(serde_json::json!("k\"ü")));
        assert_eq!(
            parsed.records[0].value,
            Some(serde_json::json!({"a": [1, null]}))
        );
        assert_eq!(
            parsed.records[0].headers.get("h\n").map(String::as_str),
            Some("v\"")
        );
        assert_eq!(parsed.records[1].key_b64.as_deref(), Some("AP8="));
        assert_eq!(parsed.records[1].value_b64.as_deref(), Some(""));
        assert_eq!(parsed.records[1].value, None);
    }

    #[test]
    fn stored_json_a_strict_reader_cannot_read_goes_out_as_base64() {
        let lone = br#""\ud800""#;
        let mut out = Vec::new();
        write_payload(&mut out, "value", &Payload::json(Bytes::from_static(lone)));
        assert_eq!(
            out,
            format!(r#","value_b64":"{}""#, BASE64.encode(lone)).into_bytes()
        );
        let fetched = Fetched {
            records: vec![(
                0,
                Record {
                    timestamp_ms: 1,
                    key: Some(Payload::json(Bytes::from_static(b"\"\xff\""))),
                    value: Payload::json(Bytes::from_static(lone)),
                    headers: vec![],
                },
            )],
            next_offset: 1,
            high_watermark: 1,
            topic_id: 1,
            bytes: 0,
            slot: None,
        };
        let parsed: FetchResponse = serde_json::from_slice(&response_json(&fetched)).unwrap();
        assert_eq!(parsed.records[0].key_b64.as_deref(), Some("Iv8i"));
        assert_eq!(parsed.records[0].value, None);
        assert_eq!(
            BASE64
                .decode(parsed.records[0].value_b64.as_deref().unwrap())
                .unwrap(),
            lone
        );
    }
}
