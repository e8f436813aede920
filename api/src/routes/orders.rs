//! `POST /orders` places an order (starts PlaceOrder); `GET /orders/{id}` shows it.

use crate::extract::ValidJson;
use crate::{ApiError, AppState};
use activities::catalog::{self, QuoteError, Requested};
use activities::orders::queries::{OrderView, get_order};
use activities::payments::sandbox::{PaymentMethodError, normalize_payment_method};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use contracts::orders::{OrderSnapshot, PlaceOrderInput, workflow_id};
use contracts::{Money, OrderId, Service};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use temporalio_client::errors::{WorkflowQueryError, WorkflowStartError};
use temporalio_client::{WorkflowQueryOptions, WorkflowStartOptions};
use workflows::PlaceOrder;

/// The body of `POST /orders`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaceOrderRequest {
    /// Who orders; notifications go there.
    #[garde(email, length(max = 254))]
    customer_email: String,
    /// What is ordered: 1 to 50 lines, one per SKU.
    #[garde(length(min = 1, max = 50), dive)]
    lines: Vec<LineRequest>,
    /// A payment-provider token such as `pm_card_visa` (or, in the sandbox, a test card number).
    #[garde(length(min = 1, max = 255))]
    payment_method: String,
}

/// One line of [`PlaceOrderRequest`].
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineRequest {
    /// Which product.
    #[garde(length(min = 1, max = 64))]
    sku: String,
    /// How many units, 1 to 1000.
    #[garde(range(min = 1, max = 1000))]
    quantity: i64,
}

/// The answer to `POST /orders`: the order is accepted and being processed.
#[derive(Debug, Serialize)]
pub(crate) struct OrderAccepted {
    order_id: OrderId,
    status: &'static str,
    status_url: String,
    workflow_id: String,
    total: Money,
}

/// Places an order: validates it, prices it from the catalog and starts PlaceOrder.
#[tracing::instrument(skip_all, fields(order.id))]
pub(crate) async fn place(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<PlaceOrderRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut seen = HashMap::new();
    for (index, line) in request.lines.iter().enumerate() {
        if let Some(first) = seen.insert(line.sku.as_str(), index) {
            return Err(ApiError::invalid_field(
                "duplicate_line",
                format!("lines[{index}].sku"),
                format!(
                    "`{}` is already ordered in lines[{first}]; combine the quantities",
                    line.sku
                ),
            ));
        }
    }
    let payment_method = normalize_payment_method(&request.payment_method).map_err(|err| {
        let code = match err {
            PaymentMethodError::RawCardNumber => "raw_card_number",
            PaymentMethodError::Malformed => "invalid_payment_method",
        };
        ApiError::invalid_field(code, "payment_method", err.to_string())
    })?;
    let requested: Vec<Requested> = request
        .lines
        .iter()
        .map(|line| Requested {
            sku: line.sku.clone(),
            // garde checked 1..=1000
            quantity: u32::try_from(line.quantity).unwrap_or(u32::MAX),
        })
        .collect();
    let quote = catalog::quote(&state.db, &requested)
        .await
        .map_err(|err| match err {
            QuoteError::UnknownProduct { index, sku } => ApiError::invalid_field(
                "unknown_product",
                format!("lines[{index}].sku"),
                format!("no product with SKU `{sku}` can be ordered"),
            ),
            QuoteError::MixedCurrency { index, .. } => ApiError::invalid_field(
                "mixed_currency",
                format!("lines[{index}].sku"),
                err.to_string(),
            ),
            QuoteError::Overflow => {
                ApiError::invalid_field("total_too_large", "lines", err.to_string())
            }
            QuoteError::Empty => ApiError::invalid_field("empty_order", "lines", err.to_string()),
            QuoteError::Catalog(catalog::CatalogError::Db(db)) => ApiError::from(db),
            QuoteError::Catalog(other) => ApiError::internal(other),
        })?;

    let order_id = OrderId::new();
    tracing::Span::current().record("order.id", tracing::field::display(order_id));
    let input = PlaceOrderInput {
        order_id,
        customer_email: request.customer_email,
        lines: quote.lines,
        total: quote.total.clone(),
        payment_method,
    };
    let id = workflow_id(order_id);
    let options = WorkflowStartOptions::new(state.queues.of(Service::Orders), id.clone()).build();
    state
        .temporal
        .start_workflow(PlaceOrder::run, input, options)
        .await
        .map_err(|err| match err {
            WorkflowStartError::PayloadConversion(_) => ApiError::internal(err),
            _ => ApiError::unavailable(err),
        })?;
    tracing::info!(total = %quote.total, "order placed");

    let status_url = format!("/orders/{order_id}");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&status_url) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::ACCEPTED,
        headers,
        Json(OrderAccepted {
            order_id,
            status: "pending",
            status_url,
            workflow_id: id,
            total: quote.total,
        }),
    ))
}

/// An order: from the read model, or (in the moment before its first write lands there) from
/// its workflow.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum OrderResponse {
    Stored(OrderView),
    Live(LiveOrder),
}

/// An order as its workflow reports it.
#[derive(Debug, Serialize)]
pub(crate) struct LiveOrder {
    id: OrderId,
    customer_email: String,
    status: String,
    reason: Option<String>,
    lines: Vec<contracts::orders::OrderLine>,
    total: Money,
    history: Vec<()>,
}

impl From<OrderSnapshot> for LiveOrder {
    fn from(snapshot: OrderSnapshot) -> Self {
        Self {
            id: snapshot.order.order_id,
            customer_email: snapshot.order.customer_email,
            status: snapshot.status.as_str().to_owned(),
            reason: snapshot.reason,
            lines: snapshot.order.lines,
            total: snapshot.order.total,
            history: Vec::new(),
        }
    }
}

/// Shows an order: status, lines, totals and status history.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderResponse>, ApiError> {
    let order_id: OrderId = id
        .parse()
        .map_err(|_| ApiError::invalid_path("id", "must be a UUID"))?;
    if let Some(view) = get_order(&state.db, order_id).await? {
        return Ok(Json(OrderResponse::Stored(view)));
    }
    let snapshot = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .query(PlaceOrder::status, (), WorkflowQueryOptions::default())
        .await
        .map_err(|err| match err {
            WorkflowQueryError::NotFound(_) => {
                ApiError::not_found(format!("no order with id {order_id}"))
            }
            other => ApiError::unavailable(other),
        })?;
    Ok(Json(OrderResponse::Live(snapshot.into())))
}
