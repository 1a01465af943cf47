//! [`Auth`]: the principals in force, shared by every request, and the task that reloads
//! them when the principals file changes (polled every `auth.reload_interval`) or on
//! SIGHUP. A file that no longer parses keeps the principals in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::acl::{Operation, Pattern, Rule};
use super::error::AuthError;
use super::principals::{Principal, Principals};
use super::throttle::Throttle;
use crate::config::AuthSection;
use crate::metrics::Metrics;
use crate::reload;

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

/// Starts the reload task (when authentication is on): polls the file every `interval`
/// and reloads on a change or on SIGHUP. The SIGHUP handler is in place when this
/// returns, so a SIGHUP sent once the broker is listening never kills it.
pub(crate) fn spawn_reloader(
    auth: Arc<Auth>,
    interval: Duration,
    metrics: Arc<Metrics>,
) -> Option<JoinHandle<()>> {
    let path = auth.file.clone()?;
    let hangup = reload::hangups();
    Some(tokio::spawn(reload_loop(
        auth, path, interval, metrics, hangup,
    )))
}

/// Reloads whenever the file changes or SIGHUP arrives.
async fn reload_loop(
    auth: Arc<Auth>,
    path: PathBuf,
    interval: Duration,
    metrics: Arc<Metrics>,
    hangup: Option<tokio::signal::unix::Signal>,
) {
    let watched = vec![path.clone()];
    reload::on_change(watched, interval, hangup, || {
        reload_counted(&auth, &path, &metrics);
    })
    .await;
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
