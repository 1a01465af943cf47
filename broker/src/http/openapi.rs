//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the v1 API, the contract other
//! clients are written against. It is as strict as the server: every limit the server
//! enforces (names, ranges, the broker's configured `server.*` limits) is in the schemas,
//! and each error response lists exactly the codes that status can carry. Error codes come
//! from the one list in `silt_sdk::wire::ErrorCode`, with the status of each from the edge's
//! table. `scripts/api-check.sh` validates the document and fuzzes the server against it.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use silt_sdk::wire::{
    DEFAULT_TOPIC_PAGE, ErrorCode, MAX_RETENTION_BYTES, MAX_RETENTION_MS, MAX_TOPIC_PAGE,
};

use crate::config::ServerConfig;
use crate::http::error::status_of;
use crate::http::openapi_parts::{
    ANY, errors, json_body, ok_json, responses, schema_ref, topic_name_schema, uint, with_any,
};
use crate::state::AppState;

/// Standard base64 with padding whose unused trailing bits are zero, the only form the
/// server's decoder accepts.
const BASE64_PATTERN: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// `GET /v1/openapi.json`: the document for this broker's configured limits.
pub(crate) async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state.config.server))
}

/// `/v1/admin/faults` and its `Faults` schema: test builds only (the `fault-injection`
/// feature), so the default build documents no fault route.
#[cfg(feature = "fault-injection")]
fn fault_paths() -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    let paths = json!({
        "/v1/admin/faults": {
            "put": {
                "operationId": "setFaults",
                "summary": "Test builds only (broker started with --fault-injection): inject object-store faults and a full write-ahead cache",
                "requestBody": json_body(true, schema_ref("Faults")),
                "responses": responses(json!({"204": {"description": "Applied"}}),
                    &[ErrorCode::InvalidRequest, ErrorCode::NotFound, ErrorCode::PayloadTooLarge])
            },
            "delete": {
                "operationId": "clearFaults",
                "summary": "Test builds only: clear every injected fault",
                "responses": responses(json!({"204": {"description": "Cleared"}}), &[ErrorCode::NotFound])
            }
        }
    });
    let rate = json!({"type": "number", "minimum": 0, "maximum": 1});
    let schemas = json!({
        "Faults": {"type": "object", "additionalProperties": false, "properties": {
            "error_rate": rate,
            "slowdown_rate": rate,
            "hang_rate": rate,
            "lost_response_rate": rate,
            "extra_latency_ms": uint(u64::MAX),
            "spool_budget_bytes": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX, "description": "Simulated write-ahead cache budget (a full disk); null keeps the configured one"},
            "seed": uint(u64::MAX)
        }}
    });
    (
        paths.as_object().cloned().unwrap_or_default(),
        schemas.as_object().cloned().unwrap_or_default(),
    )
}

fn info(limits: &ServerConfig) -> Value {
    let code_table: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| {
            format!(
                "- `{}` ({}{}): {}",
                c.as_str(),
                status_of(*c).as_u16(),
                if c.is_retryable() {
                    ", retryable, with Retry-After"
                } else {
                    ""
                },
                c.description()
            )
        })
        .collect();
    json!({
        "title": "silt v1 API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": format!(
            "A durable, ordered, partitioned log on object storage. The limits in this document are this broker's configuration (server.max_request_bytes {} bytes, server.max_record_bytes {} bytes). Every error answers `{{\"error\": {{\"code\", \"message\"}}}}` with one of these stable codes:\n\n{}",
            limits.max_request_bytes,
            limits.max_record_bytes,
            code_table.join("\n")
        )
    })
}

fn topic_param() -> Value {
    json!({
        "name": "topic", "in": "path", "required": true,
        "description": "1-249 characters of [A-Za-z0-9._-], not \".\" or \"..\"",
        "schema": topic_name_schema()
    })
}

/// The optional `topic_id` query parameter, described by `description`.
fn topic_id_param(description: &str) -> Value {
    json!({"name": "topic_id", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": u64::MAX},
        "description": description})
}

