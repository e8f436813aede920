//! Orders: `POST /orders` places one (the intake accepts it; PlaceOrder starts from there),
//! `GET /orders/{id}` shows one, `GET /orders` lists them, `POST /orders/{id}/cancel`,
//! `POST /orders/{id}/review` and `POST /orders/{id}/attention` steer one through PlaceOrder's
//! updates.

use crate::auth::{Caller, Staff};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::intake::{self, Identity, Line, NewOrder, Placed};
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound};
use crate::recent::PlacedOrder;
use crate::{ApiError, AppState, validate};
use activities::orders::queries::{
    OrderFilter, OrderPage, OrderView, StatusView, get_order, list_orders,
};
use activities::shipping::queries::orders_with_tracking_number;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contracts::orders::{
    CancelRequest, OrderOutcome, OrderSnapshot, OrderStatus, Resolution, ResolutionAction,
    ReviewDecision, memo, search, workflow_id,
};
use contracts::{Money, OrderId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowQueryError, WorkflowUpdateError,
};
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowQueryOptions,
};
use workflows::PlaceOrder;

/// The header that makes `POST /orders` idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The body of `POST /orders`.
#[derive(Debug, Serialize, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaceOrderRequest {
    /// A phone number in E.164 form (`+4915112345678`), for SMS when email fails.
    #[garde(inner(custom(validate::e164)))]
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$")]
    customer_phone: Option<String>,
    /// Where the parcel goes.
    #[garde(dive)]
    shipping_address: AddressRequest,
    /// What is ordered: 1 to 50 lines, one per SKU.
    #[garde(length(min = 1, max = 50), dive)]
    #[schema(min_items = 1, max_items = 50)]
    lines: Vec<LineRequest>,
    /// A payment-provider token such as `pm_card_visa` (or, in the sandbox, a test card number).
    #[garde(length(chars, min = 1, max = 255))]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^(pm|tok)_[A-Za-z0-9_]*$"
    )]
    payment_method: String,
}

/// A shipping address.
#[derive(Debug, Serialize, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressRequest {
    /// Recipient.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Street and number.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    line1: String,
    /// More of it.
    #[garde(length(chars, max = 200))]
    #[schema(max_length = 200)]
    line2: Option<String>,
    /// City.
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    city: String,
    /// Postal code.
    #[garde(length(chars, min = 1, max = 20))]
    #[schema(min_length = 1, max_length = 20)]
    postal_code: String,
    /// ISO 3166-1 alpha-2 country code, such as `DE`.
    #[garde(custom(validate::country_code))]
    #[schema(pattern = r"^[A-Z]{2}$")]
    country: String,
}

impl From<AddressRequest> for contracts::shipping::Address {
    fn from(address: AddressRequest) -> Self {
        Self {
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

impl LineRequest {
    /// The line for the intake, naming its field (garde checked 1..=1000 units).
    fn line((index, line): (usize, &LineRequest)) -> Line {
        Line {
            sku: line.sku.clone(),
            quantity: u32::try_from(line.quantity).unwrap_or(u32::MAX),
            field: Some(format!("lines[{index}].sku")),
        }
    }
}

/// One line of [`PlaceOrderRequest`].
#[derive(Debug, Serialize, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineRequest {
    /// Which product.
    #[garde(length(chars, min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    sku: String,
    /// How many units, 1 to 1000.
    #[garde(range(min = 1, max = 1000))]
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

/// The answer to `POST /orders`: the order is accepted and being processed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrderAccepted {
    /// The order's id.
    order_id: OrderId,
    /// Always `pending`: the order is being processed.
    status: &'static str,
    /// Where to follow it (also the `Location` header).
    status_url: String,
    /// Its PlaceOrder workflow, as the Temporal Web UI shows it.
    workflow_id: String,
    /// What the customer pays, priced from the catalog.
    total: Money,
}

fn accepted(
    Placed {
        order_id,
        total,
        replayed,
    }: Placed,
) -> Response {
    let status_url = format!("/orders/{order_id}");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&status_url) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    let body = OrderAccepted {
        order_id,
        status: "pending",
        status_url,
        workflow_id: workflow_id(order_id),
        total,
    };
    (StatusCode::ACCEPTED, headers, Json(body)).into_response()
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// Places an order for the caller: validates it, prices it from the catalog and accepts it;
/// its PlaceOrder starts a moment later, or once Temporal can be reached (the intake). With an
/// `Idempotency-Key`, the same key and body give the same order, and the same key with another
/// body is refused.
#[utoipa::path(
    post, path = "/orders", operation_id = "placeOrder", tag = "orders",
    params((
        "Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$",
        description = "1 to 255 visible ASCII characters. Repeating a request with the same key and body answers the first order (with `Idempotent-Replayed: true`) instead of placing another."
    )),
    request_body = PlaceOrderRequest,
    responses(
        (status = 202, description = "The order is accepted and being processed.", body = OrderAccepted,
            headers(("Location" = String, description = "The order's URL."))),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id, workflow.id, customer.id = %caller.id))]
