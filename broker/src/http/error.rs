//! The broker edge's one error type, the only code → HTTP status table, and the one place
//! where the errors of the write path ([`WriteError`]), the read path ([`ReadError`]), the
//! cluster quotas ([`QuotaError`]), consumer groups ([`GroupError`]), authentication and authorization ([`AuthError`]), byte-rate quotas ([`Throttled`]), the metadata service and the storage engine become a status and a code. (Configuration
//! errors stop start-up with a message naming the setting; they never reach a request.)
//!
//! Every failure leaves as `{"error": {"code", "message"}}` with the status below;
//! `unavailable` (503), `timeout` (504) and `throttled` (429, the bucket's wait) carry
//! `Retry-After`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use silt_sdk::wire::{ErrorBody, ErrorCode};

use crate::auth::AuthError;
use crate::auth::throttle::Throttled;
use crate::budget::BudgetError;
use crate::groups::GroupError;
use crate::quota::QuotaError;
use crate::read::ReadError;
use crate::write::WriteError;
use crate::write::pipeline::PipelineError;

/// A request failure: a stable code and a message that names the bad value.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Lowercase message for people.
    pub message: String,
    /// `Retry-After` in seconds when it is not the default 1 of a retryable code.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `invalid_request` (400): the body or the request as a whole is malformed.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `invalid_parameter` (400): a path or query parameter is malformed.
    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// `invalid_record` (400): one record of a produce request is invalid.
    pub(crate) fn invalid_record(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRecord, message)
    }

    /// `unavailable` (503, `Retry-After`): a dependency is down; retrying may succeed.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// `internal` (500): a bug or an invariant broken; not retryable.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

