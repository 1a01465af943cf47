//! [`Writer`]: the write path as a service. It takes a parsed produce request
//! ([`ProduceInput`]), finds the topic, checks an idempotent producer's epoch, places each
//! record on a partition (the one named, else Kafka's murmur2 of the key, else the sticky
//! or idempotent fallback), appends the request to the pipeline as one unit, bounded by
//! `server.request_timeout`, and puts the offsets back in request order.
//!
//! Nothing is staged until every record is placed and within the size limit, so a bad
//! request writes nothing. A request is atomic: its records share one segment and one
//! commit entry, so a request spanning partitions is acknowledged or failed as a whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use silt_bookie::record::Record;
use silt_bookie::segment::ProducerTag;
use silt_metadata::MetadataClient;
use silt_sdk::wire::RecordOffset;

use crate::write::digest::request_digest;
use crate::write::error::WriteError;
use crate::write::partitioner::{StickyPartitioner, partition_for_key};
use crate::write::pipeline::{PartitionAppend, PipelineError, RequestFacts, WritePipeline};
use crate::write::producer_cache::{CheckError, ProducerCache};
use crate::write::request::{InputRecord, ProduceInput, Produced};
use crate::write::topic_cache::{TopicCache, TopicRoute};

/// The limits the writer enforces (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteLimits {
    /// `server.max_record_bytes`: key + value + headers of one record.
    pub(crate) max_record_bytes: u64,
    /// `server.request_timeout`: how long an append may wait for its commit.
    pub(crate) request_timeout: Duration,
}

/// The write service; one per broker, shared by every produce request.
pub(crate) struct Writer {
    metadata: Arc<dyn MetadataClient>,
    pipeline: WritePipeline,
    topics: TopicCache,
    producers: ProducerCache,
    sticky: StickyPartitioner,
    limits: WriteLimits,
}

impl Writer {
    /// A writer appending to `pipeline`.
    pub(crate) fn new(
        metadata: Arc<dyn MetadataClient>,
        pipeline: WritePipeline,
        limits: WriteLimits,
    ) -> Self {
        Writer {
            metadata,
            pipeline,
            topics: TopicCache::default(),
            producers: ProducerCache::default(),
            sticky: StickyPartitioner::default(),
            limits,
        }
    }

    /// Writes `input` to `topic` and waits until it is durable and ordered.
    pub(crate) async fn produce(
        &self,
        topic: &str,
        input: ProduceInput,
    ) -> Result<Produced, WriteError> {
        let route = self.topics.route(&self.metadata, topic).await?;
        if let Some(tag) = &input.producer {
            self.check_producer(topic, tag).await?;
        }
        let fallback = self.fallback_partition(input.producer.as_ref(), route.partitions);
        let facts = RequestFacts {
            digest: input
                .producer
                .map(|_| request_digest(route.id, &input.records)),
            commit: input.commit,
        };
        let placed = Placement::place(topic, &route, fallback, input.records, self.limits)?;
        let (parts, order) = placed.traced().into_parts(&route, input.producer);
        order.offsets(self.append(topic, parts, facts).await?)
    }

    /// The partition of a keyless record that names none: the idempotent one for a
    /// producer request, else the sticky one.
    fn fallback_partition(&self, producer: Option<&ProducerTag>, partitions: u32) -> u32 {
        match producer {
            Some(tag) => idempotent_partition(tag, partitions),
            None => self.sticky.next_partition(partitions),
        }
    }

    /// Forgets what the writer knows of `topic` (it was deleted).
    pub(crate) fn forget_topic(&self, topic: &str) {
        self.topics.evict(topic);
    }

    /// Refuses a producer whose epoch is not the current one.
    async fn check_producer(&self, topic: &str, tag: &ProducerTag) -> Result<(), WriteError> {
        let (metadata, id, epoch) = (self.metadata.as_ref(), tag.producer_id, tag.epoch);
        match self.producers.check(metadata, id, epoch).await {
            Ok(()) => Ok(()),
            Err(CheckError::Refused(error)) => Err(WriteError::pipeline(topic, error)),
            Err(CheckError::Metadata(error)) => Err(WriteError::Metadata(error)),
        }
    }

