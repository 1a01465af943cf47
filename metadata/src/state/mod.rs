//! The deterministic metadata state: [`MetadataState`], which every replica reaches by
//! applying the same [`Command`]s in the same order, and the reads served from it.
//!
//! It composes the topic registry ([`topics`]), per-partition indexes ([`index`]),
//! idempotent producers ([`producers`]) and the broker registry ([`brokers`]); segment
//! commits, which touch all of them, live in [`commit`]. openraft never appears here:
//! [`crate::state_machine`] adapts this state to it.
//!
//! Invariants:
//! - `apply` reads no clock, no randomness and does no I/O; every time in the state rode in
//!   a command.
//! - Offsets are dense per partition: a committed chunk's base offset is the partition's
//!   high watermark before it, which then grows by the chunk's record count.
//! - Commits are idempotent by object name: a segment committed before returns exactly
//!   its original [`SegmentCommitResult`] and changes nothing.
//! - A refused command ([`CommandResult::Rejected`]) changes nothing.
//! - The snapshot data of a state ([`MetadataState::encode`]) decodes to an equal state.

mod brokers;
mod commit;
mod index;
mod producers;
mod topics;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{
    BrokerView, Command, CommandError, CommandResult, PartitionSlice, ProducerView,
    SegmentCommitResult, TopicSettings, TopicView,
};

use self::brokers::Brokers;
use self::producers::Producers;
use self::topics::{Topic, Topics};

/// The deterministic metadata state. Its JSON form is the snapshot data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetadataState {
    /// Topics and their partition indexes.
    topics: Topics,
    /// Every committed segment object and the result its commit returned.
    segments: BTreeMap<String, SegmentCommitResult>,
    /// Idempotent producers: their epochs, next sequences and recent requests' offsets.
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
            } => self.create_topic(name, *partitions, settings, *created_at_ms),
            Command::DeleteTopic { name } => self.delete_topic(name),
            Command::CommitSegments { segments } => {
                CommandResult::Committed(self.commit_segments(segments))
            }
            Command::InitProducer { producer_id } => self.init_producer(*producer_id),
            Command::BrokerHeartbeat {
                broker_id,
                address,
                lease_ms,
                at_ms,
            } => CommandResult::Broker(
                self.brokers
                    .heartbeat(broker_id, address, *lease_ms, *at_ms),
            ),
            Command::RecordOrphans { objects, at_ms } => self.record_orphans(objects, *at_ms),
        }
    }

    /// Creates a topic ([`Command::CreateTopic`]); refused if the name is taken.
    fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        settings: &TopicSettings,
        created_at_ms: i64,
    ) -> CommandResult {
        match self
            .topics
            .create(name, partitions, settings, created_at_ms)
        {
            Some(topic) => CommandResult::Topic(topic.view()),
            None => CommandResult::Rejected(CommandError::TopicAlreadyExists(name.to_owned())),
        }
    }

    /// Deletes a topic and its index ([`Command::DeleteTopic`]); refused if there is no
    /// such topic.
    fn delete_topic(&mut self, name: &str) -> CommandResult {
        match self.topics.delete(name) {
            Some(_) => CommandResult::Deleted,
            None => CommandResult::Rejected(CommandError::TopicNotFound(name.to_owned())),
        }
    }

    /// Issues a producer id or bumps an issued one's epoch ([`Command::InitProducer`]);
    /// refused for an id never issued.
    fn init_producer(&mut self, producer_id: Option<u64>) -> CommandResult {
        match self.producers.init(producer_id) {
            Some(view) => CommandResult::Producer(view),
            None => CommandResult::Rejected(CommandError::ProducerNotFound(
                producer_id.unwrap_or_default(),
            )),
        }
    }

    /// Records uploaded objects as garbage ([`Command::RecordOrphans`]), skipping committed
    /// ones; an object keeps the time it was first recorded at.
    fn record_orphans(&mut self, objects: &[String], at_ms: i64) -> CommandResult {
        for object in objects {
            // A committed object is never garbage, whatever a broker believes.
            if !self.segments.contains_key(object) {
                self.orphans.entry(object.clone()).or_insert(at_ms);
            }
        }
        CommandResult::Recorded
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
        self.topics.iter().map(Topic::view).collect()
    }

    /// One topic by name; [`CommandError::TopicNotFound`] if there is none.
    pub(crate) fn describe_topic(&self, name: &str) -> Result<TopicView> {
        self.topic(name).map(Topic::view)
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
        let found = self.topic(topic)?;
        let index = found
            .partition(partition)
            .ok_or_else(|| Error::PartitionNotFound {
                topic: topic.to_owned(),
                partition,
                partitions: found.partition_count(),
            })?;
        Ok(PartitionSlice {
            topic_id: found.id,
            start_offset: index.start_offset,
            high_watermark: index.high_watermark,
            entries: index.slice(offset, max_entries),
        })
    }

    /// The topic named `name`, or the refusal a reader gets for a missing one.
    fn topic(&self, name: &str) -> Result<&Topic> {
        self.topics
            .get(name)
            .ok_or_else(|| Error::Rejected(CommandError::TopicNotFound(name.to_owned())))
    }

    /// The state as snapshot data (JSON; the bytes openraft ships to followers).
    pub(crate) fn encode(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }

    /// Decodes snapshot data written by [`MetadataState::encode`].
    pub(crate) fn decode(data: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(data)
    }
}

#[cfg(test)]
mod tests;
