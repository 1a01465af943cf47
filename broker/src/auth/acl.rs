//! Allow rules: `OPERATION:RESOURCE`, as a principal's `allow` list spells them.
//!
//! OPERATION is `produce`, `consume`, `admin` (create, delete and alter topics; groups) or
//! `cluster` (producer ids, membership, cluster status, mirrors). RESOURCE is a name, a
//! prefix ending in `*`, or `*` (everything). A principal may do what one of its rules
//! allows and nothing else; there are no deny rules, so the order of rules never matters.

use std::fmt;
use std::str::FromStr;

use super::error::AuthError;

/// What a request does, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    /// Write records to a topic (and obtain a producer id).
    Produce,
    /// Read records from a topic.
    Consume,
    /// Create, delete or alter topics; manage consumer groups.
    Admin,
    /// Cluster operations: producer ids, membership, cluster status, mirrors.
    Cluster,
}

impl Operation {
    /// The operation as rules spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Produce => "produce",
            Operation::Consume => "consume",
            Operation::Admin => "admin",
            Operation::Cluster => "cluster",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "produce" => Ok(Operation::Produce),
            "consume" => Ok(Operation::Consume),
            "admin" => Ok(Operation::Admin),
            "cluster" => Ok(Operation::Cluster),
            other => Err(format!(
                "unknown operation {other:?} (one of produce, consume, admin, cluster)"
            )),
        }
    }
}

/// Which resources a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Every resource (`*`).
    Any,
    /// Names starting with this prefix (`orders*`).
    Prefix(String),
    /// Exactly this name.
    Exact(String),
}

impl Pattern {
    /// Whether `resource` is covered.
    pub(crate) fn matches(&self, resource: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Prefix(prefix) => resource.starts_with(prefix.as_str()),
            Pattern::Exact(name) => resource == name,
        }
    }
}

/// One allow rule: an operation on the resources a pattern covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The operation allowed.
    pub(crate) operation: Operation,
    /// The resources it is allowed on.
    pub(crate) pattern: Pattern,
}

impl Rule {
    /// Whether this rule allows `operation` on `resource`.
    pub(crate) fn allows(&self, operation: Operation, resource: &str) -> bool {
        self.operation == operation && self.pattern.matches(resource)
    }

    /// Whether this rule allows `operation` on at least one resource.
    pub(crate) fn allows_some(&self, operation: Operation) -> bool {
        self.operation == operation
    }
}

impl FromStr for Rule {
    type Err = AuthError;

    /// Parses `OPERATION:RESOURCE`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: String| AuthError::InvalidRule {
            rule: text.to_owned(),
            why,
        };
        let (operation, resource) = text
            .split_once(':')
            .ok_or_else(|| invalid("expected OPERATION:RESOURCE, e.g. produce:orders*".into()))?;
        let operation = operation.trim().parse().map_err(invalid)?;
        let pattern = pattern(resource.trim()).map_err(invalid)?;
        Ok(Rule { operation, pattern })
    }
}

/// `*`, `prefix*` or `name`; a `*` anywhere but at the end is refused.
fn pattern(resource: &str) -> Result<Pattern, String> {
    if resource.is_empty() {
        return Err("the resource is empty (use * for every resource)".into());
    }
    if resource == "*" {
        return Ok(Pattern::Any);
    }
    match resource.strip_suffix('*') {
        Some(prefix) if !prefix.contains('*') => Ok(Pattern::Prefix(prefix.to_owned())),
        None if !resource.contains('*') => Ok(Pattern::Exact(resource.to_owned())),
        _ => Err("a * may only end the resource (a prefix) or be all of it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        text.parse().unwrap()
    }

    #[test]
    fn names_prefixes_and_everything() {
        assert!(rule("produce:orders").allows(Operation::Produce, "orders"));
        assert!(!rule("produce:orders").allows(Operation::Produce, "orders-eu"));
        assert!(rule("produce:orders*").allows(Operation::Produce, "orders-eu"));
        assert!(rule("produce:orders*").allows(Operation::Produce, "orders"));
        assert!(!rule("produce:orders*").allows(Operation::Produce, "order"));
        assert!(rule("consume:*").allows(Operation::Consume, "anything"));
        assert!(!rule("consume:*").allows(Operation::Produce, "anything"));
    }

    #[test]
    fn malformed_rules_are_refused_with_the_reason() {
        for (text, why) in [
            ("produce", "OPERATION:RESOURCE"),
            ("write:orders", "unknown operation"),
            ("produce:", "empty"),
            ("produce:or*ders", "may only end"),
            ("produce:**", "may only end"),
        ] {
            let error = text.parse::<Rule>().unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains(text), "{text}: {error}");
        }
    }
}
