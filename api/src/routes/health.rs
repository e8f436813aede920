//! `GET /healthz`: the process is alive and serving.

use axum::Json;
use serde_json::{Value, json};

/// Always 200 while the process serves requests.
#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process serves requests.", body = Object, example = json!({"status": "ok"}))),
)]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
