//! Consumer lag as metrics: `silt_consumer_lag_records{group,topic,partition}` and
//! `silt_consumer_lag_seconds{…}`, computed by a background task every `groups.lag_refresh_interval`
//! from the metadata service (the broker keeps no group state).
//!
//! Per refresh: one `list_groups`, one `describe_group` per group (which carries each
//! offset's lag in records, from the high watermark), and one one-entry `partition_slice`
//! per partition that lags, for the timestamp of the chunk holding the committed offset
//! (its smallest record timestamp: exact when the offset starts a chunk, else older by at
//! most the chunk's span). Cost and cardinality are bounded by [`MAX_LAG_SERIES`]: series
//! past it are left out (and a warning logged). A failed refresh keeps the last figures.

use std::sync::Arc;
use std::time::Duration;

use silt_bookie::clock::Clock;
use silt_metadata::MetadataClient;
use silt_metadata::types::CommittedOffsetView;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::metrics::{LagLabels, Metrics};

/// At most this many (group, topic, partition) series.
pub(crate) const MAX_LAG_SERIES: usize = 1000;

/// One series: its labels, lag in records, lag in seconds.
type LagPoint = (LagLabels, u64, f64);

/// Starts the refresh task, computing the lag every `every`.
pub(crate) fn spawn(
    metadata: Arc<dyn MetadataClient>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match lag_points(metadata.as_ref(), clock.now_ms()).await {
                Ok(points) => metrics.set_lag(&points),
                Err(error) => debug!(%error, "consumer lag not refreshed"),
            }
        }
    })
}

/// Every group's lag per committed partition, at most [`MAX_LAG_SERIES`] of them.
async fn lag_points(
    metadata: &dyn MetadataClient,
    now_ms: i64,
) -> silt_metadata::Result<Vec<LagPoint>> {
    let mut points = Vec::new();
    for summary in metadata.list_groups().await? {
        let group = metadata.describe_group(&summary.group).await?;
        for offset in &group.offsets {
            if points.len() == MAX_LAG_SERIES {
                warn!(
                    limit = MAX_LAG_SERIES,
                    "consumer lag series past the limit are left out"
                );
                return Ok(points);
            }
            points.push(lag_point(metadata, &summary.group, offset, now_ms).await?);
        }
    }
    Ok(points)
}

/// One committed offset's lag.
async fn lag_point(
    metadata: &dyn MetadataClient,
    group: &str,
    offset: &CommittedOffsetView,
    now_ms: i64,
) -> silt_metadata::Result<LagPoint> {
    let labels = LagLabels {
        group: group.to_owned(),
        topic: offset.topic.clone(),
        partition: offset.partition,
    };
    let seconds = match offset.lag {
        0 => 0.0,
        _ => oldest_age_seconds(metadata, offset, now_ms).await?,
    };
    Ok((labels, offset.lag, seconds))
}

/// The age of the chunk holding `offset`'s next record to consume, in seconds (0 if the
/// partition no longer has it).
async fn oldest_age_seconds(
    metadata: &dyn MetadataClient,
    offset: &CommittedOffsetView,
    now_ms: i64,
) -> silt_metadata::Result<f64> {
    let slice = metadata
        .partition_slice(&offset.topic, offset.partition, offset.offset, 1)
        .await?;
    let Some(entry) = slice.entries.first() else {
        return Ok(0.0);
    };
    let age_ms = now_ms.saturating_sub(entry.first_timestamp_ms).max(0);
    #[allow(clippy::cast_precision_loss)] // milliseconds fit f64 exactly below 2^53
    Ok(age_ms as f64 / 1000.0)
}
