//! [`Admin`]: topic administration.

use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, segment};
use crate::error::Result;
use crate::wire::{
    AlterTopicRequest, CreateTopicRequest, MAX_TOPIC_PAGE, OffsetLookup, Topic, TopicConfig,
    TopicConfigPatch, TopicList,
};

/// Topic administration against one broker.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
}

impl Admin {
    /// Admin over an existing client.
    pub fn new(client: Client) -> Self {
        Admin { client }
    }

    /// Creates a topic.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Topic> {
        let body = CreateTopicRequest {
            name: name.to_owned(),
            partitions,
            config,
        };
        self.client
            .call(Method::POST, "/v1/topics", &[], Some(&body), Duration::ZERO)
            .await
    }

    /// Lists every topic, by name, following the broker's pages.
    pub async fn list_topics(&self) -> Result<Vec<Topic>> {
        let mut topics = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .list_topics_page(after.as_deref(), MAX_TOPIC_PAGE)
                .await?;
            topics.extend(page.topics);
            match page.next_after {
                Some(next) if after.as_ref() != Some(&next) => after = Some(next),
                _ => return Ok(topics),
            }
        }
    }

    /// One page of topics: at most `limit` (1 to [`MAX_TOPIC_PAGE`]) named after `after`, by
    /// name, and the name to pass as `after` for the next page.
    pub async fn list_topics_page(&self, after: Option<&str>, limit: u32) -> Result<TopicList> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(after.map(|name| ("after", name.to_owned())));
        self.client
            .call::<(), _>(Method::GET, "/v1/topics", &query, None, Duration::ZERO)
            .await
    }

    /// Describes a topic, with each partition's start offset and high watermark.
    pub async fn describe_topic(&self, name: &str) -> Result<Topic> {
        let path = format!("/v1/topics/{}", segment(name));
        self.client
            .call::<(), _>(Method::GET, &path, &[], None, Duration::ZERO)
            .await
    }

    /// Changes a live topic's retention (`PATCH /v1/topics/{topic}`) and returns the topic
    /// with the retention in force.
    pub async fn alter_topic(&self, name: &str, config: TopicConfigPatch) -> Result<Topic> {
        let path = format!("/v1/topics/{}", segment(name));
        let body = AlterTopicRequest { config };
        self.client
            .call(Method::PATCH, &path, &[], Some(&body), Duration::ZERO)
            .await
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let path = format!("/v1/topics/{}", segment(name));
        self.client
            .send::<(), serde_json::Value>(Method::DELETE, &path, &[], None, Duration::ZERO)
            .await?;
        Ok(())
    }

    /// The offset of the first record of `topic`/`partition` stamped at or after
    /// `timestamp_ms` (the high watermark when none is): where to start reading "from
    /// time T". Needs `consume` rights on the topic.
    pub async fn offset_for_time(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<OffsetLookup> {
        let query = [("timestamp_ms", timestamp_ms.to_string())];
        self.offsets(topic, partition, &query).await
    }

    /// The earliest (`latest == false`) or latest offset of `topic`/`partition`.
    pub async fn offset_bound(
        &self,
        topic: &str,
        partition: u32,
        latest: bool,
    ) -> Result<OffsetLookup> {
        let at = if latest { "latest" } else { "earliest" };
        self.offsets(topic, partition, &[("at", at.to_owned())])
            .await
    }

    /// `GET …/partitions/{p}/offsets` with `query`.
    async fn offsets(
        &self,
        topic: &str,
        partition: u32,
        query: &[(&str, String)],
    ) -> Result<OffsetLookup> {
        let path = format!(
            "/v1/topics/{}/partitions/{partition}/offsets",
            segment(topic)
        );
        self.client
            .call::<(), _>(Method::GET, &path, query, None, Duration::ZERO)
            .await
    }

    /// The cluster as the broker sees it (`GET /v1/cluster`: this broker, the live
    /// brokers, the metadata service), as JSON. Needs `cluster` rights with auth on.
    pub async fn cluster_status(&self) -> Result<serde_json::Value> {
        self.client
            .call::<(), _>(Method::GET, "/v1/cluster", &[], None, Duration::ZERO)
            .await
    }
}
