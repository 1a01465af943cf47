//! An append waiting for the commit of the segment it was staged in: the staging actor
//! creates [`Waiter`]s, the upload carries them, the committer answers them.

use silt_bookie::segment::ProducerTag;
use tokio::sync::oneshot;

use super::error::PipelineError;

/// The answer an append waits for: each part's first offset, in part order.
pub(super) type AppendResult = Result<Vec<u64>, PipelineError>;

/// An append waiting for its segment's commit: one slot per part it staged.
pub(super) struct Waiter {
    pub(super) slots: Vec<Slot>,
    pub(super) done: oneshot::Sender<AppendResult>,
}

/// Where one part's records sit in the segment: its chunk's key and the position of the
/// part's first record in that chunk.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) topic_id: u64,
    pub(super) partition: u32,
    pub(super) producer: Option<ProducerTag>,
    pub(super) delta: u32,
}
