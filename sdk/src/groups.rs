//! [`Groups`]: the low-level consumer-group calls, one per route: commit and read offsets,
//! reset them, list, describe and delete groups. (An automatic group consumer that joins,
//! heartbeats and commits builds on these.)

use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, segment};
use crate::error::Result;
use crate::wire::{
    CommitOffsetsRequest, GroupDescription, GroupList, GroupOffsets, OffsetToCommit,
    ResetOffsetsRequest,
};

/// Consumer-group calls against one broker.
#[derive(Debug, Clone)]
pub struct Groups {
    client: Client,
}

impl Groups {
    /// Groups over an existing client.
    pub fn new(client: Client) -> Self {
        Groups { client }
    }

    /// Commits `offsets` for `group` as a simple commit (no member: allowed while the group
    /// has none). Answers the offsets set, with their lag.
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: Vec<OffsetToCommit>,
    ) -> Result<GroupOffsets> {
        let body = CommitOffsetsRequest {
            offsets,
            generation: None,
            member_id: None,
        };
        self.commit(group, &body).await
    }

    /// `PUT /v1/groups/{group}/offsets` with `body` (a member's commit names its id and
    /// generation).
    pub async fn commit(&self, group: &str, body: &CommitOffsetsRequest) -> Result<GroupOffsets> {
        let path = format!("/v1/groups/{}/offsets", segment(group));
        self.client
            .call(Method::PUT, &path, &[], Some(body), Duration::ZERO)
            .await
    }

    /// The group's committed offsets with their lag.
    pub async fn offsets(&self, group: &str) -> Result<GroupOffsets> {
        let path = format!("/v1/groups/{}/offsets", segment(group));
        self.get(&path).await
    }

    /// Moves the group's offsets (see [`ResetOffsetsRequest`]).
    pub async fn reset_offsets(
        &self,
        group: &str,
        body: &ResetOffsetsRequest,
    ) -> Result<GroupOffsets> {
        let path = format!("/v1/groups/{}/offsets/reset", segment(group));
        self.client
            .call(Method::POST, &path, &[], Some(body), Duration::ZERO)
            .await
    }

    /// Every group the caller may consume from.
    pub async fn list(&self) -> Result<GroupList> {
        self.get("/v1/groups").await
    }

    /// One group: state, generation, members, offsets.
    pub async fn describe(&self, group: &str) -> Result<GroupDescription> {
        self.get(&format!("/v1/groups/{}", segment(group))).await
    }

    /// Deletes the group and its offsets.
    pub async fn delete(&self, group: &str) -> Result<()> {
        let path = format!("/v1/groups/{}", segment(group));
        self.client
            .send::<(), serde_json::Value>(Method::DELETE, &path, &[], None, Duration::ZERO)
            .await?;
        Ok(())
    }

    /// `GET path`, decoded.
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.client
            .call::<(), _>(Method::GET, path, &[], None, Duration::ZERO)
            .await
    }
}
