//! The authentication layer: every route but `/healthz`, `/readyz`, `/v1/openapi.json`
//! (and `/metrics` unless `auth.protect_metrics`) needs `Authorization: Bearer <token>`
//! naming a principal. The principal goes into the request's extensions as a [`Caller`]
//! for the handlers' authorization; a refusal answers 401 `unauthenticated` with
//! `WWW-Authenticate`, is counted and written to the audit log. Each authenticated request
//! is counted too, as `forbidden` when its handler refused it with 403, else `ok`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::audit;
use super::error::AuthError;
use super::live::{Auth, anonymous};
use super::principals::Principal;
use crate::http::ApiError;
use crate::state::AppState;

/// The authenticated principal of a request (`anonymous` when authentication is off).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Arc<Principal>);

/// Routes anyone may call: probes and the API document.
const OPEN_PATHS: &[&str] = &["/healthz", "/readyz", "/v1/openapi.json"];

/// `WWW-Authenticate` when a token was given but is not any principal's.
const INVALID_TOKEN: &str = r#"Bearer realm="silt", error="invalid_token""#;

/// The middleware: lets the request on with its [`Caller`], or answers 401.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    match caller(&state.auth, &path, request.headers()) {
        Ok(Some(caller)) => {
            request.extensions_mut().insert(caller);
        }
        Ok(None) => {}
        Err(refusal) => return refused(&state, &path, refusal),
    }
    let response = next.run(request).await;
    if state.auth.enabled() && !is_open(&path, state.auth.protect_metrics) {
        state.metrics.auth_outcome(outcome_of(&response));
    }
    response
}

/// The auth outcome of an authenticated request: `forbidden` when its handler refused it
/// (403 is only ever `forbidden`), else `ok`.
fn outcome_of(response: &Response) -> &'static str {
    match response.status() {
        axum::http::StatusCode::FORBIDDEN => "forbidden",
        _ => "ok",
    }
}

/// Why a request was not authenticated, and whether it carried a token.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The refusal.
    pub(crate) error: AuthError,
    /// Whether a bearer token was given (and is unknown).
    pub(crate) token_given: bool,
}

/// The caller of a request to `path`: anonymous when auth is off, nobody on an open
/// route, else the principal of the bearer token.
pub(crate) fn caller(
    auth: &Auth,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Refusal> {
    if !auth.enabled() {
        return Ok(Some(Caller(anonymous())));
    }
    if is_open(path, auth.protect_metrics) {
        return Ok(None);
    }
    let token = bearer_token(headers)?;
    let principal = auth.authenticate(token).ok_or_else(|| Refusal {
        error: AuthError::Unauthenticated(
            "the bearer token is not any principal's (unknown or revoked)".into(),
        ),
        token_given: true,
    })?;
    Ok(Some(Caller(principal)))
}

/// Whether `path` needs no token.
fn is_open(path: &str, protect_metrics: bool) -> bool {
    OPEN_PATHS.contains(&path) || (path == "/metrics" && !protect_metrics)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let missing = |why: &str| Refusal {
        error: AuthError::Unauthenticated(format!(
            "{why}: send Authorization: Bearer <token> (silt auth token makes one)"
        )),
        token_given: false,
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| missing("no Authorization header"))?;
    let value = value
        .to_str()
        .map_err(|_| missing("the Authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing("the Authorization header is not Bearer <token>"));
    }
    Ok(token)
}

/// The 401 answer, counted and audited.
fn refused(state: &AppState, path: &str, refusal: Refusal) -> Response {
    state.metrics.auth_outcome("unauthenticated");
    audit::unauthenticated(path, &refusal.error);
    let mut response = ApiError::from(refusal.error).into_response();
    if refusal.token_given {
        let value = HeaderValue::from_static(INVALID_TOKEN);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::hash_token;
    use crate::config::AuthSection;

    fn auth(protect_metrics: bool) -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("principals.toml");
        let text = format!(
            "[[principal]]\nname = \"w\"\ntoken_sha256 = \"{}\"\nallow = [\"produce:o*\"]\n",
            hash_token("good")
        );
        std::fs::write(&file, text).unwrap();
        let config = AuthSection {
            principals_file: file.display().to_string(),
            protect_metrics,
            ..AuthSection::default()
        };
        (dir, Auth::load(&config).unwrap())
    }

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_known_bearer_token_names_its_principal() {
        let (_dir, auth) = auth(false);
        let caller = caller(&auth, "/v1/topics", &headers(Some("Bearer good")));
        assert_eq!(caller.unwrap().unwrap().0.name, "w");
        let caller = caller_of(&auth, "/v1/topics", Some("bearer  good "));
        assert_eq!(caller.unwrap().unwrap().0.name, "w");
    }

    fn caller_of(auth: &Auth, path: &str, value: Option<&str>) -> Result<Option<Caller>, Refusal> {
        caller(auth, path, &headers(value))
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_refused() {
        let (_dir, auth) = auth(false);
        for (value, token_given) in [
            (None, false),
            (Some("Basic dzpw"), false),
            (Some("Bearer"), false),
            (Some("Bearer "), false),
            (Some("Bearer bad"), true),
        ] {
            let refusal = caller_of(&auth, "/v1/topics", value).unwrap_err();
            assert_eq!(refusal.token_given, token_given, "{value:?}");
            assert!(matches!(refusal.error, AuthError::Unauthenticated(_)));
        }
        assert!(caller_of(&auth, "/nope", None).is_err());
    }

    #[test]
    fn probes_and_the_api_document_are_open_and_metrics_as_configured() {
        let (_dir, open) = auth(false);
        for path in ["/healthz", "/readyz", "/v1/openapi.json", "/metrics"] {
            assert!(caller_of(&open, path, None).unwrap().is_none(), "{path}");
        }
        let (_dir, protected) = auth(true);
        assert!(caller_of(&protected, "/metrics", None).is_err());
        let metrics = caller_of(&protected, "/metrics", Some("Bearer good"));
        assert_eq!(metrics.unwrap().unwrap().0.name, "w");
    }

    #[test]
    fn without_a_principals_file_everyone_is_anonymous() {
        let auth = Auth::load(&AuthSection::default()).unwrap();
        let caller = caller_of(&auth, "/v1/topics", None).unwrap().unwrap();
        assert_eq!(caller.0.name, "anonymous");
        assert!(caller.0.allows(crate::auth::acl::Operation::Admin, "any"));
    }
}
