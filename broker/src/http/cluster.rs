//! Cluster endpoints: `POST /v1/producers` (idempotent producer ids) and `GET /v1/cluster`
//! (the metadata cluster and the broker registry).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use silt_metadata::types::{BrokerView, NodeStatus, OrphanList};

use axum::Extension;

use crate::auth::{Caller, Operation, audit, authorize, authorize_some};
use crate::http::{ApiError, validate};
use crate::quota::{self, QuotaError};
use crate::state::AppState;

/// `POST /v1/producers` body: empty (or `{}`) for a new producer id, or the id whose epoch
/// to bump (fencing its older instances).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitProducerRequest {
    /// The producer to re-initialise.
    #[serde(default, deserialize_with = "silt_sdk::wire::integer::optional")]
    pub(crate) producer_id: Option<u64>,
}

/// `POST /v1/producers` answer.
#[derive(Debug, Serialize)]
pub(crate) struct InitProducerResponse {
    /// Producer id.
    pub(crate) producer_id: u64,
    /// Epoch; requests must carry it.
    pub(crate) epoch: u32,
}

/// `POST /v1/producers`
pub(crate) async fn init_producer(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<InitProducerResponse>, ApiError> {
    authorize_some(&caller, Operation::Produce)?;
    let body = validate::read_body(body, 4096).await?;
    let request = init_request(&body)?;
    let result = issue_producer(&state, request.producer_id, &caller).await;
    let outcome = result.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
    let resource = request
        .producer_id
        .map_or("new".to_owned(), |id| id.to_string());
    audit::admin(&caller.0.name, "init_producer", &resource, outcome);
    result
}

/// A new producer id (within the quotas) issued to the caller, or a new epoch of
/// `producer_id` (only its owner's).
async fn issue_producer(
    state: &AppState,
    producer_id: Option<u64>,
    caller: &Caller,
) -> Result<Json<InitProducerResponse>, ApiError> {
    // Without authentication every caller is the same anonymous principal: no owner.
    let owner = state.auth.enabled().then_some(caller.0.name.as_str());
    if producer_id.is_none() {
        check_new_producer(state, caller).await?;
    }
    let view = state.metadata.init_producer(producer_id, owner).await?;
    let (producer_id, epoch) = (view.producer_id, view.epoch);
    Ok(Json(InitProducerResponse { producer_id, epoch }))
}

/// Whether one more producer id fits the cluster's quota and the caller's.
async fn check_new_producer(state: &AppState, caller: &Caller) -> Result<(), QuotaError> {
    let metadata = state.metadata.as_ref();
    quota::check_producer(metadata, &state.config.server).await?;
    let (name, quota) = (&caller.0.name, &caller.0.quota);
    quota::check_principal_producer(metadata, name, quota).await
}

/// Parses the body (blank asks for a new producer), refusing producer id 0.
fn init_request(body: &[u8]) -> Result<InitProducerRequest, ApiError> {
    let request: InitProducerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        InitProducerRequest::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?
    };
    if request.producer_id == Some(0) {
        return Err(ApiError::invalid_request(
            "producer_id 0 is not a producer id; omit it to get a new one",
        ));
    }
    Ok(request)
}

/// One broker in `GET /v1/cluster`.
#[derive(Debug, Serialize)]
pub(crate) struct BrokerEntry {
    /// Broker id.
    pub(crate) broker_id: String,
    /// Client-facing URL.
    pub(crate) address: String,
    /// Whether its lease is running (judged by this broker's clock).
    pub(crate) alive: bool,
    /// Milliseconds until the lease runs out (negative: ran out that long ago).
    pub(crate) lease_expires_in_ms: i64,
}

/// `GET /v1/cluster` answer.
#[derive(Debug, Serialize)]
pub(crate) struct ClusterResponse {
    /// The broker that answered.
    pub(crate) broker_id: String,
    /// The metadata cluster's id (its brokers stamp their spools with it); `None` until a
    /// broker's recovery has set it.
    pub(crate) cluster_id: Option<String>,
    /// The metadata leader's view of the Raft cluster.
    pub(crate) metadata: NodeStatus,
    /// Registered brokers.
    pub(crate) brokers: Vec<BrokerEntry>,
    /// Uploaded objects no index entry references (failed uploads, segments whose every
    /// chunk was a duplicate or refused), recorded for garbage collection.
    pub(crate) garbage: GarbageSummary,
}

/// `garbage` in `GET /v1/cluster`.
#[derive(Debug, Serialize)]
pub(crate) struct GarbageSummary {
    /// Objects recorded.
    pub(crate) objects: usize,
    /// The first few by name.
    pub(crate) sample: Vec<String>,
}

/// `GET /v1/cluster`
pub(crate) async fn cluster(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<ClusterResponse>, ApiError> {
    authorize(&caller, Operation::Cluster, "cluster")?;
    let mut metadata = state.metadata.status().await?;
    if state.config.cluster.metadata_endpoints().is_empty() {
        name_embedded_node(&mut metadata, &state.identity.advertise);
    }
    let now = state.clock.now_ms();
    let brokers = state.metadata.list_brokers().await?;
    let brokers = brokers
        .into_iter()
        .map(|b| BrokerEntry::new(b, now))
        .collect();
    let orphans = state.metadata.orphans(10).await?;
    let cluster_id = state.metadata.known_cluster_id().await?;
    Ok(Json(ClusterResponse {
        broker_id: state.identity.broker_id.clone(),
        cluster_id,
        metadata,
        brokers,
        garbage: GarbageSummary::new(orphans),
    }))
}

impl BrokerEntry {
    /// A registered broker as of `now` (by this broker's clock).
    fn new(broker: BrokerView, now: i64) -> Self {
        let left = broker.lease_expires_at_ms().saturating_sub(now);
        BrokerEntry {
            broker_id: broker.broker_id,
            address: broker.address,
            alive: left > 0,
            lease_expires_in_ms: left,
        }
    }
}

impl GarbageSummary {
    /// The count of recorded orphans and the names of those listed.
    fn new(orphans: OrphanList) -> Self {
        let sample = orphans.objects.into_iter().map(|(name, _)| name).collect();
        GarbageSummary {
            objects: orphans.count,
            sample,
        }
    }
}

/// `silt dev`'s metadata service runs inside the broker and has no address of its own:
/// say so instead of showing empty addresses.
fn name_embedded_node(status: &mut NodeStatus, advertise: &str) {
    let embedded = format!("embedded in {advertise}");
    for address in status.addresses.values_mut().filter(|a| a.is_empty()) {
        address.clone_from(&embedded);
    }
    if status.leader_addr.as_deref().is_none_or(str::is_empty) && status.leader_id.is_some() {
        status.leader_addr = Some(embedded);
    }
}
