//! `GET /healthz`: the process is alive and serving.

use axum::Json;
use serde_json::{Value, json};

/// Always 200 while the process serves requests.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
