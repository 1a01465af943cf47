//! [`FaultConfig`]: what a [`super::FaultyStore`] does to requests, and the named cloud
//! latency profiles benchmarks use (`storage.simulated_latency`).
//!
//! # Cloud profiles
//!
//! [`FaultConfig::profile`] names latency models of real stores (log-normal, no errors: add
//! rates to taste). Sources and assumptions:
//!
//! * `"s3-standard"`: turbopuffer's published measurements of S3 Standard (2026, in their
//!   documentation and talks on building a database on object storage): a small PUT takes
//!   about 100 ms at p50 and 200 ms at p99 (their "writes take up to 200 ms to commit"), a
//!   small GET about 60 ms at p50 and 80 ms at p99. Assumed: LIST and DELETE p50 60 ms,
//!   p99 100 ms; 12 ms per MiB of payload, ≈ 85 MB/s for one stream (the often-measured
//!   per-connection throughput).
//! * `"s3-express"`: AWS describes S3 Express One Zone as "consistent single-digit
//!   millisecond" request latency, and Quickwit's beta measurement (2023, "S3 Express
//!   speculations") put its time to first byte around 5 ms at p90. Assumed: PUT p50 6 ms,
//!   p99 15 ms; GET p50 4 ms, p99 10 ms; LIST and DELETE p50 5 ms, p99 12 ms; 8 ms per MiB.

use std::time::Duration;

use super::LatencyModel;

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;
/// Longest transfer time one request may add.
const MAX_TRANSFER: Duration = Duration::from_secs(3600);

/// What a [`super::FaultyStore`] does to requests. The default injects nothing.
///
/// Rates are probabilities per request in `[0, 1]`; they are tried in field order (a request
/// that draws an error is not also slowed down).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Latency before each PUT (also multipart start, copy, rename). Default none.
    pub put: LatencyModel,
    /// Latency to first byte of each GET and HEAD. Default none.
    pub get: LatencyModel,
    /// Latency of every other request (LIST, DELETE). Default none.
    pub other: LatencyModel,
    /// Transfer time per MiB of PUT payload or GET body, added pro rata. Default zero.
    pub per_mib: Duration,
    /// Probability of a transient 500 (an `object_store::Error::Generic`). Default 0.
    pub error_rate: f64,
    /// Probability of a 503 SlowDown (also `Generic`, its message says `SlowDown`).
    /// Default 0.
    pub slowdown_rate: f64,
    /// Probability that a request never completes until it is cancelled. Default 0.
    pub hang_rate: f64,
    /// Probability that a PUT is applied but answered with an error, as if its response
    /// were lost. Default 0.
    pub lost_response_rate: f64,
    /// Seed of the random draws. Default 0.
    pub seed: u64,
}

/// The profiles [`FaultConfig::profile`] knows.
const PROFILE_NAMES: &[&str] = &["s3-standard", "s3-express"];

impl FaultConfig {
    /// The latency model of a named cloud store (see the module doc for the figures), or
    /// `None` for an unknown name. Profiles inject no errors.
    pub fn profile(name: &str) -> Option<FaultConfig> {
        let log_normal = |p50_ms: u64, p99_ms: u64| LatencyModel::LogNormal {
            p50: Duration::from_millis(p50_ms),
            p99: Duration::from_millis(p99_ms),
        };
        match name {
            "s3-standard" => Some(FaultConfig {
                put: log_normal(100, 200),
                get: log_normal(60, 80),
                other: log_normal(60, 100),
                per_mib: Duration::from_millis(12),
                ..FaultConfig::default()
            }),
            "s3-express" => Some(FaultConfig {
                put: log_normal(6, 15),
                get: log_normal(4, 10),
                other: log_normal(5, 12),
                per_mib: Duration::from_millis(8),
                ..FaultConfig::default()
            }),
            _ => None,
        }
    }

    /// The names [`FaultConfig::profile`] accepts.
    pub fn profile_names() -> &'static [&'static str] {
        PROFILE_NAMES
    }

    /// Transfer time of `bytes` at `per_mib`.
    pub(crate) fn transfer_time(&self, bytes: u64) -> Duration {
        if self.per_mib.is_zero() || bytes == 0 {
            return Duration::ZERO;
        }
        self.per_mib.mul_f64(bytes as f64 / MIB).min(MAX_TRANSFER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;

    fn median(mut samples: Vec<Duration>) -> Duration {
        samples.sort();
        samples[samples.len() / 2]
    }

    #[test]
    fn profiles_are_named_faultless_and_calibrated() {
        for name in FaultConfig::profile_names() {
            let config = FaultConfig::profile(name).unwrap();
            assert_eq!(config.error_rate, 0.0, "{name}");
            assert_eq!(config.lost_response_rate, 0.0, "{name}");
            assert!(config.per_mib > Duration::ZERO, "{name}");
        }
        assert!(FaultConfig::profile("s3-glacier").is_none());
        let standard = FaultConfig::profile("s3-standard").unwrap();
        let mut rng = Rng::seed(3);
        let gets = median((0..2000).map(|_| standard.get.sample(&mut rng)).collect());
        assert!((55..=65).contains(&gets.as_millis()), "{gets:?}");
        let puts = median((0..2000).map(|_| standard.put.sample(&mut rng)).collect());
        assert!((90..=110).contains(&puts.as_millis()), "{puts:?}");
        // A 64 MiB body at 12 ms/MiB.
        assert_eq!(
            standard.transfer_time(64 * 1024 * 1024),
            Duration::from_millis(768)
        );
        let express = FaultConfig::profile("s3-express").unwrap();
        let mut puts: Vec<Duration> = (0..2000).map(|_| express.put.sample(&mut rng)).collect();
        puts.sort();
        assert!(puts[puts.len() * 99 / 100] < Duration::from_millis(25));
    }
}
