//! The metadata state machine: [`MetadataState`], the deterministic state every replica
//! reaches by applying the same [`Command`]s in the same order, and [`StateMachineStore`],
//! its openraft adapter.
//!
//! Invariants:
//! - `apply` reads no clock, no randomness and does no I/O; every time in the state rode in
//!   a command.
//! - Offsets are dense per partition: a committed chunk's base offset is the partition's
//!   high watermark before it, which then grows by the chunk's record count.
//! - Commits are idempotent by object name: a segment committed before returns exactly
//!   its original [`SegmentCommitResult`] and changes nothing.
//! - A refused command ([`CommandResult::Rejected`]) changes nothing.
//! - The state readers see ([`SharedState`]) always pairs the state with the log id of the
//!   last entry applied to it; locks on it are short and never held across an `.await`.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, Snapshot, StorageIOError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::snapshot::{SnapshotBuilder, SnapshotStore};
use crate::state::brokers::Brokers;
use crate::state::producers::{Admission, Producers};
use crate::state::topics::Topics;
use crate::type_config::{LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::types::{
    BrokerView, ChunkOutcome, Command, CommandError, CommandResult, PartitionSlice, ProducerBatch,
    ProducerView, SegmentCommit, SegmentCommitResult, TopicView,
};

/// The deterministic metadata state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetadataState {
    /// Topics and their partition indexes.
    topics: Topics,
    /// Every committed segment object and the result its commit returned.
    segments: BTreeMap<String, SegmentCommitResult>,
    /// Idempotent producers.
    #[serde(default)]
    producers: Producers,
    /// Registered brokers and their leases.
    #[serde(default)]
    brokers: Brokers,
    /// Uploaded objects that were never committed (garbage), with when they were recorded.
    #[serde(default)]
    orphans: BTreeMap<String, i64>,
}

