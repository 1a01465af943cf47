//! Starting and stopping real silt processes for tests: one `silt dev` ([`Silt`]) or a
//! multi-process cluster through `infra/local-cluster.sh` ([`Cluster`]).

mod certs;
mod cluster;
mod disks;
mod principals;
mod process;
mod s3;

pub use certs::{IssuedFiles, TestCa};
pub use cluster::{Cluster, ClusterOptions, Role};
pub use disks::Tmpfs;
pub use principals::{principal, principal_with_quota, sha256};
pub use process::{
    Silt, SiltOptions, exactly_once_binary, example_binary, find_silt_binary, loadgen_binary,
    silt_binary, strip_test_env,
};
pub use s3::{S3Env, s3_env, try_s3_env};

/// A plain HTTP client for raw requests (installs the ring TLS provider reqwest needs).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// GETs `url` and decodes its JSON answer; a failure is a test failure (it panics with
/// the URL and the error).
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: the answer is not JSON: {e}"))
}

/// Sends `method path` to `silt` with an optional JSON body: the status and the JSON
/// answer (`Null` for an empty or non-JSON body); a failed request is a test failure.
pub async fn call(
    silt: &Silt,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .unwrap_or_else(|e| panic!("{method} is not an HTTP method: {e}"));
    let mut request = http_client().request(method, format!("{}{path}", silt.url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// A child process killed (and reaped) on drop, so a failing test leaves nothing running.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free on `host` now (`"127.0.0.1"`, or `"0.0.0.0"` for every interface).
pub fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on {host}: {e}"))
}

/// The value of the sample whose line starts with `sample` (name and labels) on `url`'s
/// `/metrics`; 0 when it has none yet.
pub async fn metric(http: &reqwest::Client, url: &str, sample: &str) -> u64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/metrics: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/metrics: {e}"));
    metric_in(&text, sample).unwrap_or(0)
}

/// Like [`metric`] for a process that may be down: None when `/metrics` does not answer
/// within 2 s or has no such sample.
pub async fn try_metric(http: &reqwest::Client, url: &str, sample: &str) -> Option<u64> {
    let response = http
        .get(format!("{url}/metrics"))
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    metric_in(&response.text().await.ok()?, sample)
}

/// The value of the sample whose line starts with `sample` in a Prometheus text.
fn metric_in(text: &str, sample: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse::<f64>().ok())
        .map(|value| value as u64)
}
