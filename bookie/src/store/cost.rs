//! Per-topic attribution of object-store requests: [`TopicCosts`] (the tallies),
//! [`Shares`] (how one object divides among topics) and [`attributed`] (bills the requests
//! a future makes to the shares its result names).
//!
//! A segment object holds chunks of several topics, so one request is billed to each
//! topic in proportion to its chunks' bytes in the object ([`Shares::fractions`]): requests
//! as fractions summing to 1, bytes as fractions of the request's bytes (the footer and
//! any other overhead shared in the same proportion). Requests that no topic can be named
//! for (a LIST, a failed read of an unknown object, anything outside [`attributed`]) are
//! billed to the cluster ([`CostKey::Cluster`]), so the tallies of every key add up to the
//! instrumented store's counters (HEAD requests, which are not billed per topic, aside).
//!
//! How: [`attributed`] runs its future in a task-local scope; the instrumented layer adds
//! each request made inside it to the scope ([`bill`]); when the future ends, the scope is
//! settled to the shares its result names. A scope dropped unsettled (a cancelled read)
//! is settled to the cluster, so no request is lost from the tallies.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::segment::{ChunkInfo, read_footer};

/// An object-store operation billed per topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CostOp {
    /// PUT, COPY and multipart starts.
    Put,
    /// GET (each range of a multi-range read counts).
    Get,
    /// DELETE.
    Delete,
    /// LIST (never attributable to a topic).
    List,
}

impl CostOp {
    /// The `op` label value.
    pub fn label(self) -> &'static str {
        match self {
            CostOp::Put => "put",
            CostOp::Get => "get",
            CostOp::Delete => "delete",
            CostOp::List => "list",
        }
    }
}

/// Whom a tally is billed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CostKey {
    /// A topic, by id.
    Topic(u64),
    /// No topic can be named: LISTs, failed reads of unknown objects.
    Cluster,
}

/// Requests and bytes billed to one key for one operation; fractional by share.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Requests (a request shared by topics counts a fraction to each).
    pub requests: f64,
    /// Payload bytes.
    pub bytes: f64,
}

/// How one object divides among topics: `(topic id, bytes of its chunks)`, by topic id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shares(Vec<(u64, u64)>);

impl Shares {
    /// All of an object to one topic.
    pub fn one(topic_id: u64) -> Self {
        Shares(vec![(topic_id, 1)])
    }

    /// Each topic by the summed lengths of its chunks.
    pub fn of_chunks(chunks: &[ChunkInfo]) -> Self {
        let mut by_topic: Vec<(u64, u64)> = Vec::new();
        for chunk in chunks {
            match by_topic
                .iter_mut()
                .find(|(topic, _)| *topic == chunk.topic_id)
            {
                Some((_, bytes)) => *bytes += u64::from(chunk.length),
                None => by_topic.push((chunk.topic_id, u64::from(chunk.length))),
            }
        }
        by_topic.sort_unstable();
        Shares(by_topic)
    }

    /// The shares a whole segment's footer names; none (the cluster) if it does not parse.
    pub fn of_segment(segment: &[u8]) -> Self {
        read_footer(segment).map_or_else(|_| Shares::default(), |c| Shares::of_chunks(&c))
    }

    /// `(topic id, fraction)`, fractions summing to 1: by bytes, or equal when every
    /// topic's chunks are empty. Empty when no topic is named.
    pub fn fractions(&self) -> Vec<(u64, f64)> {
        let total: u64 = self.0.iter().map(|(_, bytes)| bytes).sum();
        if total == 0 {
            let each = 1.0 / self.0.len() as f64;
            return self.0.iter().map(|(topic, _)| (*topic, each)).collect();
        }
        #[allow(clippy::cast_precision_loss)] // object sizes are far below 2^53
        let share = |bytes: u64| bytes as f64 / total as f64;
        self.0
            .iter()
            .map(|(t, bytes)| (*t, share(*bytes)))
            .collect()
    }
}

/// The tallies of one object store, by key and operation.
#[derive(Debug, Default)]
pub struct TopicCosts {
    tallies: Mutex<HashMap<(CostKey, CostOp), Tally>>,
}