fn paths(limits: &ServerConfig) -> Value {
    use ErrorCode as E;
    let max_wait_ms = u64::try_from(limits.max_fetch_wait.as_millis()).unwrap_or(u64::MAX);
    let topic_link = |operation: &str| json!({"operationId": operation, "parameters": {"topic": "$response.body#/name"}});
    json!({
        "/v1/topics": {
            "post": {
                "operationId": "createTopic",
                "summary": "Create a topic",
                "requestBody": json_body(true, schema_ref("CreateTopicRequest")),
                "responses": responses(json!({"201": {
                    "description": "The topic",
                    "content": {"application/json": {"schema": schema_ref("Topic")}},
                    "links": {
                        "DescribeTopic": topic_link("describeTopic"),
                        "AlterTopic": topic_link("alterTopic"),
                        "DeleteTopic": {"operationId": "deleteTopic", "parameters": {"topic": "$response.body#/name", "topic_id": "$response.body#/id"}},
                        "Produce": topic_link("produce"),
                        "Fetch": {"operationId": "fetch", "parameters": {"topic": "$response.body#/name", "partition": "0", "topic_id": "$response.body#/id"}}
                    }
                }}), &with_any(&[E::InvalidRequest, E::InvalidTopicName, E::InvalidPartitionCount, E::InvalidConfig, E::TopicAlreadyExists, E::QuotaExceeded, E::PayloadTooLarge, E::BodyTimeout]))
            },
            "get": {
                "operationId": "listTopics",
                "summary": "List topics by name, one page at a time, each with its partitions' offsets",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOPIC_PAGE, "default": DEFAULT_TOPIC_PAGE},
                        "description": "Most topics in the page; a page also ends before the topic that would take it past 10 000 partitions"},
                    {"name": "after", "in": "query", "schema": topic_name_schema(),
                        "description": "List the topics named after this one (the previous page's next_after); absent: from the first"}
                ],
                "responses": responses(json!({"200": ok_json("One page of topics by name", schema_ref("TopicList"))}), &with_any(&[E::InvalidParameter]))
            }
        },
        "/v1/topics/{topic}": {
            "parameters": [topic_param()],
            "get": {
                "operationId": "describeTopic",
                "summary": "Describe a topic with each partition's start offset and high watermark",
                "responses": responses(json!({"200": ok_json("The topic", schema_ref("Topic"))}), &with_any(&[E::InvalidTopicName, E::TopicNotFound]))
            },
            "delete": {
                "operationId": "deleteTopic",
                "summary": "Delete a topic by name and id: a retried delete never removes a topic recreated under the name in between",
                "parameters": [topic_id_param("Delete only the topic with this id (404 topic_not_found if the name now belongs to another); absent: the id the name has when the delete arrives")],
                "responses": responses(json!({"204": {"description": "Deleted"}}), &with_any(&[E::InvalidParameter, E::InvalidTopicName, E::TopicNotFound]))
            },
            "patch": {
                "operationId": "alterTopic",
                "summary": "Change a live topic's retention (the partition count and compression cannot change); answers the topic with the retention in force",
                "requestBody": json_body(true, schema_ref("AlterTopicRequest")),
                "responses": responses(json!({"200": ok_json("The topic, with the retention in force", schema_ref("Topic"))}), &with_any(&[E::InvalidRequest, E::InvalidTopicName, E::InvalidConfig, E::TopicNotFound, E::PayloadTooLarge, E::BodyTimeout]))
            }
        },
        "/v1/topics/{topic}/records": {
            "parameters": [topic_param()],
            "post": {
                "operationId": "produce",
                "summary": "Produce records; answered once they are in object storage and ordered",
                "requestBody": {
                    "required": true,
                    "description": "JSON (application/json), or binary records (application/x-silt-records), no JSON or base64 cost. The binary form, integers little-endian: body = \"SLTR\" | version u8 (1) | record_count u32 | record*; record = flags u8 | [partition u32] | [timestamp_ms i64] | [key_len u32 | key] | value_len u32 | value | header_count u16 | (name_len u16 | name | value_len u32 | value)*; flags: bits 0-1 key kind (0 none, 1 bytes, 2 JSON), bit 2 value kind (0 bytes, 1 JSON), bit 3 partition present, bit 4 timestamp present, bits 5-7 zero. The body must end after the last record. JSON-kind keys and values must be strict JSON (valid UTF-8, paired surrogate escapes, at most 64 nested arrays and objects) and are fetched as JSON; bytes come back as *_b64.",
                    "content": {
                        "application/json": {"schema": schema_ref("ProduceRequest")},
                        "application/x-silt-records": {"schema": {"type": "string", "format": "binary"}}
                    }
                },
                "responses": responses(json!({"200": {
                    "description": "One offset per record, in request order",
                    "content": {"application/json": {"schema": schema_ref("ProduceResponse")}},
                    "links": {"Fetch": {"operationId": "fetch", "parameters": {
                        "topic": "$request.path.topic",
                        "partition": "$response.body#/offsets/0/partition",
                        "offset": "$response.body#/offsets/0/offset"
                    }}}
                }}), &with_any(&[E::InvalidRequest, E::InvalidRecord, E::InvalidTopicName, E::TopicNotFound, E::PartitionNotFound, E::ProducerNotFound, E::ProducerFenced, E::OutOfOrderSequence, E::IdempotencyMismatch, E::PayloadTooLarge, E::BodyTimeout, E::RecordTooLarge, E::TooManyRecords, E::Timeout, E::Throttled, E::InvalidGroupName, E::UnknownMember, E::StaleGeneration, E::GroupNotEmpty, E::OffsetOutOfRange, E::QuotaExceeded]))
            }
        },
        "/v1/topics/{topic}/partitions/{partition}/records": {
            "parameters": [
                topic_param(),
                {"name": "partition", "in": "path", "required": true, "schema": uint(u64::from(u32::MAX))},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 0},
                    "description": "From the partition's start offset to its high watermark (fetching at the high watermark returns no records, or waits wait_ms for some); outside that range answers 416 offset_out_of_range"},
                {"name": "max_records", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": limits.max_fetch_records, "default": crate::http::fetch::DEFAULT_MAX_RECORDS.min(limits.max_fetch_records)},
                    "description": "At most server.max_fetch_records"},
                {"name": "max_bytes", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": limits.max_fetch_bytes, "default": crate::http::fetch::DEFAULT_MAX_BYTES.min(limits.max_fetch_bytes)},
                    "description": "At most server.max_fetch_bytes; one record is returned even if larger"},
                {"name": "wait_ms", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": max_wait_ms, "default": 0},
                    "description": "Long-poll at the high watermark; at most server.max_fetch_wait"},
                topic_id_param("The topic_id an earlier fetch answered: 404 topic_not_found if the name now belongs to another topic (deleted and recreated), so a consumer never reads on into it")
            ],
            "get": {
                "operationId": "fetch",
                "summary": "Fetch records from an offset",
                "responses": responses(json!({"200": ok_json("Records and the next offset", schema_ref("FetchResponse"))}),
                    &with_any(&[E::InvalidParameter, E::InvalidTopicName, E::TopicNotFound, E::PartitionNotFound, E::OffsetOutOfRange, E::CorruptData, E::Throttled]))
            }
        },
        "/v1/topics/{topic}/partitions/{partition}/offsets": {
            "parameters": [
                topic_param(),
                {"name": "partition", "in": "path", "required": true, "schema": uint(u64::from(u32::MAX))},
                {"name": "lookup", "in": "query", "required": true, "style": "form", "explode": true,
                    "description": "Exactly one of timestamp_ms (find the first record, in offset order, stamped at or after this time, milliseconds since the Unix epoch) and at (earliest: the partition's first readable offset; latest: its high watermark), as query parameters of their own: ?timestamp_ms=T or ?at=earliest",
                    "schema": {"oneOf": [
                        {"type": "object", "additionalProperties": false, "required": ["timestamp_ms"],
                            "properties": {"timestamp_ms": {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}}},
                        {"type": "object", "additionalProperties": false, "required": ["at"],
                            "properties": {"at": {"enum": ["earliest", "latest"]}}}
                    ]}},
                topic_id_param("The topic_id a fetch answered: 404 topic_not_found if the name now belongs to another topic")
            ],
            "get": {
                "operationId": "offsetLookup",
                "summary": "The offset of the first record at or after a time, or the partition's earliest or latest offset (Kafka's ListOffsets)",
                "responses": responses(json!({"200": ok_json("The offset found", schema_ref("OffsetLookup"))}),
                    &with_any(&[E::InvalidParameter, E::InvalidTopicName, E::TopicNotFound, E::PartitionNotFound, E::CorruptData]))
            }
        },
        "/v1/producers": {
            "post": {
                "operationId": "initProducer",
                "summary": "Get an idempotent producer id, or bump an existing id's epoch",
                "requestBody": json_body(false, schema_ref("InitProducerRequest")),
                "responses": responses(json!({"200": ok_json("The producer's id and epoch", schema_ref("ProducerIdentity"))}),
                    &with_any(&[E::InvalidRequest, E::ProducerNotFound, E::QuotaExceeded, E::PayloadTooLarge, E::BodyTimeout]))
            }
        },
        "/v1/cluster": {
            "get": {
                "operationId": "cluster",
                "summary": "The metadata cluster (leader, voters) and the broker registry with leases",
                "responses": responses(json!({"200": ok_json("The cluster", schema_ref("Cluster"))}), &ANY)
            }
        },
        "/v1/openapi.json": {"get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": ok_json("OpenAPI 3.1", json!({"type": "object", "required": ["openapi", "info", "paths"]}))}
        }},
        "/healthz": {"get": {
            "operationId": "healthz",
            "summary": "The process can serve (503 once its embedded metadata service stopped for good; restart it)",
            "responses": {
                "200": ok_json("ok", json!({
                    "type": "object", "additionalProperties": false, "required": ["status"],
                    "properties": {"status": {"const": "ok"}}
                })),
                "503": ok_json("failed; the body names the cause", json!({
                    "type": "object", "additionalProperties": false, "required": ["status", "cause"],
                    "properties": {"status": {"const": "failed"}, "cause": {"type": "string"}}
                }))
            }
        }},
        "/readyz": {"get": {
            "operationId": "readyz",
            "summary": "Metadata and object store reachable",
            "responses": {
                "200": ok_json("ready", schema_ref("Readiness")),
                "503": ok_json("not ready; the body names what", schema_ref("Readiness"))
            }
        }},
        "/metrics": {"get": {
            "operationId": "metrics",
            "summary": "Prometheus / OpenMetrics text",
            "responses": {"200": {"description": "metrics", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}}
        }}
    })
}