pub(crate) async fn place(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ValidJson(request): ValidJson<PlaceOrderRequest>,
) -> Result<Response, ApiError> {
    let identity = match idempotency_key(&headers)? {
        Some(key) => Identity::Keyed {
            key,
            request_sha256: hex::encode(Sha256::digest(
                serde_json::to_vec(&(caller.id, &request)).map_err(ApiError::internal)?,
            )),
        },
        None => Identity::Fresh,
    };
    let order = NewOrder {
        identity,
        payment_method: validate::payment_method(&request.payment_method)?,
        lines: request
            .lines
            .iter()
            .enumerate()
            .map(LineRequest::line)
            .collect(),
        coupon: None,
        shipping_address: request.shipping_address.into(),
        customer_phone: request.customer_phone,
    };
    let placed = intake::place(&state, &caller, order).await?;
    tracing::Span::current().record(
        "workflow.id",
        tracing::field::display(workflow_id(placed.order_id)),
    );
    Ok(accepted(placed))
}

/// An order: from the read model, or (in the moment before its first write lands there) from
/// its workflow, or (before that starts) from the intake.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum OrderResponse {
    Stored(Box<OrderView>),
    Live(LiveOrder),
}

/// An order as its workflow reports it, before the read model has it.
///
/// `deny_unknown_fields` only shapes the schema (`additionalProperties: false`): it keeps a
/// stored order from also matching this one, so `OrderResponse` is exactly one of the two.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveOrder {
    /// The order id.
    id: OrderId,
    /// Who placed it.
    customer_email: String,
    /// Current status (snake_case).
    status: String,
    /// Why it did not complete, when it did not.
    reason: Option<String>,
    /// What it contains.
    lines: Vec<contracts::orders::OrderLine>,
    /// What the customer pays.
    total: Money,
    /// Empty until the read model has the order.
    history: Vec<StatusView>,
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

/// The order, if the caller may see it; otherwise "not found", whether it exists or not.
pub(crate) async fn visible_order(
    state: &AppState,
    caller: &Caller,
    order_id: OrderId,
) -> Result<OrderView, ApiError> {
    get_order(&state.db, order_id)
        .await?
        .filter(|order| caller.may_see(order.customer_id))
        .ok_or_else(|| ApiError::not_found(format!("no order with id {order_id}")))
}

/// Shows an order: status, lines, totals and status history (its customer, or staff).
#[utoipa::path(
    get, path = "/orders/{id}", operation_id = "getOrder", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The order.", body = OrderResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OrderResponse>, ApiError> {
    let order_id = validate::order_id(&id)?;
    if let Some(view) = state.views.get(order_id).await? {
        if !caller.may_see(view.customer_id) {
            return Err(ApiError::not_found(format!("no order with id {order_id}")));
        }
        return Ok(Json(OrderResponse::Stored(Box::new(OrderView::clone(
            &view,
        )))));
    }
    let live = match state.recent.get(order_id) {
        Some(placed) => Live::placed(order_id, placed),
        None => live_order(&state, order_id).await?,
    };
    if !caller.may_see(Some(live.customer_id)) {
        return Err(ApiError::not_found(format!("no order with id {order_id}")));
    }
    Ok(Json(OrderResponse::Live(live.order)))
}

/// The order from its description, if it was started with the intake's memo.
fn described(
    order_id: OrderId,
    description: &temporalio_client::WorkflowExecutionDescription,
) -> Option<Live> {
    let memo = description.memo();
    Some(Live {
        customer_id: memo.get(memo::CUSTOMER_ID).ok()??,
        order: LiveOrder {
            id: order_id,
            customer_email: memo.get(memo::CUSTOMER_EMAIL).ok()??,
            status: description
                .search_attributes()
                .get(&search::ORDER_STATUS)
                .unwrap_or_else(|| OrderStatus::Pending.as_str().to_owned()),
            reason: None,
            lines: memo.get(memo::LINES).ok()??,
            total: memo.get(memo::TOTAL).ok()??,
            history: Vec::new(),
        },
    })
}

/// An order not yet in the read model, with whose it is.
struct Live {
    customer_id: contracts::CustomerId,
    order: LiveOrder,
}

impl Live {
    /// An order as it was placed (this instance's memory, or its intake row): `pending`
    /// until the read model has it, since writing the order's row is its workflow's first
    /// step.
    fn placed(order_id: OrderId, placed: PlacedOrder) -> Self {
        Self {
            customer_id: placed.customer_id,
            order: LiveOrder {
                id: order_id,
                customer_email: placed.customer_email,
                status: OrderStatus::Pending.as_str().to_owned(),
                reason: None,
                lines: placed.lines,
                total: placed.total,
                history: Vec::new(),
            },
        }
    }
}