/// The HTTP status of each error code.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest
        | ErrorCode::InvalidParameter
        | ErrorCode::InvalidTopicName
        | ErrorCode::InvalidPartitionCount
        | ErrorCode::InvalidConfig
        | ErrorCode::InvalidGroupName
        | ErrorCode::InvalidRecord => StatusCode::BAD_REQUEST,
        ErrorCode::TopicNotFound
        | ErrorCode::GroupNotFound
        | ErrorCode::PartitionNotFound
        | ErrorCode::NotFound
        | ErrorCode::ProducerNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::TopicAlreadyExists
        | ErrorCode::ProducerFenced
        | ErrorCode::OutOfOrderSequence
        | ErrorCode::IdempotencyMismatch
        | ErrorCode::UnknownMember
        | ErrorCode::StaleGeneration
        | ErrorCode::GroupNotEmpty
        | ErrorCode::QuotaExceeded => StatusCode::CONFLICT,
        ErrorCode::RecordTooLarge | ErrorCode::TooManyRecords | ErrorCode::PayloadTooLarge => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        ErrorCode::OffsetOutOfRange => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Throttled => StatusCode::TOO_MANY_REQUESTS,
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
            let seconds = HeaderValue::from(self.retry_after.unwrap_or(1));
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        if self.code == ErrorCode::Unauthenticated {
            let challenge = HeaderValue::from_static(r#"Bearer realm="silt""#);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let code = match &error {
            AuthError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AuthError::Forbidden { .. } => ErrorCode::Forbidden,
            AuthError::InvalidRule { .. } | AuthError::PrincipalsFile { .. } => ErrorCode::Internal,
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<Throttled> for ApiError {
    fn from(error: Throttled) -> Self {
        let retry_after = Some(error.retry_after_secs());
        ApiError {
            retry_after,
            ..ApiError::new(ErrorCode::Throttled, error.to_string())
        }
    }
}

impl From<silt_metadata::Error> for ApiError {
    fn from(error: silt_metadata::Error) -> Self {
        metadata_error(&error)
    }
}

fn metadata_error(error: &silt_metadata::Error) -> ApiError {
    ApiError::new(metadata_code(error), error.to_string())
}

/// The code of a metadata error.
fn metadata_code(error: &silt_metadata::Error) -> ErrorCode {
    use silt_metadata::Error as M;
    use silt_metadata::types::CommandError as C;
    match error {
        M::Rejected(C::TopicAlreadyExists(_)) => ErrorCode::TopicAlreadyExists,
        M::Rejected(C::TopicNotFound(_) | C::TopicIdMismatch { .. }) => ErrorCode::TopicNotFound,
        M::PartitionNotFound { .. } => ErrorCode::PartitionNotFound,
        M::Rejected(C::ProducerNotFound(_)) => ErrorCode::ProducerNotFound,
        M::Rejected(C::ProducerNotOwned(_)) => ErrorCode::Forbidden,
        M::Rejected(C::ProducerIdTaken(_)) => ErrorCode::Unavailable,
        M::Rejected(C::InvalidTopicName(_)) => ErrorCode::InvalidTopicName,
        M::Rejected(C::InvalidPartitionCount(_)) => ErrorCode::InvalidPartitionCount,
        M::Rejected(C::InvalidCommand(_)) => ErrorCode::InvalidRequest,
        M::Rejected(C::QuotaExceeded { .. }) => ErrorCode::QuotaExceeded,
        M::Rejected(C::InvalidGroupName(_)) => ErrorCode::InvalidGroupName,
        M::Rejected(C::GroupNotFound(_)) => ErrorCode::GroupNotFound,
        M::Rejected(C::UnknownMember { .. }) => ErrorCode::UnknownMember,
        M::Rejected(C::StaleGeneration { .. }) => ErrorCode::StaleGeneration,
        M::Rejected(C::GroupNotEmpty { .. }) => ErrorCode::GroupNotEmpty,
        M::Rejected(C::NotSubscribed { .. }) => ErrorCode::InvalidRequest,
        M::Rejected(C::PartitionNotFound { .. }) => ErrorCode::PartitionNotFound,
        M::Rejected(C::OffsetOutOfRange { .. }) => ErrorCode::OffsetOutOfRange,
        M::Unavailable(_) | M::ShuttingDown | M::NotLeader { .. } => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

impl From<QuotaError> for ApiError {
    fn from(error: QuotaError) -> Self {
        match error {
            QuotaError::Metadata(metadata) => metadata_error(&metadata),
            QuotaError::Exceeded { .. } | QuotaError::PrincipalExceeded { .. } => {
                ApiError::new(ErrorCode::QuotaExceeded, error.to_string())
            }
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

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        let code = match &error {
            WriteError::RecordTooLarge { .. } => ErrorCode::RecordTooLarge,
            WriteError::PartitionOutOfRange { .. } => ErrorCode::PartitionNotFound,
            WriteError::Timeout(_) => ErrorCode::Timeout,
            WriteError::Internal(_) => ErrorCode::Internal,
            WriteError::Metadata(metadata) => return metadata_error(metadata),
            WriteError::Pipeline { error, .. } => pipeline_code(error),
        };
        ApiError::new(code, error.to_string())
    }
}

fn pipeline_code(error: &PipelineError) -> ErrorCode {
    match error {
        PipelineError::TopicNotFound => ErrorCode::TopicNotFound,
        PipelineError::PartitionNotFound(_) => ErrorCode::PartitionNotFound,
        PipelineError::Unavailable(_)
        | PipelineError::Overloaded(_)
        | PipelineError::ShuttingDown => ErrorCode::Unavailable,
        PipelineError::OutcomeUnknown(_) => ErrorCode::Timeout,
        PipelineError::ProducerFenced { .. } => ErrorCode::ProducerFenced,
        PipelineError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequence,
        PipelineError::UnknownProducer => ErrorCode::ProducerNotFound,
        PipelineError::IdempotencyMismatch(_) => ErrorCode::IdempotencyMismatch,
        PipelineError::CommitRefused(Some(refusal)) => {
            metadata_code(&silt_metadata::Error::Rejected(refusal.clone()))
        }
        PipelineError::CommitRefused(None) => ErrorCode::InvalidRequest,
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::OffsetOutOfRange { .. } => {
                ApiError::new(ErrorCode::OffsetOutOfRange, error.to_string())
            }
            ReadError::Corrupt(message) => ApiError::new(ErrorCode::CorruptData, message),
            ReadError::Metadata(error) => metadata_error(&error),
            ReadError::Storage(error) => error.into(),
            ReadError::DeadlineExceeded(_) => ApiError::unavailable(error.to_string()),
            ReadError::ShuttingDown => ApiError::unavailable("broker is shutting down"),
        }
    }
}

impl From<GroupError> for ApiError {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::Metadata(metadata) => metadata_error(&metadata),
            GroupError::Read(read) => read.into(),
            GroupError::TooManyPartitions { .. }
            | GroupError::UnknownAssignor(_)
            | GroupError::NoTopics
            | GroupError::NegativeTimestamp(_) => ApiError::invalid_request(error.to_string()),
        }
    }
}

impl From<BudgetError> for ApiError {
    fn from(error: BudgetError) -> Self {
        ApiError::unavailable(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_only_retryable_ones_are_5xx_or_throttled() {
        for code in ErrorCode::ALL {
            let status = status_of(*code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}"
            );
            if code.is_retryable() {
                let throttled = status == StatusCode::TOO_MANY_REQUESTS;
                assert!(status.is_server_error() || throttled, "{code}");
            }
        }
    }
}
