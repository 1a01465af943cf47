//! `/healthz` (the process can serve: fails once the embedded metadata service stopped for
//! good), `/readyz` (metadata and object store reachable, checked live) and
//! `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::StreamExt;
use serde_json::json;
use silt_bookie::store::ObjectStoreHandle;

use crate::state::AppState;

/// `GET /healthz`: 200 `{"status":"ok"}` while the process can serve; 503
/// `{"status":"failed","cause":…}` once its embedded metadata service stopped for good (a
/// fatal Raft error such as a failed log write), so a supervisor restarts it.
pub(crate) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.metadata.failure() {
        Some(cause) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failed", "cause": cause})),
        ),
        None => (StatusCode::OK, Json(json!({"status": "ok"}))),
    }
}

/// `GET /readyz`: 200 when the metadata service can order writes and the object store
/// answers a LIST within 2 s; 503 naming what is not ready otherwise.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let metadata_ready = state.metadata.is_ready().await;
    let store_ready = store_ready(state.store.clone()).await;
    let ready = metadata_ready && store_ready;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness(ready, metadata_ready, store_ready)))
}

/// Whether the object store answers a LIST of the prefix within 2 s.
async fn store_ready(store: ObjectStoreHandle) -> bool {
    let list = async move {
        let mut listing = store.store.list(Some(&store.prefix));
        !matches!(listing.next().await, Some(Err(_)))
    };
    let answered = tokio::time::timeout(Duration::from_secs(2), list).await;
    answered.unwrap_or(false)
}

/// The `/readyz` body: overall, then each dependency.
fn readiness(ready: bool, metadata: bool, object_store: bool) -> serde_json::Value {
    let ok = |up: bool| if up { "ok" } else { "unavailable" };
    json!({
        "status": if ready { "ready" } else { "not_ready" },
        "metadata": ok(metadata),
        "object_store": ok(object_store),
    })
}

/// The `Content-Type` of `/metrics`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (store, cache) = (state.store.stats.snapshot(), state.reader.stats());
    let costs = state.store.stats.costs().snapshot();
    let spooled = state.spool.bytes_on_disk();
    let body = state.metrics.render(&store, &cache, spooled, &costs);
    ([(header::CONTENT_TYPE, OPENMETRICS)], body)
}
