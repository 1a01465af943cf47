//! The HTTP server's routes and tower layers (connections, timeouts and graceful shutdown
//! are in `node/http_server.rs`).

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use silt_sdk::wire::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::auth;
use crate::http::{
    ApiError, cluster, fetch, groups, health, offsets, openapi, produce, topic_config, topics,
};
use crate::state::AppState;

/// Every route of the v1 API and the operational endpoints. Request bodies are read by
/// `http::validate::read_body`, which enforces `server.max_request_bytes` while reading;
/// a body that sends nothing for `server.body_read_timeout` fails there with 408.
pub(crate) fn router(state: AppState) -> Router {
    let routes = admin_routes()
        .merge(record_routes())
        .merge(group_routes())
        .merge(operational_routes());
    #[cfg(feature = "fault-injection")]
    let routes = routes.merge(fault_routes());
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::layer::authenticate,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(RequestBodyTimeoutLayer::new(
            state.config.server.body_read_timeout,
        ))
        .with_state(state)
}

/// Consumer groups: committed offsets, their reset, the group list, describe, delete.
fn group_routes() -> Router<AppState> {
    let offsets = axum::routing::put(groups::commit).get(groups::offsets);
    Router::new()
        .route("/v1/groups", get(groups::list))
        .route(
            "/v1/groups/{group}",
            get(groups::describe).delete(groups::delete),
        )
        .route("/v1/groups/{group}/offsets", offsets)
        .route("/v1/groups/{group}/offsets/reset", post(groups::reset))
        .route("/v1/groups/{group}/members", post(groups::join))
        .route(
            "/v1/groups/{group}/members/{member}",
            axum::routing::delete(groups::leave),
        )
        .route(
            "/v1/groups/{group}/members/{member}/heartbeat",
            post(groups::heartbeat),
        )
}

/// Topics, idempotent producer ids and the cluster view.
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/topics", post(topics::create).get(topics::list))
        .route(
            "/v1/topics/{topic}",
            get(topics::describe)
                .delete(topics::delete)
                .patch(topic_config::alter),
        )
        .route("/v1/producers", post(cluster::init_producer))
        .route("/v1/cluster", get(cluster::cluster))
}

/// Produce, fetch and offsets by time.
fn record_routes() -> Router<AppState> {
    let partition_records = "/v1/topics/{topic}/partitions/{partition}/records";
    let partition_offsets = "/v1/topics/{topic}/partitions/{partition}/offsets";
    Router::new()
        .route("/v1/topics/{topic}/records", post(produce::produce))
        .route(partition_records, get(fetch::fetch))
        .route(partition_offsets, get(offsets::offsets))
}

/// The API document, liveness, readiness and metrics.
fn operational_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi::openapi))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
}

/// The test-only fault endpoint.
#[cfg(feature = "fault-injection")]
fn fault_routes() -> Router<AppState> {
    use crate::http::faults::{clear_faults, set_faults};
    let faults = axum::routing::put(set_faults).delete(clear_faults);
    Router::new().route("/v1/admin/faults", faults)
}

/// The answer to a request whose handler panicked.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal("the broker hit an internal error handling this request").into_response()
}

/// The answer for a path no route matches.
async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; see /v1/openapi.json")
}

/// The answer for a route that does not take the request's method.
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route; see /v1/openapi.json",
    )
}
