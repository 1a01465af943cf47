//! Client authentication of a [`Cluster`]'s brokers: the `admin` principal's token that
//! every client of the harness sends, and principals added while the cluster runs (appended
//! to `principals.toml`, then SIGHUP to every broker and a bounded wait until each accepts
//! the new token).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use silt_sdk::ClientConfig;

use super::{Cluster, Role, signal};
use crate::harness::find_silt_binary;

/// How long [`Cluster::add_principal`] waits for every broker to accept a new token.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

impl Cluster {
    /// Whether the brokers authenticate clients ([`super::ClusterOptions::auth`]).
    pub fn auth_enabled(&self) -> bool {
        self.auth
    }

    /// The `admin` principal's token (allowed everything); None with authentication off.
    pub fn token(&self) -> Option<String> {
        self.token.clone()
    }

    /// The file `local-cluster.sh up` wrote the `admin` token to (mode 600).
    pub fn token_file(&self) -> PathBuf {
        self.path.join("admin.token")
    }

    /// The principals file every broker runs with (`SILT_AUTH_PRINCIPALS_FILE`, mode 600).
    pub fn principals_file(&self) -> PathBuf {
        self.path.join("principals.toml")
    }

    /// Reads the `admin` token after `up` (None with authentication off).
    pub(super) fn read_token(&self) -> Result<Option<String>> {
        if !self.auth {
            return Ok(None);
        }
        let file = self.token_file();
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        Ok(Some(text.trim().to_owned()))
    }

    /// `request` with the `admin` token as its bearer token (unchanged with auth off).
    pub fn bearer(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A plain HTTP client that sends the `admin` token on every request (a request's own
    /// `Authorization` header, e.g. the cluster secret for a metadata route, wins).
    pub fn authorized_http(&self) -> Result<reqwest::Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token is not a valid header value")?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .context("cannot build an HTTP client")
    }

    /// An SDK client configuration for `url` that sends the `admin` token.
    pub fn client_config(&self, url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            token: self.token.clone(),
            ..ClientConfig::new(url)
        }
    }

    /// Adds a principal `name` allowed `allow` (rules as `silt auth token --allow` takes
    /// them) to the principals file, makes every running broker reload it (SIGHUP) and
    /// waits (bounded) until each accepts the new token; returns the token.
    pub async fn add_principal(&self, name: &str, allow: &[&str]) -> Result<String> {
        if !self.auth {
            bail!("the cluster runs without client authentication");
        }
        let (token, entry) = new_principal(name, allow)?;
        self.append_principal(&entry)?;
        self.reload_principals()?;
        self.wait_token_accepted(&token).await?;
        Ok(token)
    }

    /// Appends one `[[principal]]` table to the principals file.
    fn append_principal(&self, entry: &str) -> Result<()> {
        let path = self.principals_file();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(file, "\n{entry}").with_context(|| format!("cannot write {}", path.display()))
    }

    /// SIGHUP to every running broker: each reloads the principals file at once.
    pub fn reload_principals(&self) -> Result<()> {
        for i in 1..=self.size(Role::Broker) {
            if let Some(pid) = self.pid(Role::Broker, i) {
                signal(pid, "HUP")?;
            }
        }
        Ok(())
    }

    /// Polls (bounded) until every running broker answers `GET /v1/topics` with `token`
    /// with something other than 401.
    async fn wait_token_accepted(&self, token: &str) -> Result<()> {
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        for i in 1..=self.size(Role::Broker) {
            let url = format!("{}/v1/topics", self.broker_url(i));
            while self.is_alive(Role::Broker, i) && !self.is_paused(Role::Broker, i) {
                let answer = self.http.get(&url).bearer_auth(token).send().await;
                if answer.is_ok_and(|r| r.status() != reqwest::StatusCode::UNAUTHORIZED) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("broker {i} did not accept the new token within {RELOAD_TIMEOUT:?}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

/// `silt auth token --name NAME --allow RULE…`: the token and the `[[principal]]` table.
fn new_principal(name: &str, allow: &[&str]) -> Result<(String, String)> {
    let bin = find_silt_binary().map_err(|e| anyhow!(e))?;
    let mut command = Command::new(&bin);
    command.args(["auth", "token", "--name", name]);
    for rule in allow {
        command.args(["--allow", rule]);
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !output.status.success() {
        bail!(
            "silt auth token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout).context("silt auth token printed non-UTF-8")?;
    let (token, rest) = text
        .split_once('\n')
        .ok_or_else(|| anyhow!("silt auth token printed no token: {text}"))?;
    let entry: String = rest
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    Ok((token.trim().to_owned(), entry))
}
