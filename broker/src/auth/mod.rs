//! Authentication and authorization of client requests: bearer tokens checked against the
//! principals file ([`principals`], kept current by [`live`]) in one layer ([`layer`]),
//! allow rules per operation and resource ([`acl`]) checked by each handler with
//! [`authorize`], refusals and admin operations written to the audit log ([`audit`]),
//! and each principal's quotas as the file states them ([`quotas`]) with the byte-rate
//! buckets that enforce the rates on this broker ([`throttle`]).

pub(crate) mod acl;
pub(crate) mod audit;
pub(crate) mod error;
pub(crate) mod layer;
pub(crate) mod live;
pub(crate) mod principals;
pub(crate) mod quotas;
pub(crate) mod throttle;
pub(crate) mod token;

pub(crate) use acl::Operation;
pub(crate) use error::AuthError;
pub(crate) use layer::Caller;

/// Whether `caller` may do `operation` on `resource`; a refusal is audited.
pub(crate) fn authorize(
    caller: &Caller,
    operation: Operation,
    resource: &str,
) -> Result<(), AuthError> {
    if caller.0.allows(operation, resource) {
        return Ok(());
    }
    Err(forbidden(caller, operation.as_str(), resource))
}

/// Whether `caller` may do `operation` on at least one resource (a producer id needs
/// `produce` on some topic); a refusal is audited.
pub(crate) fn authorize_some(caller: &Caller, operation: Operation) -> Result<(), AuthError> {
    if caller.0.allows_some(operation) {
        return Ok(());
    }
    Err(forbidden(caller, operation.as_str(), "any topic"))
}

/// Whether `caller` may see `resource` at all: any rule of any operation covers it
/// (describing a topic, listing it).
pub(crate) fn may_see(caller: &Caller, resource: &str) -> bool {
    caller
        .0
        .rules
        .iter()
        .any(|rule| rule.pattern.matches(resource))
}

/// [`may_see`], as a refusal when not (audited).
pub(crate) fn authorize_describe(caller: &Caller, resource: &str) -> Result<(), AuthError> {
    if may_see(caller, resource) {
        return Ok(());
    }
    Err(forbidden(caller, "describe", resource))
}

/// The 403 refusal, audited.
fn forbidden(caller: &Caller, operation: &'static str, resource: &str) -> AuthError {
    audit::forbidden(&caller.0.name, operation, resource);
    AuthError::Forbidden {
        principal: caller.0.name.clone(),
        operation,
        resource: resource.to_owned(),
    }
}
