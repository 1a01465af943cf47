//! Retention enforcement: a background task that, every `retention.check_interval`, asks
//! the metadata service which front index entries retention drops now
//! ([`MetadataClient::retention_plan`], from each topic's `retention_ms` and
//! `retention_bytes`, else the cluster defaults `retention.default_ms` and
//! `retention.default_bytes`) and drops them with one
//! [`Command::TrimPartitions`](silt_metadata::types::Command::TrimPartitions) Raft entry
//! per plan (at most [`MAX_TRIMS_PER_COMMAND`] partitions).
//!
//! Who enforces: only the broker whose id is the lowest among the live brokers of the
//! registry (itself included, registered or not), so a cluster proposes each trim once.
//! Two brokers may briefly both believe they are lowest (a lease just expired, a broker
//! just started); that is harmless, since a trim at or below a partition's start offset
//! changes nothing. The decision (what is expired at `now`) is the broker's, computed on
//! the metadata leader's state; the state machine only checks that a trim drops whole
//! entries from the front and never passes the high watermark.

use std::sync::Arc;
use std::time::Duration;

use silt_bookie::clock::Clock;
use silt_metadata::MetadataClient;
use silt_metadata::limits::MAX_TRIMS_PER_COMMAND;
use silt_metadata::types::{PlannedTrim, RetentionDefaults, TrimOutcome};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::metrics::Metrics;

/// Most plans one round proposes: a backlog larger than this many times
/// [`MAX_TRIMS_PER_COMMAND`] partitions is worked off over the next rounds.
const MAX_PLANS_PER_ROUND: usize = 16;

/// What a retention task needs.
pub(crate) struct Enforcer {
    /// The metadata service.
    pub(crate) metadata: Arc<dyn MetadataClient>,
    /// Where trims are counted.
    pub(crate) metrics: Arc<Metrics>,
    /// Now.
    pub(crate) clock: Arc<dyn Clock>,
    /// This broker's registry id.
    pub(crate) broker_id: String,
    /// The retention of topics that set none.
    pub(crate) defaults: RetentionDefaults,
}

/// How one round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Another live broker has a lower id: it enforces.
    Standby,
    /// Nothing to drop.
    Idle,
    /// Some entries were dropped.
    Trimmed,
}

impl Round {
    /// The metric label.
    fn as_str(self) -> &'static str {
        match self {
            Round::Standby => "standby",
            Round::Idle => "idle",
            Round::Trimmed => "trimmed",
        }
    }
}

/// Starts the retention task: a round every `interval`, the first one `interval` after
/// start.
pub(crate) fn spawn(enforcer: Enforcer, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move { crate::lease::every(interval, || enforcer.round()).await })
}

impl Enforcer {
    /// One round, in its own span; failures are logged and counted, and the next round
    /// tries again.
    async fn round(&self) {
        let now_ms = self.clock.now_ms();
        let span = info_span!("retention_round", now_ms, broker_id = %self.broker_id);
        let outcome = self.enforce(now_ms).instrument(span).await;
        match outcome {
            Ok(round) => self.metrics.retention_round(round.as_str()),
            Err(error) => {
                warn!(%error, "retention round failed; trying again next round");
                self.metrics.retention_round("error");
            }
        }
    }

    /// Drops what retention calls for at `now_ms`, if this broker enforces.
    async fn enforce(&self, now_ms: i64) -> silt_metadata::Result<Round> {
        if !self.enforces(now_ms).await? {
            return Ok(Round::Standby);
        }
        let mut round = Round::Idle;
        for _ in 0..MAX_PLANS_PER_ROUND {
            let plan = self
                .metadata
                .retention_plan(now_ms, self.defaults, MAX_TRIMS_PER_COMMAND);
            let plan = plan.await?;
            if plan.is_empty() {
                break;
            }
            round = Round::Trimmed;
            let full = plan.len() == MAX_TRIMS_PER_COMMAND;
            self.apply(plan, now_ms).await?;
            if !full {
                break;
            }
        }
        Ok(round)
    }

    /// Whether no live broker has an id below this one's.
    async fn enforces(&self, now_ms: i64) -> silt_metadata::Result<bool> {
        let brokers = self.metadata.list_brokers().await?;
        let lower = brokers
            .iter()
            .filter(|b| b.lease_expires_at_ms() >= now_ms)
            .find(|b| b.broker_id < self.broker_id);
        if let Some(other) = lower {
            debug!(enforcer = %other.broker_id, "another broker enforces retention");
        }
        Ok(lower.is_none())
    }

