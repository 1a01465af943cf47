//! Consumer groups at the broker: the ACL resource a group is (`group:NAME`), a join
//! request's defaults and checks, and turning a reset request into the per-partition
//! targets the metadata service applies (a time is resolved to an offset here, with the
//! offset-by-time lookup, because the state machine reads no chunks). The group state
//! itself lives in the metadata service (`metadata/src/state/groups.rs`), heartbeats are
//! answered by its leader from memory; the handlers are `http/groups.rs`. [`lag`] exports
//! the groups' lag as metrics.

pub(crate) mod lag;

use std::collections::BTreeSet;
use std::time::Duration;

use silt_metadata::MetadataClient;
use silt_metadata::limits::MAX_OFFSETS_PER_COMMAND;
use silt_metadata::types::{Assignor, MemberJoin, ResetTarget, ResetTo as Target};
use silt_sdk::wire::{JoinGroupRequest, ResetOffsetsRequest, ResetTo};

use crate::read::{Fetcher, Position, ReadError};

/// Why a group request failed at the broker; the metadata service's own refusals pass
/// through as [`GroupError::Metadata`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum GroupError {
    /// The metadata service refused or failed.
    #[error(transparent)]
    Metadata(#[from] silt_metadata::Error),
    /// Resolving a time to an offset failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The join names an assignor the broker does not know.
    #[error("assignor {0:?} is not one of \"range\", \"sticky\"")]
    UnknownAssignor(String),
    /// A reset to a time before the Unix epoch.
    #[error("timestamp_ms {0} is before the Unix epoch; give milliseconds since 1970-01-01")]
    NegativeTimestamp(i64),
    /// The reset's `topics` is an empty list.
    #[error("topics must name at least one topic (or be left out: the group's partitions)")]
    NoTopics,
    /// The reset names more partitions than one command may carry.
    #[error("the reset covers {partitions} partitions; at most {max} in one request")]
    TooManyPartitions {
        /// Partitions named.
        partitions: usize,
        /// The limit.
        max: usize,
    },
}

/// The ACL resource of group `name`: `group:NAME`, so rules such as `consume:group:app-*`
/// cover groups and never topics (topic names have no `:`), and `consume:*` covers both.
pub(crate) fn resource(name: &str) -> String {
    format!("group:{name}")
}

/// The session timeout of a member that names none, in milliseconds.
pub(crate) const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

/// The metadata service's join for `request`: a new member unless it names one, the default
/// session timeout and assignor filled in (the metadata service checks the ranges).
pub(crate) fn member_join(request: JoinGroupRequest) -> Result<MemberJoin, GroupError> {
    let assignor = match request.assignor.as_deref() {
        None | Some("range") => Assignor::Range,
        Some("sticky") => Assignor::Sticky,
        Some(other) => return Err(GroupError::UnknownAssignor(other.to_owned())),
    };
    Ok(MemberJoin {
        new: request.member_id.is_none(),
        member_id: request.member_id.unwrap_or_else(|| "new".to_owned()),
        client_id: request.client_id,
        topics: request.topics,
        session_timeout_ms: request
            .session_timeout_ms
            .unwrap_or(DEFAULT_SESSION_TIMEOUT_MS),
        assignor,
    })
}

/// The partitions a reset of `group` covers: every partition of `topics` when given, else
/// the ones the group has committed offsets for or its members read (the group must
/// exist).
pub(crate) async fn reset_partitions(
    metadata: &dyn MetadataClient,
    group: &str,
    topics: Option<&[String]>,
) -> Result<Vec<(String, u32)>, GroupError> {
    let partitions = match topics {
        Some([]) => return Err(GroupError::NoTopics),
        Some(topics) => topic_partitions(metadata, topics).await?,
        None => group_partitions(metadata, group).await?,
    };
    if partitions.len() > MAX_OFFSETS_PER_COMMAND {
        let (partitions, max) = (partitions.len(), MAX_OFFSETS_PER_COMMAND);
        return Err(GroupError::TooManyPartitions { partitions, max });
    }
    Ok(partitions)
}

/// The partitions `group` has offsets for, and every partition of the topics its members
/// read, each once.
async fn group_partitions(
    metadata: &dyn MetadataClient,
    group: &str,
) -> Result<Vec<(String, u32)>, GroupError> {
    let view = metadata.describe_group(group).await?;
    let read: BTreeSet<String> = view.members.into_iter().flat_map(|m| m.topics).collect();
    let read: Vec<String> = read.into_iter().collect();
    let mut partitions: BTreeSet<(String, u32)> = topic_partitions(metadata, &read)
        .await?
        .into_iter()
        .collect();
    partitions.extend(view.offsets.into_iter().map(|o| (o.topic, o.partition)));
    Ok(partitions.into_iter().collect())
}

/// Every partition of each of `topics` (each named once).
async fn topic_partitions(
    metadata: &dyn MetadataClient,
    topics: &[String],
) -> Result<Vec<(String, u32)>, GroupError> {
    let mut partitions = Vec::new();
    for topic in topics.iter().collect::<BTreeSet<_>>() {
        let view = metadata.describe_topic(topic).await?;
        partitions.extend(view.partitions.iter().map(|p| (topic.clone(), p.partition)));
        if partitions.len() > MAX_OFFSETS_PER_COMMAND {
            break;
        }
    }
    Ok(partitions)
}

/// The targets of a reset of `partitions` to `request.to`: a time becomes, per partition,
/// the offset of its first record stamped at or after it (the high watermark if none is).
pub(crate) async fn reset_targets(
    fetcher: &Fetcher,
    request: &ResetOffsetsRequest,
    partitions: Vec<(String, u32)>,
    read_timeout: Duration,
) -> Result<Vec<ResetTarget>, GroupError> {
    let mut targets = Vec::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        let to = match request.to {
            ResetTo::Earliest => Target::Earliest,
            ResetTo::Latest => Target::Latest,
            ResetTo::Offset(offset) => Target::Offset(offset),
            ResetTo::TimestampMs(t) if t < 0 => return Err(GroupError::NegativeTimestamp(t)),
            ResetTo::TimestampMs(t) => {
                let at = Position::new(&topic, partition, 0, None);
                Target::Offset(fetcher.offset_at_time(&at, t, read_timeout).await?.offset)
            }
        };
        targets.push(ResetTarget {
            topic,
            partition,
            to,
        });
    }
    Ok(targets)
}
