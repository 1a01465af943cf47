//! The HTTP server: routes, tower layers and graceful shutdown.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use silt_sdk::wire::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;

use crate::http::{ApiError, cluster, fetch, health, openapi, produce, topics};
use crate::state::AppState;

/// Every route of the v1 API and the operational endpoints. Request bodies are read by
/// `http::validate::read_body`, which enforces `server.max_request_bytes` while reading.
pub(crate) fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/topics", post(topics::create).get(topics::list))
        .route(
            "/v1/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route("/v1/topics/{topic}/records", post(produce::produce))
        .route(
            "/v1/topics/{topic}/partitions/{partition}/records",
            get(fetch::fetch),
        )
        .route("/v1/producers", post(cluster::init_producer))
        .route("/v1/cluster", get(cluster::cluster))
        .route("/v1/openapi.json", get(openapi::openapi))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    #[cfg(feature = "fault-injection")]
    let routes = routes.route(
        "/v1/admin/faults",
        axum::routing::put(crate::http::faults::set_faults)
            .delete(crate::http::faults::clear_faults),
    );
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the broker hit an internal error handling this request")
                .into_response()
        }))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route; see /v1/openapi.json",
    )
}
