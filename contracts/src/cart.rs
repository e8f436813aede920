//! The cart domain: the long-running Cart workflow's contract.
//!
//! One Cart per customer (`cart-<customer id>`), updated by the API with typed updates whose
//! validators refuse bad input before it enters history, answered by the `cart` query, and
//! closed by a checkout in two steps around the order intake every order goes through:
//! `begin_checkout` holds the cart still and reserves the order's id, the API places the order,
//! `end_checkout` closes the cart (or opens it again when the order was refused). Prices and
//! coupons reach the workflow from the catalog through the API, so the workflow itself does
//! no I/O.

use crate::shipping::Address;
use crate::{CustomerId, Money, OrderId, Sku};
use serde::{Deserialize, Serialize};

/// Workflow type name of Cart.
pub const CART_WORKFLOW: &str = "Cart";
/// Cart's query for its content ([`CartView`]).
pub const QUERY_CART: &str = "cart";
/// Add units of a product.
pub const UPDATE_ADD_ITEM: &str = "add_item";
/// Set a line's quantity (0 removes it).
pub const UPDATE_SET_QUANTITY: &str = "set_quantity";
/// Apply a coupon.
pub const UPDATE_APPLY_COUPON: &str = "apply_coupon";
/// Turn the cart into an order in one step (carts checked out before the order intake; the
/// API no longer sends it).
pub const UPDATE_CHECKOUT: &str = "checkout";
/// Hold the cart still for a checkout and reserve the order's id ([`BeginCheckout`]).
pub const UPDATE_BEGIN_CHECKOUT: &str = "begin_checkout";
/// Close the cart with the order it became, or open it again ([`EndCheckout`]).
pub const UPDATE_END_CHECKOUT: &str = "end_checkout";
/// Signal from PlaceOrder: the card of an order this cart became was declined
/// ([`OrderDeclined`]); the cart takes its lines back.
pub const SIGNAL_ORDER_DECLINED: &str = "order_declined";

/// Most units of one product in a cart.
pub const MAX_QUANTITY: u32 = 1000;
/// Most lines in a cart.
pub const MAX_LINES: usize = 50;

/// The workflow id of a customer's cart: `cart-<customer id>`.
pub fn workflow_id(customer_id: CustomerId) -> String {
    format!("cart-{customer_id}")
}

/// A product as the catalog prices it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PricedProduct {
    /// Which product.
    pub sku: Sku,
    /// Its name.
    pub name: String,
    /// Price of one unit.
    pub unit_price: Money,
}

/// Add units of a product to the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddItem {
    /// The product, priced by the catalog.
    pub product: PricedProduct,
    /// How many (1 to [`MAX_QUANTITY`] in total).
    pub quantity: u32,
}

/// Set a line's quantity; 0 removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetQuantity {
    /// Which product.
    pub sku: Sku,
    /// The new quantity (0 to [`MAX_QUANTITY`]).
    pub quantity: u32,
}

/// How a coupon discounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Discount {
    /// A percentage of the subtotal (1 to 100).
    Percent(u32),
    /// A fixed amount (at most the subtotal).
    Fixed(Money),
}

impl Discount {
    /// What it takes off `subtotal`: a percentage rounded down, or the fixed amount up to the
    /// subtotal (nothing when the fixed amount is in another currency).
    pub fn amount_off(&self, subtotal: &Money) -> Money {
        let off = match self {
            Discount::Percent(percent) => subtotal.amount_minor * i64::from(*percent) / 100,
            Discount::Fixed(amount) if amount.currency == subtotal.currency => {
                amount.amount_minor.min(subtotal.amount_minor)
            }
            Discount::Fixed(_) => 0,
        };
        Money::new(off, subtotal.currency.clone())
    }
}

/// A coupon as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coupon {
    /// The code.
    pub code: String,
    /// What it takes off.
    pub discount: Discount,
    /// When it stops working (milliseconds since the Unix epoch).
    pub expires_at_ms: i64,
}