impl MetadataState {
    /// Applies one command and returns what its proposer receives.
    pub(crate) fn apply(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                settings,
                created_at_ms,
            } => match self
                .topics
                .create(name, *partitions, settings, *created_at_ms)
            {
                Some(topic) => CommandResult::Topic(topic.view()),
                None => CommandResult::Rejected(CommandError::TopicAlreadyExists(name.clone())),
            },
            Command::DeleteTopic { name } => match self.topics.delete(name) {
                Some(_) => CommandResult::Deleted,
                None => CommandResult::Rejected(CommandError::TopicNotFound(name.clone())),
            },
            Command::CommitSegments { segments } => {
                CommandResult::Committed(self.commit_segments(segments))
            }
            Command::InitProducer { producer_id } => match self.producers.init(*producer_id) {
                Some(view) => CommandResult::Producer(view),
                None => CommandResult::Rejected(CommandError::ProducerNotFound(
                    producer_id.unwrap_or_default(),
                )),
            },
            Command::BrokerHeartbeat {
                broker_id,
                address,
                lease_ms,
                at_ms,
            } => CommandResult::Broker(
                self.brokers
                    .heartbeat(broker_id, address, *lease_ms, *at_ms),
            ),
            Command::RecordOrphans { objects, at_ms } => {
                for object in objects {
                    // A committed object is never garbage, whatever a broker believes.
                    if !self.segments.contains_key(object) {
                        self.orphans.entry(object.clone()).or_insert(*at_ms);
                    }
                }
                CommandResult::Recorded
            }
        }
    }

    /// Commits segments in order; see the module invariants.
    fn commit_segments(&mut self, segments: &[SegmentCommit]) -> Vec<SegmentCommitResult> {
        segments
            .iter()
            .map(|segment| {
                if let Some(previous) = self.segments.get(&segment.object) {
                    return previous.clone();
                }
                let result = self.commit_segment(segment);
                // An object none of whose chunks was appended (all duplicates or refused)
                // is referenced by no index entry: garbage from the start.
                if !result
                    .chunks
                    .iter()
                    .any(|outcome| matches!(outcome, ChunkOutcome::Committed { .. }))
                {
                    self.orphans.insert(segment.object.clone(), 0);
                }
                self.segments.insert(segment.object.clone(), result.clone());
                result
            })
            .collect()
    }

    /// Commits one segment that was never committed before. The chunks of one producer
    /// request are admitted together, when the first of them is seen: a new request is
    /// appended, a duplicate answered with its original offsets, a refused one dropped.
    fn commit_segment(&mut self, segment: &SegmentCommit) -> SegmentCommitResult {
        let object: Arc<str> = Arc::from(segment.object.as_str());
        let mut admissions: BTreeMap<ProducerBatch, Admission> = BTreeMap::new();
        let chunks = segment
            .chunks
            .iter()
            .map(|chunk| {
                if let Some(batch) = &chunk.producer {
                    let admission = *admissions
                        .entry(*batch)
                        .or_insert_with(|| self.producers.admit(batch));
                    match admission {
                        Admission::Accept => {}
                        Admission::Duplicate => {
                            return self
                                .producers
                                .original(batch, chunk.topic_id, chunk.partition);
                        }
                        Admission::Refuse(outcome) => return outcome,
                    }
                }
                let Some(topic) = self.topics.get_by_id_mut(chunk.topic_id) else {
                    return ChunkOutcome::TopicNotFound;
                };
                let Some(partition) = usize::try_from(chunk.partition)
                    .ok()
                    .and_then(|number| topic.partitions.get_mut(number))
                else {
                    return ChunkOutcome::PartitionNotFound;
                };
                let base_offset = partition.append(&object, chunk);
                if let Some(batch) = &chunk.producer {
                    self.producers
                        .record(batch, chunk.topic_id, chunk.partition, base_offset);
                }
                ChunkOutcome::Committed { base_offset }
            })
            .collect();
        SegmentCommitResult {
            object: segment.object.clone(),
            chunks,
        }
    }

    /// A producer's current identity.
    pub(crate) fn producer(&self, id: u64) -> Option<ProducerView> {
        self.producers.view(id)
    }

    /// Every registered broker.
    pub(crate) fn list_brokers(&self) -> Vec<BrokerView> {
        self.brokers.list()
    }

    /// Objects recorded as garbage, with when they were recorded.
    pub(crate) fn orphans(&self) -> &BTreeMap<String, i64> {
        &self.orphans
    }

    /// All topics, in name order.
    pub(crate) fn list_topics(&self) -> Vec<TopicView> {
        self.topics.iter().map(|topic| topic.view()).collect()
    }

    /// One topic.
    pub(crate) fn describe_topic(&self, name: &str) -> Result<TopicView> {
        self.topics
            .get(name)
            .map(|topic| topic.view())
            .ok_or_else(|| Error::Rejected(CommandError::TopicNotFound(name.to_owned())))
    }

    /// At most `max_entries` contiguous index entries of `topic`/`partition`, starting with
    /// the one covering `offset` (none if `offset` is outside the readable range), with
    /// the partition's bounds.
    pub(crate) fn partition_slice(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: usize,
    ) -> Result<PartitionSlice> {
        let Some(found) = self.topics.get(topic) else {
            return Err(Error::Rejected(CommandError::TopicNotFound(
                topic.to_owned(),
            )));
        };
        let Some(index) = usize::try_from(partition)
            .ok()
            .and_then(|number| found.partitions.get(number))
        else {
            return Err(Error::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
                partitions: found.partition_count(),
            });
        };
        Ok(PartitionSlice {
            topic_id: found.id,
            start_offset: index.start_offset,
            high_watermark: index.high_watermark,
            entries: index.slice(offset, max_entries),
        })
    }
}

/// The state as of a log id: what readers and snapshots see.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppliedState {
    /// The last entry applied to `state`.
    pub(crate) last_applied: Option<LogId>,
    /// The last membership applied.
    pub(crate) last_membership: StoredMembership,
    /// The metadata.
    pub(crate) state: MetadataState,
}

/// The applied state, shared by the state machine (the only writer) and local readers.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedState(Arc<RwLock<AppliedState>>);

