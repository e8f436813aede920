//! The customer's cart: `GET /cart`, `POST /cart/items`, `PUT /cart/items/{sku}`,
//! `DELETE /cart/items/{sku}`, `POST /cart/coupon`, `POST /cart/checkout`.
//!
//! Each call is an update of the customer's Cart workflow (`cart-<customer id>`); adding to a
//! cart that does not run yet starts it in the same call (update-with-start). The API prices
//! products and looks coupons up in the catalog and hands them to the workflow, whose
//! validators refuse what does not fit (quantity bounds, mixed currencies, an expired coupon).

use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::extract::ValidJson;
use crate::intake::{self, Identity, Line, NewOrder};
use crate::openapi::{Conflict, NotFound};
use crate::routes::orders::AddressRequest;
use crate::validate;
use crate::{ApiError, AppState};
use activities::catalog;
use activities::customers::profile;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::cart::{
    AddItem, BeginCheckout, CartInput, CartLine, CartView, CheckoutEnd, EndCheckout, SetQuantity,
    workflow_id,
};
use contracts::shipping::Address;
use contracts::{OrderId, Service, Sku};
use serde::{Deserialize, Serialize};
use temporalio_client::errors::{
    WorkflowQueryError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowQueryOptions,
    WorkflowUpdateWithStartOptions,
};
use workflows::Cart;

fn empty(caller: &Caller) -> CartView {
    CartView {
        customer_id: caller.id,
        lines: Vec::new(),
        coupon: None,
        subtotal: None,
        discount: None,
        total: None,
        order_id: None,
        expired: false,
    }
}

fn refused(err: WorkflowUpdateError, field: &str) -> ApiError {
    match err {
        // The body was valid; the cart, as it stands, cannot take it.
        WorkflowUpdateError::Failed(failure) => {
            ApiError::conflict(ErrorCode::CartRefused, failure.message.clone())
                .with_field(field, failure.message.clone())
        }
        WorkflowUpdateError::NotFound(_) => ApiError::not_found("your cart is empty"),
        other => ApiError::unavailable(other),
    }
}

async fn current(state: &AppState, caller: &Caller) -> Result<CartView, ApiError> {
    match state
        .temporal
        .get_workflow_handle::<Cart>(workflow_id(caller.id))
        .query(Cart::cart, (), WorkflowQueryOptions::default())
        .await
    {
        Ok(view) if view.order_id.is_none() && !view.expired => Ok(view),
        Ok(_) | Err(WorkflowQueryError::NotFound(_)) => Ok(empty(caller)),
        Err(WorkflowQueryError::Rejected { .. }) => Ok(empty(caller)),
        Err(other) => Err(ApiError::unavailable(other)),
    }
}

/// The cart's lines and totals.
#[utoipa::path(
    get, path = "/cart", operation_id = "getCart", tag = "cart",
    responses((status = 200, description = "The cart (empty if there is none).", body = CartView)),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CartView>, ApiError> {
    Ok(Json(current(&state, &caller).await?))
}

/// The body of `POST /cart/items`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddBody {
    /// Which product.
    #[garde(length(chars, min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    sku: String,
    /// How many units to add, 1 to 1000 (a line holds at most 1000).
    #[garde(range(min = 1, max = 1000))]
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

/// Adds units of a product, starting the cart if needed.
#[utoipa::path(
    post, path = "/cart/items", operation_id = "addCartItem", tag = "cart",
    request_body = AddBody,
    responses(
        (status = 200, description = "The cart after the change.", body = CartView),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id)))]
pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<AddBody>,
) -> Result<Json<CartView>, ApiError> {
    let product = catalog::prices(&state.db, std::slice::from_ref(&body.sku))
        .await
        .map_err(ApiError::internal)?
        .pop()
        .ok_or_else(|| {
            let message = format!("no product with SKU `{}` can be ordered", body.sku);
            ApiError::conflict(ErrorCode::UnknownProduct, message.clone())
                .with_field("sku", message)
        })?;
    let input = CartInput {
        customer_id: caller.id,
        customer_email: caller.email.clone(),
        reminder_after_secs: state.cart_reminder_after.as_secs(),
        lines: Vec::new(),
        coupon: None,
        reminders_sent: 0,
        expire_after_secs: state.cart_expire_after.as_secs(),
        changed_at_ms: None,
        reminded: false,
        checkout: None,
        placed: None,
    };
    let add = AddItem {
        product,
        quantity: u32::try_from(body.quantity).unwrap_or(u32::MAX),
    };
    let options = WorkflowUpdateWithStartOptions::new(
        state.queues.of(Service::Orders),
        workflow_id(caller.id),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .build();
    state
        .temporal
        .execute_update_with_start_workflow(Cart::run, input, Cart::add_item, add, options)
        .await
        .map(Json)
        .map_err(|err| match err {
            WorkflowUpdateWithStartError::Update(update) => refused(update, "quantity"),
            other => ApiError::unavailable(other),
        })
}

async fn update<U>(
    state: &AppState,
    caller: &Caller,
    update: U,
    input: U::Input,
    field: &str,
) -> Result<U::Output, ApiError>
where
    U: temporalio_common::UpdateDefinition<
            Workflow = <Cart as temporalio_common::HasWorkflowDefinition>::Run,
        >,
    U::Input: Send,
    U::Output: 'static,
{
    state
        .temporal
        .get_workflow_handle::<Cart>(workflow_id(caller.id))
        .execute_update(update, input, WorkflowExecuteUpdateOptions::default())
        .await
        .map_err(|err| refused(err, field))
}

/// The body of `PUT /cart/items/{sku}`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuantityBody {
    /// The new quantity, 0 to 1000; 0 removes the line.
    #[garde(range(min = 0, max = 1000))]
    #[schema(minimum = 0, maximum = 1000)]
    quantity: i64,
}

/// Sets a line's quantity (0 removes it).
#[utoipa::path(
    put, path = "/cart/items/{sku}", operation_id = "setCartItemQuantity", tag = "cart",
    params(("sku" = String, Path, description = "The line's SKU.")),
    request_body = QuantityBody,
    responses(
        (status = 200, description = "The cart after the change.", body = CartView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id)))]
pub(crate) async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(sku): Path<String>,
    ValidJson(body): ValidJson<QuantityBody>,
) -> Result<Json<CartView>, ApiError> {
    let set = SetQuantity {
        sku: Sku(sku),
        quantity: u32::try_from(body.quantity).unwrap_or(u32::MAX),
    };
    Ok(Json(
        update(&state, &caller, Cart::set_quantity, set, "sku").await?,
    ))
}

/// Removes a line.
#[utoipa::path(
    delete, path = "/cart/items/{sku}", operation_id = "removeCartItem", tag = "cart",
    params(("sku" = String, Path, description = "The line's SKU.")),
    responses(
        (status = 200, description = "The cart after the change.", body = CartView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(sku): Path<String>,
) -> Result<Json<CartView>, ApiError> {
    let set = SetQuantity {
        sku: Sku(sku),
        quantity: 0,
    };
    Ok(Json(
        update(&state, &caller, Cart::set_quantity, set, "sku").await?,
    ))
}

/// The body of `POST /cart/coupon`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CouponBody {
    /// The coupon's code (case-insensitive).
    #[garde(length(chars, min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    code: String,
}

/// Applies a coupon.
#[utoipa::path(
    post, path = "/cart/coupon", operation_id = "applyCartCoupon", tag = "cart",
    request_body = CouponBody,
    responses(
        (status = 200, description = "The cart with the coupon's discount.", body = CartView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id)))]
pub(crate) async fn coupon(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<CouponBody>,
) -> Result<Json<CartView>, ApiError> {
    let coupon = catalog::valid_coupon(&state.db, &body.code.to_uppercase())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            let message = "no such coupon, or it has expired";
            ApiError::conflict(ErrorCode::UnknownCoupon, message).with_field("code", message)
        })?;
    Ok(Json(
        update(&state, &caller, Cart::apply_coupon, coupon, "code").await?,
    ))
}

/// The body of `POST /cart/checkout`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckoutBody {
    /// Where the parcel goes; or name a saved address with `address_id` (exactly one).
    #[garde(dive)]
    shipping_address: Option<AddressRequest>,
    /// One of the customer's saved addresses (`GET /customers/{id}`), instead of
    /// `shipping_address`.
    #[garde(skip)]
    address_id: Option<uuid::Uuid>,
    /// A payment-provider token such as `pm_card_visa`.
    #[garde(length(chars, min = 1, max = 255))]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^(pm|tok)_[A-Za-z0-9_]*$"
    )]
    payment_method: String,
    /// A phone number in E.164 form, for SMS when email fails.
    #[garde(inner(custom(validate::e164)))]
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$")]
    customer_phone: Option<String>,
}

