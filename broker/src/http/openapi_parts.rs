//! The building blocks of the OpenAPI document, shared by its parts (`openapi.rs`,
//! `openapi_groups.rs`): schema references, JSON bodies and responses, the error responses
//! of a list of codes (grouped by the status the edge gives each), the topic name rule.

use serde_json::{Map, Value, json};
use silt_sdk::wire::ErrorCode;

use crate::http::error::status_of;

/// Kafka's topic name rule as a pattern (the server's `validate::topic_name`).
const TOPIC_NAME_PATTERN: &str = "^[A-Za-z0-9._-]+$";

/// An integer from 0 to `max`.
pub(crate) fn uint(max: u64) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": max})
}

/// A reference to the component schema `name`.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A JSON response described by `description`.
pub(crate) fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A JSON request body.
pub(crate) fn json_body(required: bool, schema: Value) -> Value {
    json!({"required": required, "content": {"application/json": {"schema": schema}}})
}

/// The error responses of an operation: its codes grouped by their status, each response's
/// schema naming exactly those codes, and `Retry-After` on the retryable ones.
pub(crate) fn errors(codes: &[ErrorCode]) -> Map<String, Value> {
    let mut by_status: Vec<(u16, Vec<ErrorCode>)> = Vec::new();
    for code in codes {
        let status = status_of(*code).as_u16();
        match by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, list)) => list.push(*code),
            None => by_status.push((status, vec![*code])),
        }
    }
    by_status.sort_by_key(|(status, _)| *status);
    let mut responses = Map::new();
    for (status, list) in by_status {
        let names: Vec<&str> = list.iter().map(|c| c.as_str()).collect();
        let mut response = json!({
            "description": names.join(", "),
            "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": false, "required": ["error"],
                "properties": {"error": {
                    "type": "object", "additionalProperties": false, "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": names},
                        "message": {"type": "string"}
                    }
                }}
            }}}
        });
        if list.iter().any(|c| c.is_retryable()) {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before retrying",
                "required": true,
                "schema": {"type": "string", "pattern": "^[0-9]+$"}
            }});
        }
        responses.insert(status.to_string(), response);
    }
    responses
}

/// An operation's responses: `ok` (status → response) and the error responses of `codes`.
pub(crate) fn responses(ok: Value, codes: &[ErrorCode]) -> Value {
    let mut map = ok.as_object().cloned().unwrap_or_default();
    map.extend(errors(codes));
    Value::Object(map)
}

/// Codes every operation can answer: an internal error, or a dependency unavailable.
pub(crate) const ANY: [ErrorCode; 2] = [ErrorCode::Internal, ErrorCode::Unavailable];

/// `codes` and the codes every operation can answer ([`ANY`]).
pub(crate) fn with_any(codes: &[ErrorCode]) -> Vec<ErrorCode> {
    codes.iter().chain(ANY.iter()).copied().collect()
}

/// Kafka's topic name rule as a schema (the server's `validate::topic_name`).
pub(crate) fn topic_name_schema() -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": 249, "pattern": TOPIC_NAME_PATTERN,
        "not": {"enum": [".", ".."]}
    })
}
