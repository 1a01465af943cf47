//! The idempotent producers this broker has seen, with their newest known epoch, so a
//! request from an unknown producer or a fenced epoch is refused **before** anything is
//! staged (bad input writes nothing). The state machine stays the authority: it checks
//! epoch and sequence again at commit, so a stale cache can only let through what the
//! commit then refuses, never accept what it should not.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

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
        let cached = self
            .epochs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&producer_id)
            .copied();
        let current = match cached {
            Some(current) if epoch <= current => current,
            _ => {
                let view = metadata
                    .producer(producer_id)
                    .await
                    .map_err(CheckError::Metadata)?
                    .ok_or(CheckError::Refused(PipelineError::UnknownProducer))?;
                self.epochs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(producer_id, view.epoch);
                view.epoch
            }
        };
        if epoch < current {
            return Err(CheckError::Refused(PipelineError::ProducerFenced {
                current_epoch: current,
            }));
        }
        if epoch > current {
            return Err(CheckError::Refused(PipelineError::UnknownProducer));
        }
        Ok(())
    }
}

/// Why a producer tag was refused.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// Refused on its merits.
    Refused(PipelineError),
    /// The metadata service could not be asked.
    Metadata(silt_metadata::Error),
}
