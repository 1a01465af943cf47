//! Cluster endpoints: `POST /v1/producers` (idempotent producer ids), `GET /v1/cluster`
//! (the metadata cluster and the broker registry), and the test-only fault injector
//! `PUT`/`DELETE /v1/admin/faults` (served only with `cluster.fault_injection`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use silt_bookie::clock::{Clock, SystemClock};
use silt_bookie::store::faulty::{FaultConfig, LatencyModel};
use silt_metadata::types::NodeStatus;
use silt_sdk::wire::ErrorCode;

use crate::http::{ApiError, validate};
use crate::state::AppState;

/// `POST /v1/producers` body: empty (or `{}`) for a new producer id, or the id whose epoch
/// to bump (fencing its older instances).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitProducerRequest {
    /// The producer to re-initialise.
    #[serde(default)]
    pub producer_id: Option<u64>,
}

/// `POST /v1/producers` answer.
#[derive(Debug, Serialize)]
pub struct InitProducerResponse {
    /// Producer id.
    pub producer_id: u64,
    /// Epoch; requests must carry it.
    pub epoch: u32,
}

/// `POST /v1/producers`
pub async fn init_producer(
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<InitProducerResponse>, ApiError> {
    let body = validate::read_body(body, 4096).await?;
    let request: InitProducerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        InitProducerRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?
    };
    if request.producer_id == Some(0) {
        return Err(ApiError::invalid_request(
            "producer_id 0 is not a producer id; omit it to get a new one",
        ));
    }
    let view = state.metadata.init_producer(request.producer_id).await?;
    Ok(Json(InitProducerResponse {
        producer_id: view.producer_id,
        epoch: view.epoch,
    }))
}

/// One broker in `GET /v1/cluster`.
#[derive(Debug, Serialize)]
pub struct BrokerEntry {
    /// Broker id.
    pub broker_id: String,
    /// Client-facing URL.
    pub address: String,
    /// Whether its lease is running (judged by this broker's clock).
    pub alive: bool,
    /// Milliseconds until the lease runs out (negative: ran out that long ago).
    pub lease_expires_in_ms: i64,
}

/// `GET /v1/cluster` answer.
#[derive(Debug, Serialize)]
pub struct ClusterResponse {
    /// The broker that answered.
    pub broker_id: String,
    /// The metadata leader's view of the Raft cluster.
    pub metadata: NodeStatus,
    /// Registered brokers.
    pub brokers: Vec<BrokerEntry>,
    /// Uploaded objects no index entry references (failed uploads, segments whose every
    /// chunk was a duplicate or refused), recorded for garbage collection.
    pub garbage: GarbageSummary,
}

/// `garbage` in `GET /v1/cluster`.
#[derive(Debug, Serialize)]
pub struct GarbageSummary {
    /// Objects recorded.
    pub objects: usize,
    /// The first few by name.
    pub sample: Vec<String>,
}

/// `GET /v1/cluster`
pub async fn cluster(State(state): State<AppState>) -> Result<Json<ClusterResponse>, ApiError> {
    let metadata = state.metadata.status().await?;
    let now = SystemClock.now_ms();
    let brokers = state
        .metadata
        .list_brokers()
        .await?
        .into_iter()
        .map(|broker| {
            let left = broker.lease_expires_at_ms().saturating_sub(now);
            BrokerEntry {
                broker_id: broker.broker_id,
                address: broker.address,
                alive: left > 0,
                lease_expires_in_ms: left,
            }
        })
        .collect();
    let orphans = state.metadata.orphans(10).await?;
    Ok(Json(ClusterResponse {
        broker_id: state.identity.broker_id.clone(),
        metadata,
        brokers,
        garbage: GarbageSummary {
            objects: orphans.count,
            sample: orphans.objects.into_iter().map(|(name, _)| name).collect(),
        },
    }))
}

/// `PUT /v1/admin/faults` body (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// Probability of a 500 per object-store request.
    #[serde(default)]
    pub error_rate: f64,
    /// Probability of a 503 SlowDown.
    #[serde(default)]
    pub slowdown_rate: f64,
    /// Probability that a request hangs until cancelled.
    #[serde(default)]
    pub hang_rate: f64,
    /// Probability that a PUT is applied but answered with an error.
    #[serde(default)]
    pub lost_response_rate: f64,
    /// Latency added to every request.
    #[serde(default)]
    pub extra_latency_ms: u64,
    /// Simulated write-ahead cache budget (a full disk); `null` keeps the configured one.
    #[serde(default)]
    pub spool_budget_bytes: Option<u64>,
    /// Seed of the random draws.
    #[serde(default)]
    pub seed: u64,
}

fn faults_disabled() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "fault injection is disabled (start the broker with --fault-injection; testing only)",
    )
}

/// `PUT /v1/admin/faults`
pub async fn set_faults(State(state): State<AppState>, body: Body) -> Result<StatusCode, ApiError> {
    let Some(control) = &state.faults else {
        return Err(faults_disabled());
    };
    let body = validate::read_body(body, 4096).await?;
    let request: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    for (name, rate) in [
        ("error_rate", request.error_rate),
        ("slowdown_rate", request.slowdown_rate),
        ("hang_rate", request.hang_rate),
        ("lost_response_rate", request.lost_response_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(ApiError::invalid_request(format!(
                "{name} = {rate} must be between 0 and 1"
            )));
        }
    }
    let latency = match request.extra_latency_ms {
        0 => LatencyModel::None,
        ms => LatencyModel::Fixed(Duration::from_millis(ms)),
    };
    control.set(FaultConfig {
        put: latency,
        get: latency,
        other: latency,
        error_rate: request.error_rate,
        slowdown_rate: request.slowdown_rate,
        hang_rate: request.hang_rate,
        lost_response_rate: request.lost_response_rate,
        seed: request.seed,
        ..FaultConfig::default()
    });
    let budget = request
        .spool_budget_bytes
        .unwrap_or(state.config.wal.max_spool_bytes);
    state.spool_budget.store(budget, Ordering::Relaxed);
    tracing::warn!(?request, "fault injection changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/admin/faults`
pub async fn clear_faults(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    let Some(control) = &state.faults else {
        return Err(faults_disabled());
    };
    control.clear();
    state
        .spool_budget
        .store(state.config.wal.max_spool_bytes, Ordering::Relaxed);
    tracing::warn!("fault injection cleared");
    Ok(StatusCode::NO_CONTENT)
}
