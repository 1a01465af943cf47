//! The broker edge's one error type and the only code → HTTP status table.
//!
//! Every failure leaves as `{"error": {"code", "message"}}` with the status below;
//! `unavailable` (503) and `timeout` (504) carry `Retry-After`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use silt_sdk::wire::{ErrorBody, ErrorCode};

/// A request failure: a stable code and a message that names the bad value.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Lowercase message for people.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// `invalid_request`
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `invalid_parameter`
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// `invalid_record`
    pub fn invalid_record(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRecord, message)
    }

    /// `unavailable`
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// `internal`
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

/// The HTTP status of each error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest
        | ErrorCode::InvalidParameter
        | ErrorCode::InvalidTopicName
        | ErrorCode::InvalidPartitionCount
        | ErrorCode::InvalidConfig
        | ErrorCode::InvalidRecord => StatusCode::BAD_REQUEST,
        ErrorCode::TopicNotFound
        | ErrorCode::PartitionNotFound
        | ErrorCode::NotFound
        | ErrorCode::ProducerNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::TopicAlreadyExists
        | ErrorCode::ProducerFenced
        | ErrorCode::OutOfOrderSequence => StatusCode::CONFLICT,
        ErrorCode::RecordTooLarge | ErrorCode::TooManyRecords | ErrorCode::PayloadTooLarge => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        ErrorCode::OffsetOutOfRange => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::CorruptData | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let mut response = (status, Json(ErrorBody::new(self.code, self.message))).into_response();
        if self.code.is_retryable() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<silt_metadata::Error> for ApiError {
    fn from(error: silt_metadata::Error) -> Self {
        use silt_metadata::Error as M;
        use silt_metadata::types::CommandError as C;
        match &error {
            M::Rejected(C::TopicAlreadyExists(_)) => {
                ApiError::new(ErrorCode::TopicAlreadyExists, error.to_string())
            }
            M::Rejected(C::TopicNotFound(_)) => {
                ApiError::new(ErrorCode::TopicNotFound, error.to_string())
            }
            M::PartitionNotFound { .. } => {
                ApiError::new(ErrorCode::PartitionNotFound, error.to_string())
            }
            M::Rejected(C::ProducerNotFound(_)) => {
                ApiError::new(ErrorCode::ProducerNotFound, error.to_string())
            }
            M::Unavailable(_) | M::ShuttingDown | M::NotLeader { .. } => {
                ApiError::unavailable(error.to_string())
            }
            _ => ApiError::internal(error.to_string()),
        }
    }
}

impl From<silt_bookie::Error> for ApiError {
    fn from(error: silt_bookie::Error) -> Self {
        if error.is_corrupt() {
            ApiError::new(ErrorCode::CorruptData, error.to_string())
        } else if error.is_not_found() {
            // An index entry names an object the bucket no longer has: not retryable.
            ApiError::internal(format!(
                "a committed object is missing from the object store: {error}"
            ))
        } else {
            ApiError::unavailable(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_only_retryable_ones_are_5xx_unavailable() {
        for code in ErrorCode::ALL {
            let status = status_of(*code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}"
            );
            if code.is_retryable() {
                assert!(status.is_server_error(), "{code}");
            }
        }
    }
}
