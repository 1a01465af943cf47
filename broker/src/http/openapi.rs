//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the v1 API, the contract other
//! clients are written against. Error codes are generated from the one list in
//! `silt_sdk::wire::ErrorCode`, with the status of each from the edge's table.

use axum::Json;
use serde_json::{Value, json};
use silt_sdk::wire::ErrorCode;

use crate::http::error::status_of;

/// `GET /v1/openapi.json`
pub(crate) async fn openapi() -> Json<Value> {
    Json(document())
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let codes: Vec<Value> = ErrorCode::ALL
        .iter()
        .map(|c| Value::String(c.as_str().to_owned()))
        .collect();
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
    let topic_param = json!({"name": "topic", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,249}$"}});
    let errors = |codes: &[(&str, &str)]| -> Value {
        let mut map = serde_json::Map::new();
        for (status, text) in codes {
            map.insert((*status).to_owned(), error_response(text));
        }
        Value::Object(map)
    };
    let merge = |mut base: Value, extra: Value| -> Value {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "silt v1 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "A durable, ordered, partitioned log on object storage. Every error answers `{{\"error\": {{\"code\", \"message\"}}}}` with one of these stable codes:\n\n{}",
                code_table.join("\n")
            )
        },
        "paths": {
            "/v1/topics": {
                "post": {
                    "summary": "Create a topic",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateTopicRequest"}}}},
                    "responses": merge(json!({"201": ok_json("The topic", "Topic")}),
                        errors(&[("400", "invalid_request, invalid_topic_name, invalid_partition_count, invalid_config"), ("409", "topic_already_exists"), ("413", "payload_too_large"), ("503", "unavailable")]))
                },
                "get": {
                    "summary": "List topics",
                    "responses": merge(json!({"200": ok_json("Topics by name", "TopicList")}), errors(&[("503", "unavailable")]))
                }
            },
            "/v1/topics/{topic}": {
                "parameters": [topic_param.clone()],
                "get": {
                    "summary": "Describe a topic with each partition's start offset and high watermark",
                    "responses": merge(json!({"200": ok_json("The topic", "Topic")}), errors(&[("400", "invalid_topic_name"), ("404", "topic_not_found"), ("503", "unavailable")]))
                },
                "delete": {
                    "summary": "Delete a topic",
                    "responses": merge(json!({"204": {"description": "Deleted"}}), errors(&[("400", "invalid_topic_name"), ("404", "topic_not_found"), ("503", "unavailable")]))
                }
            },
            "/v1/topics/{topic}/records": {
                "parameters": [topic_param.clone()],
                "post": {
                    "summary": "Produce records; answered once they are in object storage and ordered",
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ProduceRequest"}},
                        "application/x-silt-records": {
                            "schema": {"type": "string", "format": "binary"},
                            "description": "Binary records, no JSON or base64 cost. Integers little-endian. body = \"SLTR\" | version u8 (1) | record_count u32 | record*; record = flags u8 | [partition u32] | [timestamp_ms i64] | [key_len u32 | key] | value_len u32 | value | header_count u16 | (name_len u16 | name | value_len u32 | value)*; flags: bits 0-1 key kind (0 none, 1 bytes, 2 JSON), bit 2 value kind (0 bytes, 1 JSON), bit 3 partition present, bit 4 timestamp present, bits 5-7 zero. The body must end after the last record. JSON-kind keys and values must be valid JSON and are fetched as JSON; bytes come back as *_b64."
                        }
                    }},
                    "responses": merge(json!({"200": ok_json("One offset per record, in request order", "ProduceResponse")}),
                        errors(&[("400", "invalid_request, invalid_record, invalid_topic_name"), ("404", "topic_not_found, partition_not_found, producer_not_found"), ("409", "producer_fenced, out_of_order_sequence"), ("413", "payload_too_large, record_too_large, too_many_records"), ("503", "unavailable (Retry-After)"), ("504", "timeout")]))
                }
            },
            "/v1/topics/{topic}/partitions/{partition}/records": {
                "parameters": [
                    topic_param,
                    {"name": "partition", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "max_records", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1000}, "description": "At most server.max_fetch_records"},
                    {"name": "max_bytes", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1048576}, "description": "At most server.max_fetch_bytes; one record is returned even if larger"},
                    {"name": "wait_ms", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}, "description": "Long-poll at the high watermark; at most server.max_fetch_wait"}
                ],
                "get": {
                    "summary": "Fetch records from an offset",
                    "responses": merge(json!({"200": ok_json("Records and the next offset", "FetchResponse")}),
                        errors(&[("400", "invalid_parameter, invalid_topic_name"), ("404", "topic_not_found, partition_not_found"), ("416", "offset_out_of_range"), ("500", "corrupt_data"), ("503", "unavailable")]))
                }
            },
            "/v1/producers": {
                "post": {
                    "summary": "Get an idempotent producer id, or bump an existing id's epoch",
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InitProducerRequest"}}}},
                    "responses": merge(json!({"200": ok_json("The producer's id and epoch", "ProducerIdentity")}),
                        errors(&[("400", "invalid_request"), ("404", "producer_not_found"), ("503", "unavailable")]))
                }
            },
            "/v1/cluster": {
                "get": {
                    "summary": "The metadata cluster (leader, voters) and the broker registry with leases",
                    "responses": merge(json!({"200": ok_json("The cluster", "Cluster")}), errors(&[("503", "unavailable")]))
                }
            },
            "/v1/admin/faults": {
                "put": {
                    "summary": "Testing only (broker started with --fault-injection): inject object-store faults and a full write-ahead cache",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Faults"}}}},
                    "responses": merge(json!({"204": {"description": "Applied"}}), errors(&[("400", "invalid_request"), ("404", "not_found (fault injection disabled)")]))
                },
                "delete": {
                    "summary": "Testing only: clear every injected fault",
                    "responses": merge(json!({"204": {"description": "Cleared"}}), errors(&[("404", "not_found (fault injection disabled)")]))
                }
            },
            "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/healthz": {"get": {"summary": "The process is up", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Metadata and object store reachable", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready; the body names what"}}}},
            "/metrics": {"get": {"summary": "Prometheus / OpenMetrics text", "responses": {"200": {"description": "metrics"}}}}
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "enum": codes},
                        "message": {"type": "string"}
                    }}}
                },
                "TopicConfig": {"type": "object", "additionalProperties": false, "properties": {
                    "compression": {"type": "string", "enum": ["none", "zstd"], "default": "none"}
                }},
                "CreateTopicRequest": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "partitions": {"type": "integer", "minimum": 1, "default": 1, "description": "At most server.max_partitions_per_topic (default 1024)"},
                    "config": {"$ref": "#/components/schemas/TopicConfig"}
                }},
                "PartitionInfo": {"type": "object", "properties": {
                    "partition": {"type": "integer"}, "start_offset": {"type": "integer"}, "high_watermark": {"type": "integer"}
                }},
                "Topic": {"type": "object", "properties": {
                    "name": {"type": "string"}, "id": {"type": "integer"}, "partition_count": {"type": "integer"},
                    "config": {"$ref": "#/components/schemas/TopicConfig"}, "created_at_ms": {"type": "integer"},
                    "partitions": {"type": "array", "items": {"$ref": "#/components/schemas/PartitionInfo"}}
                }},
                "TopicList": {"type": "object", "properties": {"topics": {"type": "array", "items": {"$ref": "#/components/schemas/Topic"}}}},
                "ProduceRecord": {"type": "object", "additionalProperties": false,
                    "description": "Exactly one of value / value_b64; at most one of key / key_b64. Key + value + headers at most server.max_record_bytes (default 1 MiB).",
                    "properties": {
                        "key": {"description": "Any JSON; null means no key"},
                        "key_b64": {"type": "string", "contentEncoding": "base64"},
                        "value": {"description": "Any JSON, null included"},
                        "value_b64": {"type": "string", "contentEncoding": "base64"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "partition": {"type": "integer", "minimum": 0, "description": "Else murmur2(key) as Kafka, else sticky round-robin"},
                        "timestamp_ms": {"type": "integer", "minimum": 0, "description": "Default: the broker's clock"}
                    }},
                "ProduceRequest": {"type": "object", "additionalProperties": false, "required": ["records"], "properties": {
                    "records": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/ProduceRecord"}, "description": "At most server.max_records_per_request (default 10000); the body at most server.max_request_bytes (default 16 MiB)"},
                    "producer": {"$ref": "#/components/schemas/ProducerTag"}
                }},
                "ProducerTag": {"type": "object", "additionalProperties": false, "required": ["id", "epoch", "sequence"],
                    "description": "Makes the request idempotent: the same (id, epoch, sequence) sent again, to any broker, is answered with the original offsets and never written twice. id and epoch come from POST /v1/producers; sequence counts this producer's requests from 0 in each epoch, with no gap (else out_of_order_sequence). A stale epoch answers producer_fenced. Keyless records without a partition go to a partition derived from (id, sequence), so a retry lands where the original did. JSON bodies only.",
                    "properties": {
                        "id": {"type": "integer", "minimum": 1},
                        "epoch": {"type": "integer", "minimum": 0},
                        "sequence": {"type": "integer", "minimum": 0}
                    }},
                "InitProducerRequest": {"type": "object", "additionalProperties": false, "properties": {
                    "producer_id": {"type": ["integer", "null"], "minimum": 1, "description": "Omit for a new producer id; give one to bump its epoch (fencing older instances)"}
                }},
                "ProducerIdentity": {"type": "object", "properties": {"producer_id": {"type": "integer"}, "epoch": {"type": "integer"}}},
                "Cluster": {"type": "object", "properties": {
                    "broker_id": {"type": "string", "description": "The broker that answered"},
                    "metadata": {"type": "object", "description": "The metadata leader's view: node_id, state, leader_id, leader_addr, term, last_applied, voters, learners, addresses"},
                    "brokers": {"type": "array", "items": {"type": "object", "properties": {
                        "broker_id": {"type": "string"}, "address": {"type": "string"}, "alive": {"type": "boolean"},
                        "lease_expires_in_ms": {"type": "integer", "description": "Negative: expired that long ago"}
                    }}},
                    "garbage": {"type": "object", "description": "Uploaded objects no index entry references (failed uploads, segments whose every chunk was a duplicate or refused), recorded for garbage collection", "properties": {
                        "objects": {"type": "integer"}, "sample": {"type": "array", "items": {"type": "string"}}
                    }}
                }},
                "Faults": {"type": "object", "additionalProperties": false, "properties": {
                    "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "slowdown_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "hang_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "lost_response_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "extra_latency_ms": {"type": "integer", "minimum": 0},
                    "spool_budget_bytes": {"type": ["integer", "null"], "description": "Simulated write-ahead cache budget (a full disk)"},
                    "seed": {"type": "integer"}
                }},
                "RecordOffset": {"type": "object", "properties": {"partition": {"type": "integer"}, "offset": {"type": "integer"}}},
                "ProduceResponse": {"type": "object", "properties": {"offsets": {"type": "array", "items": {"$ref": "#/components/schemas/RecordOffset"}}}},
                "FetchedRecord": {"type": "object", "properties": {
                    "offset": {"type": "integer"}, "timestamp_ms": {"type": "integer"},
                    "key": {}, "key_b64": {"type": "string"}, "value": {}, "value_b64": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}}
                }},
                "FetchResponse": {"type": "object", "properties": {
                    "records": {"type": "array", "items": {"$ref": "#/components/schemas/FetchedRecord"}},
                    "next_offset": {"type": "integer"}, "high_watermark": {"type": "integer"}
                }}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_error_code_and_route() {
        let doc = document();
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
            "/v1/producers",
            "/v1/cluster",
            "/v1/admin/faults",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
    }
}
