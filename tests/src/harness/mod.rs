//! Starting and stopping real silt processes for tests: one `silt dev` ([`Silt`]) or a
//! multi-process cluster through `infra/local-cluster.sh` ([`Cluster`]).

mod cluster;
mod disks;
mod process;
mod s3;

pub use cluster::{Cluster, ClusterOptions, Role};
pub use disks::Tmpfs;
pub use process::{Silt, SiltOptions, find_silt_binary, silt_binary, strip_test_env};
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
