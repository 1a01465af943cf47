//! `POST /v1/topics/{topic}/records`: validate, partition, append, wait for the commit.
//!
//! Nothing is staged until every record of the request is valid, so a bad request writes
//! nothing. The request is one unit: its records share one segment and one commit entry,
//! so a request spanning partitions is acknowledged or failed as a whole.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use silt_bookie::clock::{Clock, SystemClock};
use silt_bookie::record::{Payload, Record};
use silt_bookie::segment::ProducerTag;
use silt_sdk::wire::{ErrorCode, ProduceResponse, RecordOffset};
use tracing::Instrument;

use crate::http::ApiError;
use crate::http::produce_binary;
use crate::http::produce_body::{ProduceBody, RecordIn};
use crate::http::validate;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::write::partitioner::partition_for_key;
use crate::write::producer_cache::CheckError;
use crate::write::{PartitionAppend, WriteError};

/// `POST /v1/topics/{topic}/records`
pub async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ProduceResponse>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let started = Instant::now();
    let span = tracing::info_span!(
        "produce",
        topic = %topic,
        records = tracing::field::Empty,
        bytes = tracing::field::Empty
    );
    let result = produce_inner(&state, &topic, &content_type, body)
        .instrument(span)
        .await;
    let metrics = &state.metrics;
    match &result {
        Ok((_, records, bytes)) => {
            Metrics::outcome(&metrics.produce_requests, "ok");
            metrics.produce_records.inc_by(*records);
            metrics.produce_bytes.inc_by(*bytes);
            metrics
                .produce_latency
                .observe(started.elapsed().as_secs_f64());
        }
        Err(error) => Metrics::outcome(&metrics.produce_requests, error.code.as_str()),
    }
    result.map(|(response, _, _)| Json(response))
}

async fn produce_inner(
    state: &AppState,
    topic: &str,
    content_type: &str,
    body: Body,
) -> Result<(ProduceResponse, u64, u64), ApiError> {
    validate::topic_name(topic)?;
    let limits = &state.config.server;
    let binary = content_type.starts_with(produce_binary::CONTENT_TYPE);
    let body = validate::read_body(body, limits.max_request_bytes).await?;
    if body.is_empty() {
        return Err(ApiError::invalid_request(
            "request body is empty; send a JSON object",
        ));
    }
    let now = SystemClock.now_ms();
    let (converted, producer) = if binary {
        (
            produce_binary::parse(&body, now, limits.max_records_per_request)?,
            None,
        )
    } else {
        parse_json(&body, now, limits.max_records_per_request)?
    };
    let route = state.topics.route(&state.metadata, topic).await?;
    if let Some(tag) = &producer {
        match state
            .producers
            .check(state.metadata.as_ref(), tag.producer_id, tag.epoch)
            .await
        {
            Ok(()) => {}
            Err(CheckError::Write(error)) => return Err(write_error(topic, error)),
            Err(CheckError::Metadata(error)) => return Err(error.into()),
        }
    }
    let partitions = route.partitions;
    let sticky = match &producer {
        Some(tag) => idempotent_partition(tag, partitions),
        None => state.sticky.next_partition(partitions),
    };
    let record_count = converted.len();
    // partition -> (records, their indexes in the request)
    let mut groups: BTreeMap<u32, (Vec<Record>, Vec<usize>)> = BTreeMap::new();
    let mut total_bytes = 0u64;
    for (index, (record, hash_key, explicit)) in converted.into_iter().enumerate() {
        let size = record_size(&record);
        if size > limits.max_record_bytes {
            return Err(ApiError::new(
                ErrorCode::RecordTooLarge,
                format!(
                    "record {index} is {size} bytes (key + value + headers); the limit is {} (server.max_record_bytes)",
                    limits.max_record_bytes
                ),
            ));
        }
        total_bytes += size;
        let partition = match (explicit, hash_key) {
            (Some(p), _) if p >= partitions => {
                return Err(ApiError::new(
                    ErrorCode::PartitionNotFound,
                    format!(
                        "record {index} names partition {p}, but topic {topic:?} has {partitions} partitions (0 to {})",
                        partitions - 1
                    ),
                ));
            }
            (Some(p), _) => p,
            (None, Some(key)) => partition_for_key(&key, partitions),
            (None, None) => sticky,
        };
        let group = groups.entry(partition).or_default();
        group.0.push(record);
        group.1.push(index);
    }
    tracing::Span::current().record("records", record_count);
    tracing::Span::current().record("bytes", total_bytes);

    let mut indexes = Vec::with_capacity(groups.len());
    let parts = groups
        .into_iter()
        .map(|(partition, (records, request_indexes))| {
            indexes.push((partition, request_indexes));
            PartitionAppend {
                topic_id: route.id,
                partition,
                compression: route.compression,
                producer,
                records,
            }
        })
        .collect();
    let appended = tokio::time::timeout(limits.request_timeout, state.pipeline.append(parts))
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Timeout,
                format!(
                    "records were not committed within {:?} (server.request_timeout); they may or may not be written",
                    limits.request_timeout
                ),
            )
        })?;
    let base_offsets = match appended {
        Ok(offsets) => offsets,
        Err(error) => {
            if matches!(
                error,
                WriteError::TopicNotFound | WriteError::PartitionNotFound(_)
            ) {
                state.topics.evict(topic);
            }
            return Err(write_error(topic, error));
        }
    };
    let mut offsets = vec![
        RecordOffset {
            partition: 0,
            offset: 0
        };
        record_count
    ];
    for ((partition, request_indexes), base) in indexes.into_iter().zip(base_offsets) {
        for (position, index) in request_indexes.into_iter().enumerate() {
            offsets[index] = RecordOffset {
                partition,
                offset: base + position as u64,
            };
        }
    }
    Ok((
        ProduceResponse { offsets },
        record_count as u64,
        total_bytes,
    ))
}

