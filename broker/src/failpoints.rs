//! Fail points for crash and pause tests: `SILT_FAILPOINTS=name[,name…]` makes the process
//! abort (no cleanup, like `kill -9`) when it reaches a named step of the write protocol;
//! `name:stop` instead makes it stop itself (SIGSTOP, as a paused VM or a stalled host) the
//! first time it reaches the step, until a test sends SIGCONT.
//!
//! - `upload.after_put`: a segment is in the bucket, its commit not yet sent.
//! - `commit.before_send`: the committer is about to send a commit entry.
//!
//! Unset (the default), each check is one relaxed load of a cached flag set. Without the
//! `fault-injection` feature the checks compile to nothing.

#[cfg(feature = "fault-injection")]
use std::sync::OnceLock;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The step `name` is reached (`detail` says on what, e.g. the object uploaded): aborts
/// the process if the fail point `name` is active, or stops it (the first time only) if
/// `name:stop` is. Both say so on stderr, naming `detail`.
#[cfg(feature = "fault-injection")]
pub(crate) fn reached(name: &str, detail: &dyn std::fmt::Display) {
    if active().iter().any(|n| n == name) {
        eprintln!("fail point {name} reached ({detail}): aborting");
        std::process::abort();
    }
    let stop = format!("{name}:stop");
    if active().contains(&stop) {
        stop_once(&format!("{stop} reached ({detail})"));
    }
}

/// SIGSTOP to this process (through `kill`: the crate has no libc), once per process;
/// `what` names the fail point and its detail.
#[cfg(feature = "fault-injection")]
fn stop_once(what: &str) {
    static STOPPED: AtomicBool = AtomicBool::new(false);
    if STOPPED.swap(true, Ordering::SeqCst) {
        return;
    }
    eprintln!("fail point {what}: stopping the process until SIGCONT");
    let pid = std::process::id().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status();
    if !stopped.as_ref().is_ok_and(|status| status.success()) {
        eprintln!("fail point {what}: cannot stop the process: {stopped:?}");
    }
}

/// Fail points are test machinery: without `fault-injection` there are none.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn reached(_name: &str, _detail: &dyn std::fmt::Display) {}
