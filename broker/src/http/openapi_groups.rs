//! The consumer-group part of the OpenAPI document (`openapi.rs` merges it in): the
//! `/v1/groups` routes and their schemas.

use serde_json::{Value, json};
use silt_metadata::limits::{
    MAX_OFFSET_METADATA_BYTES, MAX_OFFSETS_PER_COMMAND, MAX_SESSION_TIMEOUT_MS,
    MAX_TOPICS_PER_MEMBER, MIN_SESSION_TIMEOUT_MS,
};
use silt_sdk::wire::ErrorCode as E;

use super::openapi_parts::{
    json_body, ok_json, responses, schema_ref, topic_name_schema, uint, with_any,
};

/// The `group` path parameter (the topic naming rule).
fn group_param() -> Value {
    json!({
        "name": "group", "in": "path", "required": true,
        "description": "1-249 characters of [A-Za-z0-9._-], not \".\" or \"..\"",
        "schema": topic_name_schema()
    })
}

/// The `member` path parameter.
fn member_param() -> Value {
    json!({"name": "member", "in": "path", "required": true, "description": "A member id a join answered",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
}

/// The membership routes: join, heartbeat, leave.
fn member_paths() -> Value {
    json!({
        "/v1/groups/{group}/members": {
            "parameters": [group_param()],
            "post": {
                "operationId": "joinGroup",
                "summary": "Join a group (or rejoin as member_id): one Raft write; a new member or a changed subscription starts a new generation with a new assignment",
                "requestBody": json_body(true, schema_ref("JoinGroupRequest")),
                "responses": responses(json!({"200": ok_json("The member's id, generation and partitions", schema_ref("MemberState"))}),
                    &with_any(&[E::InvalidRequest, E::InvalidGroupName, E::InvalidTopicName, E::TopicNotFound, E::UnknownMember, E::GroupNotEmpty, E::QuotaExceeded, E::PayloadTooLarge, E::BodyTimeout]))
            }
        },
        "/v1/groups/{group}/members/{member}": {
            "parameters": [group_param(), member_param()],
            "delete": {
                "operationId": "leaveGroup",
                "summary": "Leave the group: one Raft write; its partitions move to the other members in a new generation",
                "responses": responses(json!({"204": {"description": "Left"}}), &with_any(&[E::InvalidGroupName, E::UnknownMember]))
            }
        },
        "/v1/groups/{group}/members/{member}/heartbeat": {
            "parameters": [group_param(), member_param()],
            "post": {
                "operationId": "heartbeat",
                "summary": "Keep the member alive and learn the current generation and assignment (state rebalance: the generation named is older). Answered by the metadata leader from memory: never a Raft write",
                "requestBody": json_body(false, schema_ref("HeartbeatRequest")),
                "responses": responses(json!({"200": ok_json("The member's generation and partitions", schema_ref("MemberState"))}),
                    &with_any(&[E::InvalidRequest, E::InvalidGroupName, E::UnknownMember, E::StaleGeneration, E::PayloadTooLarge, E::BodyTimeout]))
            }
        }
    })
}

/// Codes every group route with a group in its path may answer.
const NAMED: [E; 2] = [E::InvalidGroupName, E::GroupNotFound];

/// The group routes.
pub(super) fn paths() -> Value {
    let mut paths = offset_paths();
    if let (Some(all), Value::Object(members)) = (paths.as_object_mut(), member_paths()) {
        all.extend(members);
    }
    paths
}

/// The group and offset routes.
fn offset_paths() -> Value {
    json!({
        "/v1/groups": {"get": {
            "operationId": "listGroups",
            "summary": "Every consumer group the caller may consume from (consume on group:NAME), by name",
            "responses": responses(json!({"200": ok_json("The groups", schema_ref("GroupList"))}), &with_any(&[]))
        }},
        "/v1/groups/{group}": {
            "parameters": [group_param()],
            "get": {
                "operationId": "describeGroup",
                "summary": "A group: state, generation, members and committed offsets with their lag",
                "responses": responses(json!({"200": ok_json("The group", schema_ref("GroupDescription"))}), &with_any(&NAMED))
            },
            "delete": {
                "operationId": "deleteGroup",
                "summary": "Delete a group and its committed offsets (admin on group:NAME); refused while it has members",
                "responses": responses(json!({"204": {"description": "Deleted"}}), &with_any(&[E::InvalidGroupName, E::GroupNotFound, E::GroupNotEmpty]))
            }
        },
        "/v1/groups/{group}/offsets": {
            "parameters": [group_param()],
            "put": {
                "operationId": "commitOffsets",
                "summary": "Commit offsets (one Raft write); without member_id and generation a simple commit, allowed while the group has no members. Creates the group",
                "requestBody": json_body(true, schema_ref("CommitOffsetsRequest")),
                "responses": responses(json!({"200": ok_json("The offsets set", schema_ref("GroupOffsets"))}),
                    &with_any(&[E::InvalidRequest, E::InvalidGroupName, E::InvalidTopicName, E::TopicNotFound, E::PartitionNotFound, E::UnknownMember, E::StaleGeneration, E::GroupNotEmpty, E::OffsetOutOfRange, E::QuotaExceeded, E::PayloadTooLarge, E::BodyTimeout]))
            },
            "get": {
                "operationId": "groupOffsets",
                "summary": "The group's committed offsets with their lag (high watermark minus offset)",
                "responses": responses(json!({"200": ok_json("The offsets", schema_ref("GroupOffsets"))}), &with_any(&NAMED))
            }
        },
        "/v1/groups/{group}/offsets/reset": {
            "parameters": [group_param()],
            "post": {
                "operationId": "resetOffsets",
                "summary": "Move offsets to earliest, latest, a time or an offset: every partition of topics, else the partitions the group has offsets for",
                "requestBody": json_body(true, schema_ref("ResetOffsetsRequest")),
                "responses": responses(json!({"200": ok_json("The offsets set", schema_ref("GroupOffsets"))}),
                    &with_any(&[E::InvalidRequest, E::InvalidGroupName, E::GroupNotFound, E::GroupNotEmpty, E::InvalidTopicName, E::TopicNotFound, E::PartitionNotFound, E::OffsetOutOfRange, E::QuotaExceeded, E::CorruptData, E::PayloadTooLarge, E::BodyTimeout]))
            }
        }
    })
}

/// The group schemas.
pub(super) fn schemas() -> Value {
    let u32_max = u64::from(u32::MAX);
    let time = json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX});
    json!({
        "OffsetToCommit": {"type": "object", "additionalProperties": false, "required": ["topic", "partition", "offset"], "properties": {
            "topic": topic_name_schema(), "partition": uint(u32_max),
            "offset": {"type": "integer", "minimum": 0, "maximum": u64::MAX, "description": "From the partition's start offset to its high watermark; else 416 offset_out_of_range with the valid range"},
            "metadata": {"type": ["string", "null"], "maxLength": MAX_OFFSET_METADATA_BYTES, "description": "At most 4096 bytes"}
        }},
        "CommitOffsetsRequest": {"type": "object", "additionalProperties": false, "required": ["offsets"],
            "description": "A member's commit gives member_id and generation; a simple commit neither (null counts as absent)",
            "oneOf": [
                {"properties": {"member_id": {"type": "null"}, "generation": {"type": "null"}}},
                {"required": ["member_id", "generation"], "properties": {"member_id": {"type": "string"}, "generation": {"type": "integer"}}}
            ],
            "properties": {
            "offsets": {"type": "array", "minItems": 1, "maxItems": MAX_OFFSETS_PER_COMMAND, "items": schema_ref("OffsetToCommit")},
            "generation": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX, "description": "The committing member's generation; give with member_id or not at all"},
            "member_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "description": "The committing member; give with generation or not at all"}
        }},
        "ProduceCommit": {"type": "object", "additionalProperties": false, "required": ["group", "offsets"],
            "description": "A consumer-group offset commit applied in the same metadata entry as the produce request's records, or not at all: a refused commit (stale_generation, unknown_member, group_not_empty for a simple commit on a group with members, offset_out_of_range) writes no record, and an idempotent retry is answered with the original offsets without committing again. Needs producer (else 400 invalid_request), consume on group:NAME and on each topic committed. JSON bodies only. A member's commit gives member_id and generation; a simple commit neither",
            "oneOf": [
                {"properties": {"member_id": {"type": "null"}, "generation": {"type": "null"}}},
                {"required": ["member_id", "generation"], "properties": {"member_id": {"type": "string"}, "generation": {"type": "integer"}}}
            ],
            "properties": {
            "group": topic_name_schema(),
            "offsets": {"type": "array", "minItems": 1, "maxItems": MAX_OFFSETS_PER_COMMAND, "items": schema_ref("OffsetToCommit")},
            "generation": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX, "description": "The committing member's generation; give with member_id or not at all"},
            "member_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "description": "The committing member; give with generation or not at all"}
        }},
        "CommittedOffset": {"type": "object", "additionalProperties": false,
            "required": ["topic", "partition", "offset", "metadata", "lag", "committed_at_ms"], "properties": {
            "topic": topic_name_schema(), "partition": uint(u32_max), "offset": uint(u64::MAX),
            "metadata": {"type": ["string", "null"]}, "lag": uint(u64::MAX), "committed_at_ms": time
        }},
        "GroupOffsets": {"type": "object", "additionalProperties": false, "required": ["group", "offsets"], "properties": {
            "group": topic_name_schema(), "offsets": {"type": "array", "items": schema_ref("CommittedOffset")}
        }},
        "ResetOffsetsRequest": {"type": "object", "additionalProperties": false, "required": ["to"], "properties": {
            "to": {"oneOf": [
                {"enum": ["earliest", "latest"]},
                {"type": "object", "additionalProperties": false, "required": ["timestamp_ms"], "properties": {"timestamp_ms": {"type": "integer", "minimum": 0, "maximum": i64::MAX, "description": "Milliseconds since the Unix epoch"}}},
                {"type": "object", "additionalProperties": false, "required": ["offset"], "properties": {"offset": uint(u64::MAX)}}
            ]},
            "topics": {"type": ["array", "null"], "minItems": 1, "items": topic_name_schema(), "description": "Reset every partition of these topics; absent: the partitions the group has offsets for (404 group_not_found if it has none)"},
            "force": {"type": "boolean", "default": false, "description": "Reset even while the group has active members"}
        }},
        "GroupSummary": {"type": "object", "additionalProperties": false, "required": ["group", "state", "generation", "members", "offsets"], "properties": {
            "group": topic_name_schema(), "state": {"enum": ["empty", "stable"]}, "generation": uint(u64::MAX),
            "members": uint(u32_max), "offsets": uint(u64::MAX)
        }},
        "GroupList": {"type": "object", "additionalProperties": false, "required": ["groups"], "properties": {
            "groups": {"type": "array", "items": schema_ref("GroupSummary")}
        }},
        "TopicPartition": {"type": "object", "additionalProperties": false, "required": ["topic", "partition"], "properties": {
            "topic": topic_name_schema(), "partition": uint(u32_max)
        }},
        "GroupMember": {"type": "object", "additionalProperties": false,
            "required": ["member_id", "client_id", "topics", "session_timeout_ms", "assignment"], "properties": {
            "member_id": {"type": "string"}, "client_id": {"type": ["string", "null"]},
            "topics": {"type": "array", "items": topic_name_schema()},
            "session_timeout_ms": uint(MAX_SESSION_TIMEOUT_MS),
            "assignment": {"type": "array", "items": schema_ref("TopicPartition")}
        }},
        "JoinGroupRequest": {"type": "object", "additionalProperties": false, "required": ["topics"], "properties": {
            "topics": {"type": "array", "minItems": 1, "maxItems": MAX_TOPICS_PER_MEMBER, "items": topic_name_schema(), "description": "Topics to read; each must exist"},
            "session_timeout_ms": {"type": ["integer", "null"], "minimum": MIN_SESSION_TIMEOUT_MS, "maximum": MAX_SESSION_TIMEOUT_MS, "default": 10000,
                "description": "Removed (and its partitions moved) after this long without a heartbeat"},
            "assignor": {"enum": ["range", "sticky", null], "default": "range",
                "description": "range: per topic, contiguous ranges over the members by id; sticky: members keep their partitions, only those of departed members and the excess of over-loaded ones move"},
            "member_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "description": "Rejoin as this member; absent: a new member"},
            "client_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 63, "description": "The start of the member id; at most 255 bytes"}
        }},
        "HeartbeatRequest": {"type": "object", "additionalProperties": false, "properties": {
            "generation": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX, "description": "The generation the member works in"}
        }},
        "MemberState": {"type": "object", "additionalProperties": false,
            "required": ["group", "member_id", "generation", "state", "assignment", "session_timeout_ms"], "properties": {
            "group": topic_name_schema(), "member_id": {"type": "string"}, "generation": uint(u64::MAX),
            "state": {"enum": ["stable", "rebalance"], "description": "rebalance: the generation named is older; adopt this generation and assignment"},
            "assignment": {"type": "array", "items": schema_ref("TopicPartition")},
            "session_timeout_ms": uint(MAX_SESSION_TIMEOUT_MS)
        }},
        "GroupDescription": {"type": "object", "additionalProperties": false, "required": ["group", "state", "generation", "members", "offsets"], "properties": {
            "group": topic_name_schema(), "state": {"enum": ["empty", "stable"]}, "generation": uint(u64::MAX),
            "members": {"type": "array", "items": schema_ref("GroupMember")},
            "offsets": {"type": "array", "items": schema_ref("CommittedOffset")}
        }}
    })
}