impl SharedState {
    /// Locks for reading. A poisoned lock is still read: writers only run infallible,
    /// panic-free steps under it, so poison cannot mean a half-applied entry.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, AppliedState> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for writing.
    fn write(&self) -> RwLockWriteGuard<'_, AppliedState> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The openraft state machine: applies entries to the [`SharedState`], builds, installs
/// and serves snapshots through the [`SnapshotStore`], and announces each applied batch
/// on a watch channel (the value is the last applied log index).
pub(crate) struct StateMachineStore {
    /// The applied state.
    shared: SharedState,
    /// Durable snapshots.
    snapshots: Arc<SnapshotStore>,
    /// Bumped after each applied batch.
    applied_tx: Arc<watch::Sender<u64>>,
}

impl StateMachineStore {
    /// Opens the state machine with its snapshots in `snapshot_dir`, resuming from the
    /// newest snapshot there if any.
    pub(crate) async fn open(snapshot_dir: PathBuf) -> Result<Self, StorageError> {
        let (snapshots, newest) =
            tokio::task::spawn_blocking(move || SnapshotStore::open(snapshot_dir))
                .await
                .map_err(|join| StorageIOError::read_snapshot(None, &join))?
                .map_err(|io| StorageIOError::read_snapshot(None, &io))?;
        let applied = match newest {
            Some((meta, data)) => AppliedState {
                state: crate::snapshot::decode_state(&data)
                    .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?,
                last_applied: meta.last_log_id,
                last_membership: meta.last_membership,
            },
            None => AppliedState::default(),
        };
        let applied_index = applied.last_applied.map_or(0, |log_id| log_id.index);
        let (applied_tx, _) = watch::channel(applied_index);
        Ok(Self {
            shared: SharedState(Arc::new(RwLock::new(applied))),
            snapshots: Arc::new(snapshots),
            applied_tx: Arc::new(applied_tx),
        })
    }

    /// The applied state, for readers.
    pub(crate) fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    /// The sender of the last applied log index; readers subscribe to it.
    pub(crate) fn applied_sender(&self) -> Arc<watch::Sender<u64>> {
        Arc::clone(&self.applied_tx)
    }

