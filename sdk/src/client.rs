//! [`Client`]: HTTP to one broker, error decoding, and retries with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::wire::ErrorBody;

/// Settings of a [`Client`].
#[derive(Clone)]
pub struct ClientConfig {
    /// Broker base URL, e.g. `http://127.0.0.1:7070`.
    pub base_url: String,
    /// Per-request timeout (default 30 s); long-polls add their `wait_ms`.
    pub request_timeout: Duration,
    /// Attempts for a retryable failure, the first included (default 5).
    pub max_attempts: u32,
    /// First backoff (default 50 ms), doubled per attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Largest backoff (default 2 s).
    pub max_backoff: Duration,
    /// Other brokers of the same cluster. A request that cannot reach a broker, times out
    /// or finds it unavailable is retried on the next one (default none).
    pub failover_urls: Vec<String>,
    /// Bearer token sent as `Authorization: Bearer <token>` on every request, for a broker
    /// with a principals file (default none). Never shown by `Debug`.
    pub token: Option<String>,
    /// PEM file of the CA certificates an `https://` broker's certificate must chain to;
    /// when set they are the only roots trusted (default none: the system's roots).
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("failover_urls", &self.failover_urls)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for a broker at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(30),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            failover_urls: Vec::new(),
            token: None,
            ca_file: None,
        }
    }
}

