//! The order intake: the one way an order is placed, by `POST /orders` and by a cart's
//! checkout alike.
//!
//! It prices the lines from the catalog (a repeated SKU is one line; a coupon's discount is
//! taken off), fixes the order's id (fresh, derived from an idempotency key, or reserved by a
//! cart), puts what a replay and a not-yet-recorded order need in the memo, and starts
//! PlaceOrder with its first search attributes (`pending`, the customer, the total; the
//! workflow keeps them current from there). Starting an id that already runs
//! answers the order placed first: the same key with the same body, or the same cart checkout
//! tried again. Handlers authenticate and parse; the intake decides.

use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::recent::PlacedOrder;
use crate::{ApiError, AppState};
use activities::catalog::{self, QuoteError, Requested};
use contracts::cart::Coupon;
use contracts::orders::{OrderLine, PlaceOrderInput, memo, search, workflow_id};
use contracts::payments::PaymentMethod;
use contracts::shipping::Address;
use contracts::{CustomerId, Money, OrderId, Service};
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{WorkflowDescribeOptions, WorkflowIdReusePolicy, WorkflowStartOptions};
use temporalio_common::MemoValues;
use uuid::Uuid;
use workflows::PlaceOrder;

/// One line as asked for.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Which product.
    pub sku: String,
    /// How many units.
    pub quantity: u32,
    /// The request field that named the product, for a refusal to point at (none for a
    /// cart's line).
    pub field: Option<String>,
}

/// Where the order's id comes from.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// A new id; nothing to replay.
    Fresh,
    /// Derived from the customer's `Idempotency-Key`: the same key again finds the order, if
    /// the request (its SHA-256) is the same.
    Keyed {
        /// The key as sent.
        key: String,
        /// Hex SHA-256 of who asked and what.
        request_sha256: String,
    },
    /// Reserved by a cart's checkout: starting it again finds the order placed first.
    Reserved(OrderId),
}

impl Identity {
    fn order_id(&self, customer: CustomerId) -> OrderId {
        match self {
            Identity::Fresh => OrderId::new(),
            // Temporal's workflow-id uniqueness is then the lock that makes a repeated request
            // find the first order instead of placing another.
            Identity::Keyed { key, .. } => OrderId(Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                format!("emporium:orders:{customer}:idempotency-key:{key}").as_bytes(),
            )),
            Identity::Reserved(order_id) => *order_id,
        }
    }
}

/// An order to place, parsed and checked by its entry.
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    /// Where its id comes from.
    pub identity: Identity,
    /// What is ordered.
    pub lines: Vec<Line>,
    /// A coupon to take off the subtotal.
    pub coupon: Option<Coupon>,
    /// Where the parcel goes.
    pub shipping_address: Address,
    /// The customer's phone (E.164), for SMS.
    pub customer_phone: Option<String>,
    /// What to charge.
    pub payment_method: PaymentMethod,
}

/// A placed order.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// Its id.
    pub order_id: OrderId,
    /// What the customer pays.
    pub total: Money,
    /// The order was placed by an earlier request; this one found it.
    pub replayed: bool,
}

