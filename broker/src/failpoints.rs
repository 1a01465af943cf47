//! Fail points for crash tests: `SILT_FAILPOINTS=name[,name…]` makes the process abort
//! (no cleanup, like `kill -9`) when it reaches a named step of the write protocol.
//!
//! - `upload.after_put`: a segment is in the bucket, its commit not yet sent.
//! - `commit.before_send`: the committer is about to send a commit entry.
//!
//! Unset (the default), each check is one relaxed load of a cached flag set. Without the
//! `fault-injection` feature the checks compile to nothing.

#[cfg(feature = "fault-injection")]
use std::sync::OnceLock;

/// Environment variable naming the active fail points.
#[cfg(feature = "fault-injection")]
const ENV: &str = "SILT_FAILPOINTS";

/// The fail points named in [`ENV`], read once.
#[cfg(feature = "fault-injection")]
fn active() -> &'static [String] {
    static ACTIVE: OnceLock<Vec<String>> = OnceLock::new();
    ACTIVE.get_or_init(|| std::env::var(ENV).map(|v| names(&v)).unwrap_or_default())
}

/// The names in a comma-separated list, trimmed, empty ones left out.
#[cfg(feature = "fault-injection")]
fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Aborts the process if the fail point `name` is active.
#[cfg(feature = "fault-injection")]
pub(crate) fn crash_if_active(name: &str) {
    if active().iter().any(|n| n == name) {
        eprintln!("fail point {name} reached: aborting");
        std::process::abort();
    }
}

/// Fail points are test machinery: without `fault-injection` there are none.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn crash_if_active(_name: &str) {}