/// A retention setting: -1 or 1 to `max` (or `null` where `nullable`).
fn retention(max: i64, nullable: bool, description: &str) -> Value {
    let mut choices = vec![
        json!({"type": "integer", "const": -1}),
        json!({"type": "integer", "minimum": 1, "maximum": max}),
    ];
    if nullable {
        choices.push(json!({"type": "null"}));
    }
    json!({"oneOf": choices, "description": description})
}

fn schemas(limits: &ServerConfig) -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let u32_max = u64::from(u32::MAX);
    let i64_max = i64::MAX;
    let b64 = json!({"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN});
    let headers = json!({"type": "object", "additionalProperties": {"type": "string"}, "description": "String headers"});
    json!({
        "Error": {
            "type": "object", "additionalProperties": false, "required": ["error"],
            "properties": {"error": {"type": "object", "additionalProperties": false, "required": ["code", "message"], "properties": {
                "code": {"type": "string", "enum": codes},
                "message": {"type": "string"}
            }}}
        },
        "TopicConfig": {"type": "object", "additionalProperties": false, "required": ["retention_ms", "retention_bytes"], "properties": {
            "compression": {"type": "string", "enum": ["none", "zstd"], "description": "Absent: none"},
            "retention_ms": retention(MAX_RETENTION_MS, false, "The retention in force, in ms: the topic's own, else retention.default_ms; -1: for ever"),
            "retention_bytes": retention(MAX_RETENTION_BYTES, false, "The bytes each partition keeps at least: the topic's own, else retention.default_bytes; -1: no bound")
        }},
        "CreateTopicRequest": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": topic_name_schema(),
            "partitions": {"type": "integer", "minimum": 1, "maximum": limits.max_partitions_per_topic, "default": 1, "description": "At most server.max_partitions_per_topic"},
            "config": {"type": "object", "additionalProperties": false, "properties": {
                "compression": {"enum": ["none", "zstd", null], "default": "none", "description": "null: none"},
                "retention_ms": retention(MAX_RETENTION_MS, true, "How long records are kept, in ms; -1: for ever; absent or null: retention.default_ms"),
                "retention_bytes": retention(MAX_RETENTION_BYTES, true, "How many bytes each partition keeps at least (whole chunks go from the front); -1: no bound; absent or null: retention.default_bytes")
            }}
        }},
        "AlterTopicRequest": {"type": "object", "additionalProperties": false, "required": ["config"], "properties": {
            "config": {"type": "object", "additionalProperties": false, "properties": {
                "retention_ms": retention(MAX_RETENTION_MS, true, "New retention in ms; -1: for ever; null: back to retention.default_ms; absent: unchanged"),
                "retention_bytes": retention(MAX_RETENTION_BYTES, true, "New bytes kept per partition; -1: no bound; null: back to retention.default_bytes; absent: unchanged")
            }}
        }},
        "PartitionInfo": {"type": "object", "additionalProperties": false, "required": ["partition", "start_offset", "high_watermark"], "properties": {
            "partition": uint(u32_max), "start_offset": uint(u64::MAX), "high_watermark": uint(u64::MAX)
        }},
        "Topic": {"type": "object", "additionalProperties": false,
            "required": ["name", "id", "partition_count", "config", "created_at_ms", "partitions"],
            "properties": {
                "name": topic_name_schema(),
                "id": uint(u64::MAX),
                "partition_count": {"type": "integer", "minimum": 1, "maximum": u32_max},
                "config": schema_ref("TopicConfig"),
                "created_at_ms": {"type": "integer", "minimum": i64::MIN, "maximum": i64_max},
                "partitions": {"type": "array", "items": schema_ref("PartitionInfo")}
            }},
        "TopicList": {"type": "object", "additionalProperties": false, "required": ["topics", "next_after"],
            "properties": {
                "topics": {"type": "array", "maxItems": MAX_TOPIC_PAGE, "items": schema_ref("Topic")},
                "next_after": {"oneOf": [topic_name_schema(), {"type": "null"}],
                    "description": "Pass as after for the next page; null on the last page"}
            }},
        "ProduceRecord": {"type": "object", "additionalProperties": false,
            "description": "Exactly one of value / value_b64; at most one of key / key_b64 (a null is as if absent, except value: null, a JSON null value). Key + value + headers at most server.max_record_bytes. A JSON key or value must be strict JSON (RFC 8259): valid UTF-8, every \\u surrogate escape paired (a lone \\ud800 is refused), at most 64 nested arrays and objects; otherwise 400 invalid_record naming the record index.",
            "properties": {
                "key": {"description": "Any JSON; null means no key"},
                "key_b64": {"type": ["string", "null"], "contentEncoding": "base64", "pattern": BASE64_PATTERN},
                "value": {"description": "Any JSON, null included"},
                "value_b64": {"type": ["string", "null"], "contentEncoding": "base64", "pattern": BASE64_PATTERN},
                "headers": headers,
                "partition": {"type": ["integer", "null"], "minimum": 0, "maximum": u32_max, "description": "Else murmur2(key) as Kafka, else sticky round-robin; a partition the topic lacks answers 404 partition_not_found"},
                "timestamp_ms": {"type": ["integer", "null"], "minimum": 0, "maximum": i64_max, "description": "Milliseconds since the Unix epoch; default: the broker's clock"}
            },
            "allOf": [
                {"oneOf": [
                    {"required": ["value"]},
                    {"required": ["value_b64"], "properties": {"value_b64": {"type": "string"}}}
                ]},
                {"not": {"required": ["key", "key_b64"], "properties": {"key": {"not": {"type": "null"}}, "key_b64": {"type": "string"}}}}
            ]},
        "ProduceRequest": {"type": "object", "additionalProperties": false, "required": ["records"],
            "description": "A commit needs a producer (else 400 invalid_request)",
            "anyOf": [
                {"properties": {"commit": {"type": "null"}}},
                {"required": ["producer"], "properties": {"producer": {"type": "object"}}}
            ],
            "properties": {
            "records": {"type": "array", "minItems": 1, "maxItems": limits.max_records_per_request, "items": schema_ref("ProduceRecord"),
                "description": "At most server.max_records_per_request; the body at most server.max_request_bytes"},
            "producer": {"oneOf": [schema_ref("ProducerTag"), {"type": "null"}]},
            "commit": {"oneOf": [schema_ref("ProduceCommit"), {"type": "null"}]}
        }},
        "ProducerTag": {"type": "object", "additionalProperties": false, "required": ["id", "epoch", "sequence"],
            "description": "Makes the request idempotent: the same (id, epoch, sequence) sent again, to any broker, is answered with the original offsets and never written twice. id and epoch come from POST /v1/producers; sequence counts this producer's requests from 0 in each epoch, with no gap (else out_of_order_sequence). A sequence reused with other records, partitions or topic answers idempotency_mismatch and writes nothing. A stale epoch answers producer_fenced. Keyless records without a partition go to a partition derived from (id, sequence), so a retry lands where the original did. JSON bodies only.",
            "properties": {
                "id": {"type": "integer", "minimum": 1, "maximum": u64::MAX},
                "epoch": uint(u32_max),
                "sequence": uint(u64::MAX)
            }},
        "InitProducerRequest": {"type": "object", "additionalProperties": false, "properties": {
            "producer_id": {"type": ["integer", "null"], "minimum": 1, "maximum": u64::MAX, "description": "Omit (or null) for a new producer id; give one to bump its epoch (fencing older instances)"}
        }},
        "ProducerIdentity": {"type": "object", "additionalProperties": false, "required": ["producer_id", "epoch"], "properties": {
            "producer_id": {"type": "integer", "minimum": 1, "maximum": u64::MAX}, "epoch": uint(u32_max)
        }},
        "Cluster": {"type": "object", "additionalProperties": false, "required": ["broker_id", "cluster_id", "metadata", "brokers", "garbage"], "properties": {
            "broker_id": {"type": "string", "description": "The broker that answered"},
            "cluster_id": {"type": ["string", "null"], "description": "The metadata cluster's id, which brokers stamp their spools with; null until a broker has set it"},
            "metadata": {"type": "object", "additionalProperties": false, "description": "The metadata leader's view of the Raft cluster",
                "required": ["node_id", "state", "leader_id", "leader_addr", "term", "last_applied", "voters", "learners", "addresses"],
                "properties": {
                    "node_id": uint(u64::MAX),
                    "state": {"type": "string", "description": "Leader, Follower, Candidate, Learner or Shutdown"},
                    "leader_id": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX},
                    "leader_addr": {"type": ["string", "null"]},
                    "term": uint(u64::MAX),
                    "last_applied": uint(u64::MAX),
                    "voters": {"type": "array", "items": uint(u64::MAX)},
                    "learners": {"type": "array", "items": uint(u64::MAX)},
                    "addresses": {"type": "object", "additionalProperties": {"type": "string"}, "description": "host:port by node id"}
                }},
            "brokers": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "required": ["broker_id", "address", "alive", "lease_expires_in_ms"], "properties": {
                    "broker_id": {"type": "string"}, "address": {"type": "string"}, "alive": {"type": "boolean"},
                    "lease_expires_in_ms": {"type": "integer", "description": "Negative: expired that long ago"}
            }}},
            "garbage": {"type": "object", "additionalProperties": false, "required": ["objects", "sample"],
                "description": "Uploaded objects no index entry references (failed uploads, segments whose every chunk was a duplicate or refused), recorded for garbage collection",
                "properties": {"objects": uint(u64::MAX), "sample": {"type": "array", "items": {"type": "string"}}}}
        }},
        "RecordOffset": {"type": "object", "additionalProperties": false, "required": ["partition", "offset"],
            "properties": {"partition": uint(u32_max), "offset": uint(u64::MAX)}},
        "ProduceResponse": {"type": "object", "additionalProperties": false, "required": ["offsets"],
            "properties": {"offsets": {"type": "array", "minItems": 1, "items": schema_ref("RecordOffset")}}},
        "FetchedRecord": {"type": "object", "additionalProperties": false, "required": ["offset", "timestamp_ms", "headers"],
            "description": "Exactly one of value / value_b64, at most one of key / key_b64: the form each was produced in",
            "properties": {
                "offset": uint(u64::MAX), "timestamp_ms": uint(u64::try_from(i64_max).unwrap_or(u64::MAX)),
                "key": {}, "key_b64": b64, "value": {}, "value_b64": b64,
                "headers": headers
            },
            "allOf": [
                {"oneOf": [{"required": ["value"]}, {"required": ["value_b64"]}]},
                {"not": {"required": ["key", "key_b64"]}}
            ]},
        "FetchResponse": {"type": "object", "additionalProperties": false, "required": ["records", "next_offset", "high_watermark"], "properties": {
            "records": {"type": "array", "items": schema_ref("FetchedRecord")},
            "next_offset": uint(u64::MAX), "high_watermark": uint(u64::MAX),
            "topic_id": {"type": "integer", "minimum": 1, "maximum": u64::MAX,
                "description": "The id of the topic read; a topic recreated under the name has another. Send it as the topic_id parameter of the next fetch"}
        }},
        "OffsetLookup": {"type": "object", "additionalProperties": false,
            "required": ["topic", "partition", "offset", "timestamp_ms", "start_offset", "high_watermark", "topic_id"], "properties": {
            "topic": {"type": "string"}, "partition": uint(u64::from(u32::MAX)),
            "offset": {"type": "integer", "minimum": 0, "maximum": u64::MAX,
                "description": "By time: the first record stamped at or after timestamp_ms, or the high watermark when none is. By at: the bound"},
            "timestamp_ms": {"type": ["integer", "null"], "minimum": i64::MIN, "maximum": i64::MAX,
                "description": "The timestamp of the record at offset, when a lookup by time found one; else null"},
            "start_offset": uint(u64::MAX), "high_watermark": uint(u64::MAX),
            "topic_id": {"type": "integer", "minimum": 1, "maximum": u64::MAX}
        }},
        "Readiness": {"type": "object", "additionalProperties": false, "required": ["status", "metadata", "object_store"], "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "metadata": {"enum": ["ok", "unavailable"]},
            "object_store": {"enum": ["ok", "unavailable"]}
        }}
    })
}

