//! The cluster quotas the broker checks before proposing a create: `server.max_topics`,
//! `server.max_total_partitions` and `server.max_producer_ids`, against the metadata
//! service's count of what is in use ([`MetadataClient::usage`]).
//!
//! The check reads, then the create is proposed, so brokers creating at once may pass a
//! quota by a few; the metadata state machine's own ceilings
//! (`silt_metadata::limits::MAX_TOPICS` and the others), checked as each create is applied,
//! are exact.

use silt_metadata::MetadataClient;
use silt_metadata::types::Usage;

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
}
