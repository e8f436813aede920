//! Operations: `GET /healthz` (the process is alive), `GET /readyz` (Postgres and Temporal
//! answer) and `GET /metrics` (Prometheus).

use crate::openapi::ServiceUnavailable;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use platform::health::Readiness;
use serde_json::{Value, json};

/// Always 200 while the process serves requests.
#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process serves requests.", body = Object, example = json!({"status": "ok"}))),
)]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 with each dependency's check when Postgres and Temporal answer; otherwise 503, a problem
/// whose `detail` names what does not answer. Take the instance out of the load balancer; do
/// not restart it (that is what `/healthz` is for).
#[utoipa::path(
    get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers.", body = Object,
            example = json!({"status": "ready", "postgres": {"status": "ok"}, "temporal": {"status": "ok"}})),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let readiness = platform::health::readiness(&state.db, &state.temporal).await;
    if readiness.is_ready() {
        return Ok(Json(readiness));
    }
    tracing::warn!(?readiness, "not ready");
    Err(ApiError::not_ready(readiness.describe_failures()))
}

/// The process's metrics in Prometheus' text format: requests by route and status, latency
/// histograms, and the business counters of any worker running in this process.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4.", body = String, content_type = "text/plain; version=0.0.4")),
)]
pub(crate) async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        platform::metrics::render(),
    )
}
