//! The write pipeline: append → seal → upload → commit → acknowledge
//! (`docs/architecture.md#write-path`, steps 2 to 6).
//!
//! Three stages, one file each:
//!
//! - [`stage`]: one actor owns the open segment (a `SegmentBuilder` in memory). Appends are
//!   staged into it and wait. The actor seals the segment by size, at once when no upload
//!   is in flight (an idle broker does not wait for a timer), or when the linger passes
//!   while uploads run (`SealPolicy`).
//! - [`upload`]: each sealed segment is uploaded with a conditional PUT under a unique name,
//!   several at once, while a copy is written to the spool (local disk, for recovery; a
//!   segment waiting for an upload slot waits there, not in memory).
//! - [`commit`]: a committer orders uploaded segments through the metadata service **in seal
//!   order**, batching every segment that is ready into one Raft entry, and only then
//!   answers the waiting appends with their offsets: acknowledged means in the bucket and
//!   ordered in metadata.
//!
//! An idempotent request carries a digest of its content (`write/digest.rs`) from the staging
//! actor to the commit, so a reused producer tag with other content is refused
//! ([`PipelineError::IdempotencyMismatch`]), never answered with another request's offsets.
//!
//! A failed upload fails its appends (their records are never committed: the spool file is
//! dropped); a failed commit fails its appends as outcome-unknown but keeps the spool file
//! and hands its id to the background recovery ([`InDoubt`]), which commits it later
//! (idempotent by object name).

mod commit;
mod error;
mod held;
mod in_doubt;
mod parts;
pub(crate) mod sidecar;
mod stage;
mod upload;
mod waiter;

use std::sync::Arc;

use silt_bookie::wal::SealPolicy;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) use commit::{commit_with_retry, refused_as_too_old, segment_commit};
pub(crate) use error::PipelineError;
pub(crate) use held::HeldBytes;
pub(crate) use parts::{PartitionAppend, PipelineParts};
pub(crate) use upload::{Digests, RequestFacts};

use stage::{ActorMessage, AppendRequest};
use waiter::AppendResult;

/// The actor's and the committer's tasks, taken once by [`WritePipeline::close`].
type PipelineTasks = Arc<std::sync::Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>>;

/// Handle to the running pipeline; clones share it.
#[derive(Clone)]
pub(crate) struct WritePipeline {
    actor: mpsc::Sender<ActorMessage>,
    tasks: PipelineTasks,
    closing: Arc<watch::Sender<bool>>,
}

impl WritePipeline {
    /// Starts the staging actor and the committer.
    pub(crate) fn start(parts: Arc<PipelineParts>, policy: SealPolicy) -> Self {
        let (actor_tx, actor_rx) = mpsc::channel(1024);
        let (commit_tx, commit_rx) = mpsc::unbounded_channel();
        let (closing, closing_rx) = watch::channel(false);
        let committer = tokio::spawn(commit::commit_loop(parts.clone(), commit_rx, closing_rx));
        let actor = tokio::spawn(stage::Actor::new(parts, policy, commit_tx).run(actor_rx));
        WritePipeline {
            actor: actor_tx,
            tasks: Arc::new(std::sync::Mutex::new(Some((actor, committer)))),
            closing: Arc::new(closing),
        }
    }

    /// Appends records without a content digest and waits until they are durable and
    /// ordered; returns each part's first offset, in the order of `parts` (tests only: the
    /// writer always passes a digest for an idempotent request).
    #[cfg(test)]
    pub(crate) async fn append(&self, parts: Vec<PartitionAppend>) -> AppendResult {
        self.append_request(parts, RequestFacts::default()).await
    }

    /// Appends records and waits until they are durable and ordered; returns each part's
    /// first offset, in the order of `parts`. `facts` are an idempotent request's content
    /// digest and offset commit: a request staged or committed under the same producer
    /// tag with another digest is refused with [`PipelineError::IdempotencyMismatch`]; the
    /// commit is applied with the records or neither is.
    pub(crate) async fn append_request(
        &self,
        parts: Vec<PartitionAppend>,
        facts: RequestFacts,
    ) -> AppendResult {
        let (done, receiver) = oneshot::channel();
        self.actor
            .send(ActorMessage::Append(AppendRequest { parts, facts, done }))
            .await
            .map_err(|_| PipelineError::ShuttingDown)?;
        receiver.await.map_err(|_| PipelineError::ShuttingDown)?
    }

