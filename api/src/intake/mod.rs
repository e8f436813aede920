//! The order intake: the one way an order is placed, by `POST /orders` and by a cart's
//! checkout alike.
//!
//! It prices the lines from the catalog (a repeated SKU is one line; a coupon's discount is
//! taken off), fixes the order's id (fresh, derived from an idempotency key, or reserved by a
//! cart), writes the priced order to `orders.intake` and answers: the order is accepted once
//! that row commits. Its PlaceOrder is then started from the row ([`start`]): at once, off
//! the request, by the instance that wrote it, and by any instance's relay should that not
//! happen (Temporal unreachable, the instance gone). So `POST /orders` waits for one insert,
//! not for Temporal, and an order accepted while Temporal is down starts when it is back.
//!
//! The row's id is the idempotency record: a request whose id a row already holds answers
//! the order placed first (the same key with the same body, or the same cart checkout tried
//! again), or a conflict (the same key with another body). Handlers authenticate and parse;
//! the intake decides.

mod start;

pub(crate) use start::relay;

use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::recent::PlacedOrder;
use crate::{ApiError, AppState};
use activities::catalog::{self, QuoteError, Requested};
use activities::orders::intake::{self, Accepted, Earlier, IntakeOrder};
use contracts::cart::Coupon;
use contracts::orders::{OrderLine, PlaceOrderInput, memo, workflow_id};
use contracts::payments::PaymentMethod;
use contracts::shipping::Address;
use contracts::{CustomerId, Money, OrderId};
use temporalio_client::WorkflowDescribeOptions;
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
            // The intake's key (and Temporal's workflow-id uniqueness behind it) is then the
            // lock that makes a repeated request find the first order instead of placing
            // another.
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

/// Places `order` for `caller`: prices it and accepts it (its PlaceOrder starts at once, off
/// the request), or finds the order its identity placed before.
pub(crate) async fn place(
    state: &AppState,
    caller: &Caller,
    order: NewOrder,
) -> Result<Placed, ApiError> {
    let order_id = order.identity.order_id(caller.id);
    tracing::Span::current().record("order.id", tracing::field::display(order_id));
    let priced = price(state, &order.lines, order.coupon.as_ref()).await?;
    let accepted = IntakeOrder {
        input: PlaceOrderInput {
            order_id,
            customer_id: caller.id,
            customer_email: caller.email.clone(),
            customer_phone: order.customer_phone,
            shipping_address: order.shipping_address,
            lines: priced.lines,
            discount: priced.discount,
            total: priced.total,
            payment_method: order.payment_method,
        },
        request_sha256: match &order.identity {
            Identity::Keyed { request_sha256, .. } => Some(request_sha256.clone()),
            Identity::Fresh | Identity::Reserved(_) => None,
        },
    };
    // Followed before its workflow starts, so that its first status cannot slip past.
    state.views.follow_order(order_id);
    match intake::accept(&state.db, &accepted).await? {
        Accepted::New => {
            let input = &accepted.input;
            tracing::info!(total = %input.total, "order placed");
            let placed = Placed {
                order_id,
                total: input.total.clone(),
                replayed: false,
            };
            state.recent.placed(order_id, PlacedOrder::from(input));
            start::start_now(state, accepted);
            Ok(placed)
        }
        Accepted::Before(earlier) => match &order.identity {
            Identity::Fresh => Err(ApiError::internal("a fresh order id was already taken")),
            Identity::Keyed { request_sha256, .. } => {
                placed_before(state, order_id, *earlier, Some(request_sha256)).await
            }
            Identity::Reserved(_) => placed_before(state, order_id, *earlier, None).await,
        },
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

/// The order an earlier request placed under this id; with `request_sha256`, only if that
/// request was the same. Its row says, or for an order from before the intake, its
/// workflow's memo.
async fn placed_before(
    state: &AppState,
    order_id: OrderId,
    earlier: Earlier,
    request_sha256: Option<&str>,
) -> Result<Placed, ApiError> {
    let (stored, total) = match earlier.order {
        Some(order) => (order.request_sha256, order.input.total),
        None => from_memo(state, order_id).await?,
    };
    if let Some(expected) = request_sha256
        && stored.as_deref() != Some(expected)
    {
        return Err(ApiError::conflict(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request body",
        )
        .with_field(
            "Idempotency-Key",
            "already used with a different request body",
        ));
    }
    tracing::info!("repeated request answered with the existing order");
    Ok(Placed {
        order_id,
        total,
        replayed: true,
    })
}

/// A keyed request's hash and the total, from the memo of an order placed before the intake.
async fn from_memo(
    state: &AppState,
    order_id: OrderId,
) -> Result<(Option<String>, Money), ApiError> {
    let description = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(ApiError::unavailable)?;
    let memo = description.memo();
    let stored: Option<String> = memo.get(memo::REQUEST_SHA256).map_err(ApiError::internal)?;
    let total: Money = memo
        .get(memo::TOTAL)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("an order without a total in its memo"))?;
    Ok((stored, total))
}