    /// Appends (with an idempotent request's digest and commit) within the request timeout;
    /// a refusal that says the topic changed evicts its cached route so the next request
    /// sees the current topic.
    async fn append(
        &self,
        topic: &str,
        parts: Vec<PartitionAppend>,
        facts: RequestFacts,
    ) -> Result<Vec<u64>, WriteError> {
        let timeout = self.limits.request_timeout;
        let append = self.pipeline.append_request(parts, facts);
        let appended = tokio::time::timeout(timeout, append).await;
        let appended = appended.map_err(|_| WriteError::Timeout(timeout))?;
        appended.map_err(|error| self.refused(topic, error))
    }

    /// The pipeline's refusal; one that says the topic changed evicts the cached route.
    fn refused(&self, topic: &str, error: PipelineError) -> WriteError {
        if let PipelineError::TopicNotFound | PipelineError::PartitionNotFound(_) = error {
            self.topics.evict(topic);
        }
        WriteError::pipeline(topic, error)
    }
}

/// The partition of a keyless record without an explicit partition in an idempotent
/// request: derived from the producer id and sequence, so a retry through any broker
/// lands where the original did (the sticky partitioner is per broker).
fn idempotent_partition(producer: &ProducerTag, partitions: u32) -> u32 {
    let mut mix =
        silt_bookie::random::Rng::seed(producer.producer_id ^ producer.sequence.rotate_left(32));
    u32::try_from(mix.next_u64() % u64::from(partitions.max(1))).unwrap_or(0)
}

/// Bytes a record counts against `max_record_bytes`.
fn record_size(record: &Record) -> u64 {
    let key = record.key.as_ref().map_or(0, |k| k.data.len());
    let headers: usize = record.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    (key + record.value.data.len() + headers) as u64
}

/// A request's records grouped by partition, each with its index in the request.
struct Placement {
    groups: BTreeMap<u32, (Vec<Record>, Vec<usize>)>,
    records: u64,
    bytes: u64,
}

impl Placement {
    /// Places every record, or refuses the request naming the first bad record.
    fn place(
        topic: &str,
        route: &TopicRoute,
        fallback: u32,
        records: Vec<InputRecord>,
        limits: WriteLimits,
    ) -> Result<Placement, WriteError> {
        let mut placed = Placement::new(records.len());
        for (index, input) in records.into_iter().enumerate() {
            let size = checked_size(index, &input.record, limits)?;
            let partition = partition_of(topic, route.partitions, fallback, index, &input)?;
            placed.add(partition, index, size, input.record);
        }
        Ok(placed)
    }

    /// An empty placement of a request of `records` records.
    fn new(records: usize) -> Self {
        Placement {
            groups: BTreeMap::new(),
            records: records as u64,
            bytes: 0,
        }
    }

    /// Adds the request's record `index` of `size` bytes to `partition`'s group.
    fn add(&mut self, partition: u32, index: usize, size: u64, record: Record) {
        self.bytes += size;
        let group = self.groups.entry(partition).or_default();
        group.0.push(record);
        group.1.push(index);
    }

    /// Records the request's record and byte counts on the current span.
    fn traced(self) -> Self {
        let span = tracing::Span::current();
        span.record("records", self.records);
        span.record("bytes", self.bytes);
        self
    }

    /// The pipeline's parts, one per partition, and where each record's offset goes.
    fn into_parts(
        self,
        route: &TopicRoute,
        producer: Option<ProducerTag>,
    ) -> (Vec<PartitionAppend>, RequestOrder) {
        let mut order = RequestOrder {
            indexes: Vec::with_capacity(self.groups.len()),
            records: self.records,
            bytes: self.bytes,
        };
        let mut parts = Vec::with_capacity(self.groups.len());
        for (partition, (records, indexes)) in self.groups {
            parts.push(partition_append(route, partition, producer, records));
            order.indexes.push((partition, indexes));
        }
        (parts, order)
    }
}

/// A record's size, or the refusal of a record over `server.max_record_bytes`.
fn checked_size(index: usize, record: &Record, limits: WriteLimits) -> Result<u64, WriteError> {
    let (size, limit) = (record_size(record), limits.max_record_bytes);
    if size > limit {
        return Err(WriteError::RecordTooLarge { index, size, limit });
    }
    Ok(size)
}

/// The pipeline's part for one partition's records.
fn partition_append(
    route: &TopicRoute,
    partition: u32,
    producer: Option<ProducerTag>,
    records: Vec<Record>,
) -> PartitionAppend {
    let (topic_id, compression) = (route.id, route.compression);
    PartitionAppend {
        topic_id,
        partition,
        compression,
        producer,
        records,
    }
}