impl TopicCosts {
    /// The tallies, locked (a poisoned lock still holds consistent sums).
    fn lock(&self) -> MutexGuard<'_, HashMap<(CostKey, CostOp), Tally>> {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bills `requests` requests of `bytes` bytes to `shares` (the cluster when empty).
    pub fn record(&self, op: CostOp, shares: &Shares, requests: u64, bytes: u64) {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let (requests, bytes) = (requests as f64, bytes as f64);
        let mut tallies = self.lock();
        let fractions = shares.fractions();
        if fractions.is_empty() {
            add(&mut tallies, (CostKey::Cluster, op), requests, bytes);
        }
        for (topic, fraction) in fractions {
            let key = (CostKey::Topic(topic), op);
            add(&mut tallies, key, requests * fraction, bytes * fraction);
        }
    }

    /// Every tally, by key and operation.
    pub fn snapshot(&self) -> Vec<(CostKey, CostOp, Tally)> {
        let mut all: Vec<_> = self.lock().iter().map(|(k, t)| (k.0, k.1, *t)).collect();
        all.sort_by_key(|(key, op, _)| (*key, *op));
        all
    }

    /// The topics that have a tally.
    pub fn topics(&self) -> Vec<u64> {
        let mut topics: Vec<u64> = self.lock().keys().filter_map(|k| topic_of(k.0)).collect();
        topics.sort_unstable();
        topics.dedup();
        topics
    }

    /// Drops a deleted topic's tallies.
    pub fn forget(&self, topic_id: u64) {
        self.lock()
            .retain(|key, _| key.0 != CostKey::Topic(topic_id));
    }
}

/// The topic id of a key, if it names one.
fn topic_of(key: CostKey) -> Option<u64> {
    match key {
        CostKey::Topic(topic) => Some(topic),
        CostKey::Cluster => None,
    }
}

/// Adds to one tally.
fn add(tallies: &mut HashMap<(CostKey, CostOp), Tally>, key: (CostKey, CostOp), r: f64, b: f64) {
    let tally = tallies.entry(key).or_default();
    tally.requests += r;
    tally.bytes += b;
}

/// Requests made inside one [`attributed`] future, billed when it ends.
#[derive(Debug)]
struct Scope {
    /// Where the requests are billed once settled.
    costs: Arc<TopicCosts>,
    /// `(op, requests, bytes)` made so far; `None` once settled.
    pending: Mutex<Option<Vec<(CostOp, u64, u64)>>>,
}

