//! `GET /events/schemas`: the JSON Schemas of the domain events Emporium publishes for the
//! systems around a shop (`contracts::events`), by name, with their versions.

use axum::Json;
use std::collections::BTreeMap;

/// The domain events' schemas: for each event name, its `version`, its `aggregate`, and the
/// JSON Schema (2020-12) of its `data`. Within a version fields may be added, never removed
/// or retyped; a breaking change is a new version.
#[utoipa::path(
    get, path = "/events/schemas", operation_id = "listEventSchemas", tag = "events",
    responses(
        (status = 200, description = "Every event's schema, by name (`order.created`, …).",
            body = BTreeMap<String, Object>),
    ),
)]
pub(crate) async fn schemas() -> Json<BTreeMap<&'static str, serde_json::Value>> {
    Json(contracts::events::schemas())
}
