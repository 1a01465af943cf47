//! [`LatencyModel`]: the request-latency distributions a [`super::FaultyStore`] draws from.
//!
//! A log-normal with median `p50` and 99th percentile `p99` has `mu = ln p50` and
//! `sigma = (ln p99 - ln p50) / 2.326` (2.326 is the standard normal's 99th percentile).

use std::time::Duration;

use crate::random::Rng;

/// The 99th percentile of the standard normal distribution.
const Z_99: f64 = 2.326;
/// Longest latency one sample may add (guards against absurd log-normal tails).
const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// A request-latency distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum LatencyModel {
    /// No added latency.
    #[default]
    None,
    /// The same latency for every request.
    Fixed(Duration),
    /// Log-normal with the given median and 99th percentile (`p99 < p50` is read as `p50`).
    LogNormal {
        /// Median latency.
        p50: Duration,
        /// 99th-percentile latency.
        p99: Duration,
    },
}

impl LatencyModel {
    /// Draws one latency. `None` and `Fixed` draw nothing from `rng`; `LogNormal` draws two
    /// numbers.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            LatencyModel::None => Duration::ZERO,
            LatencyModel::Fixed(latency) => latency,
            LatencyModel::LogNormal { p50, p99 } => {
                let normal = rng.next_standard_normal();
                if p50.is_zero() {
                    return Duration::ZERO;
                }
                let mu = p50.as_secs_f64().ln();
                let sigma = ((p99.max(p50).as_secs_f64().ln() - mu) / Z_99).max(0.0);
                let seconds = (mu + sigma * normal).exp();
                Duration::try_from_secs_f64(seconds)
                    .unwrap_or(MAX_LATENCY)
                    .min(MAX_LATENCY)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(samples: &mut [Duration], quantile: f64) -> Duration {
        samples.sort();
        let index = ((samples.len() as f64 - 1.0) * quantile).round() as usize;
        samples[index]
    }

    fn within(actual: Duration, expected: Duration, tolerance: f64) -> bool {
        let ratio = actual.as_secs_f64() / expected.as_secs_f64();
        (1.0 - tolerance..=1.0 + tolerance).contains(&ratio)
    }

    #[test]
    fn log_normal_percentiles_match_the_model() {
        let p50 = Duration::from_millis(25);
        let p99 = Duration::from_millis(250);
        let model = LatencyModel::LogNormal { p50, p99 };
        let mut rng = Rng::seed(1);
        let mut samples: Vec<Duration> = (0..4000).map(|_| model.sample(&mut rng)).collect();
        let median = percentile(&mut samples, 0.50);
        let tail = percentile(&mut samples, 0.99);
        assert!(within(median, p50, 0.15), "p50 {median:?}");
        assert!(within(tail, p99, 0.35), "p99 {tail:?}");
        assert!(samples.iter().all(|sample| *sample > Duration::ZERO));
    }

    #[test]
    fn fixed_none_and_degenerate_models() {
        let mut rng = Rng::seed(2);
        let fixed = Duration::from_millis(7);
        assert_eq!(LatencyModel::Fixed(fixed).sample(&mut rng), fixed);
        assert_eq!(LatencyModel::None.sample(&mut rng), Duration::ZERO);
        // p99 below p50 collapses to a fixed p50.
        let flat = LatencyModel::LogNormal {
            p50: fixed,
            p99: Duration::from_millis(1),
        };
        assert!(within(flat.sample(&mut rng), fixed, 1e-6));
        let zero = LatencyModel::LogNormal {
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        };
        assert_eq!(zero.sample(&mut rng), Duration::ZERO);
    }
}
