//! The idempotent producers this broker has seen, with their newest known epoch, so a
//! request from an unknown producer or a fenced epoch is refused **before** anything is
//! staged (bad input writes nothing). The state machine stays the authority: it checks
//! epoch and sequence again at commit, so a stale cache can only let through what the
//! commit then refuses, never accept what it should not.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use silt_metadata::MetadataClient;

use crate::write::pipeline::PipelineError;

/// Producer id → newest epoch known.
#[derive(Debug, Default)]
pub(crate) struct ProducerCache {
    epochs: Mutex<HashMap<u64, u32>>,
}

impl ProducerCache {
    /// Checks `(producer_id, epoch)` against the cache, asking the metadata service when
    /// the id is unknown or the epoch newer than the cached one.
    pub(crate) async fn check(
        &self,
        metadata: &dyn MetadataClient,
        producer_id: u64,
        epoch: u32,
    ) -> Result<(), CheckError> {
        let cached = self.epochs().get(&producer_id).copied();
        let current = match cached {
            Some(current) if epoch <= current => current,
            _ => self.current_epoch(metadata, producer_id).await?,
        };
        compare(epoch, current)
    }

    /// Asks the metadata service for the producer's current epoch, and caches it.
    async fn current_epoch(
        &self,
        metadata: &dyn MetadataClient,
        producer_id: u64,
    ) -> Result<u32, CheckError> {
        let view = metadata.producer(producer_id).await;
        let view = view.map_err(CheckError::Metadata)?;
        let epoch = view
            .ok_or(CheckError::Refused(PipelineError::UnknownProducer))?
            .epoch;
        self.epochs().insert(producer_id, epoch);
        Ok(epoch)
    }

    /// The epochs, even if a thread panicked holding them (they are only a cache).
    fn epochs(&self) -> MutexGuard<'_, HashMap<u64, u32>> {
        self.epochs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses `epoch` unless it is the `current` one: an older one is fenced, a newer one
/// was never issued.
fn compare(epoch: u32, current: u32) -> Result<(), CheckError> {
    let refused = match epoch.cmp(&current) {
        Ordering::Equal => return Ok(()),
        Ordering::Less => PipelineError::ProducerFenced {
            current_epoch: current,
        },
        Ordering::Greater => PipelineError::UnknownProducer,
    };
    Err(CheckError::Refused(refused))
}

/// Why a producer tag was refused.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// Refused on its merits.
    Refused(PipelineError),
    /// The metadata service could not be asked.
    Metadata(silt_metadata::Error),
}