fn write_error(topic: &str, error: WriteError) -> ApiError {
    match error {
        WriteError::TopicNotFound => ApiError::new(
            ErrorCode::TopicNotFound,
            format!("topic {topic:?} was deleted while the records were being written"),
        ),
        WriteError::PartitionNotFound(p) => ApiError::new(
            ErrorCode::PartitionNotFound,
            format!("partition {p} of topic {topic:?} no longer exists"),
        ),
        WriteError::Unavailable(message) | WriteError::Overloaded(message) => {
            ApiError::unavailable(message)
        }
        WriteError::OutcomeUnknown(message) => ApiError::new(ErrorCode::Timeout, message),
        WriteError::ShuttingDown => {
            ApiError::unavailable("broker is shutting down; retry on another broker")
        }
        error @ WriteError::ProducerFenced { .. } => {
            ApiError::new(ErrorCode::ProducerFenced, error.to_string())
        }
        error @ WriteError::OutOfOrderSequence { .. } => {
            ApiError::new(ErrorCode::OutOfOrderSequence, error.to_string())
        }
        error @ WriteError::UnknownProducer => {
            ApiError::new(ErrorCode::ProducerNotFound, error.to_string())
        }
    }
}

/// The partition of a keyless record without an explicit partition in an idempotent
/// request: derived from the producer id and sequence, so a retry through any broker
/// lands where the original did (the sticky partitioner is per broker).
fn idempotent_partition(producer: &ProducerTag, partitions: u32) -> u32 {
    let mut mix =
        silt_bookie::random::Rng::seed(producer.producer_id ^ producer.sequence.rotate_left(32));
    u32::try_from(mix.next_u64() % u64::from(partitions.max(1))).unwrap_or(0)
}

/// Bytes a record counts against `max_record_bytes`.
fn record_size(record: &Record) -> u64 {
    let key = record.key.as_ref().map_or(0, |k| k.data.len());
    let headers: usize = record.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    (key + record.value.data.len() + headers) as u64
}

/// A validated record, the bytes its key hashes on, and its explicit partition.
type Converted = produce_binary::ParsedRecord;

/// Parses and validates a JSON produce body.
fn parse_json(
    body: &Bytes,
    now: i64,
    max_records: u32,
) -> Result<(Vec<Converted>, Option<ProducerTag>), ApiError> {
    let request: ProduceBody<'_> = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    let producer = match request.producer {
        Some(info) if info.id == 0 => {
            return Err(ApiError::invalid_request(
                "producer.id 0 is not a producer id; get one from POST /v1/producers",
            ));
        }
        Some(info) => Some(ProducerTag {
            producer_id: info.id,
            epoch: info.epoch,
            sequence: info.sequence,
        }),
        None => None,
    };
    if request.records.is_empty() {
        return Err(ApiError::invalid_request(
            "records must hold at least one record",
        ));
    }
    if request.records.len() > max_records as usize {
        return Err(ApiError::new(
            ErrorCode::TooManyRecords,
            format!(
                "{} records in one request; the limit is {max_records} (server.max_records_per_request)",
                request.records.len(),
            ),
        ));
    }
    let records = request
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| convert(index, record, now, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((records, producer))
}

/// Turns a parsed record into a stored one; JSON keys and values are sliced from `body`
/// (no copy) and stored as the text the client sent.
fn convert(
    index: usize,
    wire: RecordIn<'_>,
    now: i64,
    body: &Bytes,
) -> Result<Converted, ApiError> {
    let key = wire.key.filter(|raw| raw.get() != "null");
    let (key, hash_key) = match (key, wire.key_b64) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_record(format!(
                "record {index} has both key and key_b64; send one"
            )));
        }
        (None, None) => (None, None),
        (Some(raw), None) => {
            let text = raw.get();
            // A string key hashes on its UTF-8 bytes, as Kafka's StringSerializer sends it;
            // any other JSON key on its text as sent.
            let hash = if text.starts_with('"') {
                serde_json::from_str::<String>(text)
                    .map(String::into_bytes)
                    .map_err(|e| ApiError::invalid_record(format!("record {index} key: {e}")))?
            } else {
                text.as_bytes().to_vec()
            };
            (
                Some(Payload::json(body.slice_ref(text.as_bytes()))),
                Some(hash),
            )
        }
        (None, Some(b64)) => {
            let raw = decode_b64(index, "key_b64", &b64)?;
            (Some(Payload::bytes(raw.clone())), Some(raw))
        }
    };
    let value = match (wire.value, wire.value_b64) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_record(format!(
                "record {index} has both value and value_b64; send one"
            )));
        }
        (None, None) => {
            return Err(ApiError::invalid_record(format!(
                "record {index} has no value: send \"value\" (any JSON) or \"value_b64\" (base64 bytes)"
            )));
        }
        (Some(raw), None) => Payload::json(body.slice_ref(raw.get().as_bytes())),
        (None, Some(b64)) => Payload::bytes(decode_b64(index, "value_b64", &b64)?),
    };
    let timestamp_ms = wire.timestamp_ms.unwrap_or(now);
    if timestamp_ms < 0 {
        return Err(ApiError::invalid_record(format!(
            "record {index} has timestamp_ms {timestamp_ms}; it must be ms since the Unix epoch, at least 0"
        )));
    }
    let record = Record {
        timestamp_ms,
        key,
        value,
        headers: wire.headers.into_iter().collect(),
    };
    Ok((record, hash_key, wire.partition))
}

fn decode_b64(index: usize, field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    BASE64.decode(text).map_err(|e| {
        ApiError::invalid_record(format!(
            "record {index} {field} is not valid standard base64: {e}"
        ))
    })
}
