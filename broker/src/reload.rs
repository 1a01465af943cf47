//! Files the broker reloads while it runs (the principals file, the TLS certificate and
//! key): [`on_change`] polls their modification time and length and also fires on SIGHUP.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What tells a changed file: its modification time and length (`None`: unreadable).
type Fingerprint = Option<(SystemTime, u64)>;

/// The file's fingerprint, `None` if it cannot be read.
fn fingerprint(path: &Path) -> Fingerprint {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Every file's fingerprint, in order.
fn fingerprints(paths: &[PathBuf]) -> Vec<Fingerprint> {
    paths.iter().map(|path| fingerprint(path)).collect()
}

/// The SIGHUP stream (`None` if it cannot be installed: only the poll reloads then).
/// Installing it at once, before the process announces it is ready, means a SIGHUP sent
/// after that never kills the process.
pub(crate) fn hangups() -> Option<tokio::signal::unix::Signal> {
    let kind = tokio::signal::unix::SignalKind::hangup();
    tokio::signal::unix::signal(kind)
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for SIGHUP"))
        .ok()
}

/// The next SIGHUP, or never.
async fn next_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) {
    match hangup {
        Some(signal) => {
            if signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Calls `reload` whenever one of `paths` changed (polled every `interval`) or SIGHUP
/// arrived on `hangup`; runs until dropped.
pub(crate) async fn on_change(
    paths: Vec<PathBuf>,
    interval: Duration,
    mut hangup: Option<tokio::signal::unix::Signal>,
    mut reload: impl FnMut(),
) {
    let mut seen = fingerprints(&paths);
    loop {
        let signalled = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = next_hangup(&mut hangup) => true,
        };
        let now = fingerprints(&paths);
        if signalled || now != seen {
            seen = now;
            reload();
        }
    }
}