    /// Announces that entries up to `index` are applied.
    fn announce_applied(&self, index: Option<u64>) {
        if let Some(index) = index {
            self.applied_tx.send_if_modified(|current| {
                let changed = *current != index;
                *current = index;
                changed
            });
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.read();
        Ok((applied.last_applied, applied.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<CommandResult>>, StorageError>
    where
        I: IntoIterator<Item = crate::type_config::Entry> + Send,
        I::IntoIter: Send,
    {
        let mut results = Vec::new();
        let last_index = {
            let mut applied = self.shared.write();
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let result = match entry.payload {
                    EntryPayload::Blank => None,
                    EntryPayload::Normal(command) => Some(applied.state.apply(&command)),
                    EntryPayload::Membership(membership) => {
                        applied.last_membership =
                            StoredMembership::new(Some(entry.log_id), membership);
                        None
                    }
                };
                results.push(result);
            }
            applied.last_applied.map(|log_id| log_id.index)
        };
        self.announce_applied(last_index);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let applied = self.shared.read().clone();
        SnapshotBuilder::new(applied, Arc::clone(&self.snapshots))
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let state = crate::snapshot::decode_state(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let snapshots = Arc::clone(&self.snapshots);
        let saved_meta = meta.clone();
        tokio::task::spawn_blocking(move || snapshots.save(&saved_meta, &data))
            .await
            .map_err(|join| StorageIOError::write_snapshot(Some(meta.signature()), &join))?
            .map_err(|io| StorageIOError::write_snapshot(Some(meta.signature()), &io))?;
        {
            let mut applied = self.shared.write();
            applied.state = state;
            applied.last_applied = meta.last_log_id;
            applied.last_membership = meta.last_membership.clone();
        }
        self.announce_applied(meta.last_log_id.map(|log_id| log_id.index));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let current = tokio::task::spawn_blocking(move || snapshots.load_current())
            .await
            .map_err(|join| StorageIOError::read_snapshot(None, &join))?
            .map_err(|io| StorageIOError::read_snapshot(None, &io))?;
        Ok(current.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChunkCommit, TopicSettings};

    fn create(state: &mut MetadataState, name: &str, partitions: u32) -> TopicView {
        match state.apply(&Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            settings: TopicSettings::default(),
            created_at_ms: 1_000,
        }) {
            CommandResult::Topic(view) => view,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn chunk(topic_id: u64, partition: u32, record_count: u32) -> ChunkCommit {
        ChunkCommit {
            topic_id,
            partition,
            position: 0,
            length: 10,
            record_count,
            first_timestamp_ms: 5,
            max_timestamp_ms: 6,
            producer: None,
        }
    }

    fn produced(topic_id: u64, partition: u32, count: u32, batch: (u64, u32, u64)) -> ChunkCommit {
        ChunkCommit {
            producer: Some(ProducerBatch {
                producer_id: batch.0,
                epoch: batch.1,
                sequence: batch.2,
            }),
            ..chunk(topic_id, partition, count)
        }
    }

    fn init_producer(state: &mut MetadataState, id: Option<u64>) -> (u64, u32) {
        match state.apply(&Command::InitProducer { producer_id: id }) {
            CommandResult::Producer(view) => (view.producer_id, view.epoch),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_retried_producer_request_is_committed_once_across_segments() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 2).id;
        let (id, epoch) = init_producer(&mut state, None);
        // Request 0 spans both partitions; a plain chunk shares the segment.
        let first = commit(
            &mut state,
            vec![segment(
                "s1",
                vec![
                    chunk(a, 0, 1),
                    produced(a, 0, 2, (id, epoch, 0)),
                    produced(a, 1, 3, (id, epoch, 0)),
                ],
            )],
        );
        assert_eq!(bases(&first[0]), [Some(0), Some(1), Some(0)]);
        // The same request, retried through another broker (another object), twice in one
        // segment: never appended again, answered with the original offsets.
        let retried = commit(
            &mut state,
            vec![segment(
                "s2",
                vec![
                    produced(a, 0, 2, (id, epoch, 0)),
                    produced(a, 1, 3, (id, epoch, 0)),
                    produced(a, 1, 3, (id, epoch, 0)),
                    produced(a, 0, 4, (id, epoch, 1)),
                ],
            )],
        );
        assert_eq!(
            retried[0].chunks,
            [
                ChunkOutcome::Duplicate { base_offset: 1 },
                ChunkOutcome::Duplicate { base_offset: 0 },
                ChunkOutcome::Duplicate { base_offset: 0 },
                ChunkOutcome::Committed { base_offset: 3 },
            ]
        );
        let view = state.describe_topic("a").unwrap();
        assert_eq!(view.partitions[0].high_watermark, 7);
        assert_eq!(view.partitions[1].high_watermark, 3);
        // A gap and a fenced epoch append nothing.
        let before = state.describe_topic("a").unwrap();
        let refused = commit(
            &mut state,
            vec![segment("s3", vec![produced(a, 0, 1, (id, epoch, 5))])],
        );
        assert_eq!(
            refused[0].chunks,
            [ChunkOutcome::OutOfOrderSequence { expected: 2 }]
        );
        let (_, new_epoch) = init_producer(&mut state, Some(id));
        assert_eq!(new_epoch, epoch + 1);
        let fenced = commit(
            &mut state,
            vec![segment("s4", vec![produced(a, 0, 1, (id, epoch, 2))])],
        );
        assert_eq!(
            fenced[0].chunks,
            [ChunkOutcome::ProducerFenced {
                current_epoch: new_epoch
            }]
        );
        assert_eq!(state.describe_topic("a").unwrap(), before);
        assert_eq!(
            state.apply(&Command::InitProducer {
                producer_id: Some(99)
            }),
            CommandResult::Rejected(CommandError::ProducerNotFound(99))
        );
    }

    #[test]
    fn orphans_never_include_committed_objects() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 1).id;
        commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 1)])]);
        state.apply(&Command::RecordOrphans {
            objects: vec!["s1".to_owned(), "s9".to_owned()],
            at_ms: 5,
        });
        assert_eq!(state.orphans().keys().collect::<Vec<_>>(), ["s9"]);
        // A committed segment none of whose chunks was appended is garbage too.
        commit(&mut state, vec![segment("s2", vec![chunk(99, 0, 1)])]);
        assert_eq!(state.orphans().keys().collect::<Vec<_>>(), ["s2", "s9"]);
    }

