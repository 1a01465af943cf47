//! Broker-wide byte budgets of the HTTP edge: request bodies being read and parsed
//! (`server.max_request_bytes_in_flight`) and fetch responses being encoded and sent
//! (`server.max_fetch_bytes_in_flight`). A request that does not fit is refused at once
//! with 503 `unavailable` and `Retry-After` instead of queueing, so the memory these take
//! is bounded by configuration, not by how many clients send at once.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Why a budget refused: both mean "retry later" (503 `unavailable`, mapped in
/// `http/error.rs`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BudgetError {
    /// The bytes are not free now.
    #[error("{wanted} bytes do not fit in {setting} ({total} bytes, {free} free); retry later")]
    Exhausted {
        /// Bytes asked for.
        wanted: u32,
        /// The setting the budget comes from.
        setting: &'static str,
        /// The budget's size.
        total: u32,
        /// Bytes free when asked.
        free: usize,
    },
    /// The broker is shutting down.
    #[error("broker is shutting down")]
    Closed,
}

/// A budget of bytes shared by every request of one kind; cloning shares it.
#[derive(Clone, Debug)]
pub(crate) struct ByteBudget {
    /// One permit per byte.
    semaphore: Arc<Semaphore>,
    /// The budget's size: no request takes more than this.
    total: u32,
    /// The setting it comes from, named in refusals.
    setting: &'static str,
}

impl ByteBudget {
    /// A budget of `total` bytes (at most `u32::MAX`, checked by config validation).
    pub(crate) fn new(total: u64, setting: &'static str) -> Self {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        ByteBudget {
            semaphore: Arc::new(Semaphore::new(total as usize)),
            total,
            setting,
        }
    }

    /// Takes `bytes` (at most the whole budget) until the permit drops, or refuses with
    /// `unavailable` when they are not free now.
    pub(crate) fn try_take(&self, bytes: u64) -> Result<OwnedSemaphorePermit, BudgetError> {
        let wanted = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.total);
        match self.semaphore.clone().try_acquire_many_owned(wanted) {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::NoPermits) => Err(self.exhausted(wanted)),
            Err(TryAcquireError::Closed) => Err(BudgetError::Closed),
        }
    }

    /// The refusal when `wanted` bytes are not free.
    fn exhausted(&self, wanted: u32) -> BudgetError {
        BudgetError::Exhausted {
            wanted,
            setting: self.setting,
            total: self.total,
            free: self.semaphore.available_permits(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_until_full_then_refuses_and_frees_on_drop() {
        let budget = ByteBudget::new(10, "server.max_request_bytes_in_flight");
        let first = budget.try_take(6).unwrap();
        let error = budget.try_take(6).unwrap_err();
        assert!(matches!(error, BudgetError::Exhausted { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("server.max_request_bytes_in_flight"),
            "{error}"
        );
        drop(first);
        let whole = budget.try_take(1 << 40).unwrap();
        assert_eq!(whole.num_permits(), 10);
    }
}
