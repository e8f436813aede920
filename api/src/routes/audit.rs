//! `GET /audit/logs` (admin): the append-only audit log, newest first, filtered.
//!
//! There is deliberately no route that edits or deletes an entry; the database refuses it too.

use crate::auth::Admin;
use crate::extract::ValidQuery;
use crate::openapi::Forbidden;
use crate::{ApiError, AppState};
use activities::audit::{self, Filter, Page};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// The query of `GET /audit/logs`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogParams {
    /// Only this actor (an account's email, or `workflow order-<id>`).
    #[garde(length(chars, min = 1, max = 300))]
    #[param(min_length = 1, max_length = 300)]
    actor: Option<String>,
    /// Only this action (`order.status_changed`), or every action of an area (`payment.*`).
    #[garde(pattern(r"^[a-z_]+\.([a-z_]+|\*)$"))]
    #[param(pattern = r"^[a-z_]+\.([a-z_]+|\*)$")]
    action: Option<String>,
    /// Only this subject (`order:<id>`, `product:<sku>`, `account:<email>`, `stock:<sku>`).
    #[garde(length(chars, min = 1, max = 300))]
    #[param(min_length = 1, max_length = 300)]
    subject: Option<String>,
    /// Only entries about this order.
    #[garde(skip)]
    order_id: Option<Uuid>,
    /// At or after this time (RFC 3339).
    #[garde(skip)]
    from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339); at or before `from`, no entry matches.
    #[garde(skip)]
    to: Option<DateTime<Utc>>,
    /// Page number, from 1.
    #[garde(range(min = 1, max = 100_000))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Entries per page, 1 to 200 (50 by default).
    #[garde(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<u64>,
}

/// Audit entries, newest first: who did what to what, when, with the state before and after
/// (admin).
#[utoipa::path(
    get, path = "/audit/logs", operation_id = "listAuditLogs", tag = "operations",
    params(LogParams),
    responses(
        (status = 200, description = "A page of audit entries.", body = Page),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _: Admin,
    ValidQuery(params): ValidQuery<LogParams>,
) -> Result<Json<Page>, ApiError> {
    let filter = Filter {
        actor: params.actor,
        action: params.action,
        subject: params.subject,
        order_id: params.order_id,
        from: params.from,
        to: params.to,
    };
    let page = audit::list(
        &state.db,
        &filter,
        params.page.unwrap_or(1),
        params.per_page.unwrap_or(50),
    )
    .await?;
    Ok(Json(page))
}
