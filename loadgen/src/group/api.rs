//! The group and fetch routes `silt-loadgen group` calls, one request each, over the
//! mode's HTTP client (so `--token` and `--ca-file` apply): join, heartbeat, leave,
//! commit, read committed offsets, fetch.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use silt_sdk::wire::{
    CommitOffsetsRequest, GroupOffsets, HeartbeatRequest, JoinGroupRequest, MemberState,
    OffsetToCommit,
};

/// One group on one topic of one broker.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    /// The mode's client.
    pub(crate) http: reqwest::Client,
    /// Broker URL, without a trailing slash.
    pub(crate) broker: String,
    /// The group.
    pub(crate) group: String,
    /// The one topic its members read.
    pub(crate) topic: String,
    /// Every member's session timeout.
    pub(crate) session_timeout_ms: u64,
}

/// What a commit came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Committed {
    /// Set, in this long.
    Done(Duration),
    /// Refused with 409 (`stale_generation`, `unknown_member`): a rebalance the member has
    /// not heard of yet.
    Fenced,
}

impl Api {
    /// A new member, reading the topic with the sticky assignor.
    pub(crate) async fn join(&self) -> anyhow::Result<MemberState> {
        let body = JoinGroupRequest {
            topics: vec![self.topic.clone()],
            session_timeout_ms: Some(self.session_timeout_ms),
            assignor: Some("sticky".into()),
            member_id: None,
            client_id: Some("loadgen".into()),
        };
        let url = format!("{}/v1/groups/{}/members", self.broker, self.group);
        decode(self.http.post(url).json(&body), "join").await
    }

    /// A heartbeat of `member`, naming the generation it works in.
    pub(crate) async fn heartbeat(
        &self,
        member: &str,
        generation: u64,
    ) -> anyhow::Result<MemberState> {
        let body = HeartbeatRequest {
            generation: Some(generation),
        };
        let url = format!("{}/heartbeat", self.member_url(member));
        decode(self.http.post(url).json(&body), "heartbeat").await
    }

    /// `member` leaves the group.
    pub(crate) async fn leave(&self, member: &str) -> anyhow::Result<()> {
        let response = self.http.delete(self.member_url(member)).send().await?;
        check(response, "leave").await.map(drop)
    }

    /// Commits `positions` (partition → next offset) as `member` of `generation`.
    pub(crate) async fn commit(
        &self,
        member: &str,
        generation: u64,
        positions: &BTreeMap<u32, u64>,
    ) -> anyhow::Result<Committed> {
        let body = self.commit_body(member, generation, positions);
        let url = format!("{}/v1/groups/{}/offsets", self.broker, self.group);
        let sent = Instant::now();
        let response = self.http.put(url).json(&body).send().await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            return Ok(Committed::Fenced);
        }
        check(response, "commit").await?;
        Ok(Committed::Done(sent.elapsed()))
    }

    /// The body of a member's commit.
    fn commit_body(
        &self,
        member: &str,
        generation: u64,
        positions: &BTreeMap<u32, u64>,
    ) -> CommitOffsetsRequest {
        let offsets = positions
            .iter()
            .map(|(partition, offset)| OffsetToCommit {
                topic: self.topic.clone(),
                partition: *partition,
                offset: *offset,
                metadata: None,
            })
            .collect();
        CommitOffsetsRequest {
            offsets,
            generation: Some(generation),
            member_id: Some(member.to_owned()),
        }
    }

    /// The group's committed offsets of the topic, partition → offset.
    pub(crate) async fn committed(&self) -> anyhow::Result<HashMap<u32, u64>> {
        let url = format!("{}/v1/groups/{}/offsets", self.broker, self.group);
        let response = self.http.get(url).send().await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(HashMap::new()); // no commit yet
        }
        let offsets: GroupOffsets = check(response, "read offsets").await?.json().await?;
        Ok(offsets
            .offsets
            .into_iter()
            .filter(|o| o.topic == self.topic)
            .map(|o| (o.partition, o.offset))
            .collect())
    }

    /// Up to `max_records` offsets of `partition` from `offset` on, and the next offset.
    pub(crate) async fn fetch(
        &self,
        partition: u32,
        offset: u64,
        max_records: u64,
    ) -> anyhow::Result<(Vec<u64>, u64)> {
        let url = format!(
            "{}/v1/topics/{}/partitions/{partition}/records",
            self.broker, self.topic
        );
        let query = [("offset", offset), ("max_records", max_records)];
        let page: Page = decode(self.http.get(url).query(&query), "fetch").await?;
        let offsets = page.records.iter().map(|r| r.offset).collect();
        Ok((offsets, page.next_offset))
    }

    /// `/v1/groups/{group}/members/{member}`.
    fn member_url(&self, member: &str) -> String {
        format!("{}/v1/groups/{}/members/{member}", self.broker, self.group)
    }
}

/// A fetch answer: only the offsets are looked at.
#[derive(serde::Deserialize)]
struct Page {
    records: Vec<Offset>,
    next_offset: u64,
}

/// One fetched record's offset.
#[derive(serde::Deserialize)]
struct Offset {
    offset: u64,
}

/// Sends `request` and decodes a successful answer.
async fn decode<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> anyhow::Result<T> {
    let response = request.send().await.with_context(|| what.to_owned())?;
    let response = check(response, what).await?;
    response
        .json()
        .await
        .with_context(|| format!("{what}: undecodable answer"))
}

/// `response` if it succeeded, else an error with its status and body.
async fn check(response: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    bail!(
        "{what}: {status} {}",
        response.text().await.unwrap_or_default()
    )
}
