//! Byte-rate quotas, per principal and per broker (as Kafka's are): one token bucket per
//! principal and direction whose quota names a rate. A bucket holds at most its burst (one
//! second of quota, at least one largest request) and may go into debt: a request is
//! admitted while the balance is not negative and then charged in full, so a principal
//! gets at most `burst + rate × elapsed` plus one request's bytes. A request that finds
//! its bucket in debt is refused ([`Throttled`], 429 `throttled` with `Retry-After`) and
//! charged nothing.
//!
//! Time is passed in (`now`), so the bucket is pure and its tests need no clock. Memory
//! is bounded by the principals file: buckets are made only for principals of it, and a
//! reload drops the buckets of the principals it removed ([`Throttle::retain`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::principals::Principal;
use crate::metrics::Metrics;

/// Which bytes a quota meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// Produce request bodies (`produce_bytes_per_second`).
    Produce,
    /// Fetched record bytes (`fetch_bytes_per_second`).
    Fetch,
}

impl Direction {
    /// `produce` or `fetch` (messages, metric labels).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Produce => "produce",
            Direction::Fetch => "fetch",
        }
    }

    /// The principal's quota in this direction, bytes per second.
    fn rate_of(self, principal: &Principal) -> Option<u64> {
        match self {
            Direction::Produce => principal.quota.produce_bytes_per_second,
            Direction::Fetch => principal.quota.fetch_bytes_per_second,
        }
    }
}

/// A request refused because its principal's bucket is in debt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "principal {principal:?} is over its {} quota of {rate} bytes/s on this broker; retry in {} s",
    direction.as_str(),
    retry_after_secs(*wait)
)]
pub(crate) struct Throttled {
    /// Who.
    pub(crate) principal: String,
    /// Which quota.
    pub(crate) direction: Direction,
    /// Its rate, bytes per second.
    pub(crate) rate: u64,
    /// How long until the bucket is out of debt.
    pub(crate) wait: Duration,
}

impl Throttled {
    /// `Retry-After`: the wait in whole seconds, rounded up, at least 1.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        retry_after_secs(self.wait)
    }

    /// Counts the refusal and its wait in the principal's throttle metrics.
    pub(crate) fn count(&self, metrics: &Metrics) {
        metrics.throttled(&self.principal, self.direction.as_str(), self.wait);
    }
}

/// A wait in whole seconds, rounded up, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// One token bucket: `balance` bytes at `at`, refilled at `rate` a second up to `burst`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bucket {
    rate: u64,
    burst: f64,
    balance: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket of `rate` bytes a second and a burst of one second, at least
    /// `min_burst`.
    pub(crate) fn new(rate: u64, min_burst: u64, now: Instant) -> Bucket {
        let burst = rate.max(min_burst) as f64;
        Bucket {
            rate,
            burst,
            balance: burst,
            at: now,
        }
    }

    /// How long until the balance is not negative; `None` when it is not now.
    pub(crate) fn debt_wait(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        (self.balance < 0.0).then(|| Duration::from_secs_f64(-self.balance / self.rate as f64))
    }

    /// Takes `bytes` from the balance, into debt if need be.
    pub(crate) fn charge(&mut self, bytes: u64, now: Instant) {
        self.refill(now);
        self.balance -= bytes as f64;
    }

    /// Adds what `rate` earned since the last look, up to the burst.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.balance = (self.balance + elapsed * self.rate as f64).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Takes a reloaded quota: the new rate and burst, the balance kept (capped).
    fn rerate(&mut self, rate: u64, min_burst: u64, now: Instant) {
        self.refill(now);
        self.rate = rate;
        self.burst = rate.max(min_burst) as f64;
        self.balance = self.balance.min(self.burst);
    }
}

/// Every principal's buckets on this broker.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// The smallest burst of a produce bucket (`server.max_request_bytes`).
    produce_burst: u64,
    /// The smallest burst of a fetch bucket (`server.max_fetch_bytes`).
    fetch_burst: u64,
    buckets: Mutex<HashMap<(String, Direction), Bucket>>,
}

impl Throttle {
    /// No buckets yet; bursts of at least one largest request in each direction.
    pub(crate) fn new(max_request_bytes: u64, max_fetch_bytes: u64) -> Throttle {
        Throttle {
            produce_burst: max_request_bytes,
            fetch_burst: max_fetch_bytes,
            buckets: Mutex::default(),
        }
    }

    /// Admits a request of `principal` in `direction` and charges it `bytes` at once
    /// (what it is known to cost; [`Throttle::charge`] adds the rest), or refuses it,
    /// charging nothing, while the bucket is in debt. A principal without a rate in that
    /// direction is always admitted.
    pub(crate) fn admit(
        &self,
        principal: &Principal,
        direction: Direction,
        bytes: u64,
        now: Instant,
    ) -> Result<(), Throttled> {
        self.with_bucket(principal, direction, now, |bucket, rate| {
            if let Some(wait) = bucket.debt_wait(now) {
                return Err(Throttled {
                    principal: principal.name.clone(),
                    direction,
                    rate,
                    wait,
                });
            }
            bucket.charge(bytes, now);
            Ok(())
        })
        .unwrap_or(Ok(()))
    }

    /// Charges `bytes` of an admitted request (a fetch's answer, a body longer than
    /// declared).
    pub(crate) fn charge(
        &self,
        principal: &Principal,
        direction: Direction,
        bytes: u64,
        now: Instant,
    ) {
        self.with_bucket(principal, direction, now, |bucket, _| {
            bucket.charge(bytes, now)
        });
    }

