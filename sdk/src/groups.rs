//! [`Groups`]: the low-level consumer-group calls, one per route: join, heartbeat, leave;
//! commit and read offsets, reset them; list, describe and delete groups. (An automatic
//! group consumer that joins, heartbeats and commits builds on these.)

use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, segment};
use crate::error::Result;
use crate::wire::{
    CommitOffsetsRequest, GroupDescription, GroupList, GroupOffsets, HeartbeatRequest,
    JoinGroupRequest, MemberState, OffsetToCommit, ResetOffsetsRequest,
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

    /// Joins `group` (or rejoins, naming `request.member_id`): the member's id, the group's
    /// generation and the member's partitions.
    pub async fn join(&self, group: &str, request: &JoinGroupRequest) -> Result<MemberState> {
        let path = format!("/v1/groups/{}/members", segment(group));
        self.client
            .call(Method::POST, &path, &[], Some(request), Duration::ZERO)
            .await
    }

    /// Keeps `member` alive; the answer's `state` is `rebalance` when the group moved past
    /// `generation` (adopt the answer's generation and assignment).
    pub async fn heartbeat(
        &self,
        group: &str,
        member: &str,
        generation: Option<u64>,
    ) -> Result<MemberState> {
        let path = format!(
            "/v1/groups/{}/members/{}/heartbeat",
            segment(group),
            segment(member)
        );
        let body = HeartbeatRequest { generation };
        self.client
            .call(Method::POST, &path, &[], Some(&body), Duration::ZERO)
            .await
    }

    /// `member` leaves `group`; its partitions move to the others.
    pub async fn leave(&self, group: &str, member: &str) -> Result<()> {
        let path = format!("/v1/groups/{}/members/{}", segment(group), segment(member));
        self.client
            .send::<(), serde_json::Value>(Method::DELETE, &path, &[], None, Duration::ZERO)
            .await?;
        Ok(())
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
