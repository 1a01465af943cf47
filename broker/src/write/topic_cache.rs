//! The write path's cache of topic metadata (id, partition count, compression).
//!
//! A produce needs the topic's id and partition count; asking the metadata service on every
//! request would add a linearizable read to the write path. The cache is safe because the
//! commit checks the topic id: a record staged for a deleted topic is refused at commit
//! (`topic_not_found`), and that refusal, like a delete through this broker, evicts the
//! entry, so the next request sees the current topic. Missing topics are not cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use silt_bookie::batch::Compression;
use silt_metadata::MetadataClient;
use silt_metadata::types::TopicView;

/// What the write path needs to know about a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopicRoute {
    /// Topic id.
    pub(crate) id: u64,
    /// Partition count.
    pub(crate) partitions: u32,
    /// Chunk compression.
    pub(crate) compression: Compression,
}

impl TopicRoute {
    /// The route of a topic as the metadata service describes it.
    fn of(view: &TopicView) -> Self {
        TopicRoute {
            id: view.id,
            partitions: u32::try_from(view.partitions.len()).unwrap_or(u32::MAX),
            compression: compression(view.settings.compression.as_deref()),
        }
    }
}

/// The chunk compression a topic's `compression` setting names (none unless `zstd`).
fn compression(setting: Option<&str>) -> Compression {
    match setting {
        Some("zstd") => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Topic name → route.
#[derive(Debug, Default)]
pub(crate) struct TopicCache {
    routes: RwLock<HashMap<String, TopicRoute>>,
}

impl TopicCache {
    /// The route of `topic`, from the cache or the metadata service.
    pub(crate) async fn route(
        &self,
        metadata: &Arc<dyn MetadataClient>,
        topic: &str,
    ) -> Result<TopicRoute, silt_metadata::Error> {
        if let Some(route) = self.routes.read().ok().and_then(|r| r.get(topic).copied()) {
            return Ok(route);
        }
        let route = TopicRoute::of(&metadata.describe_topic(topic).await?);
        if let Ok(mut routes) = self.routes.write() {
            routes.insert(topic.to_owned(), route);
        }
        Ok(route)
    }

    /// Forgets `topic` (deleted, or refused at commit).
    pub(crate) fn evict(&self, topic: &str) {
        if let Ok(mut routes) = self.routes.write() {
            routes.remove(topic);
        }
    }
}
