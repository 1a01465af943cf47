//! Input rules: every [`Command`] is checked before it is applied and every read before it
//! is served, against the [limits](crate::limits). The state machine trusts no proposer
//! (a broker, another node's HTTP client, an operator's `curl`).
//!
//! Invariants: a check is a pure function of the command (no state, no clock), so every
//! replica and every replay refuses the same commands; a refused command changes nothing;
//! a check never allocates in proportion to a number in the command, and nothing in
//! `apply` does before its check passed. Name lookups that change nothing (deleting or
//! reading a topic) apply the name rule only when no topic has that name, so a topic
//! created before these rules can still be read and deleted.

use crate::limits::{
    COMPRESSIONS, MAX_BROKER_ADDRESS_BYTES, MAX_BROKER_ID_BYTES, MAX_CHUNKS_PER_COMMAND,
    MAX_LEASE_MS, MAX_OBJECT_NAME_BYTES, MAX_ORPHAN_LIST, MAX_ORPHANS_PER_COMMAND,
    MAX_PARTITIONS_PER_TOPIC, MAX_REQUEST_ID_BYTES, MAX_SEGMENT_BYTES, MAX_SEGMENTS_PER_COMMAND,
    MAX_SLICE_ENTRIES, MAX_TOPIC_NAME_BYTES, MAX_TOPIC_PAGE, MIN_LEASE_MS,
};
use crate::limits::{
    MAX_GARBAGE_PER_COMMAND, MAX_RETENTION_BYTES, MAX_RETENTION_MS, MAX_TRIMS_PER_COMMAND,
};
use crate::limits::{
    MAX_MEMBER_ID_BYTES, MAX_MEMBERS_PER_GROUP, MAX_OFFSET_METADATA_BYTES, MAX_OFFSETS_PER_COMMAND,
    MAX_SESSION_TIMEOUT_MS, MAX_TOPICS_PER_MEMBER, MIN_SESSION_TIMEOUT_MS,
};
use crate::types::{
    Command, CommandError, GroupCommit, MemberJoin, OffsetCommit, ResetTarget, SegmentCommit,
    TopicSettings, TopicSettingsPatch, Usage,
};

/// A refusal of a malformed command or read.
fn invalid(message: String) -> CommandError {
    CommandError::InvalidCommand(message)
}

