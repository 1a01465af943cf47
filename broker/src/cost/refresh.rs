//! The task that reads the cost figures from the metadata state every
//! `metrics.cost_refresh_interval`: stored bytes and objects per topic and the GC backlog
//! (`MetadataClient::storage_page`, one read per 100 topics, each one pass over its topics'
//! index entries), and that drops the request tallies of deleted topics.
//!
//! A topic's tallies are dropped only when a complete refresh (every topic listed, under
//! [`MAX_COST_TOPICS`]) that began after the tally existed does not list it: the reads are
//! linearizable, so such a topic was deleted. A failed refresh keeps the last figures.

use std::sync::Arc;
use std::time::Duration;

use silt_bookie::store::cost::TopicCosts;
use silt_metadata::MetadataClient;
use silt_metadata::limits::MAX_STORAGE_PAGE;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::cost::{Figures, MAX_COST_TOPICS};
use crate::metrics::Metrics;

/// Starts the refresh task, reading the figures every `every`.
pub(crate) fn spawn(
    metadata: Arc<dyn MetadataClient>,
    metrics: Arc<Metrics>,
    costs: Arc<TopicCosts>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            refresh_once(metadata.as_ref(), &metrics, &costs).await;
        }
    })
}

/// One refresh: new figures, and deleted topics' tallies dropped.
async fn refresh_once(metadata: &dyn MetadataClient, metrics: &Metrics, costs: &TopicCosts) {
    let billed = costs.topics();
    match read_figures(metadata).await {
        Ok((figures, complete)) => {
            if complete {
                forget_deleted(costs, &billed, &figures);
            }
            metrics.cost.set(figures);
        }
        Err(error) => debug!(%error, "cost figures not refreshed"),
    }
}

/// Drops the tallies of the `billed` topics `figures` does not list.
fn forget_deleted(costs: &TopicCosts, billed: &[u64], figures: &Figures) {
    for id in billed.iter().filter(|id| !figures.topics.contains_key(id)) {
        costs.forget(*id);
    }
}

/// Every topic's figures (at most [`MAX_COST_TOPICS`]) and whether that is all of them.
async fn read_figures(metadata: &dyn MetadataClient) -> silt_metadata::Result<(Figures, bool)> {
    let mut figures = Figures::default();
    let mut after: Option<String> = None;
    loop {
        let page = metadata
            .storage_page(after.as_deref(), MAX_STORAGE_PAGE)
            .await?;
        figures.gc_backlog_objects = page.gc_backlog_objects;
        figures.gc_backlog_bytes = page.gc_backlog_bytes;
        for topic in page.topics {
            if figures.topics.len() == MAX_COST_TOPICS {
                warn!(
                    limit = MAX_COST_TOPICS,
                    "cost series past the limit are left out"
                );
                return Ok((figures, false));
            }
            figures.topics.insert(topic.id, topic);
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok((figures, true)),
        }
    }
}
