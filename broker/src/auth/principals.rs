//! The principals file (`auth.principals_file`): who may connect, by the SHA-256 of their
//! token, and what each may do. Only hashes are stored, so the file reveals no token.
//!
//! ```toml
//! [[principal]]
//! name = "orders-writer"
//! token_sha256 = "<hex SHA-256 of the token>"
//! allow = ["produce:orders*", "consume:orders*"]
//! quota = { produce_bytes_per_second = 1048576 }   # optional, see [`super::quotas`]
//! ```
//!
//! A principal without a `quota` table has the file's `[default_quota]`, if any.
//!
//! Unknown fields are refused (a misspelt `alow` must not silently allow nothing), as are
//! two principals with one name or one token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::acl::{Operation, Rule};
use super::error::AuthError;
use super::quotas::Quota;
use super::token::{TokenHash, hash_token};

/// One principal: a name, and the rules of what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// Its name (audit lines, producer ownership, metrics labels).
    pub(crate) name: String,
    /// Its allow rules.
    pub(crate) rules: Vec<Rule>,
    /// Its quotas (its own, else the file's default; unlimited when neither).
    pub(crate) quota: Quota,
}

impl Principal {
    /// Whether a rule allows `operation` on `resource`.
    pub(crate) fn allows(&self, operation: Operation, resource: &str) -> bool {
        self.rules.iter().any(|r| r.allows(operation, resource))
    }

    /// Whether a rule allows `operation` on at least one resource.
    pub(crate) fn allows_some(&self, operation: Operation) -> bool {
        self.rules.iter().any(|r| r.allows_some(operation))
    }
}

/// Every principal, by the hash of its token.
#[derive(Debug, Default)]
pub(crate) struct Principals {
    by_token: HashMap<TokenHash, Arc<Principal>>,
}

impl Principals {
    /// Reads and checks the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Principals, AuthError> {
        let failed = |why: String| AuthError::PrincipalsFile {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        Principals::parse(&text).map_err(|e| match e {
            AuthError::PrincipalsFile { why, .. } => failed(why),
            other => failed(other.to_string()),
        })
    }

    /// Parses the file's text.
    pub(crate) fn parse(text: &str) -> Result<Principals, AuthError> {
        let file: FileFormat = toml::from_str(text).map_err(|e| AuthError::PrincipalsFile {
            path: String::new(),
            why: e.to_string(),
        })?;
        let default = checked_default(file.default_quota)?;
        let mut principals = Principals::default();
        for entry in file.principal {
            principals.add(entry, default)?;
        }
        Ok(principals)
    }

    /// The principal whose token this is.
    pub(crate) fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.by_token.get(&hash_token(token)).cloned()
    }

    /// How many principals there are.
    pub(crate) fn len(&self) -> usize {
        self.by_token.len()
    }

    /// The names of the principals, in no order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_token.values().map(|p| p.name.as_str())
    }

    /// Checks one entry and adds it, with `default` as its quota if it has none.
    fn add(&mut self, entry: Entry, default: Quota) -> Result<(), AuthError> {
        let invalid = |why: String| AuthError::PrincipalsFile {
            path: String::new(),
            why: format!("principal {:?}: {why}", entry.name),
        };
        check_name(&entry.name).map_err(invalid)?;
        let hash: TokenHash = entry.token_sha256.parse().map_err(invalid)?;
        if self.by_token.values().any(|p| p.name == entry.name) {
            return Err(invalid("the name is used twice".into()));
        }
        if self.by_token.contains_key(&hash) {
            return Err(invalid("its token_sha256 is another principal's".into()));
        }
        let rules = entry
            .allow
            .iter()
            .map(|rule| rule.parse())
            .collect::<Result<Vec<Rule>, AuthError>>()
            .map_err(|e| invalid(e.to_string()))?;
        let quota = entry.quota.unwrap_or(default);
        quota.check().map_err(invalid)?;
        let principal = Principal {
            name: entry.name,
            rules,
            quota,
        };
        self.by_token.insert(hash, Arc::new(principal));
        Ok(())
    }
}

