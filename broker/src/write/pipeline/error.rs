//! [`PipelineError`]: why the pipeline did not acknowledge an append.

use silt_bookie::segment::ProducerTag;
use silt_metadata::types::{ChunkOutcome, CommandError};

/// Why an append was not acknowledged. Topic names are unknown here (the pipeline sees topic
/// ids); the write service adds them ([`crate::write::WriteError::Pipeline`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PipelineError {
    /// The topic was deleted while the records were in flight.
    #[error("topic was deleted while the records were being written")]
    TopicNotFound,
    /// The partition no longer exists.
    #[error("partition {0} no longer exists")]
    PartitionNotFound(u32),
    /// The object store or metadata service failed; the records were not written.
    #[error("{0}")]
    Unavailable(String),
    /// The write-ahead cache's disk budget is used up (the object store is slower than the
    /// producers); retry after a moment.
    #[error("{0}")]
    Overloaded(String),
    /// The segment is in the bucket but its commit could not be confirmed: the records may
    /// or may not appear (the spool keeps the segment and recovery commits it later).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// The broker is shutting down.
    #[error("broker is shutting down")]
    ShuttingDown,
    /// The idempotent producer's epoch is stale: a newer instance of it was initialised.
    #[error(
        "producer epoch is stale: the producer's current epoch is {current_epoch}; this instance was fenced by a newer one"
    )]
    ProducerFenced {
        /// The producer's current epoch.
        current_epoch: u32,
    },
    /// The request's sequence number is not the next one the producer may send.
    #[error("out-of-order sequence number: the producer's next sequence is {expected}")]
    OutOfOrderSequence {
        /// The next sequence expected.
        expected: u64,
    },
    /// The producer id (or that epoch) was never issued.
    #[error("unknown producer id or epoch: get one from POST /v1/producers")]
    UnknownProducer,
    /// The request reuses the producer tag of an earlier request with other content.
    #[error(
        "idempotency mismatch: producer {} epoch {} sequence {} was already used by a request with other records, partitions or topic; a retry must resend the same request, a new request needs the next sequence",
        .0.producer_id, .0.epoch, .0.sequence
    )]
    IdempotencyMismatch(ProducerTag),
    /// The offset commit riding with the request was refused (why, when known): none of
    /// its records were written and no offset was committed.
    #[error("{}", commit_refused(.0.as_ref()))]
    CommitRefused(Option<CommandError>),
}

/// The message of a refused offset commit.
fn commit_refused(why: Option<&CommandError>) -> String {
    let why = why.map_or_else(|| "refused".to_owned(), ToString::to_string);
    format!("offset commit refused, so no record was written and no offset committed: {why}")
}

/// Why a segment past the commit horizon fails its appends; nothing of it was written.
fn too_old_message() -> String {
    let horizon = horizon_text(silt_metadata::limits::commit_horizon_ms());
    format!(
        "the segment holding these records was sealed more than {horizon} before its commit (the commit horizon; the broker was paused or cut off); nothing was written, retry"
    )
}

/// The horizon in whole minutes, or in milliseconds when shorter (a test build's).
fn horizon_text(ms: i64) -> String {
    if ms % 60_000 == 0 {
        format!("{} minutes", ms / 60_000)
    } else {
        format!("{ms} ms")
    }
}

impl PipelineError {
    /// The error for a refused chunk outcome of `partition`, written under `producer` (`None`
    /// for a committed or duplicate one).
    pub(crate) fn from_outcome(
        outcome: &ChunkOutcome,
        partition: u32,
        producer: Option<ProducerTag>,
    ) -> Option<PipelineError> {
        match outcome {
            ChunkOutcome::Committed { .. } | ChunkOutcome::Duplicate { .. } => None,
            ChunkOutcome::TopicNotFound => Some(PipelineError::TopicNotFound),
            ChunkOutcome::PartitionNotFound => Some(PipelineError::PartitionNotFound(partition)),
            ChunkOutcome::ProducerFenced { current_epoch } => Some(PipelineError::ProducerFenced {
                current_epoch: *current_epoch,
            }),
            ChunkOutcome::OutOfOrderSequence { expected } => {
                Some(PipelineError::OutOfOrderSequence {
                    expected: *expected,
                })
            }
            ChunkOutcome::UnknownProducer => Some(PipelineError::UnknownProducer),
            ChunkOutcome::IdempotencyMismatch => producer.map(PipelineError::IdempotencyMismatch),
            ChunkOutcome::TooOld => Some(PipelineError::Unavailable(too_old_message())),
            ChunkOutcome::CommitRefused => Some(PipelineError::CommitRefused(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use silt_metadata::types::ChunkOutcome;

    use super::PipelineError;

    #[test]
    fn the_horizon_is_named_in_minutes_or_for_a_test_horizon_in_milliseconds() {
        assert_eq!(super::horizon_text(15 * 60 * 1000), "15 minutes");
        assert_eq!(super::horizon_text(5_000), "5000 ms");
    }

    #[test]
    fn a_segment_past_the_commit_horizon_is_unavailable_not_outcome_unknown() {
        let error = PipelineError::from_outcome(&ChunkOutcome::TooOld, 0, None);
        assert!(
            matches!(&error, Some(PipelineError::Unavailable(m)) if m.contains("nothing was written")),
            "{error:?}"
        );
    }
}