/// The order as its workflow's description shows it (memo and search attributes: no worker
/// involved, so it answers at once even before the workflow's first task has run). An order
/// started without the memo (by a cart from before the one intake) is asked with a query.
async fn live_order(state: &AppState, order_id: OrderId) -> Result<Live, ApiError> {
    let handle = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id));
    let not_found = || ApiError::not_found(format!("no order with id {order_id}"));
    let description = match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(description) => description,
        // Not started yet, or Temporal away: an accepted order is pending from its row.
        Err(err) => {
            let accepted = accepted_order(state, order_id).await?;
            return match (accepted, err) {
                (Some((live, _)), WorkflowInteractionError::NotFound(_)) => Ok(live),
                (Some((live, false)), _) => Ok(live),
                (_, WorkflowInteractionError::NotFound(_)) => Err(not_found()),
                (_, err) => Err(ApiError::unavailable(err)),
            };
        }
    };
    if let Some(live) = described(order_id, &description) {
        return Ok(live);
    }
    let snapshot = handle
        .query(PlaceOrder::status, (), WorkflowQueryOptions::default())
        .await
        .map_err(|err| match err {
            WorkflowQueryError::NotFound(_) => not_found(),
            other => ApiError::unavailable(other),
        })?;
    Ok(Live {
        customer_id: snapshot.order.customer_id,
        order: snapshot.into(),
    })
}

/// An accepted order as its intake row has it (`pending`), and whether its workflow was
/// marked started.
async fn accepted_order(
    state: &AppState,
    order_id: OrderId,
) -> Result<Option<(Live, bool)>, ApiError> {
    let earlier = activities::orders::intake::find(&state.db, order_id).await?;
    Ok(earlier.and_then(|earlier| {
        let order = earlier.order?;
        let live = Live::placed(order_id, PlacedOrder::from(&order.input));
        Some((live, earlier.started))
    }))
}

/// The query of `GET /orders`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Only orders with this status.
    #[garde(custom(known_status))]
    #[param(value_type = Option<OrderStatus>)]
    status: Option<String>,
    /// Only orders of this customer (email).
    #[garde(length(chars, min = 1, max = 254))]
    #[param(min_length = 1, max_length = 254)]
    customer: Option<String>,
    /// Only orders placed at or after this time (RFC 3339).
    #[garde(skip)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only orders placed before this time (RFC 3339).
    #[garde(skip)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only the order whose parcel has this tracking number.
    #[garde(length(chars, min = 1, max = 100))]
    #[param(min_length = 1, max_length = 100)]
    tracking: Option<String>,
    /// Page number, from 1.
    #[garde(range(min = 1, max = 100_000))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Orders per page, 1 to 100 (20 by default).
    #[garde(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
}

