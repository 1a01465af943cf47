//! Starting and stopping real silt processes for tests.

mod process;
mod s3;

pub use process::{Silt, SiltOptions, silt_binary};
pub use s3::{S3Env, s3_env};

/// A plain HTTP client for raw requests (installs the ring TLS provider reqwest needs).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
