//! [`Admin`]: topic administration.

use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, segment};
use crate::error::Result;
use crate::wire::{CreateTopicRequest, Topic, TopicConfig, TopicList};

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

    /// Lists topics.
    pub async fn list_topics(&self) -> Result<Vec<Topic>> {
        let list: TopicList = self
            .client
            .call::<(), _>(Method::GET, "/v1/topics", &[], None, Duration::ZERO)
            .await?;
        Ok(list.topics)
    }

    /// Describes a topic, with each partition's start offset and high watermark.
    pub async fn describe_topic(&self, name: &str) -> Result<Topic> {
        let path = format!("/v1/topics/{}", segment(name));
        self.client
            .call::<(), _>(Method::GET, &path, &[], None, Duration::ZERO)
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
}