/// The CA certificates of a PEM file, at least one; a clear error otherwise.
fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>> {
    let invalid =
        |why: String| Error::InvalidArgument(format!("CA file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| invalid(format!("not a PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

/// Which failures a request may be retried after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryPolicy {
    /// Every retryable failure ([`Error::is_retryable`]): reads, and idempotent writes.
    Retryable,
    /// Only failures that guarantee the request was not applied
    /// ([`Error::is_not_applied`]): plain (non-idempotent) produce, so a retry never
    /// writes records twice.
    NotApplied,
}

/// A cheap-to-clone HTTP client for a broker (and its failover brokers).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    /// Every broker URL: `base_url` first, then `failover_urls`.
    urls: Arc<[String]>,
    /// Index into `urls` of the broker in use (shared by clones).
    current: Arc<AtomicUsize>,
}

impl Client {
    /// A client with default settings.
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Self::with_config(ClientConfig::new(base_url))
    }

    /// A client with the given settings.
    pub fn with_config(mut config: ClientConfig) -> Result<Self> {
        // reqwest is built without a bundled TLS provider; install ring once per process
        // (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut urls = Vec::with_capacity(1 + config.failover_urls.len());
        for url in std::iter::once(&config.base_url).chain(&config.failover_urls) {
            let url = url.trim_end_matches('/').to_owned();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::InvalidArgument(format!(
                    "broker url {url:?} must start with http:// or https://"
                )));
            }
            urls.push(url);
        }
        config.base_url.clone_from(&urls[0]);
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true);
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_only(read_ca_file(path)?);
        }
        let http = builder
            .build()
            .map_err(|source| Error::transport(&config.base_url, source))?;
        Ok(Client {
            http,
            config,
            urls: urls.into(),
            current: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The URL of the broker requests go to now.
    pub fn base_url(&self) -> &str {
        &self.urls[self.current.load(Ordering::Relaxed) % self.urls.len()]
    }

    /// Moves to the next broker (after `failed`, the URL that just failed; a concurrent
    /// request that already moved on is not moved again).
    fn fail_over(&self, failed: &str) {
        if self.urls.len() > 1 && self.base_url() == failed {
            let next = (self.current.load(Ordering::Relaxed) + 1) % self.urls.len();
            self.current.store(next, Ordering::Relaxed);
            tracing::debug!(failed, next = %self.urls[next], "failing over to the next broker");
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends one request (no retry) and decodes a JSON answer, or `None` for 204.
    pub(crate) async fn send_once<B: RequestBody + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<Option<T>> {
        let url = format!("{}{}", self.base_url(), path);
        let mut request = self
            .http
            .request(method, &url)
            .timeout(self.config.request_timeout + extra_timeout);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = &self.config.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = body.attach(request);
        }
        let response = request
            .send()
            .await
            .map_err(|source| Error::transport(&url, source))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|source| Error::transport(&url, source))?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Protocol {
                    url,
                    detail: format!("undecodable {status} body: {e}"),
                });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(Error::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
                retry_after,
            }),
            Err(_) => Err(Error::Protocol {
                url,
                detail: format!(
                    "status {status} with a non-error body: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            }),
        }
    }

    /// Sends a request, retrying retryable failures with exponential backoff (honouring
    /// `Retry-After`).
    pub(crate) async fn send<B: RequestBody + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<Option<T>> {
        self.send_with(
            RetryPolicy::Retryable,
            method,
            path,
            query,
            body,
            extra_timeout,
        )
        .await
    }

    /// [`Client::send`] with an explicit retry policy. A failure that suggests the broker
    /// is down or overloaded (transport error, `unavailable`, `timeout`) moves later
    /// attempts to the next failover broker.
    pub(crate) async fn send_with<B: RequestBody + ?Sized, T: DeserializeOwned>(
        &self,
        policy: RetryPolicy,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<Option<T>> {
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 1;
        loop {
            let url = self.base_url().to_owned();
            let result = self
                .send_once(method.clone(), path, query, body, extra_timeout)
                .await;
            if let Err(error) = &result
                && error.suggests_failover()
            {
                self.fail_over(&url);
            }
            let may_retry = |error: &Error| match policy {
                RetryPolicy::Retryable => error.is_retryable(),
                RetryPolicy::NotApplied => error.is_not_applied(),
            };
            match result {
                Err(error) if may_retry(&error) && attempt < self.config.max_attempts => {
                    let wait = retry_wait(&error, backoff, self.config.max_backoff);
                    tracing::debug!(%error, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Like [`Client::send`] but a 2xx answer must carry a body.
    pub(crate) async fn call<B: RequestBody + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<T> {
        self.send(method, path, query, body, extra_timeout)
            .await?
            .ok_or_else(|| Error::Protocol {
                url: format!("{}{}", self.base_url(), path),
                detail: "empty answer where a body was expected".into(),
            })
    }
}

/// The longest a throttled request waits before its retry, whatever `Retry-After` says.
pub(crate) const MAX_THROTTLED_WAIT: Duration = Duration::from_secs(30);

/// How long to wait before retrying after `error`: a `throttled` answer's `Retry-After`
/// (sooner would only be refused again) up to [`MAX_THROTTLED_WAIT`]; else `Retry-After`
/// or the backoff, at most `max_backoff`.
fn retry_wait(error: &Error, backoff: Duration, max_backoff: Duration) -> Duration {
    match error.retry_after() {
        Some(wait) if error.is_throttled() => wait.min(MAX_THROTTLED_WAIT),
        other => other.unwrap_or(backoff).min(max_backoff),
    }
}

/// What a request can carry: any serializable value goes as JSON; [`Binary`] as a binary
/// produce body.
pub(crate) trait RequestBody {
    /// Sets the body (and its content type) on `request`.
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
}

impl<T: Serialize + ?Sized> RequestBody for T {
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.json(self)
    }
}

/// An encoded binary produce body (`application/x-silt-records`, [`crate::wire::binary`]).
pub(crate) struct Binary(pub(crate) Vec<u8>);

impl RequestBody for Binary {
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header(
                reqwest::header::CONTENT_TYPE,
                crate::wire::binary::CONTENT_TYPE,
            )
            .body(self.0.clone())
    }
}

/// Percent-encodes a path segment (topic names are `[A-Za-z0-9._-]`, but callers may pass
/// anything; the broker then answers `invalid_topic_name`).
pub(crate) fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

    fn api(code: ErrorCode, retry_after: u64) -> Error {
        Error::Api {
            status: 429,
            code,
            message: String::new(),
            retry_after: Some(Duration::from_secs(retry_after)),
        }
    }

    #[test]
    fn a_throttled_retry_waits_its_retry_after_up_to_a_bound() {
        let (backoff, max) = (Duration::from_millis(50), Duration::from_secs(2));
        let throttled = api(ErrorCode::Throttled, 7);
        assert!(throttled.is_retryable() && throttled.is_not_applied());
        assert!(!throttled.suggests_failover() && !throttled.is_auth_failure());
        assert_eq!(retry_wait(&throttled, backoff, max), Duration::from_secs(7));
        let long = api(ErrorCode::Throttled, 3600);
        assert_eq!(retry_wait(&long, backoff, max), MAX_THROTTLED_WAIT);
        let unavailable = api(ErrorCode::Unavailable, 7);
        assert_eq!(retry_wait(&unavailable, backoff, max), max);
    }
}
