//! The metadata server's gate: one middleware on every route but `/healthz`, `/readyz`
//! and `/metrics` that admits a request only if it presents the cluster secret as
//! `Authorization: Bearer <secret>` ([`ClusterSecret::matches`]). A refused request gets
//! 401 with a JSON body naming the problem (`{"error": {"code", "message"}}`, codes
//! `missing_cluster_secret` and `wrong_cluster_secret`) before its body is read, and is
//! counted for the node's `/metrics`. A node run without a secret (loopback, or
//! `--insecure`) admits everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::secret::ClusterSecret;

/// What the gate admits, and what it refused so far.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// The secret requests must present; `None` admits every request.
    secret: Option<ClusterSecret>,
    /// Refusals so far.
    refusals: Arc<Refusals>,
}

/// Requests refused by the gate, by cause.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    /// Requests that presented no secret.
    missing: AtomicU64,
    /// Requests that presented another secret.
    wrong: AtomicU64,
}

/// Why the gate refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer token that is not the cluster secret.
    Wrong,
}

impl Gate {
    /// A gate admitting requests that present `secret` (all of them if `None`).
    pub(crate) fn new(secret: Option<ClusterSecret>) -> Gate {
        Gate {
            secret,
            refusals: Arc::default(),
        }
    }

    /// The refusal counters (for `/metrics`).
    pub(crate) fn refusals(&self) -> Arc<Refusals> {
        Arc::clone(&self.refusals)
    }

    /// Whether a request with `headers` may pass.
    fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));
        match presented {
            None => Err(Refusal::Missing),
            Some(token) if secret.matches(token) => Ok(()),
            Some(_) => Err(Refusal::Wrong),
        }
    }
}

impl Refusals {
    /// Counts one refusal.
    fn count(&self, refusal: Refusal) {
        let counter = match refusal {
            Refusal::Missing => &self.missing,
            Refusal::Wrong => &self.wrong,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as `(reason, count)`.
    pub(crate) fn by_reason(&self) -> [(&'static str, u64); 2] {
        [
            ("missing", self.missing.load(Ordering::Relaxed)),
            ("wrong", self.wrong.load(Ordering::Relaxed)),
        ]
    }
}

impl Refusal {
    /// The stable code of the 401 body.
    fn code(self) -> &'static str {
        match self {
            Refusal::Missing => "missing_cluster_secret",
            Refusal::Wrong => "wrong_cluster_secret",
        }
    }

    /// The message of the 401 body.
    fn message(self) -> &'static str {
        match self {
            Refusal::Missing => {
                "this metadata node requires the cluster secret: send Authorization: Bearer <secret> (silt: cluster.secret_file, --cluster-secret-file)"
            }
            Refusal::Wrong => {
                "the bearer token is not this cluster's secret: every node, broker and admin command must use the same secret file"
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.message() }
        });
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer realm=\"silt-metadata\"")];
        (StatusCode::UNAUTHORIZED, challenge, Json(body)).into_response()
    }
}

/// The middleware: passes the request on if the gate admits it, else answers 401.
pub(crate) async fn require_secret(
    State(gate): State<Gate>,
    request: Request,
    next: Next,
) -> Response {
    match gate.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            gate.refusals.count(refusal);
            tracing::warn!(
                reason = refusal.code(),
                path = request.uri().path(),
                "refused a metadata request without the cluster secret"
            );
            refusal.into_response()
        }
    }
}