/// The answer to a checkout.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CheckedOut {
    /// The order the cart became.
    order_id: OrderId,
    /// Where to follow it.
    status_url: String,
}

/// Turns the cart into an order at today's prices and empties the cart (a declined card
/// puts the lines back).
#[utoipa::path(
    post, path = "/cart/checkout", operation_id = "checkoutCart", tag = "cart",
    request_body = CheckoutBody,
    responses(
        (status = 202, description = "The order is placed and being processed; the cart is emptied (if the card is declined, the cart takes the lines back).", body = CheckedOut),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %caller.id, workflow.id = %format_args!("cart-{}", caller.id), order.id))]
pub(crate) async fn checkout(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<CheckoutBody>,
) -> Result<(StatusCode, Json<CheckedOut>), ApiError> {
    let payment_method = validate::payment_method(&body.payment_method)?;
    let shipping_address =
        shipping_address(&state, &caller, body.shipping_address, body.address_id).await?;
    if current(&state, &caller).await?.lines.is_empty() {
        return Err(ApiError::conflict(
            ErrorCode::CartEmpty,
            "the cart is empty",
        ));
    }
    let begin = BeginCheckout {
        order_id: OrderId::new(),
    };
    let ticket = update(&state, &caller, Cart::begin_checkout, begin, "cart").await?;
    let order = NewOrder {
        identity: Identity::Reserved(ticket.order_id),
        lines: ticket.lines.iter().map(cart_line).collect(),
        coupon: ticket.coupon,
        shipping_address,
        customer_phone: body.customer_phone,
        payment_method,
    };
    let placed = intake::place(&state, &caller, order).await;
    match &placed {
        Ok(_) => end_checkout(&state, &caller, ticket.order_id, CheckoutEnd::Placed).await,
        // The intake refused the order: nothing was started, the cart opens again.
        Err(refusal) if refusal.status().is_client_error() => {
            end_checkout(&state, &caller, ticket.order_id, CheckoutEnd::Refused).await;
        }
        // Postgres failed: the order may have been accepted all the same (a commit whose
        // answer was lost on the way), so the cart stays held and the next checkout finds or
        // places the order under the same id.
        Err(_) => {}
    }
    let order_id = placed?.order_id;
    tracing::info!(order.id = %order_id, "cart checked out");
    Ok((
        StatusCode::ACCEPTED,
        Json(CheckedOut {
            order_id,
            status_url: format!("/orders/{order_id}"),
        }),
    ))
}

/// Exactly one of `shipping_address` and `address_id`, and `POST /cart/checkout` says so.
pub(crate) fn checkout_rule() -> crate::openapi::CrossFieldRule {
    use utoipa::openapi::schema::Type;
    crate::openapi::exactly_one_of(
        "CheckoutBody",
        &[
            ("shipping_address", Type::Object),
            ("address_id", Type::String),
        ],
    )
}

/// Where the parcel goes: the address given, or the saved address named.
async fn shipping_address(
    state: &AppState,
    caller: &Caller,
    given: Option<AddressRequest>,
    saved: Option<uuid::Uuid>,
) -> Result<Address, ApiError> {
    let one = "give exactly one of shipping_address and address_id";
    match (given, saved) {
        (Some(address), None) => Ok(address.into()),
        (None, Some(id)) => profile::saved_address(&state.db, caller.id, id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                let message = format!("{id} is not one of your saved addresses");
                ApiError::conflict(ErrorCode::UnknownAddress, message.clone())
                    .with_field("address_id", message)
            }),
        _ => Err(ApiError::invalid_field(
            ErrorCode::ValidationFailed,
            "shipping_address",
            one,
        )),
    }
}

/// A cart's line, for the intake.
fn cart_line(line: &CartLine) -> Line {
    Line {
        sku: line.product.sku.0.clone(),
        quantity: line.quantity,
        field: None,
    }
}

/// Closes the cart with its order, or opens it again. Best effort: the order, once placed,
/// is the truth, and a cart left held finishes when the customer checks out again (the same
/// order is found) or closes at its expiry.
async fn end_checkout(state: &AppState, caller: &Caller, order_id: OrderId, end: CheckoutEnd) {
    let ended = EndCheckout { order_id, end };
    if let Err(err) = update(state, caller, Cart::end_checkout, ended, "cart").await {
        tracing::warn!(order.id = %order_id, ?end, code = err.code(), "the cart's checkout could not be ended");
    }
}