fn known_status(status: &Option<String>, _: &()) -> garde::Result {
    match status {
        Some(name) if name.parse::<OrderStatus>().is_err() => Err(garde::Error::new(format!(
            "unknown status; expected one of {}",
            OrderStatus::ALL.map(OrderStatus::as_str).join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Lists orders from the read model, newest first, filtered by status, customer, the time
/// they were placed and their parcel's tracking number. A customer sees only their own
/// orders; staff see everyone's.
#[utoipa::path(
    get, path = "/orders", operation_id = "listOrders", tag = "orders",
    params(ListParams),
    responses((status = 200, description = "A page of orders.", body = OrderPage)),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<ListParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let order_ids = match &params.tracking {
        Some(number) => Some(orders_with_tracking_number(&state.db, number).await?),
        None => None,
    };
    let filter = OrderFilter {
        status: params.status,
        customer_email: params.customer.filter(|_| caller.is_staff()),
        customer_id: (!caller.is_staff()).then_some(caller.id),
        placed_from: params.from,
        placed_before: params.to,
        order_ids,
    };
    let page = list_orders(
        &state.db,
        &filter,
        params.page.unwrap_or(1),
        params.per_page.unwrap_or(20),
    )
    .await?;
    Ok(Json(page))
}

/// The body of `POST /orders/{id}/cancel`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    /// Why the order is cancelled.
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Maps an update's failure: refused by the validator or the handler (409), no such order
/// (404), Temporal down (503).
async fn update_error(
    state: &AppState,
    order_id: OrderId,
    code: ErrorCode,
    err: WorkflowUpdateError,
) -> ApiError {
    match err {
        WorkflowUpdateError::Failed(failure) => ApiError::conflict(code, failure.message.clone()),
        WorkflowUpdateError::NotFound(_) => match get_order(&state.db, order_id).await {
            Ok(Some(order)) => {
                ApiError::conflict(code, format!("the order is already {}", order.status))
            }
            Ok(None) => ApiError::not_found(format!("no order with id {order_id}")),
            Err(db) => ApiError::from(db),
        },
        other => ApiError::unavailable(other),
    }
}

/// Cancels an order that has not shipped yet: whatever was done is undone. Answers once the
/// order is cancelled; refused with 409 and the reason once it shipped. Its customer or staff.
#[utoipa::path(
    post, path = "/orders/{id}/cancel", operation_id = "cancelOrder", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "The order is cancelled; stock and payment were released.", body = OrderOutcome),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<CancelBody>,
) -> Result<Json<OrderOutcome>, ApiError> {
    let order_id = validate::order_id(&id)?;
    visible_order(&state, &caller, order_id).await?;
    let request = CancelRequest {
        reason: body.reason,
        requested_by: if caller.is_staff() {
            format!("{} {}", caller.role, caller.email)
        } else {
            "the customer".to_owned()
        },
    };
    let outcome = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .execute_update(
            PlaceOrder::cancel,
            request,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    match outcome {
        Ok(outcome) => {
            tracing::info!("order cancelled");
            Ok(Json(outcome))
        }
        Err(err) => Err(update_error(&state, order_id, ErrorCode::CancelRefused, err).await),
    }
}

/// The body of `POST /orders/{id}/review`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewBody {
    /// `approve` or `reject`.
    #[garde(skip)]
    decision: Decision,
    /// Who decides.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    reviewer: String,
    /// Why.
    #[garde(length(chars, max = 1000))]
    #[schema(max_length = 1000)]
    note: Option<String>,
}

/// A review decision.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Decision {
    Approve,
    Reject,
}

/// The answer to a review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewRecorded {
    /// The order.
    order_id: OrderId,
    /// What was decided.
    decision: Decision,
    /// The order's status after the decision.
    status: OrderStatus,
}

/// Approves or rejects an order waiting for review (operators and admins); 409 if it is not
/// waiting.
#[utoipa::path(
    post, path = "/orders/{id}/review", operation_id = "reviewOrder", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = ReviewBody,
    responses(
        (status = 200, description = "The decision is recorded.", body = ReviewRecorded),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn review(
    State(state): State<AppState>,
    _: Staff,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ReviewBody>,
) -> Result<Json<ReviewRecorded>, ApiError> {
    let order_id = validate::order_id(&id)?;
    let decision = ReviewDecision {
        approve: matches!(body.decision, Decision::Approve),
        reviewer: body.reviewer,
        note: body.note,
    };
    let outcome = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .execute_update(
            PlaceOrder::review,
            decision,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    match outcome {
        Ok(status) => {
            tracing::info!(decision = ?body.decision, "review decided");
            Ok(Json(ReviewRecorded {
                order_id,
                decision: body.decision,
                status,
            }))
        }
        Err(err) => Err(update_error(&state, order_id, ErrorCode::ReviewRefused, err).await),
    }
}

/// The body of `POST /orders/{id}/attention`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    /// `retry_shipment` (follow the parcel again), `refund` (in full) or `mark_delivered`.
    #[garde(skip)]
    action: ResolutionAction,
    /// Why, for the record.
    #[garde(length(chars, max = 1000))]
    #[schema(max_length = 1000)]
    note: Option<String>,
}

/// The answer to a resolution.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ResolutionRecorded {
    /// The order.
    order_id: OrderId,
    /// What was decided.
    action: ResolutionAction,
}

/// Settles an order that needs attention (its shipment ended abnormally after the parcel left):
/// follow the parcel again, refund in full, or mark it delivered (operators and admins); 409
/// if it does not need attention.
#[utoipa::path(
    post, path = "/orders/{id}/attention", operation_id = "resolveOrder", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = ResolveBody,
    responses(
        (status = 200, description = "The decision is recorded; the order goes on with it.", body = ResolutionRecorded),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, workflow.id = %format_args!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX)))]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ResolveBody>,
) -> Result<Json<ResolutionRecorded>, ApiError> {
    let order_id = validate::order_id(&id)?;
    let resolution = Resolution {
        action: body.action,
        operator: format!("{} {}", caller.role, caller.email),
        note: body.note,
    };
    let outcome = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .execute_update(
            PlaceOrder::resolve,
            resolution,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    match outcome {
        Ok(_) => {
            tracing::info!(action = ?body.action, "order settled by an operator");
            Ok(Json(ResolutionRecorded {
                order_id,
                action: body.action,
            }))
        }
        Err(err) => Err(update_error(&state, order_id, ErrorCode::ResolutionRefused, err).await),
    }
}
