//! [`Auth`]: the principals in force, shared by every request, and the task that reloads
//! them when the principals file changes (polled every `auth.reload_interval`) or on
//! SIGHUP. A file that no longer parses keeps the principals in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::acl::{Operation, Pattern, Rule};
use super::error::AuthError;
use super::principals::{Principal, Principals};
use super::throttle::Throttle;
use crate::config::AuthSection;
use crate::metrics::Metrics;

/// The name of the principal of every request when authentication is off.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// Authentication as configured: off, or the principals of a file.
#[derive(Debug)]
pub(crate) struct Auth {
    /// The principals file; `None` when authentication is off.
    file: Option<PathBuf>,
    /// Whether `/metrics` needs a token.
    pub(crate) protect_metrics: bool,
    /// The principals in force.
    current: RwLock<Arc<Principals>>,
    /// Their byte-rate buckets on this broker.
    pub(crate) throttle: Throttle,
}

impl Auth {
    /// Loads `auth.principals_file`, if one is configured; a bad file is an error naming it.
    pub(crate) fn load(config: &AuthSection) -> Result<Auth, AuthError> {
        let file = config
            .enabled()
            .then(|| PathBuf::from(&config.principals_file));
        let principals = match &file {
            Some(path) => Principals::load(path)?,
            None => Principals::default(),
        };
        Ok(Auth {
            file,
            protect_metrics: config.protect_metrics,
            current: RwLock::new(Arc::new(principals)),
            throttle: Throttle::new(0, 0),
        })
    }

    /// With buckets whose burst is at least one largest produce body
    /// (`server.max_request_bytes`) and one largest fetch (`server.max_fetch_bytes`).
    pub(crate) fn with_request_limits(
        mut self,
        max_request_bytes: u64,
        max_fetch_bytes: u64,
    ) -> Auth {
        self.throttle = Throttle::new(max_request_bytes, max_fetch_bytes);
        self
    }

    /// Whether requests must carry a token.
    pub(crate) fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// The principal whose token this is.
    pub(crate) fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.principals().authenticate(token)
    }

    /// The principals in force.
    fn principals(&self) -> Arc<Principals> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the file again; a bad file leaves the principals in force.
    fn reload(&self, path: &Path) -> Result<usize, AuthError> {
        let principals = Principals::load(path)?;
        let count = principals.len();
        self.throttle.retain(principals.names());
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(principals);
        Ok(count)
    }
}

/// The principal of every request when authentication is off: allowed everything.
pub(crate) fn anonymous() -> Arc<Principal> {
    let rules = [
        Operation::Produce,
        Operation::Consume,
        Operation::Admin,
        Operation::Cluster,
    ];
    Arc::new(Principal {
        name: ANONYMOUS.to_owned(),
        rules: rules
            .map(|operation| Rule {
                operation,
                pattern: Pattern::Any,
            })
            .to_vec(),
        quota: super::quotas::Quota::default(),
    })
}

/// What tells a changed file: its modification time and length.
type Fingerprint = Option<(SystemTime, u64)>;

/// The file's fingerprint, `None` if it cannot be read.
fn fingerprint(path: &Path) -> Fingerprint {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Starts the reload task (when authentication is on): polls the file every `interval`
/// and reloads on a change or on SIGHUP. The SIGHUP handler is in place when this
/// returns, so a SIGHUP sent once the broker is listening never kills it.
pub(crate) fn spawn_reloader(
    auth: Arc<Auth>,
    interval: Duration,
    metrics: Arc<Metrics>,
) -> Option<JoinHandle<()>> {
    let path = auth.file.clone()?;
    let hangup = hangups();
    Some(tokio::spawn(reload_loop(
        auth, path, interval, metrics, hangup,
    )))
}

/// Waits for a tick or SIGHUP, reloading when the file changed or on the signal.
async fn reload_loop(
    auth: Arc<Auth>,
    path: PathBuf,
    interval: Duration,
    metrics: Arc<Metrics>,
    mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let mut seen = fingerprint(&path);
    loop {
        let signalled = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = next_hangup(&mut hangup) => true,
        };
        let now = fingerprint(&path);
        if signalled || now != seen {
            seen = now;
            reload_counted(&auth, &path, &metrics);
        }
    }
}

/// Reloads and counts `silt_auth_reloads_total{outcome}`, logging the outcome.
fn reload_counted(auth: &Auth, path: &Path, metrics: &Metrics) {
    match auth.reload(path) {
        Ok(count) => {
            tracing::info!(principals = count, file = %path.display(), "principals reloaded");
            metrics.auth_reloaded("ok");
        }
        Err(error) => {
            tracing::error!(%error, "principals file not reloaded; the previous principals stay in force");
            metrics.auth_reloaded("error");
        }
    }
}

/// The SIGHUP stream (`None` if it cannot be installed: only the poll reloads then).
fn hangups() -> Option<tokio::signal::unix::Signal> {
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