/// The partition a record goes to.
fn partition_of(
    topic: &str,
    partitions: u32,
    fallback: u32,
    index: usize,
    input: &InputRecord,
) -> Result<u32, WriteError> {
    match (input.partition, &input.hash_key) {
        (Some(partition), _) if partition >= partitions => Err(WriteError::PartitionOutOfRange {
            index,
            partition,
            topic: topic.to_owned(),
            partitions,
        }),
        (Some(partition), _) => Ok(partition),
        (None, Some(key)) => Ok(partition_for_key(key, partitions)),
        (None, None) => Ok(fallback),
    }
}

/// Each part's partition and the request indexes of its records, in part order.
struct RequestOrder {
    indexes: Vec<(u32, Vec<usize>)>,
    records: u64,
    bytes: u64,
}

impl RequestOrder {
    /// Puts each part's offsets back at its records' places in the request. Every record
    /// gets the offset its part was given, or the request fails: an offset is never made up.
    fn offsets(self, base_offsets: Vec<u64>) -> Result<Produced, WriteError> {
        if base_offsets.len() != self.indexes.len() {
            return Err(self.mismatch(base_offsets.len()));
        }
        let mut placed = vec![None; usize::try_from(self.records).unwrap_or(0)];
        for ((partition, indexes), base) in self.indexes.iter().zip(base_offsets) {
            for (offset, index) in (base..).zip(indexes) {
                if let Some(slot) = placed.get_mut(*index) {
                    *slot = Some(RecordOffset {
                        partition: *partition,
                        offset,
                    });
                }
            }
        }
        let offsets = placed.into_iter().collect::<Option<Vec<_>>>();
        let offsets = offsets.ok_or_else(|| self.mismatch(self.indexes.len()))?;
        Ok(Produced {
            offsets,
            records: self.records,
            bytes: self.bytes,
        })
    }

