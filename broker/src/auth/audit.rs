//! The audit log: one structured `tracing` event (target `silt::audit`) per admin
//! operation and per refusal, with the principal, operation, resource and outcome.

use super::error::AuthError;

/// The audit log's `tracing` target.
pub(crate) const TARGET: &str = "silt::audit";

/// A request refused with 401.
pub(crate) fn unauthenticated(path: &str, error: &AuthError) {
    tracing::warn!(
        target: TARGET,
        principal = "-",
        operation = "authenticate",
        resource = path,
        outcome = "unauthenticated",
        %error,
        "request refused"
    );
}

/// A request refused with 403.
pub(crate) fn forbidden(principal: &str, operation: &str, resource: &str) {
    tracing::warn!(
        target: TARGET,
        principal,
        operation,
        resource,
        outcome = "forbidden",
        "request refused"
    );
}

/// An admin operation (create or delete a topic, a producer id) and its outcome: `ok`
/// or the error code.
pub(crate) fn admin(principal: &str, operation: &str, resource: &str, outcome: &str) {
    tracing::info!(
        target: TARGET,
        principal,
        operation,
        resource,
        outcome,
        "admin operation"
    );
}