    /// Proposes `plan` as one trim command and counts what it dropped.
    async fn apply(&self, plan: Vec<PlannedTrim>, now_ms: i64) -> silt_metadata::Result<()> {
        let trims = plan.iter().map(|p| p.trim).collect();
        let outcomes = self.metadata.trim_partitions(trims, now_ms).await?;
        for (planned, outcome) in plan.iter().zip(&outcomes) {
            self.count(planned, outcome);
        }
        Ok(())
    }

    /// Counts and logs one applied trim.
    fn count(&self, planned: &PlannedTrim, outcome: &TrimOutcome) {
        if outcome.entries == 0 {
            return;
        }
        let (topic, trim) = (&planned.topic, &outcome.trim);
        self.metrics
            .retention_trimmed(topic, outcome.entries, outcome.bytes);
        info!(
            %topic,
            partition = trim.partition,
            start_offset = trim.start_offset,
            entries = outcome.entries,
            bytes = outcome.bytes,
            "retention dropped index entries"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use silt_bookie::clock::SystemClock;
    use silt_metadata::types::{ChunkCommit, SegmentCommit, TopicSettings};
    use silt_metadata::{MetadataNode, NodeConfig};

    use super::*;

    /// Now, as the rounds below see it.
    const NOW: i64 = 1_000_000;

    fn enforcer(metadata: &Arc<dyn MetadataClient>, broker_id: &str) -> Enforcer {
        Enforcer {
            metadata: metadata.clone(),
            metrics: Arc::new(Metrics::default()),
            clock: Arc::new(SystemClock),
            broker_id: broker_id.to_owned(),
            defaults: RetentionDefaults::default(),
        }
    }

    /// Topic `t` keeping records 1 s, with two chunks of partition 0 stamped long ago.
    async fn expired_topic(metadata: &dyn MetadataClient) {
        let settings = TopicSettings {
            retention_ms: Some(1000),
            ..TopicSettings::default()
        };
        let topic = metadata.create_topic("t", 1, settings, 0).await.unwrap();
        let chunk = |position| ChunkCommit {
            topic_id: topic.id,
            partition: 0,
            position,
            length: 10,
            record_count: 3,
            first_timestamp_ms: 5,
            max_timestamp_ms: 5,
            producer: None,
        };
        let segment = SegmentCommit {
            object: "segments/00/a.seg".to_owned(),
            size: 20,
            chunks: vec![chunk(0), chunk(10)],
            sealed_at_ms: None,
            offset_commits: Vec::new(),
        };
        metadata.commit_segments(vec![segment]).await.unwrap();
    }

    async fn start_offset(metadata: &dyn MetadataClient) -> u64 {
        metadata.describe_topic("t").await.unwrap().partitions[0].start_offset
    }

    #[tokio::test]
    async fn only_the_lowest_live_broker_trims_and_a_second_round_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("metadata");
        let node = MetadataNode::open(NodeConfig {
            node_id: 1,
            data_dir,
        })
        .await
        .unwrap();
        let metadata: Arc<dyn MetadataClient> = Arc::new(node.client());
        expired_topic(metadata.as_ref()).await;
        let live = |id: &'static str, at_ms| {
            let metadata = metadata.clone();
            async move {
                metadata
                    .broker_heartbeat(id, "http://x", 10_000, at_ms)
                    .await
            }
        };
        live("broker-a", NOW).await.unwrap();
        // An expired lower id does not count.
        live("broker-0", NOW - 60_000).await.unwrap();

        let standby = enforcer(&metadata, "broker-b");
        assert_eq!(standby.enforce(NOW).await.unwrap(), Round::Standby);
        assert_eq!(start_offset(metadata.as_ref()).await, 0);

        let lowest = enforcer(&metadata, "broker-a");
        assert_eq!(lowest.enforce(NOW).await.unwrap(), Round::Trimmed);
        assert_eq!(start_offset(metadata.as_ref()).await, 6);
        let label = crate::metrics::TopicLabel {
            topic: "t".to_owned(),
        };
        let entries = lowest
            .metrics
            .retention_trimmed_entries
            .get_or_create(&label)
            .get();
        assert_eq!(entries, 2);
        assert_eq!(lowest.enforce(NOW).await.unwrap(), Round::Idle);
        node.shutdown().await.unwrap();
    }
}
