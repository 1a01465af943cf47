//! [`FaultControl`]: the shared, runtime-changeable fault configuration a test (or the
//! broker's fault endpoint) holds, with counters of what was injected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::FaultConfig;

/// Shared, runtime-changeable fault configuration plus counters of injected faults.
///
/// Cloning is cheap and every clone controls the same stores.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    pub(super) shared: Arc<ControlShared>,
}

#[derive(Debug, Default)]
pub(super) struct ControlShared {
    /// The configuration and a generation bumped by every change (stores re-seed on it).
    config: RwLock<(u64, FaultConfig)>,
    pub(super) errors: AtomicU64,
    pub(super) slowdowns: AtomicU64,
    pub(super) hangs: AtomicU64,
    pub(super) lost_responses: AtomicU64,
}

impl FaultControl {
    /// A control starting with `config`.
    pub fn new(config: FaultConfig) -> Self {
        let control = Self::default();
        control.set(config);
        control
    }

    /// Replaces the configuration; requests already sleeping or hanging are not affected.
    pub fn set(&self, config: FaultConfig) {
        let mut guard = self
            .shared
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        guard.0 = guard.0.wrapping_add(1);
        guard.1 = config;
    }

    /// Removes every fault and latency (same as `set(FaultConfig::default())`).
    pub fn clear(&self) {
        self.set(FaultConfig::default());
    }

    /// A copy of the configuration in force.
    pub fn current(&self) -> FaultConfig {
        self.read().1
    }

    /// Transient 500s injected so far.
    pub fn injected_errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// 503 SlowDowns injected so far.
    pub fn injected_slowdowns(&self) -> u64 {
        self.shared.slowdowns.load(Ordering::Relaxed)
    }

    /// Requests made to hang so far.
    pub fn injected_hangs(&self) -> u64 {
        self.shared.hangs.load(Ordering::Relaxed)
    }

    /// PUTs applied whose response was then dropped, so far.
    pub fn injected_lost_responses(&self) -> u64 {
        self.shared.lost_responses.load(Ordering::Relaxed)
    }

    /// Every fault injected so far (errors, slowdowns, hangs, lost responses).
    pub fn injected_total(&self) -> u64 {
        self.injected_errors()
            + self.injected_slowdowns()
            + self.injected_hangs()
            + self.injected_lost_responses()
    }

    pub(super) fn read(&self) -> (u64, FaultConfig) {
        self.shared
            .config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