    fn commit(state: &mut MetadataState, segments: Vec<SegmentCommit>) -> Vec<SegmentCommitResult> {
        match state.apply(&Command::CommitSegments { segments }) {
            CommandResult::Committed(results) => results,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn segment(object: &str, chunks: Vec<ChunkCommit>) -> SegmentCommit {
        SegmentCommit {
            object: object.to_owned(),
            size: 100,
            chunks,
        }
    }

    fn bases(result: &SegmentCommitResult) -> Vec<Option<u64>> {
        result
            .chunks
            .iter()
            .map(|outcome| match outcome {
                ChunkOutcome::Committed { base_offset } => Some(*base_offset),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn create_topic_assigns_ids_and_rejects_taken_names() {
        let mut state = MetadataState::default();
        let orders = create(&mut state, "orders", 3);
        assert_eq!(orders.id, 1);
        assert_eq!(orders.partitions.len(), 3);
        assert_eq!(orders.created_at_ms, 1_000);
        assert!(orders.partitions.iter().all(|p| p.high_watermark == 0));
        let before = state.clone();
        let again = state.apply(&Command::CreateTopic {
            name: "orders".to_owned(),
            partitions: 1,
            settings: TopicSettings::default(),
            created_at_ms: 2_000,
        });
        assert_eq!(
            again,
            CommandResult::Rejected(CommandError::TopicAlreadyExists("orders".to_owned()))
        );
        assert_eq!(state, before);
        assert_eq!(create(&mut state, "users", 1).id, 2);
        let names: Vec<String> = state.list_topics().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["orders", "users"]);
    }

    #[test]
    fn delete_topic_rejects_unknown_names() {
        let mut state = MetadataState::default();
        create(&mut state, "orders", 1);
        assert_eq!(
            state.apply(&Command::DeleteTopic {
                name: "orders".to_owned()
            }),
            CommandResult::Deleted
        );
        assert_eq!(
            state.apply(&Command::DeleteTopic {
                name: "orders".to_owned()
            }),
            CommandResult::Rejected(CommandError::TopicNotFound("orders".to_owned()))
        );
        assert!(matches!(
            state.describe_topic("orders"),
            Err(Error::Rejected(CommandError::TopicNotFound(_)))
        ));
    }

    #[test]
    fn commits_assign_dense_offsets_in_order() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 2).id;
        let b = create(&mut state, "b", 1).id;
        let results = commit(
            &mut state,
            vec![
                segment("s1", vec![chunk(a, 0, 3), chunk(a, 1, 2), chunk(b, 0, 4)]),
                segment("s2", vec![chunk(a, 0, 5), chunk(b, 0, 1)]),
            ],
        );
        assert_eq!(bases(&results[0]), [Some(0), Some(0), Some(0)]);
        assert_eq!(bases(&results[1]), [Some(3), Some(4)]);
        let view = state.describe_topic("a").unwrap();
        assert_eq!(view.partitions[0].high_watermark, 8);
        assert_eq!(view.partitions[1].high_watermark, 2);
        let slice = state.partition_slice("a", 0, 0, 10).unwrap();
        assert_eq!(slice.topic_id, a);
        assert_eq!(slice.high_watermark, 8);
        let entries: Vec<(u64, u32, &str)> = slice
            .entries
            .iter()
            .map(|e| (e.base_offset, e.record_count, &*e.object))
            .collect();
        assert_eq!(entries, [(0, 3, "s1"), (3, 5, "s2")]);
    }

    #[test]
    fn recommit_returns_the_original_result_and_changes_nothing() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 1).id;
        let first = commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 3)])]);
        commit(&mut state, vec![segment("s2", vec![chunk(a, 0, 2)])]);
        let before = state.clone();
        // Same object, different (bogus) content: the original result wins.
        let again = commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 9)])]);
        assert_eq!(again, first);
        assert_eq!(state, before);
        // A duplicate inside one command is applied once too.
        let both = commit(
            &mut state,
            vec![
                segment("s3", vec![chunk(a, 0, 1)]),
                segment("s3", vec![chunk(a, 0, 1)]),
            ],
        );
        assert_eq!(both[0], both[1]);
        assert_eq!(
            state.describe_topic("a").unwrap().partitions[0].high_watermark,
            6
        );
    }

    #[test]
    fn unknown_topics_and_partitions_are_not_committed() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 1).id;
        let results = commit(
            &mut state,
            vec![segment(
                "s1",
                vec![
                    chunk(a, 1, 3),
                    chunk(99, 0, 3),
                    chunk(a, 0, 0),
                    chunk(a, 0, 2),
                ],
            )],
        );
        assert_eq!(
            results[0].chunks,
            [
                ChunkOutcome::PartitionNotFound,
                ChunkOutcome::TopicNotFound,
                ChunkOutcome::Committed { base_offset: 0 },
                ChunkOutcome::Committed { base_offset: 0 },
            ]
        );
        let slice = state.partition_slice("a", 0, 0, 10).unwrap();
        assert_eq!(slice.entries.len(), 1, "an empty chunk adds no entry");
        assert_eq!(slice.high_watermark, 2);
    }

    #[test]
    fn chunks_of_a_deleted_topic_are_not_found_even_after_recreation() {
        let mut state = MetadataState::default();
        let old = create(&mut state, "a", 1).id;
        state.apply(&Command::DeleteTopic {
            name: "a".to_owned(),
        });
        let new = create(&mut state, "a", 1).id;
        assert_ne!(old, new);
        let results = commit(&mut state, vec![segment("s1", vec![chunk(old, 0, 3)])]);
        assert_eq!(results[0].chunks, [ChunkOutcome::TopicNotFound]);
        assert_eq!(
            state.describe_topic("a").unwrap().partitions[0].high_watermark,
            0
        );
    }

    #[test]
    fn partition_slice_errors_and_bounds() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 2).id;
        commit(
            &mut state,
            vec![
                segment("s1", vec![chunk(a, 0, 3)]),
                segment("s2", vec![chunk(a, 0, 3)]),
                segment("s3", vec![chunk(a, 0, 3)]),
            ],
        );
        assert!(matches!(
            state.partition_slice("nope", 0, 0, 1),
            Err(Error::Rejected(CommandError::TopicNotFound(name))) if name == "nope"
        ));
        assert!(matches!(
            state.partition_slice("a", 2, 0, 1),
            Err(Error::PartitionNotFound {
                partition: 2,
                partitions: 2,
                ..
            })
        ));
        let from_4 = state.partition_slice("a", 0, 4, 10).unwrap();
        let bases: Vec<u64> = from_4.entries.iter().map(|e| e.base_offset).collect();
        assert_eq!(bases, [3, 6]);
        let limited = state.partition_slice("a", 0, 4, 1).unwrap();
        assert_eq!(limited.entries.len(), 1);
        let at_end = state.partition_slice("a", 0, 9, 10).unwrap();
        assert!(at_end.entries.is_empty());
        assert_eq!(at_end.high_watermark, 9);
        assert!(
            state
                .partition_slice("a", 1, 0, 10)
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn state_round_trips_through_snapshot_encoding() {
        let mut state = MetadataState::default();
        let a = create(&mut state, "a", 2).id;
        commit(&mut state, vec![segment("s1", vec![chunk(a, 1, 3)])]);
        let (id, epoch) = init_producer(&mut state, None);
        commit(
            &mut state,
            vec![segment("s2", vec![produced(a, 0, 2, (id, epoch, 0))])],
        );
        state.apply(&Command::BrokerHeartbeat {
            broker_id: "b1".to_owned(),
            address: "http://127.0.0.1:1".to_owned(),
            lease_ms: 3_000,
            at_ms: 10,
        });
        state.apply(&Command::RecordOrphans {
            objects: vec!["lost".to_owned()],
            at_ms: 11,
        });
        let bytes = crate::snapshot::encode_state(&state).unwrap();
        assert_eq!(crate::snapshot::decode_state(&bytes).unwrap(), state);
    }
}
