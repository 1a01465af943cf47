//! What authentication and authorization refuse, and what a bad principals file is.

/// Refusals of the auth layer, and errors in its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// No `Authorization: Bearer` header, or a token no principal has (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The principal has no rule allowing this (403).
    #[error("principal {principal:?} may not {operation} {resource:?}: no allow rule covers it")]
    Forbidden {
        /// Who asked.
        principal: String,
        /// What for (an operation, or `describe`).
        operation: &'static str,
        /// On what.
        resource: String,
    },
    /// An allow rule that does not parse.
    #[error("allow rule {rule:?}: {why}")]
    InvalidRule {
        /// The rule as written.
        rule: String,
        /// What is wrong with it.
        why: String,
    },
    /// The principals file cannot be read or is invalid.
    #[error("principals file {path}: {why}")]
    PrincipalsFile {
        /// Its path.
        path: String,
        /// What is wrong.
        why: String,
    },
}