    /// The failure of a request whose parts' answers do not cover its records.
    fn mismatch(&self, answered: usize) -> WriteError {
        WriteError::Internal(format!(
            "the pipeline answered {answered} of {} partition parts for a request of {} records; no offsets invented",
            self.indexes.len(),
            self.records
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use silt_bookie::record::{Payload, Record};
    use silt_bookie::store::ObjectStoreHandle;

    use super::*;
    use crate::write::pipeline::testing::{Harness, policy};

    fn record(value: &[u8], key: Option<&[u8]>, partition: Option<u32>) -> InputRecord {
        InputRecord {
            record: Record {
                timestamp_ms: 1,
                key: key.map(|k| Payload::bytes(k.to_vec())),
                value: Payload::bytes(value.to_vec()),
                headers: vec![],
            },
            hash_key: key.map(<[u8]>::to_vec),
            partition,
            timestamp_given: false,
        }
    }

    async fn writer(harness: &Harness) -> Writer {
        let pipeline = WritePipeline::start(harness.parts.clone(), policy());
        Writer::new(
            Arc::clone(&harness.parts.metadata),
            pipeline,
            WriteLimits {
                max_record_bytes: 8,
                request_timeout: Duration::from_secs(10),
            },
        )
    }

    fn input(records: Vec<InputRecord>) -> ProduceInput {
        ProduceInput {
            records,
            producer: None,
            commit: None,
        }
    }

    #[tokio::test]
    async fn offsets_come_back_in_request_order_across_partitions() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let writer = writer(&harness).await;
        let records = vec![
            record(b"a", None, Some(1)),
            record(b"b", None, Some(0)),
            record(b"c", None, Some(1)),
        ];
        let produced = writer.produce("t", input(records)).await.unwrap();
        let placed: Vec<(u32, u64)> = produced
            .offsets
            .iter()
            .map(|o| (o.partition, o.offset))
            .collect();
        assert_eq!(placed, vec![(1, 0), (0, 0), (1, 1)]);
        assert_eq!((produced.records, produced.bytes), (3, 3));
        // Keys land where Kafka's partitioner puts them.
        let keyed = writer
            .produce("t", input(vec![record(b"v", Some(b"user-1"), None)]))
            .await
            .unwrap();
        assert_eq!(keyed.offsets[0].partition, partition_for_key(b"user-1", 2));
        harness.stop().await;
    }

    #[tokio::test]
    async fn bad_records_are_refused_before_anything_is_staged() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let writer = writer(&harness).await;
        let too_large = writer
            .produce(
                "t",
                input(vec![
                    record(b"ok", None, Some(0)),
                    record(b"123456789", None, None),
                ]),
            )
            .await;
        assert!(
            matches!(
                too_large,
                Err(WriteError::RecordTooLarge {
                    index: 1,
                    size: 9,
                    limit: 8
                })
            ),
            "{too_large:?}"
        );
        let out_of_range = writer
            .produce("t", input(vec![record(b"x", None, Some(2))]))
            .await;
        let message = out_of_range.unwrap_err().to_string();
        assert!(message.contains("has 2 partitions (0 to 1)"), "{message}");
        let missing = writer
            .produce("nope", input(vec![record(b"x", None, None)]))
            .await;
        assert!(
            matches!(missing, Err(WriteError::Metadata(_))),
            "{missing:?}"
        );
        // Nothing was written: partition 0 starts at offset 0.
        let first = writer
            .produce("t", input(vec![record(b"x", None, Some(0))]))
            .await
            .unwrap();
        assert_eq!(first.offsets[0].offset, 0);
        harness.stop().await;
    }

    #[tokio::test]
    async fn a_reused_tag_with_other_content_is_refused_after_the_commit() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let writer = writer(&harness).await;
        let producer = harness
            .parts
            .metadata
            .init_producer(None, None)
            .await
            .unwrap();
        let tagged = |records| ProduceInput {
            records,
            producer: Some(ProducerTag {
                producer_id: producer.producer_id,
                epoch: producer.epoch,
                sequence: 0,
            }),
            commit: None,
        };
        let first = writer
            .produce("t", tagged(vec![record(b"a", None, Some(1))]))
            .await
            .unwrap();
        // Other records, another partition, another record count: never the first offsets.
        let others = [
            vec![record(b"b", None, Some(1))],
            vec![record(b"a", None, Some(0))],
            vec![record(b"a", None, Some(1)), record(b"c", None, Some(1))],
        ];
        for records in others {
            let refused = writer.produce("t", tagged(records)).await;
            assert!(
                matches!(
                    &refused,
                    Err(WriteError::Pipeline {
                        error: PipelineError::IdempotencyMismatch(_),
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
        // The true retry gets the original offsets; nothing else was written.
        let retry = writer
            .produce("t", tagged(vec![record(b"a", None, Some(1))]))
            .await
            .unwrap();
        assert_eq!(retry.offsets, first.offsets);
        let next = writer
            .produce("t", input(vec![record(b"x", None, Some(1))]))
            .await
            .unwrap();
        assert_eq!(next.offsets[0].offset, 1);
        harness.stop().await;
    }

    #[test]
    fn offsets_are_never_invented_for_unanswered_parts() {
        let order = || RequestOrder {
            indexes: vec![(0, vec![1]), (1, vec![0, 2])],
            records: 3,
            bytes: 3,
        };
        let answered = order().offsets(vec![5, 7]).unwrap();
        let placed: Vec<(u32, u64)> = answered
            .offsets
            .iter()
            .map(|o| (o.partition, o.offset))
            .collect();
        assert_eq!(placed, vec![(1, 7), (0, 5), (1, 8)]);
        let short = order().offsets(vec![5]);
        assert!(matches!(short, Err(WriteError::Internal(_))), "{short:?}");
    }

    #[tokio::test]
    async fn a_stale_epoch_is_refused_with_the_topic_named() {
        let harness = Harness::new(ObjectStoreHandle::in_memory()).await;
        let writer = writer(&harness).await;
        let first = harness
            .parts
            .metadata
            .init_producer(None, None)
            .await
            .unwrap();
        let bumped = harness
            .parts
            .metadata
            .init_producer(Some(first.producer_id), None)
            .await
            .unwrap();
        assert!(bumped.epoch > first.epoch);
        let stale = ProduceInput {
            records: vec![record(b"x", None, None)],
            producer: Some(ProducerTag {
                producer_id: first.producer_id,
                epoch: first.epoch,
                sequence: 0,
            }),
            commit: None,
        };
        let refused = writer.produce("t", stale).await;
        assert!(
            matches!(
                &refused,
                Err(WriteError::Pipeline { topic, error: PipelineError::ProducerFenced { .. } })
                    if topic == "t"
            ),
            "{refused:?}"
        );
        harness.stop().await;
    }
}