/// The document for a broker with these limits (`/v1/admin/faults` only in test builds).
pub(crate) fn document(limits: &ServerConfig) -> Value {
    #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": info(limits),
        "paths": paths(limits),
        "components": {"schemas": schemas(limits)}
    });
    merge(&mut doc["paths"], super::openapi_groups::paths());
    merge(
        &mut doc["components"]["schemas"],
        super::openapi_groups::schemas(),
    );
    #[cfg(feature = "fault-injection")]
    {
        let (fault_paths, fault_schemas) = fault_paths();
        if let Some(paths) = doc["paths"].as_object_mut() {
            paths.extend(fault_paths);
        }
        if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
            schemas.extend(fault_schemas);
        }
    }
    secured(&mut doc);
    doc
}

/// Adds the entries of the object `more` to the object `into`.
fn merge(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}

/// Routes anyone may call (the broker's auth layer lets them through without a token).
const OPEN_PATHS: [&str; 3] = ["/v1/openapi.json", "/healthz", "/readyz"];

/// Declares the bearer scheme for every operation: the open routes say `security: []`,
/// `/metrics` takes a token optionally (`auth.protect_metrics`), every other operation
/// answers 401 `unauthenticated` and 403 `forbidden`.
fn secured(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "A token of the broker's principals file (silt auth token makes one); not needed when the broker runs without auth.principals_file"
    }});
    doc["security"] = json!([{"bearerAuth": []}]);
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let entries = item.as_object_mut().into_iter().flat_map(|o| o.iter_mut());
        for (_, operation) in entries.filter(|(key, _)| METHODS.contains(&key.as_str())) {
            secure_operation(path, operation);
        }
    }
}

