//! `/healthz` (the process is up), `/readyz` (metadata and object store reachable) and
//! `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::StreamExt;
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the metadata service can order writes and the object store
/// answers a LIST within 2 s; 503 naming what is not ready otherwise.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let metadata_ready = state.metadata.is_ready().await;
    let store = state.store.clone();
    let store_ready = tokio::time::timeout(Duration::from_secs(2), async move {
        let mut listing = store.store.list(Some(&store.prefix));
        !matches!(listing.next().await, Some(Err(_)))
    })
    .await
    .unwrap_or(false);
    let status = if metadata_ready && store_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
            "metadata": if metadata_ready { "ok" } else { "unavailable" },
            "object_store": if store_ready { "ok" } else { "unavailable" },
        })),
    )
}

/// `GET /metrics`
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(
        &state.store.stats.snapshot(),
        &state.reader.stats(),
        state.spool.bytes_on_disk(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}