/// Places `order` for `caller`: prices it and starts its PlaceOrder, or finds the order its
/// identity placed before.
pub(crate) async fn place(
    state: &AppState,
    caller: &Caller,
    order: NewOrder,
) -> Result<Placed, ApiError> {
    let order_id = order.identity.order_id(caller.id);
    tracing::Span::current().record("order.id", tracing::field::display(order_id));
    let priced = price(state, &order.lines, order.coupon.as_ref()).await?;
    let memo = order_memo(caller, &priced, &order.identity);
    let input = PlaceOrderInput {
        order_id,
        customer_id: caller.id,
        customer_email: caller.email.clone(),
        customer_phone: order.customer_phone,
        shipping_address: order.shipping_address,
        lines: priced.lines.clone(),
        discount: priced.discount,
        total: priced.total.clone(),
        payment_method: order.payment_method,
    };
    // Followed before its workflow starts, so that its first status cannot slip past.
    state.views.follow_order(order_id);
    let options =
        WorkflowStartOptions::new(state.queues.of(Service::Orders), workflow_id(order_id))
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .memo(memo)
            .search_attributes(search::at_start(&input))
            .build();
    match state
        .temporal
        .start_workflow(PlaceOrder::run, input, options)
        .await
    {
        Ok(_) => {
            tracing::info!(total = %priced.total, "order placed");
            let placed = PlacedOrder {
                customer_id: caller.id,
                customer_email: caller.email.clone(),
                lines: priced.lines,
                total: priced.total.clone(),
            };
            state.recent.placed(order_id, placed);
            Ok(Placed {
                order_id,
                total: priced.total,
                replayed: false,
            })
        }
        Err(WorkflowStartError::AlreadyStarted { .. }) => match &order.identity {
            Identity::Fresh => Err(ApiError::internal("a fresh order id was already taken")),
            Identity::Keyed { request_sha256, .. } => {
                placed_before(state, order_id, Some(request_sha256)).await
            }
            Identity::Reserved(_) => placed_before(state, order_id, None).await,
        },
        Err(err @ WorkflowStartError::PayloadConversion(_)) => Err(ApiError::internal(err)),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}

/// An order priced from the catalog.
struct Priced {
    lines: Vec<OrderLine>,
    discount: Option<Money>,
    total: Money,
}

/// Prices `lines` at the catalog's current prices, a repeated SKU as one line, with the
/// coupon's discount (if it takes anything off) taken off.
async fn price(
    state: &AppState,
    lines: &[Line],
    coupon: Option<&Coupon>,
) -> Result<Priced, ApiError> {
    let (fields, requested): (Vec<Option<&str>>, Vec<Requested>) =
        merged(lines).into_iter().unzip();
    let field = |index: usize| fields.get(index).copied().flatten();
    let quote = catalog::quote(&state.db, &requested)
        .await
        .map_err(|err| quote_refused(err, field))?;
    let discount = coupon
        .map(|coupon| coupon.discount.amount_off(&quote.total))
        .filter(|off| off.amount_minor > 0);
    let total = match &discount {
        // A discount is at most the subtotal (Discount::amount_off).
        Some(off) => Money::new(
            quote.total.amount_minor - off.amount_minor,
            quote.total.currency.clone(),
        ),
        None => quote.total,
    };
    Ok(Priced {
        lines: quote.lines,
        discount,
        total,
    })
}

/// The lines to price: one per SKU, in the order first asked for, a repeated SKU's quantities
/// added up, each with the field of its first line.
fn merged(lines: &[Line]) -> Vec<(Option<&str>, Requested)> {
    let mut merged: Vec<(Option<&str>, Requested)> = Vec::with_capacity(lines.len());
    for line in lines {
        match merged.iter_mut().find(|(_, r)| r.sku == line.sku) {
            Some((_, same)) => same.quantity = same.quantity.saturating_add(line.quantity),
            None => merged.push((
                line.field.as_deref(),
                Requested {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                },
            )),
        }
    }
    merged
}

/// A valid request the catalog, as it stands, cannot price: 409, naming the line's field.
fn quote_refused<'a>(err: QuoteError, field: impl Fn(usize) -> Option<&'a str>) -> ApiError {
    let refusal = |code: ErrorCode, index: usize, message: String| {
        let problem = ApiError::conflict(code, message.clone());
        match field(index) {
            Some(field) => problem.with_field(field, message),
            None => problem,
        }
    };
    match err {
        QuoteError::UnknownProduct { index, ref sku } => refusal(
            ErrorCode::UnknownProduct,
            index,
            format!("no product with SKU `{sku}` can be ordered"),
        ),
        QuoteError::MixedCurrency { index, .. } => {
            refusal(ErrorCode::MixedCurrency, index, err.to_string())
        }
        QuoteError::Overflow => ApiError::conflict(ErrorCode::TotalTooLarge, err.to_string())
            .with_field("lines", err.to_string()),
        QuoteError::Empty => {
            ApiError::invalid_field(ErrorCode::EmptyOrder, "lines", err.to_string())
        }
        QuoteError::Catalog(catalog::CatalogError::Db(db)) => ApiError::from(db),
        QuoteError::Catalog(other) => ApiError::internal(other),
    }
}

/// What the order's memo holds: who, what and how much (for a read before the read model
/// has the order), and a keyed request's hash (for its replay).
fn order_memo(caller: &Caller, priced: &Priced, identity: &Identity) -> MemoValues {
    let mut values = MemoValues::new();
    values.insert(memo::CUSTOMER_EMAIL, caller.email.clone());
    values.insert(memo::TOTAL, priced.total.clone());
    values.insert(memo::CUSTOMER_ID, caller.id);
    values.insert(memo::LINES, priced.lines.clone());
    if let Identity::Keyed { request_sha256, .. } = identity {
        values.insert(memo::REQUEST_SHA256, request_sha256.clone());
    }
    values
}

/// The order an earlier request placed under this id; with `request_sha256`, only if that
/// request was the same.
async fn placed_before(
    state: &AppState,
    order_id: OrderId,
    request_sha256: Option<&str>,
) -> Result<Placed, ApiError> {
    let description = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(ApiError::unavailable)?;
    let memo = description.memo();
    if let Some(expected) = request_sha256 {
        let stored: Option<String> = memo.get(memo::REQUEST_SHA256).map_err(ApiError::internal)?;
        if stored.as_deref() != Some(expected) {
            return Err(ApiError::conflict(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request body",
            )
            .with_field(
                "Idempotency-Key",
                "already used with a different request body",
            ));
        }
    }
    let total: Money = memo
        .get(memo::TOTAL)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("an order without a total in its memo"))?;
    tracing::info!("repeated request answered with the existing order");
    Ok(Placed {
        order_id,
        total,
        replayed: true,
    })
}