impl Scope {
    /// Bills every pending request to `shares`, once.
    fn settle(&self, shares: &Shares) {
        let taken = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for (op, requests, bytes) in taken.unwrap_or_default() {
            self.costs.record(op, shares, requests, bytes);
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.settle(&Shares::default());
    }
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// Runs `future`; the requests it makes through the instrumented store are billed to the
/// shares `shares` finds in its output (or to the cluster if it is cancelled).
pub async fn attributed<T>(
    costs: &Arc<TopicCosts>,
    future: impl Future<Output = T>,
    shares: impl FnOnce(&T) -> Shares,
) -> T {
    let scope = Arc::new(Scope {
        costs: Arc::clone(costs),
        pending: Mutex::new(Some(Vec::new())),
    });
    let output = SCOPE.scope(Arc::clone(&scope), future).await;
    scope.settle(&shares(&output));
    output
}

/// Bills one counted request: to the [`attributed`] scope it runs in, else the cluster.
pub(crate) fn bill(costs: &TopicCosts, op: CostOp, requests: u64, bytes: u64) {
    let pushed = SCOPE.try_with(|scope| {
        let mut pending = scope.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending
            .as_mut()
            .map(|p| p.push((op, requests, bytes)))
            .is_some()
    });
    if pushed != Ok(true) {
        costs.record(op, &Shares::default(), requests, bytes);
    }
}

#[cfg(test)]
mod billing_tests {
    use bytes::Bytes;
    use ulid::Ulid;

    use super::*;
    use crate::batch::Compression;
    use crate::cache::{ChunkCache, ChunkReader};
    use crate::record::{Payload, Record};
    use crate::segment::{SealedSegment, SegmentBuilder};
    use crate::store::ObjectStoreHandle;
    use crate::store::paths::segment_path;
    use crate::upload::upload_segment;

    /// A segment with 300 value bytes of topic 1 and 100 of topic 2.
    fn segment() -> SealedSegment {
        let mut builder = SegmentBuilder::new();
        for (topic, size) in [(1, 300), (2, 100)] {
            let record = Record {
                timestamp_ms: 5,
                key: None,
                value: Payload::bytes(vec![7_u8; size]),
                headers: vec![],
            };
            builder.append(topic, 0, Compression::None, None, &[record]);
        }
        builder.finish().unwrap()
    }

    /// The tally of `key` for `op` in `store`'s costs (zero when there is none).
    fn tally(store: &ObjectStoreHandle, key: CostKey, op: CostOp) -> Tally {
        let all = store.stats.costs().snapshot();
        all.iter()
            .find(|(k, o, _)| *k == key && *o == op)
            .map_or(Tally::default(), |(_, _, t)| *t)
    }

    /// The summed tallies of `op` over every key.
    fn total(store: &ObjectStoreHandle, op: CostOp) -> Tally {
        let all = store.stats.costs().snapshot();
        let of_op = all.iter().filter(|(_, o, _)| *o == op).map(|(_, _, t)| t);
        of_op.fold(Tally::default(), |sum, t| Tally {
            requests: sum.requests + t.requests,
            bytes: sum.bytes + t.bytes,
        })
    }

    #[tokio::test]
    async fn uploads_and_reads_are_billed_to_the_topics_of_their_chunks() {
        let store = ObjectStoreHandle::in_memory();
        let sealed = segment();
        let path = segment_path(&store.prefix, Ulid::from_parts(1, 1));
        upload_segment(&store, &path, sealed.bytes.clone())
            .await
            .unwrap();
        // The PUT: split by chunk bytes, the footer with it; the sum is the whole PUT.
        let stats = store.stats.snapshot();
        let put = total(&store, CostOp::Put);
        assert!((put.requests - 1.0).abs() < 1e-12);
        assert!((put.bytes - stats.put_bytes as f64).abs() < 1e-9);
        let [one, two] = [1, 2].map(|t| tally(&store, CostKey::Topic(t), CostOp::Put));
        let [len1, len2] = [0, 1].map(|i| f64::from(sealed.chunks[i].length));
        assert!((one.bytes / two.bytes - len1 / len2).abs() < 1e-9);
        assert!(one.bytes > len1 && two.bytes > len2, "{one:?} {two:?}");

        // A ranged read names its topic; a whole-segment read bills every topic by share.
        let object = path.to_string();
        let ranged = ChunkReader::new(store.clone(), Arc::new(ChunkCache::new(1 << 20)), None);
        let chunk = sealed.chunks[1];
        let read = ranged.read_topic_chunk(Some(2), &object, chunk.position, chunk.length);
        assert_eq!(read.await.unwrap().len(), chunk.length as usize);
        let get = tally(&store, CostKey::Topic(2), CostOp::Get);
        assert_eq!(
            get,
            Tally {
                requests: 1.0,
                bytes: f64::from(chunk.length)
            }
        );
        let whole = ChunkReader::new(store.clone(), Arc::new(ChunkCache::new(1 << 20)), None)
            .with_whole_segment_reads(true);
        let read = whole.read_topic_chunk(Some(2), &object, chunk.position, chunk.length);
        let _: Bytes = read.await.unwrap();
        let one = tally(&store, CostKey::Topic(1), CostOp::Get);
        assert!(
            (one.requests - len1 / (len1 + len2)).abs() < 1e-12,
            "{one:?}"
        );
        let stats = store.stats.snapshot();
        let get = total(&store, CostOp::Get);
        assert!((get.requests - stats.gets as f64).abs() < 1e-9);
        assert!((get.bytes - stats.get_bytes as f64).abs() < 1e-6);
        // A read of an object that does not exist: the cluster.
        let missing = ranged.read_chunk("segments/00/none.seg", 0, 10).await;
        assert!(missing.is_err());
        assert!(tally(&store, CostKey::Cluster, CostOp::Get).requests >= 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk of `length` bytes of topic `topic_id`.
    fn chunk(topic_id: u64, length: u32) -> ChunkInfo {
        ChunkInfo {
            topic_id,
            partition: 0,
            position: 0,
            length,
            record_count: 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
            producer: None,
        }
    }

    /// The tally of `key` for `op` (zero when there is none).
    fn tally(costs: &TopicCosts, key: CostKey, op: CostOp) -> Tally {
        let all = costs.snapshot();
        all.iter()
            .find(|(k, o, _)| *k == key && *o == op)
            .map_or(Tally::default(), |(_, _, t)| *t)
    }

    #[test]
    fn shares_follow_chunk_bytes_and_sum_to_the_whole() {
        // Three topics, one of them in two chunks; 1000 bytes of object (footer included).
        let shares = Shares::of_chunks(&[chunk(7, 300), chunk(3, 100), chunk(7, 300), chunk(9, 1)]);
        assert_eq!(shares, Shares(vec![(3, 100), (7, 600), (9, 1)]));
        let costs = TopicCosts::default();
        costs.record(CostOp::Put, &shares, 1, 1000);
        let [a, b, c] = [3, 7, 9].map(|t| tally(&costs, CostKey::Topic(t), CostOp::Put));
        assert!((a.requests + b.requests + c.requests - 1.0).abs() < 1e-12);
        assert!((a.bytes + b.bytes + c.bytes - 1000.0).abs() < 1e-9);
        assert!((b.bytes - 1000.0 * 600.0 / 701.0).abs() < 1e-9);
        // Bytes that do not divide evenly stay fractional: nothing is rounded away.
        assert!((c.bytes - 1000.0 / 701.0).abs() < 1e-12);
    }

    #[test]
    fn one_topic_takes_everything_and_zero_lengths_split_equally() {
        let costs = TopicCosts::default();
        costs.record(CostOp::Get, &Shares::of_chunks(&[chunk(4, 10)]), 2, 50);
        let whole = tally(&costs, CostKey::Topic(4), CostOp::Get);
        assert_eq!(
            whole,
            Tally {
                requests: 2.0,
                bytes: 50.0
            }
        );
        costs.record(
            CostOp::Put,
            &Shares::of_chunks(&[chunk(1, 0), chunk(2, 0)]),
            1,
            8,
        );
        let half = tally(&costs, CostKey::Topic(1), CostOp::Put);
        assert_eq!(
            half,
            Tally {
                requests: 0.5,
                bytes: 4.0
            }
        );
        // No topic: the cluster.
        costs.record(CostOp::List, &Shares::default(), 1, 0);
        let list = tally(&costs, CostKey::Cluster, CostOp::List);
        assert_eq!(
            list,
            Tally {
                requests: 1.0,
                bytes: 0.0
            }
        );
        assert_eq!(costs.topics(), vec![1, 2, 4]);
        costs.forget(2);
        assert_eq!(costs.topics(), vec![1, 4]);
    }

    #[tokio::test]
    async fn a_scope_bills_its_requests_to_its_result_or_to_the_cluster() {
        let costs = Arc::new(TopicCosts::default());
        let billed = attributed(
            &costs,
            async {
                bill(&costs, CostOp::Get, 1, 10);
                bill(&costs, CostOp::Get, 1, 30);
                5_u64
            },
            |topic| Shares::one(*topic),
        )
        .await;
        assert_eq!(billed, 5);
        let five = tally(&costs, CostKey::Topic(5), CostOp::Get);
        assert_eq!(
            five,
            Tally {
                requests: 2.0,
                bytes: 40.0
            }
        );
        // Outside any scope, and in a scope whose result names no topic: the cluster.
        bill(&costs, CostOp::Delete, 1, 0);
        attributed(&costs, async { bill(&costs, CostOp::Get, 1, 7) }, |()| {
            Shares::default()
        })
        .await;
        let cluster = tally(&costs, CostKey::Cluster, CostOp::Get);
        assert_eq!(
            cluster,
            Tally {
                requests: 1.0,
                bytes: 7.0
            }
        );
        assert_eq!(
            tally(&costs, CostKey::Cluster, CostOp::Delete).requests,
            1.0
        );
    }
}