/// The file's `[default_quota]` (unlimited when absent), checked.
fn checked_default(default: Option<Quota>) -> Result<Quota, AuthError> {
    let quota = default.unwrap_or_default();
    quota.check().map_err(|why| AuthError::PrincipalsFile {
        path: String::new(),
        why: format!("[default_quota]: {why}"),
    })?;
    Ok(quota)
}

/// 1 to 128 characters of `[A-Za-z0-9._@-]`.
fn check_name(name: &str) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.is_empty() || name.len() > 128 || !name.chars().all(valid) {
        return Err("a name is 1 to 128 characters of A-Z a-z 0-9 . _ - @".into());
    }
    Ok(())
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    default_quota: Option<Quota>,
    #[serde(default)]
    principal: Vec<Entry>,
}

/// One `[[principal]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token_sha256: String,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    quota: Option<Quota>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, token: &str, allow: &str) -> String {
        format!(
            "[[principal]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nallow = [{allow}]\n",
            hash_token(token)
        )
    }

    #[test]
    fn a_token_finds_its_principal_and_its_rules() {
        let text =
            file("writer", "t1", r#""produce:orders*""#) + &file("reader", "t2", r#""consume:*""#);
        let principals = Principals::parse(&text).unwrap();
        assert_eq!(principals.len(), 2);
        let writer = principals.authenticate("t1").unwrap();
        assert_eq!(writer.name, "writer");
        assert!(writer.allows(Operation::Produce, "orders-eu"));
        assert!(!writer.allows(Operation::Consume, "orders-eu"));
        assert!(principals.authenticate("t3").is_none());
        assert!(principals.authenticate("").is_none());
    }

    #[test]
    fn quota_tables_are_read_and_the_default_fills_in() {
        let text = format!(
            "[default_quota]\nfetch_bytes_per_second = 1000\n{}quota = {{ produce_bytes_per_second = 262144, max_topics = 3 }}\n{}",
            file("slow", "t1", ""),
            file("plain", "t2", "")
        );
        let principals = Principals::parse(&text).unwrap();
        let slow = principals.authenticate("t1").unwrap();
        let own = Quota {
            produce_bytes_per_second: Some(262_144),
            max_topics: Some(3),
            ..Quota::default()
        };
        assert_eq!(slow.quota, own, "its own table replaces the default");
        let plain = principals.authenticate("t2").unwrap();
        assert_eq!(plain.quota.fetch_bytes_per_second, Some(1000));
        let none = Principals::parse(&file("a", "t1", "")).unwrap();
        assert_eq!(none.authenticate("t1").unwrap().quota, Quota::default());
    }

    #[test]
    fn mistakes_in_the_file_are_refused_by_name() {
        let twice = file("a", "t1", "") + &file("a", "t2", "");
        let same_token = file("a", "t1", "") + &file("b", "t1", "");
        let cases = [
            (twice, "used twice"),
            (same_token, "another principal's"),
            (file("a b", "t1", ""), "a name is"),
            (file("a", "t1", r#""write:x""#), "unknown operation"),
            (
                "[[principal]]\nname = \"a\"\ntoken_sha256 = \"abc\"\n".into(),
                "64 hex",
            ),
            (
                "[[principal]]\nname = \"a\"\ntoken = \"x\"\n".into(),
                "unknown field",
            ),
            ("[[principal]\n".into(), "expected"),
            (
                file("a", "t1", "") + "quota = { max_topics = 0 }\n",
                "principal \"a\": quota max_topics = 0 must be between 1",
            ),
            (
                file("a", "t1", "") + "quota = { max_topcs = 1 }\n",
                "unknown field `max_topcs`",
            ),
            (
                "[default_quota]\nproduce_bytes_per_second = 0\n".into(),
                "[default_quota]: quota produce_bytes_per_second = 0",
            ),
        ];
        for (text, why) in cases {
            let error = Principals::parse(&text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}\n=> {error}");
        }
    }
}
