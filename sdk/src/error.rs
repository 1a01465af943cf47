//! The SDK's error type.

use std::time::Duration;

use crate::wire::ErrorCode;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to a broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: ErrorCode,
        /// The broker's message.
        message: String,
        /// The broker's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The broker could not be reached, or the connection failed mid-request.
    ///
    /// Displayed without its cause, which is its [`source`](std::error::Error::source):
    /// print the chain (`{:#}` with anyhow, or walk `source()`) to see why, each cause once.
    #[error("{}", transport_context(url, source))]
    Transport {
        /// The request URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake with an `https://` broker failed: most often its certificate does
    /// not chain to a trusted CA (set [`ClientConfig::ca_file`](crate::ClientConfig) to the
    /// CA that signed it), names another host, or has expired. Never retried.
    #[error(
        "TLS with {url} failed: {reason}; if the broker's certificate is signed by a private CA, give that CA's PEM file (ClientConfig::ca_file, `silt --ca-file`, SILT_CA_FILE)"
    )]
    Tls {
        /// The request URL.
        url: String,
        /// What rustls refused, e.g. `invalid peer certificate: UnknownIssuer`.
        reason: String,
        /// The transport error carrying it.
        #[source]
        source: reqwest::Error,
    },
    /// The broker answered something that is not the v1 API.
    #[error("unexpected response from {url}: {detail}")]
    Protocol {
        /// The request URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// A bad argument given to the SDK itself (e.g. an invalid base URL).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The producer was closed before the record was sent.
    #[error("producer closed")]
    Closed,
    /// One failure shared by every record of a failed batch.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
}

/// What `Error::Transport` says before its cause: reqwest names the URL in its own message
/// when it has one, so it is named here only when reqwest will not.
fn transport_context(url: &str, source: &reqwest::Error) -> String {
    if source.url().is_some() {
        "transport error".to_owned()
    } else {
        format!("transport error talking to {url}")
    }
}

/// The rustls error somewhere in `error`'s chain (rustls errors travel inside an
/// `io::Error`, whose `source()` skips them, so each `io::Error` is looked into).
fn tls_cause<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

impl Error {
    /// A transport failure talking to `url`: [`Error::Tls`] when TLS refused the
    /// connection, else [`Error::Transport`].
    pub(crate) fn transport(url: &str, source: reqwest::Error) -> Error {
        match tls_cause(&source).map(ToString::to_string) {
            Some(reason) => Error::Tls {
                url: url.to_owned(),
                reason,
                source,
            },
            None => Error::Transport {
                url: url.to_owned(),
                source,
            },
        }
    }

    /// The stable error code, when the broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            Error::Shared(inner) => inner.code(),
            _ => None,
        }
    }

    /// Whether the broker refused who sent the request: 401 `unauthenticated` (no token,
    /// or one no principal has: set [`ClientConfig::token`](crate::ClientConfig)) or 403
    /// `forbidden` (the principal has no allow rule for it; the message names the
    /// operation and resource). Never retried: the same request would be refused again.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::Unauthenticated | ErrorCode::Forbidden)
        )
    }

    /// Whether the broker refused the request because its principal is over a byte-rate
    /// quota on that broker: 429 `throttled`, nothing was done, and
    /// [`retry_after`](Error::retry_after) says when the quota allows it again. Retried
    /// (after that wait, within the client's attempts) like the other retryable codes.
    pub fn is_throttled(&self) -> bool {
        self.code() == Some(ErrorCode::Throttled)
    }

    /// Whether the same request may be sent again: retryable codes and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { code, .. } => code.is_retryable(),
            Error::Transport { .. } => true,
            Error::Shared(inner) => inner.is_retryable(),
            _ => false,
        }
    }

    /// Whether the failure guarantees the request was not applied, so even a
    /// non-idempotent write may be sent again: the broker could not be connected to, or
    /// answered `unavailable` (it refuses before staging anything, and a failed upload is
    /// never committed) or `throttled` (refused before the body is read). A timeout or a
    /// connection lost mid-request is not such a failure.
    pub fn is_not_applied(&self) -> bool {
        match self {
            Error::Api { code, .. } => {
                matches!(code, ErrorCode::Unavailable | ErrorCode::Throttled)
            }
            Error::Transport { source, .. } => source.is_connect(),
            Error::Shared(inner) => inner.is_not_applied(),
            _ => false,
        }
    }

    /// Whether the failure suggests trying another broker: it could not be reached, did
    /// not answer in time, or is unavailable.
    pub fn suggests_failover(&self) -> bool {
        match self {
            Error::Api { code, .. } => {
                matches!(code, ErrorCode::Unavailable | ErrorCode::Timeout)
            }
            Error::Transport { .. } => true,
            Error::Shared(inner) => inner.suggests_failover(),
            _ => false,
        }
    }

    /// How long the broker asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            Error::Shared(inner) => inner.retry_after(),
            _ => None,
        }
    }
}