/// At most `max` characters of `text`, for messages (never the whole of a huge input).
fn shown(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Checks `command` against the limits; `DeleteTopic` is checked by its lookup (see the
/// module doc).
pub(crate) fn command(command: &Command) -> Result<(), CommandError> {
    match command {
        Command::CreateTopic {
            name,
            partitions,
            settings,
            created_at_ms: _,
            request_id,
            owner,
        } => {
            id_rule("request id", request_id.as_deref())?;
            id_rule("owner", owner.as_deref())?;
            topic_name(name)?;
            partition_count(*partitions)?;
            topic_settings(settings)
        }
        Command::DeleteTopic { request_id, .. } => id_rule("request id", request_id.as_deref()),
        Command::AlterTopic { name, patch } => {
            topic_name(name)?;
            settings_patch(patch)
        }
        Command::TrimPartitions { trims, at_ms: _ } => trim_count(trims.len()),
        Command::InitProducer {
            request_id,
            new_id,
            owner,
            ..
        } => {
            id_rule("request id", request_id.as_deref())?;
            id_rule("owner", owner.as_deref())?;
            producer_id_rule(*new_id)
        }
        Command::InitCluster { cluster_id } => id_rule("cluster id", Some(cluster_id)),
        Command::CommitSegments {
            segments: commits,
            at_ms: _,
        } => segments(commits),
        Command::BrokerHeartbeat {
            broker_id,
            address,
            lease_ms,
            at_ms: _,
        } => heartbeat(broker_id, address, *lease_ms),
        Command::RecordOrphans { objects, at_ms: _ } => orphans(objects),
        Command::TakeLease {
            name,
            holder,
            until_ms,
            at_ms,
        } => lease(name, holder, *until_ms, *at_ms),
        Command::ForgetGarbage { objects } => forgotten(objects),
        Command::RecordBackup { index: _ } => Ok(()),
        Command::CommitOffsets {
            group,
            generation,
            member_id,
            offsets,
            at_ms: _,
        } => {
            group_name(group)?;
            member(*generation, member_id.as_deref())?;
            offset_commits(offsets)
        }
        Command::ResetOffsets { group, targets, .. } => {
            group_name(group)?;
            reset_targets(targets)
        }
        Command::DeleteGroup { group } => group_name(group),
        Command::JoinGroup { group, member, .. } => {
            group_name(group)?;
            member_join(member)
        }
        Command::LeaveGroup { group, member_id } => {
            group_name(group)?;
            member_id_rule(member_id)
        }
        Command::ExpireMembers { group, member_ids } => {
            group_name(group)?;
            expiry(member_ids)
        }
        Command::ExpireProducers { idle_ms, at_ms: _ } => producer_idle(*idle_ms),
    }
}

/// A producer idle time: at least 1 ms.
fn producer_idle(idle_ms: u64) -> Result<(), CommandError> {
    match idle_ms {
        0 => Err(invalid(
            "a producer idle time of 0 ms; at least 1".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// A member id: 1 to [`MAX_MEMBER_ID_BYTES`] bytes.
fn member_id_rule(id: &str) -> Result<(), CommandError> {
    if !id.is_empty() && id.len() <= MAX_MEMBER_ID_BYTES {
        return Ok(());
    }
    Err(invalid(format!(
        "member_id {:?} ({} bytes) must be 1 to {MAX_MEMBER_ID_BYTES} bytes",
        shown(id, 60),
        id.len()
    )))
}

/// A join: a valid member id and client id, 1 to [`MAX_TOPICS_PER_MEMBER`] valid topic
/// names, a session timeout of [`MIN_SESSION_TIMEOUT_MS`] to [`MAX_SESSION_TIMEOUT_MS`].
fn member_join(join: &MemberJoin) -> Result<(), CommandError> {
    member_id_rule(&join.member_id)?;
    if let Some(client_id) = &join.client_id {
        member_id_rule(client_id).map_err(|_| {
            invalid(format!(
                "client_id {:?} must be 1 to {MAX_MEMBER_ID_BYTES} bytes",
                shown(client_id, 60)
            ))
        })?;
    }
    if !(1..=MAX_TOPICS_PER_MEMBER).contains(&join.topics.len()) {
        return Err(invalid(format!(
            "{} topics; a member reads 1 to {MAX_TOPICS_PER_MEMBER}",
            join.topics.len()
        )));
    }
    join.topics.iter().try_for_each(|t| topic_name(t))?;
    let timeout = join.session_timeout_ms;
    if !(MIN_SESSION_TIMEOUT_MS..=MAX_SESSION_TIMEOUT_MS).contains(&timeout) {
        return Err(invalid(format!(
            "session_timeout_ms {timeout} must be {MIN_SESSION_TIMEOUT_MS} to {MAX_SESSION_TIMEOUT_MS}"
        )));
    }
    Ok(())
}

/// An expiry: at most [`MAX_MEMBERS_PER_GROUP`] valid member ids.
fn expiry(member_ids: &[String]) -> Result<(), CommandError> {
    if member_ids.len() as u64 > MAX_MEMBERS_PER_GROUP {
        return Err(invalid(format!(
            "{} members in one expiry; at most {MAX_MEMBERS_PER_GROUP}",
            member_ids.len()
        )));
    }
    member_ids.iter().try_for_each(|id| member_id_rule(id))
}

/// Group names: the topic naming rule, refused as [`CommandError::InvalidGroupName`].
pub(crate) fn group_name(name: &str) -> Result<(), CommandError> {
    topic_name(name).map_err(|_| CommandError::InvalidGroupName(shown(name, 60)))
}

/// A commit's member: both a member id (1 to [`MAX_MEMBER_ID_BYTES`] bytes) and a
/// generation, or neither (a simple commit).
fn member(generation: Option<u64>, member_id: Option<&str>) -> Result<(), CommandError> {
    match (generation, member_id) {
        (None, None) => Ok(()),
        (Some(_), Some(id)) => member_id_rule(id),
        _ => Err(invalid(
            "give both member_id and generation (a member's commit) or neither (a simple commit)"
                .to_owned(),
        )),
    }
}

/// How many offsets or targets (`what`) one command carries: 1 to
/// [`MAX_OFFSETS_PER_COMMAND`].
fn offset_count(what: &str, count: usize) -> Result<(), CommandError> {
    if (1..=MAX_OFFSETS_PER_COMMAND).contains(&count) {
        return Ok(());
    }
    Err(invalid(format!(
        "{count} {what} in one request; give 1 to {MAX_OFFSETS_PER_COMMAND}"
    )))
}

/// Offsets to commit: 1 to [`MAX_OFFSETS_PER_COMMAND`], each of a valid topic name, with
/// metadata of at most [`MAX_OFFSET_METADATA_BYTES`].
fn offset_commits(offsets: &[OffsetCommit]) -> Result<(), CommandError> {
    offset_count("offsets", offsets.len())?;
    for (index, offset) in offsets.iter().enumerate() {
        topic_name(&offset.topic)?;
        let bytes = offset.metadata.as_ref().map_or(0, String::len);
        if bytes > MAX_OFFSET_METADATA_BYTES {
            return Err(invalid(format!(
                "offsets[{index}].metadata is {bytes} bytes; at most {MAX_OFFSET_METADATA_BYTES}"
            )));
        }
    }
    Ok(())
}

/// Reset targets: 1 to [`MAX_OFFSETS_PER_COMMAND`], each of a valid topic name.
fn reset_targets(targets: &[ResetTarget]) -> Result<(), CommandError> {
    offset_count("reset targets", targets.len())?;
    targets.iter().try_for_each(|t| topic_name(&t.topic))
}

/// Topic names: 1 to [`MAX_TOPIC_NAME_BYTES`] characters of `[A-Za-z0-9._-]`, not `.` or
/// `..` (Kafka's rule, the broker's too): safe in paths, URLs and metric labels.
pub(crate) fn topic_name(name: &str) -> Result<(), CommandError> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty()
        || name.len() > MAX_TOPIC_NAME_BYTES
        || !valid_chars
        || name == "."
        || name == ".."
    {
        return Err(CommandError::InvalidTopicName(shown(name, 60)));
    }
    Ok(())
}

/// Partition counts: 1 to [`MAX_PARTITIONS_PER_TOPIC`].
fn partition_count(partitions: u32) -> Result<(), CommandError> {
    if (1..=MAX_PARTITIONS_PER_TOPIC).contains(&partitions) {
        Ok(())
    } else {
        Err(CommandError::InvalidPartitionCount(partitions))
    }
}

/// A request or cluster id (`what`): none, or 1 to [`MAX_REQUEST_ID_BYTES`] bytes.
fn id_rule(what: &str, id: Option<&str>) -> Result<(), CommandError> {
    match id {
        Some(id) if id.is_empty() || id.len() > MAX_REQUEST_ID_BYTES => Err(invalid(format!(
            "{what} {:?} ({} bytes) must be 1 to {MAX_REQUEST_ID_BYTES} bytes",
            shown(id, 60),
            id.len()
        ))),
        _ => Ok(()),
    }
}

/// A new producer id: 1 to `i64::MAX` (ids are JSON numbers, documented as int64).
fn producer_id_rule(id: Option<u64>) -> Result<(), CommandError> {
    match id {
        Some(id) if id == 0 || i64::try_from(id).is_err() => Err(invalid(format!(
            "producer id {id} must be 1 to {}",
            i64::MAX
        ))),
        _ => Ok(()),
    }
}

/// Topic settings: a known compression, or none.
fn topic_settings(settings: &TopicSettings) -> Result<(), CommandError> {
    retention("retention_ms", settings.retention_ms, MAX_RETENTION_MS)?;
    retention(
        "retention_bytes",
        settings.retention_bytes,
        MAX_RETENTION_BYTES,
    )?;
    match settings.compression.as_deref() {
        None => Ok(()),
        Some(compression) if COMPRESSIONS.contains(&compression) => Ok(()),
        Some(other) => Err(invalid(format!(
            "compression {:?} is not one of {COMPRESSIONS:?}",
            shown(other, 60)
        ))),
    }
}

/// A change of retention settings: each value set follows [`retention`].
fn settings_patch(patch: &TopicSettingsPatch) -> Result<(), CommandError> {
    retention(
        "retention_ms",
        patch.retention_ms.flatten(),
        MAX_RETENTION_MS,
    )?;
    retention(
        "retention_bytes",
        patch.retention_bytes.flatten(),
        MAX_RETENTION_BYTES,
    )
}

/// A retention setting: absent, -1 (no bound) or 1 to `max`.
pub(crate) fn retention(key: &str, value: Option<i64>, max: i64) -> Result<(), CommandError> {
    match value {
        None | Some(-1) => Ok(()),
        Some(v) if (1..=max).contains(&v) => Ok(()),
        Some(v) => Err(invalid(format!(
            "{key} = {v} must be -1 (no bound) or 1 to {max}"
        ))),
    }
}

/// The number of trims of a command or plan: 1 to [`MAX_TRIMS_PER_COMMAND`].
pub(crate) fn trim_count(count: usize) -> Result<(), CommandError> {
    if (1..=MAX_TRIMS_PER_COMMAND).contains(&count) {
        return Ok(());
    }
    Err(invalid(format!(
        "{count} trims; one command or plan has 1 to {MAX_TRIMS_PER_COMMAND}"
    )))
}

/// Object names: non-empty, at most [`MAX_OBJECT_NAME_BYTES`].
fn object_name(what: &str, object: &str) -> Result<(), CommandError> {
    if object.is_empty() || object.len() > MAX_OBJECT_NAME_BYTES {
        return Err(invalid(format!(
            "{what}: object name {:?} ({} bytes) must be 1 to {MAX_OBJECT_NAME_BYTES} bytes",
            shown(object, 60),
            object.len()
        )));
    }
    Ok(())
}

/// A segment commit: at most [`MAX_SEGMENTS_PER_COMMAND`] segments and
/// [`MAX_CHUNKS_PER_COMMAND`] chunks; each segment named, 1 to [`MAX_SEGMENT_BYTES`] long;
/// each chunk non-empty, inside its segment, with at least one record. The metadata server
/// checks each broker's commit with this before merging it into a group commit.
pub(crate) fn segments(segments: &[SegmentCommit]) -> Result<(), CommandError> {
    if segments.len() > MAX_SEGMENTS_PER_COMMAND {
        return Err(invalid(format!(
            "{} segments in one commit; at most {MAX_SEGMENTS_PER_COMMAND}",
            segments.len()
        )));
    }
    let chunks: usize = segments.iter().map(|segment| segment.chunks.len()).sum();
    if chunks > MAX_CHUNKS_PER_COMMAND {
        return Err(invalid(format!(
            "{chunks} chunks in one commit; at most {MAX_CHUNKS_PER_COMMAND}"
        )));
    }
    for (number, segment) in segments.iter().enumerate() {
        let what = format!("segment {number}");
        object_name(&what, &segment.object)?;
        if segment.size == 0 || segment.size > MAX_SEGMENT_BYTES {
            return Err(invalid(format!(
                "{what} ({:?}): size {} must be 1 to {MAX_SEGMENT_BYTES} bytes",
                shown(&segment.object, 60),
                segment.size
            )));
        }
        for (index, chunk) in segment.chunks.iter().enumerate() {
            let refuse = |rule: String| {
                invalid(format!(
                    "{what} ({:?}), chunk {index}: {rule}",
                    shown(&segment.object, 60)
                ))
            };
            if chunk.record_count == 0 {
                return Err(refuse(
                    "record_count is 0; a chunk holds at least one record".into(),
                ));
            }
            if chunk.length == 0 {
                return Err(refuse("length is 0".into()));
            }
            let inside = chunk
                .position
                .checked_add(u64::from(chunk.length))
                .is_some_and(|end| end <= segment.size);
            if !inside {
                return Err(refuse(format!(
                    "bytes {}+{} are outside the {}-byte segment",
                    chunk.position, chunk.length, segment.size
                )));
            }
        }
        request_commits(&what, segment)?;
    }
    Ok(())
}

/// The offset commits riding with a segment's requests: at most one per chunk, each a
/// valid group commit ([`Command::CommitOffsets`]'s rules).
fn request_commits(what: &str, segment: &SegmentCommit) -> Result<(), CommandError> {
    if segment.offset_commits.len() > segment.chunks.len() {
        return Err(invalid(format!(
            "{what}: {} offset commits for {} chunks; at most one per request",
            segment.offset_commits.len(),
            segment.chunks.len()
        )));
    }
    segment
        .offset_commits
        .iter()
        .try_for_each(|c| group_commit(&c.commit))
}

/// A group commit riding with a produce request: [`Command::CommitOffsets`]'s rules.
pub(crate) fn group_commit(commit: &GroupCommit) -> Result<(), CommandError> {
    group_name(&commit.group)?;
    member(commit.generation, commit.member_id.as_deref())?;
    offset_commits(&commit.offsets)
}

/// A heartbeat: a non-empty id and address of bounded length, a lease of
/// [`MIN_LEASE_MS`] to [`MAX_LEASE_MS`].
fn heartbeat(broker_id: &str, address: &str, lease_ms: u64) -> Result<(), CommandError> {
    if broker_id.is_empty() || broker_id.len() > MAX_BROKER_ID_BYTES {
        return Err(invalid(format!(
            "broker id {:?} ({} bytes) must be 1 to {MAX_BROKER_ID_BYTES} bytes",
            shown(broker_id, 60),
            broker_id.len()
        )));
    }
    if address.is_empty() || address.len() > MAX_BROKER_ADDRESS_BYTES {
        return Err(invalid(format!(
            "broker address {:?} ({} bytes) must be 1 to {MAX_BROKER_ADDRESS_BYTES} bytes",
            shown(address, 60),
            address.len()
        )));
    }
    if !(MIN_LEASE_MS..=MAX_LEASE_MS).contains(&lease_ms) {
        return Err(invalid(format!(
            "lease_ms {lease_ms} must be {MIN_LEASE_MS} to {MAX_LEASE_MS}"
        )));
    }
    Ok(())
}

/// A lease: a name like a request id, a holder like a broker id, and an end after `at_ms`
/// by at most [`MAX_LEASE_MS`].
fn lease(name: &str, holder: &str, until_ms: i64, at_ms: i64) -> Result<(), CommandError> {
    id_rule("lease name", Some(name))?;
    if holder.is_empty() || holder.len() > MAX_BROKER_ID_BYTES {
        return Err(invalid(format!(
            "lease holder {:?} ({} bytes) must be 1 to {MAX_BROKER_ID_BYTES} bytes",
            shown(holder, 60),
            holder.len()
        )));
    }
    let length = i128::from(until_ms) - i128::from(at_ms);
    if !(1..=i128::from(MAX_LEASE_MS)).contains(&length) {
        return Err(invalid(format!(
            "lease {name:?} until {until_ms} at {at_ms} must end 1 to {MAX_LEASE_MS} ms after it is taken"
        )));
    }
    Ok(())
}

/// Garbage to forget: 1 to [`MAX_GARBAGE_PER_COMMAND`] valid object names.
fn forgotten(objects: &[String]) -> Result<(), CommandError> {
    garbage_count(objects.len())?;
    for (number, object) in objects.iter().enumerate() {
        object_name(&format!("garbage {number}"), object)?;
    }
    Ok(())
}

/// A garbage command or list: 1 to [`MAX_GARBAGE_PER_COMMAND`] objects.
pub(crate) fn garbage_count(count: usize) -> Result<(), CommandError> {
    if (1..=MAX_GARBAGE_PER_COMMAND).contains(&count) {
        return Ok(());
    }
    Err(invalid(format!(
        "{count} garbage objects; one command or list has 1 to {MAX_GARBAGE_PER_COMMAND}"
    )))
}

/// Orphans: at most [`MAX_ORPHANS_PER_COMMAND`] valid object names.
fn orphans(objects: &[String]) -> Result<(), CommandError> {
    if objects.len() > MAX_ORPHANS_PER_COMMAND {
        return Err(invalid(format!(
            "{} orphans in one command; at most {MAX_ORPHANS_PER_COMMAND}",
            objects.len()
        )));
    }
    for (number, object) in objects.iter().enumerate() {
        object_name(&format!("orphan {number}"), object)?;
    }
    Ok(())
}

/// A partition-slice read: at most [`MAX_SLICE_ENTRIES`] entries.
pub(crate) fn slice_entries(max_entries: usize) -> Result<(), CommandError> {
    if max_entries > MAX_SLICE_ENTRIES {
        return Err(invalid(format!(
            "max_entries {max_entries} is more than {MAX_SLICE_ENTRIES}"
        )));
    }
    Ok(())
}

/// An orphan-list read: at most [`MAX_ORPHAN_LIST`] names.
pub(crate) fn orphan_list(limit: usize) -> Result<(), CommandError> {
    if limit > MAX_ORPHAN_LIST {
        return Err(invalid(format!(
            "orphan list limit {limit} is more than {MAX_ORPHAN_LIST}"
        )));
    }
    Ok(())
}

/// A topic-page read: 1 to [`MAX_TOPIC_PAGE`] topics, after a name no longer than a topic
/// name may be.
pub(crate) fn topic_page(after: Option<&str>, limit: usize) -> Result<(), CommandError> {
    if !(1..=MAX_TOPIC_PAGE).contains(&limit) {
        return Err(invalid(format!(
            "topic page limit {limit} must be 1 to {MAX_TOPIC_PAGE}"
        )));
    }
    match after {
        Some(name) if name.len() > MAX_TOPIC_NAME_BYTES => Err(invalid(format!(
            "topic page after {:?} is longer than {MAX_TOPIC_NAME_BYTES} bytes",
            shown(name, 60)
        ))),
        _ => Ok(()),
    }
}

/// A quota: `used` plus `asked` stays within `limit`, else
/// [`CommandError::QuotaExceeded`] naming `quota`.
pub(crate) fn quota(quota: &str, limit: u64, used: u64, asked: u64) -> Result<(), CommandError> {
    if used.checked_add(asked).is_some_and(|total| total <= limit) {
        return Ok(());
    }
    Err(CommandError::QuotaExceeded {
        quota: quota.to_owned(),
        limit,
        used,
        asked,
    })
}

/// A new topic of `partitions` within the cluster's ceilings
/// ([`MAX_TOPICS`](crate::limits::MAX_TOPICS),
/// [`MAX_TOTAL_PARTITIONS`](crate::limits::MAX_TOTAL_PARTITIONS)), given `usage`.
pub(crate) fn topic_quota(usage: &Usage, partitions: u32) -> Result<(), CommandError> {
    use crate::limits::{MAX_TOPICS, MAX_TOTAL_PARTITIONS};
    quota("limits::MAX_TOPICS", MAX_TOPICS, usage.topics, 1)?;
    let asked = u64::from(partitions);
    let (limit, used) = (MAX_TOTAL_PARTITIONS, usage.partitions);
    quota("limits::MAX_TOTAL_PARTITIONS", limit, used, asked)
}

/// A new producer id within [`MAX_PRODUCER_IDS`](crate::limits::MAX_PRODUCER_IDS), given
/// `usage`.
pub(crate) fn producer_quota(usage: &Usage) -> Result<(), CommandError> {
    use crate::limits::MAX_PRODUCER_IDS;
    quota(
        "limits::MAX_PRODUCER_IDS",
        MAX_PRODUCER_IDS,
        usage.producer_ids,
        1,
    )
}
