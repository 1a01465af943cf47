//! [`Client`]: HTTP to one broker, error decoding, and retries with backoff.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::wire::ErrorBody;

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
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
        }
    }
}

/// A cheap-to-clone HTTP client for one broker.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
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
        while config.base_url.ends_with('/') {
            config.base_url.pop();
        }
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(Error::InvalidArgument(format!(
                "broker url {:?} must start with http:// or https://",
                config.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|source| Error::Transport {
                url: config.base_url.clone(),
                source,
            })?;
        Ok(Client { http, config })
    }

    /// The broker base URL.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends one request (no retry) and decodes a JSON answer, or `None` for 204.
    pub(crate) async fn send_once<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<Option<T>> {
        let url = format!("{}{}", self.config.base_url, path);
        let mut request = self
            .http
            .request(method, &url)
            .timeout(self.config.request_timeout + extra_timeout);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| Error::Transport {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|source| Error::Transport {
            url: url.clone(),
            source,
        })?;
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
    pub(crate) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        extra_timeout: Duration,
    ) -> Result<Option<T>> {
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 1;
        loop {
            match self
                .send_once(method.clone(), path, query, body, extra_timeout)
                .await
            {
                Err(error) if error.is_retryable() && attempt < self.config.max_attempts => {
                    let wait = error
                        .retry_after()
                        .unwrap_or(backoff)
                        .min(self.config.max_backoff);
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
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
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
                url: format!("{}{}", self.config.base_url, path),
                detail: "empty answer where a body was expected".into(),
            })
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
