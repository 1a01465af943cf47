//! What the pipeline's stages share: the append they are given ([`PartitionAppend`]) and
//! the parts every stage reaches ([`PipelineParts`]).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use silt_bookie::batch::Compression;
use silt_bookie::cache::ChunkCache;
use silt_bookie::clock::Clock;
use silt_bookie::record::Record;
use silt_bookie::segment::ProducerTag;
use silt_bookie::store::ObjectStoreHandle;
use silt_bookie::wal::SegmentSpool;
use silt_metadata::MetadataClient;

use super::held::HeldBytes;
use super::in_doubt::InDoubt;
use crate::metrics::Metrics;

/// Records of one partition in one append.
#[derive(Debug, Clone)]
pub(crate) struct PartitionAppend {
    /// The topic's id (the commit refuses it if the topic was deleted meanwhile).
    pub(crate) topic_id: u64,
    /// The partition the records go to.
    pub(crate) partition: u32,
    /// The topic's chunk compression.
    pub(crate) compression: Compression,
    /// The idempotent producer request these records belong to, if any.
    pub(crate) producer: Option<ProducerTag>,
    /// The records, in request order.
    pub(crate) records: Vec<Record>,
}

/// What every stage shares.
pub(crate) struct PipelineParts {
    /// The object store segments are uploaded to.
    pub(crate) store: ObjectStoreHandle,
    /// Sealed segments on local disk until their commit is confirmed.
    pub(crate) spool: Arc<SegmentSpool>,
    /// The metadata service that orders commits.
    pub(crate) metadata: Arc<dyn MetadataClient>,
    /// The hot read tier, filled with committed chunks.
    pub(crate) cache: Arc<ChunkCache>,
    /// Uploaded segments' bytes kept for the hot cache until their commit, bounded by the
    /// cache's capacity.
    pub(crate) held: Arc<HeldBytes>,
    /// The broker's metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Bytes the spool may hold (sealed segments not yet committed) before appends are
    /// refused with [`PipelineError::Overloaded`]. An atomic so the test-only fault endpoint
    /// can simulate a full disk.
    pub(crate) spool_budget: Arc<AtomicU64>,
    /// Wall-clock time (orphan records carry it).
    pub(crate) clock: Arc<dyn Clock>,
    /// Segments whose commit was left in doubt; the background recovery retries them.
    pub(crate) in_doubt: Arc<InDoubt>,
}
