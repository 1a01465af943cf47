//! The error body of every failed request and its stable, snake_case error codes.

use serde::{Deserialize, Serialize};

/// `{"error": {"code": "topic_not_found", "message": "…"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code a program matches on and a message a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Lowercase human-readable message naming the bad value.
    pub message: String,
}

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal, retryable = $retry:literal;)*) => {
        /// Stable error codes of the v1 API. New codes may be added; existing ones never change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// Whether a client may retry the same request unchanged.
            pub fn is_retryable(self) -> bool {
                match self { $(ErrorCode::$variant => $retry,)* }
            }

            /// What the code means, for the OpenAPI document.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!($($doc),*).trim_ascii(),)* }
            }
        }
    };
}

error_codes! {
    /// The request body is not valid JSON, has a field of the wrong type or an unknown field.
    InvalidRequest = "invalid_request", retryable = false;
    /// A query parameter is missing, malformed or out of its allowed range.
    InvalidParameter = "invalid_parameter", retryable = false;
    /// The topic name is empty, longer than 249 characters or uses characters outside [A-Za-z0-9._-].
    InvalidTopicName = "invalid_topic_name", retryable = false;
    /// The partition count is zero or above the broker's limit.
    InvalidPartitionCount = "invalid_partition_count", retryable = false;
    /// A topic config key is unknown or its value is invalid.
    InvalidConfig = "invalid_config", retryable = false;
    /// No topic has that name.
    TopicNotFound = "topic_not_found", retryable = false;
    /// A topic with that name already exists.
    TopicAlreadyExists = "topic_already_exists", retryable = false;
    /// The partition does not exist in the topic.
    PartitionNotFound = "partition_not_found", retryable = false;
    /// The group name is empty, longer than 249 characters or uses characters outside [A-Za-z0-9._-].
    InvalidGroupName = "invalid_group_name", retryable = false;
    /// No consumer group has that name (it never committed an offset, or was deleted).
    GroupNotFound = "group_not_found", retryable = false;
    /// The member is not in the group's current generation (it left, expired or never joined); nothing was changed; join again.
    UnknownMember = "unknown_member", retryable = false;
    /// The member's commit or heartbeat names a generation the group has moved past (a rebalance happened); nothing was changed; heartbeat or rejoin to learn the new assignment.
    StaleGeneration = "stale_generation", retryable = false;
    /// The group has active members: a simple commit, a reset without force, a delete, or a join asking for another assignor than theirs is refused; nothing was changed.
    GroupNotEmpty = "group_not_empty", retryable = false;
    /// A record is malformed: no value, both a JSON and a base64 form, invalid base64, a bad timestamp, a JSON key or value that is not strict JSON (invalid UTF-8, a lone surrogate escape, more than 64 nested arrays and objects).
    InvalidRecord = "invalid_record", retryable = false;
    /// A single record is larger than the broker's max record size.
    RecordTooLarge = "record_too_large", retryable = false;
    /// The request has more records than the broker accepts in one request.
    TooManyRecords = "too_many_records", retryable = false;
    /// The request body is larger than the broker's max request size.
    PayloadTooLarge = "payload_too_large", retryable = false;
    /// The request body stopped arriving for longer than the broker's body read timeout.
    BodyTimeout = "body_timeout", retryable = false;
    /// The fetch offset, or an offset to commit or reset to, is below the partition's start offset or above its high watermark; the message gives the valid range.
    OffsetOutOfRange = "offset_out_of_range", retryable = false;
    /// Stored data failed its checksum; nothing corrupt is ever returned.
    CorruptData = "corrupt_data", retryable = false;
    /// No route matches the path.
    NotFound = "not_found", retryable = false;
    /// The route exists but not for this HTTP method.
    MethodNotAllowed = "method_not_allowed", retryable = false;
    /// No idempotent producer has that id (or that epoch of it was never issued); get one from POST /v1/producers.
    ProducerNotFound = "producer_not_found", retryable = false;
    /// The idempotent producer's epoch is stale: a newer instance of the same producer id fenced this one.
    ProducerFenced = "producer_fenced", retryable = false;
    /// The idempotent request's sequence is not the next one the producer may send (a gap, or a retry too old to answer).
    OutOfOrderSequence = "out_of_order_sequence", retryable = false;
    /// The idempotent request reuses the (id, epoch, sequence) of an earlier request with other content (records, partitions or topic); nothing was written.
    IdempotencyMismatch = "idempotency_mismatch", retryable = false;
    /// The request would take the cluster past a quota (server.max_topics, server.max_total_partitions or server.max_producer_ids), or the principal past one of its own (max_topics, max_partitions or max_producer_ids in the principals file); the message names it, its value and the principal; nothing was created.
    QuotaExceeded = "quota_exceeded", retryable = false;
    /// No Authorization: Bearer token was sent, or the token is not any principal's; nothing was done.
    Unauthenticated = "unauthenticated", retryable = false;
    /// The principal has no allow rule for this operation on this resource (the message names both); nothing was done.
    Forbidden = "forbidden", retryable = false;
    /// The principal is over its produce or fetch byte-rate quota on this broker (the message names principal, direction, quota and wait); nothing was done; retry after the Retry-After header.
    Throttled = "throttled", retryable = true;
    /// The broker is overloaded, shutting down, or a dependency (object store, metadata) is unavailable; retry after the Retry-After header.
    Unavailable = "unavailable", retryable = true;
    /// The request did not complete in time; it may or may not have been applied.
    Timeout = "timeout", retryable = true;
    /// An unexpected internal error.
    Internal = "internal", retryable = false;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_documented_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(!code.description().is_empty());
        }
    }
}
