//! The quotas of a principal, as the principals file states them: an optional `quota`
//! table per principal, else the file's optional `[default_quota]`. Every field is
//! optional and absent means unlimited; zero or an absurd value is refused when the file
//! is loaded, naming the field and the value.
//!
//! ```toml
//! [default_quota]
//! produce_bytes_per_second = 1048576
//!
//! [[principal]]
//! name = "batch-loader"
//! token_sha256 = "<hex SHA-256 of the token>"
//! allow = ["produce:bulk*"]
//! quota = { produce_bytes_per_second = 262144, max_topics = 10 }
//! ```

use serde::Deserialize;
use silt_metadata::limits::{MAX_PRODUCER_IDS, MAX_TOPICS, MAX_TOTAL_PARTITIONS};

/// The highest byte rate a quota may name (1 TiB/s): anything above is a typo.
pub(crate) const MAX_BYTES_PER_SECOND: u64 = 1 << 40;

/// One principal's quotas; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Quota {
    /// Produce request body bytes per second, per broker.
    pub(crate) produce_bytes_per_second: Option<u64>,
    /// Fetched record bytes per second, per broker.
    pub(crate) fetch_bytes_per_second: Option<u64>,
    /// Topics the principal may have created (and not deleted).
    pub(crate) max_topics: Option<u64>,
    /// Partitions of the topics the principal created.
    pub(crate) max_partitions: Option<u64>,
    /// Producer ids the principal owns.
    pub(crate) max_producer_ids: Option<u64>,
}

impl Quota {
    /// Checks every field is within 1 and its ceiling; the error names field and value.
    pub(crate) fn check(&self) -> Result<(), String> {
        let fields = [
            (
                "produce_bytes_per_second",
                self.produce_bytes_per_second,
                MAX_BYTES_PER_SECOND,
            ),
            (
                "fetch_bytes_per_second",
                self.fetch_bytes_per_second,
                MAX_BYTES_PER_SECOND,
            ),
            ("max_topics", self.max_topics, MAX_TOPICS),
            ("max_partitions", self.max_partitions, MAX_TOTAL_PARTITIONS),
            ("max_producer_ids", self.max_producer_ids, MAX_PRODUCER_IDS),
        ];
        for (field, value, ceiling) in fields {
            check_field(field, value, ceiling)?;
        }
        Ok(())
    }
}

/// One field: absent, or 1 to `ceiling`.
fn check_field(field: &str, value: Option<u64>, ceiling: u64) -> Result<(), String> {
    match value {
        Some(v) if v == 0 || v > ceiling => Err(format!(
            "quota {field} = {v} must be between 1 and {ceiling} (leave it out for no limit)"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_absurd_values_are_refused_by_field_and_value() {
        assert!(Quota::default().check().is_ok());
        let zero = Quota {
            max_topics: Some(0),
            ..Quota::default()
        };
        let error = zero.check().unwrap_err();
        assert!(error.contains("max_topics = 0"), "{error}");
        let huge = Quota {
            fetch_bytes_per_second: Some(MAX_BYTES_PER_SECOND + 1),
            ..Quota::default()
        };
        let error = huge.check().unwrap_err();
        assert!(
            error.contains("fetch_bytes_per_second = 1099511627777"),
            "{error}"
        );
        let fine = Quota {
            produce_bytes_per_second: Some(1),
            max_producer_ids: Some(MAX_PRODUCER_IDS),
            ..Quota::default()
        };
        assert!(fine.check().is_ok());
    }
}