/// A line of a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartLine {
    /// The product.
    pub product: PricedProduct,
    /// How many.
    pub quantity: u32,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// A cart's content and totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartView {
    /// Whose cart.
    pub customer_id: CustomerId,
    /// What is in it.
    pub lines: Vec<CartLine>,
    /// The coupon applied, if any.
    pub coupon: Option<Coupon>,
    /// Sum of the lines.
    pub subtotal: Option<Money>,
    /// What the coupon takes off.
    pub discount: Option<Money>,
    /// What checkout would charge.
    pub total: Option<Money>,
    /// Set once checked out: the order it became.
    pub order_id: Option<OrderId>,
    /// The cart was left alone past its expiry and closed; the next item added starts a new
    /// one.
    #[serde(default)]
    pub expired: bool,
}

/// Turn the cart into an order in one step ([`UPDATE_CHECKOUT`], before the order intake).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    /// Where the parcel goes.
    pub shipping_address: Address,
    /// The payment method to charge.
    pub payment_method: crate::payments::PaymentMethod,
    /// The customer's phone, for SMS.
    pub customer_phone: Option<String>,
    /// The catalog's current prices of every line, so the order is charged today's prices.
    pub prices: Vec<PricedProduct>,
}

/// Hold the cart still for a checkout. The API proposes the order's id; a cart already held
/// for a checkout keeps the id it reserved first, so a checkout tried again after a crash
/// places (or finds) the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginCheckout {
    /// A fresh id for the order, used unless the cart already reserved one.
    pub order_id: OrderId,
}

/// What a held cart holds: the order to place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutTicket {
    /// The order's id, reserved by the cart.
    pub order_id: OrderId,
    /// The lines, at the prices they were added at (the intake prices them again).
    pub lines: Vec<CartLine>,
    /// The coupon applied, if any.
    pub coupon: Option<Coupon>,
}

/// How a checkout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutEnd {
    /// The order was placed: the cart closes.
    Placed,
    /// The order was refused (a product gone, say): the cart opens again.
    Refused,
}

/// End a checkout begun with [`BeginCheckout`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndCheckout {
    /// The id the cart reserved.
    pub order_id: OrderId,
    /// How it ended.
    pub end: CheckoutEnd,
}

/// The card of an order was declined at placement: the cart it came from takes its lines (and
/// its coupon, when the cart has none) back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDeclined {
    /// The order.
    pub order_id: OrderId,
}

/// Input of Cart (and its state when it continues as new).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartInput {
    /// Whose cart.
    pub customer_id: CustomerId,
    /// The customer's email, for reminders and the order.
    pub customer_email: String,
    /// After how long without a change a reminder is sent, in seconds.
    pub reminder_after_secs: u64,
    /// The cart so far (empty for a new cart).
    pub lines: Vec<CartLine>,
    /// The coupon so far.
    pub coupon: Option<Coupon>,
    /// Reminders sent so far (numbers the next reminder's notification id).
    pub reminders_sent: u32,
    /// After how long without a change the cart closes, in seconds (0 in carts started
    /// before carts expired: they never close by themselves).
    #[serde(default)]
    pub expire_after_secs: u64,
    /// When the cart last changed (Unix milliseconds, the workflow's clock), carried across
    /// continue-as-new so an idle spell is measured from the real last change.
    #[serde(default)]
    pub changed_at_ms: Option<u64>,
    /// The customer was already reminded of the cart as it is (carried across
    /// continue-as-new, so one idle spell sends one reminder).
    #[serde(default)]
    pub reminded: bool,
    /// A checkout holds the cart for this order (carried across continue-as-new).
    #[serde(default)]
    pub checkout: Option<OrderId>,
    /// The last order the cart became, with what it held, until its payment is settled: the
    /// cart takes it back if the card is declined (carried across continue-as-new).
    #[serde(default)]
    pub placed: Option<CheckoutTicket>,
}
