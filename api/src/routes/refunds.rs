//! Refunds: `POST /orders/{id}/refunds` starts RefundPayment; `GET /orders/{id}/refunds` shows
//! what was captured, refunded and is still refundable.

use crate::auth::{Admin, Caller};
use crate::error::ErrorCode;
use crate::extract::ValidJson;
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound};
use crate::routes::orders::visible_order;
use crate::{ApiError, AppState, validate};
use activities::orders::queries::OrderView;
use activities::payments::queries::{RefundBalance, RefundRow, refund_balance, refunds_of};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::inventory::StockLine;
use contracts::payments::{RefundRequest, refund_workflow_id};
use contracts::{Money, OrderId, Service, Sku};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use temporalio_client::WorkflowStartOptions;
use workflows::RefundPayment;

/// The body of `POST /orders/{id}/refunds`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundBody {
    /// How much, in minor units; everything still refundable when absent.
    #[garde(inner(range(min = 1)))]
    #[schema(minimum = 1)]
    amount_minor: Option<i64>,
    /// Why.
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
    /// Returned goods to put back into stock.
    #[garde(length(max = 50), dive)]
    #[schema(max_items = 50)]
    #[serde(default)]
    restock: Vec<RestockLine>,
}

/// A returned line.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestockLine {
    /// Which product.
    #[garde(length(chars, min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    sku: String,
    /// How many units came back (at most what was ordered).
    #[garde(range(min = 1, max = 1000))]
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

/// The answer to a refund request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RefundAccepted {
    /// The refund's id.
    refund_id: contracts::Uuid,
    /// Its RefundPayment workflow.
    workflow_id: String,
    /// How much is being refunded.
    amount: Money,
    /// Where to follow it.
    status_url: String,
}

/// Refunds all or part of an order's captured payment, optionally restocking returned goods
/// (admins).
#[utoipa::path(
    post, path = "/orders/{id}/refunds", operation_id = "refundOrder", tag = "refunds",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = RefundBody,
    responses(
        (status = 202, description = "The refund is started (RefundPayment).", body = RefundAccepted),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RefundBody>,
) -> Result<(StatusCode, Json<RefundAccepted>), ApiError> {
    let order_id = validate::order_id(&id)?;
    let order = visible_order(&state, &caller, order_id).await?;
    let amount = refund_amount(&state, order_id, body.amount_minor).await?;
    check_restock(&order, &body.restock)?;

    let refund_id = contracts::Uuid::now_v7();
    let request = RefundRequest {
        refund_id,
        order_id,
        amount: Some(amount.clone()),
        reason: body.reason,
        restock: body
            .restock
            .into_iter()
            .map(|line| StockLine {
                sku: Sku(line.sku),
                quantity: u32::try_from(line.quantity).unwrap_or(u32::MAX),
            })
            .collect(),
        customer_email: order.customer_email,
        requested_by: caller.email.clone(),
    };
    let workflow_id = refund_workflow_id(refund_id);
    state
        .temporal
        .start_workflow(
            RefundPayment::run,
            request,
            WorkflowStartOptions::new(state.queues.of(Service::Payments), workflow_id.clone())
                .build(),
        )
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(amount = %amount, "refund started");
    Ok((
        StatusCode::ACCEPTED,
        Json(RefundAccepted {
            refund_id,
            workflow_id,
            amount,
            status_url: format!("/orders/{order_id}/refunds"),
        }),
    ))
}

/// What to refund: `amount_minor` of the order's currency, or all that is left; refused (409)
/// when nothing was captured or the amount is more than is left.
async fn refund_amount(
    state: &AppState,
    order_id: OrderId,
    amount_minor: Option<i64>,
) -> Result<Money, ApiError> {
    let balance = refund_balance(&state.db, order_id).await?.ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::NothingCaptured,
            "nothing was captured for this order yet",
        )
    })?;
    let amount = match amount_minor {
        Some(minor) => Money::new(minor, balance.refundable.currency.clone()),
        None => balance.refundable.clone(),
    };
    // The body was valid; what the order holds, as it stands, cannot give this back.
    if amount.amount_minor > balance.refundable.amount_minor || amount.amount_minor <= 0 {
        let message = format!(
            "only {} of the {} captured is left to refund",
            balance.refundable, balance.captured
        );
        return Err(
            ApiError::conflict(ErrorCode::RefundExceedsCaptured, message.clone())
                .with_field("amount_minor", message),
        );
    }
    Ok(amount)
}

/// Refuses (409) a restock of more units of a SKU than the order holds, a repeated SKU's
/// lines added up.
fn check_restock(order: &OrderView, restock: &[RestockLine]) -> Result<(), ApiError> {
    let mut restocked: HashMap<&str, i64> = HashMap::new();
    for (index, line) in restock.iter().enumerate() {
        let ordered = order
            .lines
            .iter()
            .find(|l| l.sku == line.sku)
            .map(|l| i64::from(l.quantity))
            .unwrap_or(0);
        let total = restocked.entry(line.sku.as_str()).or_default();
        *total += line.quantity;
        if *total > ordered {
            let message = format!("the order has {ordered} of `{}`", line.sku);
            return Err(
                ApiError::conflict(ErrorCode::RestockExceedsOrder, message.clone())
                    .with_field(&format!("restock[{index}].quantity"), message),
            );
        }
    }
    Ok(())
}

/// An order's refunds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RefundsView {
    /// Captured, refunded and still refundable; absent until something was captured.
    balance: Option<RefundBalance>,
    /// Every refund, oldest first.
    refunds: Vec<RefundRow>,
}

/// What was captured, refunded and is still refundable, and every refund (its customer, or
/// staff).
#[utoipa::path(
    get, path = "/orders/{id}/refunds", operation_id = "listRefunds", tag = "refunds",
    params(("id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The order's refunds.", body = RefundsView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RefundsView>, ApiError> {
    let order_id = validate::order_id(&id)?;
    visible_order(&state, &caller, order_id).await?;
    Ok(Json(RefundsView {
        balance: refund_balance(&state.db, order_id).await?,
        refunds: refunds_of(&state.db, order_id).await?,
    }))
}
