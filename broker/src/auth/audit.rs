//! The audit log: one structured `tracing` event (target `silt::audit`) per admin
//! operation and per refusal, with the principal, operation, resource and outcome.
//!
//! Refusals of unauthenticated requests are the one kind anybody who reaches the port can
//! cause at will, so at most [`UNAUTHENTICATED_LINES_PER_SECOND`] of them are logged each
//! second; the first line of the next second says how many were left out (every one is
//! still counted in `silt_auth_requests_total{outcome="unauthenticated"}`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::AuthError;

/// Most 401 lines logged per second.
pub(crate) const UNAUTHENTICATED_LINES_PER_SECOND: u32 = 20;

/// The 401 lines' budget, shared by every request.
static UNAUTHENTICATED: Mutex<Throttle> = Mutex::new(Throttle::new());

/// A per-second budget of log lines.
#[derive(Debug)]
struct Throttle {
    window: Option<Instant>,
    logged: u32,
    left_out: u64,
}

impl Throttle {
    const fn new() -> Throttle {
        Throttle {
            window: None,
            logged: 0,
            left_out: 0,
        }
    }

    /// Whether a line at `now` is logged, with how many were left out before it (`None`:
    /// leave this one out).
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let expired = self
            .window
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1));
        if expired {
            self.window = Some(now);
            self.logged = 0;
        }
        if self.logged >= UNAUTHENTICATED_LINES_PER_SECOND {
            self.left_out += 1;
            return None;
        }
        self.logged += 1;
        Some(std::mem::take(&mut self.left_out))
    }
}

/// The audit log's `tracing` target.
pub(crate) const TARGET: &str = "silt::audit";

/// A request refused with 401 (within the per-second budget).
pub(crate) fn unauthenticated(path: &str, error: &AuthError) {
    let admitted = UNAUTHENTICATED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .admit(Instant::now());
    let Some(left_out) = admitted else {
        return;
    };
    tracing::warn!(
        target: TARGET,
        principal = "-",
        operation = "authenticate",
        resource = path,
        outcome = "unauthenticated",
        %error,
        left_out_before = left_out,
        "request refused"
    );
}

/// A request refused with 403.
pub(crate) fn forbidden(principal: &str, operation: &str, resource: &str) {
    tracing::warn!(
        target: TARGET,
        principal,
        operation,
        resource,
        outcome = "forbidden",
        "request refused"
    );
}

/// An admin operation (create or delete a topic, a producer id) and its outcome: `ok`
/// or the error code.
pub(crate) fn admin(principal: &str, operation: &str, resource: &str, outcome: &str) {
    tracing::info!(
        target: TARGET,
        principal,
        operation,
        resource,
        outcome,
        "admin operation"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_budget_is_logged_each_second_and_the_next_line_counts_the_rest() {
        let mut throttle = Throttle::new();
        let start = Instant::now();
        let budget = UNAUTHENTICATED_LINES_PER_SECOND;
        let first: Vec<_> = (0..budget + 5).map(|_| throttle.admit(start)).collect();
        assert!(first[..budget as usize].iter().all(|a| *a == Some(0)));
        assert!(first[budget as usize..].iter().all(Option::is_none));
        let later = start + Duration::from_millis(999);
        assert_eq!(throttle.admit(later), None);
        let next = start + Duration::from_secs(1);
        assert_eq!(throttle.admit(next), Some(6));
        assert_eq!(throttle.admit(next), Some(0));
    }
}
