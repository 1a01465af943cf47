//! The S3-compatible server the test run shares.
//!
//! `scripts/test.sh` (the README's test command, also run by `.ci/run`) starts SeaweedFS
//! on 127.0.0.1 through `scripts/s3-server.sh` and exports the usual `AWS_*` variables and
//! `SILT_TEST_S3_BUCKET`. Tests that need object storage call [`s3_env`]; each uses its own
//! key prefix in the shared bucket so tests stay parallel-safe.

/// Where the shared S3-compatible server is.
#[derive(Debug, Clone)]
pub struct S3Env {
    /// Bucket.
    pub bucket: String,
    /// Endpoint URL.
    pub endpoint: String,
}

impl S3Env {
    /// An object-store URL with a prefix unique to one test.
    pub fn url_for(&self, test: &str) -> String {
        let unique = format!(
            "{}-{}-{}",
            test,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        format!("s3://{}/{unique}", self.bucket)
    }
}

/// The shared server's settings. Panics with instructions when the run was not started by
/// `scripts/test.sh`: an object-storage test must never pass without object storage.
pub fn s3_env() -> S3Env {
    match try_s3_env() {
        Ok(env) => env,
        Err(message) => panic!("{message}"),
    }
}

/// Like [`s3_env`], but an error says what is missing instead of panicking.
pub fn try_s3_env() -> Result<S3Env, String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let bucket = std::env::var("SILT_TEST_S3_BUCKET").ok();
    match (endpoint, bucket) {
        (Some(endpoint), Some(bucket)) => Ok(S3Env { bucket, endpoint }),
        _ => Err(
            "this test needs the S3-compatible server: run the suite with scripts/test.sh \
             (it starts SeaweedFS on 127.0.0.1 and sets AWS_ENDPOINT_URL and SILT_TEST_S3_BUCKET)"
                .to_owned(),
        ),
    }
}
