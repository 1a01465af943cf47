//! [`InDoubt`]: the spool files whose commit the live pipeline could not confirm, handed
//! to the background recovery (`write/recovery.rs`), which commits them later.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use ulid::Ulid;

/// Spool files whose commit the live pipeline left in doubt, for the background recovery.
#[derive(Debug, Default)]
pub(crate) struct InDoubt(Mutex<BTreeSet<Ulid>>);

impl InDoubt {
    /// Hands segment `id`'s spool file to the recovery.
    pub(crate) fn add(&self, id: Ulid) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }

    /// Takes every file handed over so far.
    pub(crate) fn take(&self) -> BTreeSet<Ulid> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