/// The keys of a path item that are operations.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// One operation's `security` and its 401 and 403 answers.
fn secure_operation(path: &str, operation: &mut Value) {
    if OPEN_PATHS.contains(&path) {
        operation["security"] = json!([]);
    } else if path == "/metrics" {
        operation["security"] = json!([{}, {"bearerAuth": []}]);
    } else if let Some(responses) = operation["responses"].as_object_mut() {
        responses.extend(errors(&[ErrorCode::Unauthenticated, ErrorCode::Forbidden]));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn every_code_listed(doc: &Value) -> BTreeSet<String> {
        let mut listed = BTreeSet::new();
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                for (status, response) in responses {
                    let codes = &response["content"]["application/json"]["schema"]["properties"]["error"]
                        ["properties"]["code"]["enum"];
                    for code in codes.as_array().into_iter().flatten() {
                        let code = code.as_str().unwrap_or_default();
                        let known = ErrorCode::ALL.iter().find(|c| c.as_str() == code);
                        let known = known.unwrap_or_else(|| panic!("{code} is not an ErrorCode"));
                        assert_eq!(status_of(*known).as_u16().to_string(), *status, "{code}");
                        listed.insert(code.to_owned());
                    }
                }
            }
        }
        listed
    }

    #[test]
    fn lists_every_error_code_and_route() {
        let doc = document(&ServerConfig::default());
        let listed = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(listed.len(), ErrorCode::ALL.len());
        for path in [
            "/v1/topics",
            "/v1/topics/{topic}",
            "/v1/topics/{topic}/records",
            "/v1/topics/{topic}/partitions/{partition}/records",
            "/v1/topics/{topic}/partitions/{partition}/offsets",
            "/v1/producers",
            "/v1/cluster",
            "/v1/groups",
            "/v1/groups/{group}",
            "/v1/groups/{group}/offsets",
            "/v1/groups/{group}/offsets/reset",
            "/v1/groups/{group}/members",
            "/v1/groups/{group}/members/{member}",
            "/v1/groups/{group}/members/{member}/heartbeat",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        // The fault route exists in test builds only.
        let faults = cfg!(feature = "fault-injection");
        assert_eq!(doc["paths"]["/v1/admin/faults"].is_object(), faults);
        assert_eq!(doc["components"]["schemas"]["Faults"].is_object(), faults);
        // Each operation's codes answer with their own status, and every code but the two
        // the router itself answers (no route, wrong method) belongs to some operation.
        let operations = every_code_listed(&doc);
        for code in ErrorCode::ALL {
            if !matches!(code, ErrorCode::MethodNotAllowed | ErrorCode::NotFound) {
                assert!(
                    operations.contains(code.as_str()),
                    "{code} is documented nowhere"
                );
            }
        }
    }

    #[test]
    fn declares_the_bearer_scheme_and_the_open_routes() {
        let doc = document(&ServerConfig::default());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"], json!([{"bearerAuth": []}]));
        for path in OPEN_PATHS {
            assert_eq!(doc["paths"][path]["get"]["security"], json!([]), "{path}");
        }
        let create = &doc["paths"]["/v1/topics"]["post"]["responses"];
        assert!(
            create["401"].is_object() && create["403"].is_object(),
            "{create}"
        );
    }

    #[test]
    fn produce_and_fetch_declare_429_throttled_with_retry_after() {
        let doc = document(&ServerConfig::default());
        let paths = &doc["paths"];
        let produce = &paths["/v1/topics/{topic}/records"]["post"]["responses"]["429"];
        let fetch =
            &paths["/v1/topics/{topic}/partitions/{partition}/records"]["get"]["responses"]["429"];
        for answer in [produce, fetch] {
            let codes = &answer["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
                ["code"]["enum"];
            assert_eq!(codes, &json!(["throttled"]), "{answer}");
            assert_eq!(
                answer["headers"]["Retry-After"]["required"], true,
                "{answer}"
            );
        }
    }

    #[test]
    fn limits_come_from_the_config() {
        let limits = ServerConfig {
            max_fetch_records: 7,
            max_fetch_wait: std::time::Duration::from_millis(250),
            ..ServerConfig::default()
        };
        let doc = document(&limits);
        let parameters =
            doc["paths"]["/v1/topics/{topic}/partitions/{partition}/records"]["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        let max = |name: &str| {
            parameters
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"]["maximum"].clone())
        };
        assert_eq!(max("max_records"), Some(json!(7)));
        assert_eq!(max("wait_ms"), Some(json!(250)));
        assert_eq!(max("offset"), Some(json!(u64::MAX)));
    }
}