    /// Seals what is staged, waits for every upload and commit, and stops. Appends after
    /// this fail with [`PipelineError::ShuttingDown`].
    pub(crate) async fn close(&self) {
        let _ = self.closing.send(true);
        let (done, receiver) = oneshot::channel();
        if self.actor.send(ActorMessage::Close(done)).await.is_ok() {
            let _ = receiver.await;
        }
        self.join_tasks().await;
    }

    /// Waits for the actor and the committer to end (only the first caller waits).
    async fn join_tasks(&self) {
        let tasks = self.tasks.lock().ok().and_then(|mut guard| guard.take());
        if let Some((actor, committer)) = tasks {
            let _ = actor.await;
            let _ = committer.await;
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A pipeline over an in-memory store and an embedded one-node metadata service.

    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use silt_bookie::batch::Compression;
    use silt_bookie::cache::ChunkCache;
    use silt_bookie::clock::SystemClock;
    use silt_bookie::record::{Payload, Record};
    use silt_bookie::store::ObjectStoreHandle;
    use silt_bookie::wal::{SealPolicy, SegmentSpool};
    use silt_metadata::types::TopicSettings;
    use silt_metadata::{MetadataClient, MetadataNode, NodeConfig};

    use super::{HeldBytes, PartitionAppend, PipelineParts};
    use crate::metrics::Metrics;

    /// The parts, the node that must outlive them, and the temp dir holding both.
    pub(crate) struct Harness {
        pub(crate) parts: Arc<PipelineParts>,
        pub(crate) node: MetadataNode,
        pub(crate) dir: tempfile::TempDir,
    }

    impl Harness {
        /// A fresh pipeline's parts over `store`, with a topic `t` of 2 partitions (id 1).
        pub(crate) async fn new(store: ObjectStoreHandle) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let node = MetadataNode::open(NodeConfig {
                node_id: 1,
                data_dir: dir.path().join("metadata"),
            })
            .await
            .unwrap();
            let metadata: Arc<dyn MetadataClient> = Arc::new(node.client());
            metadata
                .create_topic("t", 2, TopicSettings::default(), 0)
                .await
                .unwrap();
            let spool = SegmentSpool::open(dir.path().join("wal")).unwrap();
            let metrics = Arc::new(Metrics::default());
            let cache = Arc::new(ChunkCache::new(1 << 20));
            let held = HeldBytes::new(1 << 20, metrics.uploaded_bytes_in_memory.clone());
            let parts = Arc::new(PipelineParts {
                store,
                spool: Arc::new(spool.with_sync(false)),
                metadata,
                cache,
                held,
                metrics,
                spool_budget: Arc::new(AtomicU64::new(1 << 30)),
                clock: Arc::new(SystemClock),
                in_doubt: Arc::default(),
            });
            Harness { parts, node, dir }
        }

        /// The same parts with another metadata client (one that stalls or gates commits).
        pub(crate) fn parts_with_metadata(
            &self,
            metadata: Arc<dyn MetadataClient>,
        ) -> Arc<PipelineParts> {
            let parts = &self.parts;
            Arc::new(PipelineParts {
                metadata,
                store: parts.store.clone(),
                spool: parts.spool.clone(),
                cache: parts.cache.clone(),
                held: parts.held.clone(),
                metrics: parts.metrics.clone(),
                spool_budget: parts.spool_budget.clone(),
                clock: parts.clock.clone(),
                in_doubt: parts.in_doubt.clone(),
            })
        }

        /// Stops the metadata node.
        pub(crate) async fn stop(self) {
            drop(self.parts);
            self.node.shutdown().await.unwrap();
        }
    }

    /// A seal policy that seals only when told (size) or after a long linger.
    pub(crate) fn policy() -> SealPolicy {
        SealPolicy {
            max_segment_bytes: 1 << 20,
            linger: Duration::from_millis(5),
            max_uploads_in_flight: 4,
            ..SealPolicy::default()
        }
    }

    /// `count` one-byte records for partition `partition` of topic 1.
    pub(crate) fn append(partition: u32, count: usize) -> PartitionAppend {
        PartitionAppend {
            topic_id: 1,
            partition,
            compression: Compression::None,
            producer: None,
            records: (0..count)
                .map(|i| Record {
                    timestamp_ms: 1,
                    key: None,
                    value: Payload::bytes(vec![u8::try_from(i % 250).unwrap()]),
                    headers: vec![],
                })
                .collect(),
        }
    }
}
