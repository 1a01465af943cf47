//! `PUT`/`DELETE /v1/admin/faults`: the test-only fault injector. Compiled only with the
//! `fault-injection` feature, and served only by a broker started with
//! `--fault-injection` (`cluster.fault_injection`): object-store errors, SlowDown, hangs,
//! lost responses, latency, and a full write-ahead cache.

use crate::auth::{Caller, Operation, authorize};
use axum::Extension;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use silt_bookie::store::faults::{FaultConfig, LatencyModel};
use silt_sdk::wire::ErrorCode;

use crate::http::{ApiError, validate};
use crate::state::AppState;

/// `PUT /v1/admin/faults` body (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    /// Probability of a 500 per object-store request.
    #[serde(default)]
    pub(crate) error_rate: f64,
    /// Probability of a 503 SlowDown.
    #[serde(default)]
    pub(crate) slowdown_rate: f64,
    /// Probability that a request hangs until cancelled.
    #[serde(default)]
    pub(crate) hang_rate: f64,
    /// Probability that a PUT is applied but answered with an error.
    #[serde(default)]
    pub(crate) lost_response_rate: f64,
    /// Latency added to every request.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::exact")]
    pub(crate) extra_latency_ms: u64,
    /// Simulated write-ahead cache budget (a full disk); `null` keeps the configured one.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::optional")]
    pub(crate) spool_budget_bytes: Option<u64>,
    /// Seed of the random draws.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::exact")]
    pub(crate) seed: u64,
}

impl FaultRequest {
    /// Every rate is a probability.
    fn validate(&self) -> Result<(), ApiError> {
        let rates = [
            ("error_rate", self.error_rate),
            ("slowdown_rate", self.slowdown_rate),
            ("hang_rate", self.hang_rate),
            ("lost_response_rate", self.lost_response_rate),
        ];
        rates
            .into_iter()
            .try_for_each(|(name, rate)| check_rate(name, rate))
    }

    /// The object-store faults this request asks for.
    fn fault_config(&self) -> FaultConfig {
        let latency = latency(self.extra_latency_ms);
        FaultConfig {
            put: latency,
            get: latency,
            other: latency,
            error_rate: self.error_rate,
            slowdown_rate: self.slowdown_rate,
            hang_rate: self.hang_rate,
            lost_response_rate: self.lost_response_rate,
            seed: self.seed,
            ..FaultConfig::default()
        }
    }
}

/// Refuses a rate that is not a probability.
fn check_rate(name: &str, rate: f64) -> Result<(), ApiError> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(ApiError::invalid_request(format!(
            "{name} = {rate} must be between 0 and 1"
        )));
    }
    Ok(())
}

/// `extra_latency_ms` as a latency model: none for 0, else fixed.
fn latency(extra_latency_ms: u64) -> LatencyModel {
    match extra_latency_ms {
        0 => LatencyModel::None,
        ms => LatencyModel::Fixed(Duration::from_millis(ms)),
    }
}

/// The answer of a broker started without `--fault-injection`.
fn faults_disabled() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "fault injection is disabled (start the broker with --fault-injection; testing only)",
    )
}

/// `PUT /v1/admin/faults`
pub(crate) async fn set_faults(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Operation::Cluster, "faults")?;
    let faults = state.faults.as_ref().ok_or_else(faults_disabled)?;
    let request = fault_request(body).await?;
    faults.control.set(request.fault_config());
    let configured = state.config.wal.max_spool_bytes;
    let budget = request.spool_budget_bytes.unwrap_or(configured);
    faults.spool_budget.store(budget, Ordering::Relaxed);
    tracing::warn!(?request, "fault injection changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Reads and checks the `PUT` body.
async fn fault_request(body: Body) -> Result<FaultRequest, ApiError> {
    let body = validate::read_body(body, 4096).await?;
    let request: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    request.validate()?;
    Ok(request)
}

/// `DELETE /v1/admin/faults`
pub(crate) async fn clear_faults(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Operation::Cluster, "faults")?;
    let faults = state.faults.as_ref().ok_or_else(faults_disabled)?;
    faults.control.clear();
    let configured = state.config.wal.max_spool_bytes;
    faults.spool_budget.store(configured, Ordering::Relaxed);
    tracing::warn!("fault injection cleared");
    Ok(StatusCode::NO_CONTENT)
}
