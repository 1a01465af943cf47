//! The quotas the broker checks before proposing a create: the cluster's
//! (`server.max_topics`, `server.max_total_partitions` and `server.max_producer_ids`,
//! against the metadata service's count of what is in use, [`MetadataClient::usage`]) and
//! the creating principal's (`max_topics`, `max_partitions`, `max_producer_ids` of its
//! quota in the principals file, against what it owns, [`MetadataClient::usage_of`]).
//!
//! The check reads, then the create is proposed, so brokers creating at once may pass a
//! quota by a few; the metadata state machine's own ceilings
//! (`silt_metadata::limits::MAX_TOPICS` and the others), checked as each create is applied,
//! are exact. It does not check per-principal quotas: those may be passed by the creates
//! one principal runs at once through several brokers.

use silt_metadata::MetadataClient;
use silt_metadata::types::Usage;

use crate::auth::quotas::Quota;
use crate::config::ServerConfig;

/// A refused create, or the metadata service failing the count.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QuotaError {
    /// The create would pass the setting `setting` (value `limit`).
    #[error(
        "quota exceeded: {setting} = {limit}; {used} {what} in use and this request adds {asked}"
    )]
    Exceeded {
        /// The setting's name.
        setting: &'static str,
        /// Its value.
        limit: u64,
        /// What it counts.
        what: &'static str,
        /// How many are in use.
        used: u64,
        /// How many the request adds.
        asked: u64,
    },
    /// The create would pass the principal's quota `field` (value `limit`).
    #[error(
        "quota exceeded: principal {principal:?} has {field} = {limit}; it owns {used} {what} and this request adds {asked}"
    )]
    PrincipalExceeded {
        /// Who.
        principal: String,
        /// The quota field's name.
        field: &'static str,
        /// Its value.
        limit: u64,
        /// What it counts.
        what: &'static str,
        /// How many the principal owns.
        used: u64,
        /// How many the request adds.
        asked: u64,
    },
    /// The count could not be read.
    #[error(transparent)]
    Metadata(#[from] silt_metadata::Error),
}

/// One quota: `used + asked` within `limit`, else [`QuotaError::Exceeded`].
fn within(
    setting: &'static str,
    limit: u64,
    what: &'static str,
    used: u64,
    asked: u64,
) -> Result<(), QuotaError> {
    if used.checked_add(asked).is_some_and(|total| total <= limit) {
        return Ok(());
    }
    Err(QuotaError::Exceeded {
        setting,
        limit,
        what,
        used,
        asked,
    })
}

/// Whether one more topic of `partitions` partitions fits `server.max_topics` and
/// `server.max_total_partitions`.
pub(crate) async fn check_topic(
    metadata: &dyn MetadataClient,
    limits: &ServerConfig,
    partitions: u32,
) -> Result<(), QuotaError> {
    let usage: Usage = metadata.usage().await?;
    within(
        "server.max_topics",
        limits.max_topics,
        "topics",
        usage.topics,
        1,
    )?;
    let (limit, used) = (limits.max_total_partitions, usage.partitions);
    let asked = u64::from(partitions);
    within(
        "server.max_total_partitions",
        limit,
        "partitions",
        used,
        asked,
    )
}

/// Whether one more producer id fits `server.max_producer_ids`.
pub(crate) async fn check_producer(
    metadata: &dyn MetadataClient,
    limits: &ServerConfig,
) -> Result<(), QuotaError> {
    let used = metadata.usage().await?.producer_ids;
    let limit = limits.max_producer_ids;
    within("server.max_producer_ids", limit, "producer ids", used, 1)
}

/// One principal quota: absent, or `used + asked` within it, else
/// [`QuotaError::PrincipalExceeded`].
fn principal_within(
    principal: &str,
    (field, limit): (&'static str, Option<u64>),
    what: &'static str,
    used: u64,
    asked: u64,
) -> Result<(), QuotaError> {
    let Some(limit) = limit else { return Ok(()) };
    within(field, limit, what, used, asked).map_err(|_| QuotaError::PrincipalExceeded {
        principal: principal.to_owned(),
        field,
        limit,
        what,
        used,
        asked,
    })
}

/// Whether `principal` may create one more topic of `partitions` partitions under its
/// `max_topics` and `max_partitions` (no read when it has neither).
pub(crate) async fn check_principal_topic(
    metadata: &dyn MetadataClient,
    principal: &str,
    quota: &Quota,
    partitions: u32,
) -> Result<(), QuotaError> {
    if quota.max_topics.is_none() && quota.max_partitions.is_none() {
        return Ok(());
    }
    let usage = metadata.usage_of(principal).await?;
    let topics = ("max_topics", quota.max_topics);
    principal_within(principal, topics, "topics", usage.topics, 1)?;
    let limit = ("max_partitions", quota.max_partitions);
    let asked = u64::from(partitions);
    principal_within(principal, limit, "partitions", usage.partitions, asked)
}

/// Whether `principal` may own one more producer id under its `max_producer_ids`.
pub(crate) async fn check_principal_producer(
    metadata: &dyn MetadataClient,
    principal: &str,
    quota: &Quota,
) -> Result<(), QuotaError> {
    let Some(limit) = quota.max_producer_ids else {
        return Ok(());
    };
    let used = metadata.usage_of(principal).await?.producer_ids;
    let limit = ("max_producer_ids", Some(limit));
    principal_within(principal, limit, "producer ids", used, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_holds_up_to_its_limit_and_names_it_past_it() {
        assert!(within("server.q", 3, "things", 2, 1).is_ok());
        let refused = within("server.q", 3, "things", 3, 1).map_err(|e| e.to_string());
        let message = "quota exceeded: server.q = 3; 3 things in use and this request adds 1";
        assert_eq!(refused, Err(message.to_owned()));
        assert!(within("server.q", u64::MAX, "things", u64::MAX, 1).is_err());
    }

    #[test]
    fn a_principal_quota_names_the_principal_and_absent_is_unlimited() {
        let unlimited = ("max_topics", None);
        assert!(principal_within("p", unlimited, "topics", u64::MAX, 1).is_ok());
        let limit = ("max_topics", Some(2));
        assert!(principal_within("p", limit, "topics", 1, 1).is_ok());
        let refused = principal_within("p", limit, "topics", 2, 1).map_err(|e| e.to_string());
        let message = "quota exceeded: principal \"p\" has max_topics = 2; it owns 2 topics and this request adds 1";
        assert_eq!(refused, Err(message.to_owned()));
    }
}