    /// Drops the buckets of principals not in `names` (a reload removed them).
    pub(crate) fn retain<'a>(&self, names: impl Iterator<Item = &'a str>) {
        let names: std::collections::HashSet<&str> = names.collect();
        self.lock()
            .retain(|(name, _), _| names.contains(name.as_str()));
    }

    /// Runs `f` on the principal's bucket in `direction` (made, or re-rated to its
    /// current quota, as needed); `None` when it has no rate there.
    fn with_bucket<T>(
        &self,
        principal: &Principal,
        direction: Direction,
        now: Instant,
        f: impl FnOnce(&mut Bucket, u64) -> T,
    ) -> Option<T> {
        let rate = direction.rate_of(principal)?;
        let min_burst = self.min_burst(direction);
        let mut buckets = self.lock();
        let key = (principal.name.clone(), direction);
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(rate, min_burst, now));
        if bucket.rate != rate {
            bucket.rerate(rate, min_burst, now);
        }
        Some(f(bucket, rate))
    }

    /// The smallest burst in `direction`.
    fn min_burst(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Produce => self.produce_burst,
            Direction::Fetch => self.fetch_burst,
        }
    }

    /// The buckets (a panic elsewhere leaves them usable).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Direction), Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many buckets there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::quotas::Quota;

    const SECOND: Duration = Duration::from_secs(1);

    fn principal(name: &str, produce: Option<u64>) -> Principal {
        Principal {
            name: name.to_owned(),
            rules: Vec::new(),
            quota: Quota {
                produce_bytes_per_second: produce,
                ..Quota::default()
            },
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_refuses_until_the_debt_is_repaid() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(100, 50, t0);
        assert_eq!(bucket.debt_wait(t0), None, "full: one second of quota");
        bucket.charge(350, t0);
        assert_eq!(bucket.debt_wait(t0), Some(Duration::from_millis(2500)));
        assert_eq!(
            bucket.debt_wait(t0 + 2 * SECOND),
            Some(Duration::from_millis(500))
        );
        assert_eq!(bucket.debt_wait(t0 + 3 * SECOND), None);
        assert_eq!(bucket.debt_wait(t0 + 100 * SECOND), None);
        bucket.charge(100, t0 + 100 * SECOND);
        assert_eq!(
            bucket.debt_wait(t0 + 100 * SECOND),
            None,
            "refilled only to the burst"
        );
        bucket.charge(1, t0 + 100 * SECOND);
        assert!(bucket.debt_wait(t0 + 100 * SECOND).is_some());
    }

    #[test]
    fn the_burst_is_at_least_one_largest_request() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(10, 1000, t0);
        bucket.charge(1000, t0);
        assert_eq!(bucket.debt_wait(t0), None);
    }

    #[test]
    fn admitted_bytes_stay_within_burst_plus_rate_times_elapsed_plus_one_request() {
        let throttle = Throttle::new(1000, 1000);
        let slow = principal("slow", Some(1000));
        let t0 = Instant::now();
        let mut admitted = 0;
        for step in 0..10_000u64 {
            let now = t0 + Duration::from_millis(step);
            if throttle.admit(&slow, Direction::Produce, 300, now).is_ok() {
                admitted += 300;
            }
        }
        assert!(admitted <= 1000 + 10 * 1000 + 300, "{admitted}");
        assert!(admitted >= 10 * 1000, "{admitted}");
    }

    #[test]
    fn a_refusal_names_principal_direction_rate_and_wait_and_charges_nothing() {
        let throttle = Throttle::new(100, 100);
        let slow = principal("slow", Some(100));
        let t0 = Instant::now();
        assert!(throttle.admit(&slow, Direction::Produce, 250, t0).is_ok());
        let refused = throttle
            .admit(&slow, Direction::Produce, 250, t0)
            .unwrap_err();
        assert_eq!(refused.retry_after_secs(), 2);
        let message = refused.to_string();
        assert_eq!(
            message,
            "principal \"slow\" is over its produce quota of 100 bytes/s on this broker; retry in 2 s"
        );
        let again = throttle
            .admit(&slow, Direction::Produce, 250, t0)
            .unwrap_err();
        assert_eq!(again.wait, refused.wait, "a refusal charged nothing");
        assert!(
            throttle.admit(&slow, Direction::Fetch, 1 << 30, t0).is_ok(),
            "no fetch quota"
        );
    }

    #[test]
    fn principals_without_a_rate_get_no_bucket_and_a_reload_drops_the_removed() {
        let throttle = Throttle::new(100, 100);
        let t0 = Instant::now();
        let free = principal("free", None);
        assert!(
            throttle
                .admit(&free, Direction::Produce, 1 << 40, t0)
                .is_ok()
        );
        assert_eq!(throttle.len(), 0);
        for name in ["a", "b"] {
            let _ = throttle.admit(&principal(name, Some(10)), Direction::Produce, 1, t0);
        }
        assert_eq!(throttle.len(), 2);
        throttle.retain(["b"].into_iter());
        assert_eq!(throttle.len(), 1);
    }

    #[test]
    fn a_reloaded_rate_applies_and_keeps_the_debt() {
        let throttle = Throttle::new(100, 100);
        let t0 = Instant::now();
        let _ = throttle.admit(&principal("p", Some(100)), Direction::Produce, 300, t0);
        let faster = principal("p", Some(1000));
        let refused = throttle
            .admit(&faster, Direction::Produce, 1, t0)
            .unwrap_err();
        assert_eq!(refused.rate, 1000);
        assert_eq!(refused.wait, Duration::from_millis(200));
    }
}
