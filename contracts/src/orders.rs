//! The orders domain: the PlaceOrder workflow's contract and the orders service's activities.

use crate::{Money, OrderId, Sku};
use serde::{Deserialize, Serialize};
use std::fmt;
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of PlaceOrder, as the Temporal Web UI and visibility queries show it.
pub const PLACE_ORDER_WORKFLOW: &str = "PlaceOrder";
/// PlaceOrder's query for its live state ([`OrderSnapshot`]).
pub const QUERY_STATUS: &str = "status";
/// PlaceOrder's update that cancels the order ([`CancelRequest`] → [`OrderOutcome`]).
pub const UPDATE_CANCEL: &str = "cancel";
/// PlaceOrder's update that decides a manual review ([`ReviewDecision`] → [`OrderStatus`]).
pub const UPDATE_REVIEW: &str = "review";
/// PlaceOrder's update by which an operator settles an order that needs attention
/// ([`Resolution`] → [`OrderStatus`]).
pub const UPDATE_RESOLVE: &str = "resolve";
/// PlaceOrder's signal carrying a payment provider's event ([`PaymentEvent`]).
pub const SIGNAL_PAYMENT_EVENT: &str = "payment_event";
/// PlaceOrder's signal from its FulfillShipment child
/// ([`ShipmentUpdate`](crate::shipping::ShipmentUpdate)).
pub const SIGNAL_SHIPMENT_UPDATE: &str = "shipment_update";

/// Memo keys PlaceOrder is started with, shown in the Web UI.
pub mod memo {
    /// The customer's email address.
    pub const CUSTOMER_EMAIL: &str = "customer_email";
    /// The order total, as [`Money`](crate::Money).
    pub const TOTAL: &str = "total";
    /// SHA-256 of the request that created the order under an `Idempotency-Key`.
    pub const REQUEST_SHA256: &str = "request_sha256";
    /// Whose order it is ([`CustomerId`](crate::CustomerId)).
    pub const CUSTOMER_ID: &str = "customer_id";
    /// What it contains ([`OrderLine`](super::OrderLine)s): with the rest of the memo, the
    /// API shows an order from its workflow's description in the moment before the read model
    /// has it, without asking a worker.
    pub const LINES: &str = "lines";
}

/// Search attributes PlaceOrder keeps current, so operators can list orders in the Web UI
/// (`OrderStatus="awaiting_review"`). They must be registered on the namespace before use;
/// `emporium migrate` and `emporium dev` do it.
pub mod search {
    use super::{OrderStatus, PlaceOrderInput};
    use temporalio_common::search_attributes::{
        SearchAttributeKey, SearchAttributeUpdate, SearchAttributes,
    };

    /// The order's status (snake_case), kept current by the workflow.
    pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
    /// Whose order it is (the customer's id).
    pub const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
    /// The order total in minor units.
    pub const ORDER_TOTAL_CENTS: SearchAttributeKey<i64> =
        SearchAttributeKey::int("OrderTotalCents");

    /// The parcel's tracking number, once it has a label: a customer calling with a parcel
    /// number finds their order in the Web UI (`TrackingNumber = "..."`).
    pub const TRACKING_NUMBER: SearchAttributeKey<String> =
        SearchAttributeKey::keyword("TrackingNumber");

    /// `(name, type)` of every custom search attribute, as `temporal server start-dev
    /// --search-attribute NAME=TYPE` spells it.
    pub const ALL: [(&str, &str); 4] = [
        ("OrderStatus", "Keyword"),
        ("CustomerId", "Keyword"),
        ("OrderTotalCents", "Int"),
        ("TrackingNumber", "Keyword"),
    ];

    /// A new order's attributes: `pending`, whose, how much.
    pub fn initial(order: &PlaceOrderInput) -> [SearchAttributeUpdate; 3] {
        [
            ORDER_STATUS.value_set(OrderStatus::Pending.as_str().to_owned()),
            CUSTOMER_ID.value_set(order.customer_id.to_string()),
            ORDER_TOTAL_CENTS.value_set(order.total.amount_minor),
        ]
    }

    /// The same, for whoever starts the order: set at its start, an order is found in the Web
    /// UI (by customer, by total) from its first moment, even before a worker picks it up,
    /// and the workflow need not upsert them.
    pub fn at_start(order: &PlaceOrderInput) -> SearchAttributes {
        SearchAttributes::new(initial(order))
    }
}

/// What every order's workflow id starts with, before the order's id.
pub const WORKFLOW_ID_PREFIX: &str = "order-";

/// The workflow id of an order's PlaceOrder run: `order-<id>`. One order, one workflow id, so
/// an order can never be started twice.
pub fn workflow_id(order_id: OrderId) -> String {
    format!("{WORKFLOW_ID_PREFIX}{order_id}")
}

/// Where an order stands. Serialized in snake_case, which is also how the API, the read model
/// and the OrderStatus search attribute spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted by the API, nothing done yet.
    Pending,
    /// Stock is held for every line.
    Reserved,
    /// Above the risk threshold: waiting for an operator to approve or reject it.
    AwaitingReview,
    /// Payment is authorised and the order is confirmed to the customer.
    Confirmed,
    /// A shipping label was bought; the parcel waits for pickup.
    LabelCreated,
    /// The carrier has the parcel: payment captured, stock committed.
    Shipped,
    /// The parcel is on the van.
    OutForDelivery,
    /// The parcel was delivered.
    Delivered,
    /// The parcel left with the carrier but its shipment ended abnormally (the tracking
    /// workflow failed, was terminated or timed out): the money is captured and the stock
    /// committed, and an operator must retry the shipment, refund or mark it delivered.
    NeedsAttention,
    /// Delivered and paid: the order is done.
    Completed,
    /// The carrier could not deliver; the money was refunded.
    Refunded,
    /// Refused before any money moved (for example: not enough stock).
    Rejected,
    /// The payment was declined; the reservation was released.
    PaymentFailed,
    /// Cancelled before it completed; everything done was undone.
    Cancelled,
    /// An unexpected failure; everything done was undone.
    Failed,
}

impl OrderStatus {
    /// Every status, in the order an order can reach them.
    pub const ALL: [OrderStatus; 15] = [
        OrderStatus::Pending,
        OrderStatus::Reserved,
        OrderStatus::AwaitingReview,
        OrderStatus::Confirmed,
        OrderStatus::LabelCreated,
        OrderStatus::Shipped,
        OrderStatus::OutForDelivery,
        OrderStatus::Delivered,
        OrderStatus::NeedsAttention,
        OrderStatus::Completed,
        OrderStatus::Refunded,
        OrderStatus::Rejected,
        OrderStatus::PaymentFailed,
        OrderStatus::Cancelled,
        OrderStatus::Failed,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Reserved => "reserved",
            OrderStatus::AwaitingReview => "awaiting_review",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::LabelCreated => "label_created",
            OrderStatus::Shipped => "shipped",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::Delivered => "delivered",
            OrderStatus::NeedsAttention => "needs_attention",
            OrderStatus::Completed => "completed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Rejected => "rejected",
            OrderStatus::PaymentFailed => "payment_failed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Failed => "failed",
        }
    }

    /// True once the order will not change any more.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Refunded
                | OrderStatus::Rejected
                | OrderStatus::PaymentFailed
                | OrderStatus::Cancelled
                | OrderStatus::Failed
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown order status `{s}`"))
    }
}

/// One line of an order, priced by the catalog when the order was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    /// What is ordered.
    pub sku: Sku,
    /// The product's name at the time of the order.
    pub name: String,
    /// How many units (at least 1).
    pub quantity: u32,
    /// Price of one unit at the time of the order.
    pub unit_price: Money,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// Input of PlaceOrder: a priced order, ready to be fulfilled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderInput {
    /// The order's id; the workflow id is [`workflow_id`] of it.
    pub order_id: OrderId,
    /// Whose order it is.
    pub customer_id: crate::CustomerId,
    /// Who placed it.
    pub customer_email: String,
    /// The customer's phone (E.164), for SMS when email fails.
    pub customer_phone: Option<String>,
    /// Where the parcel goes.
    pub shipping_address: crate::shipping::Address,
    /// What was ordered.
    pub lines: Vec<OrderLine>,
    /// A coupon's discount, already taken off the total.
    #[serde(default)]
    pub discount: Option<Money>,
    /// What the customer pays: the sum of the line totals, less the discount.
    pub total: Money,
    /// The payment method to charge: a payment-provider token (never a card number).
    pub payment_method: crate::payments::PaymentMethod,
}

/// How PlaceOrder ended. Business outcomes (rejected, payment failed) are results, not
/// workflow failures: the workflow did its job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderOutcome {
    /// The order.
    pub order_id: OrderId,
    /// Its final status.
    pub status: OrderStatus,
    /// Why it did not complete, when it did not.
    pub reason: Option<String>,
}

/// The live state of an order, answered by PlaceOrder's `status` query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    /// The order as placed.
    pub order: PlaceOrderInput,
    /// Where it stands now.
    pub status: OrderStatus,
    /// Why it did not complete, when it did not.
    pub reason: Option<String>,
    /// The review decision, once an operator made it.
    pub review: Option<ReviewDecision>,
    /// Why cancellation was asked for, if it was.
    pub cancel_requested: Option<CancelRequest>,
    /// Payment provider events received, each once.
    pub payment_events: Vec<PaymentEvent>,
    /// True once the payment was captured: from then on the order can no longer be cancelled.
    pub payment_captured: bool,
    /// The parcel's latest news, once it has a label.
    pub shipment: Option<crate::shipping::ShipmentUpdate>,
}

/// What an operator does about an order that needs attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionAction {
    /// Follow the parcel again with a new shipment run (same label, a fresh deadline).
    RetryShipment,
    /// Give the customer their money back in full; the order ends `refunded`.
    Refund,
    /// The parcel arrived (the carrier or the customer said so): the order completes.
    MarkDelivered,
}

/// An operator's decision on an order that needs attention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What to do.
    pub action: ResolutionAction,
    /// Who decided.
    pub operator: String,
    /// Why, for the record.
    pub note: Option<String>,
}

/// The orders service's terms for an order, answered when it is opened: how long an order
/// may wait for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTerms {
    /// How long an order that needs attention waits for an operator before it is refunded in
    /// full, in seconds.
    pub attention_timeout_secs: u64,
}

/// An operator's decision on an order waiting for review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    /// Approve (go on to payment) or reject (release the stock, end `rejected`).
    pub approve: bool,
    /// Who decided.
    pub reviewer: String,
    /// Why, for the record.
    pub note: Option<String>,
}

/// A request to cancel an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Why, for the record and the customer.
    pub reason: String,
    /// Who asked (customer, operator).
    pub requested_by: String,
}

/// An event a payment provider reported about an order's payment (delivered by its webhook).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The provider's event id; an event is applied once however often it is delivered.
    pub event_id: String,
    /// The provider's event type, such as `payment_intent.canceled`.
    pub event_type: String,
    /// The provider's id of the payment.
    pub provider_ref: String,
    /// A human-readable detail, such as a failure message.
    pub detail: Option<String>,
}

impl PaymentEvent {
    /// True for events that mean the authorised money is gone (cancelled or failed at the
    /// provider): an order that has not captured yet cannot go on.
    pub fn revokes_authorization(&self) -> bool {
        matches!(
            self.event_type.as_str(),
            "payment_intent.canceled" | "payment_intent.payment_failed"
        )
    }
}

/// A status change for the order read model. `seq` numbers an order's changes from 0, so a
/// retried write is recognised and ignored, and an older change can never overwrite a newer one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The order.
    pub order_id: OrderId,
    /// Position of this change in the order's history (0 is the initial `pending`).
    pub seq: u32,
    /// The new status.
    pub status: OrderStatus,
    /// Why, when the status is a failure.
    pub reason: Option<String>,
}

/// Activities of the orders service (task queue `orders`): the order read model.
pub struct OrdersActivities;

#[activity_definitions]
impl OrdersActivities {
    /// Writes the order, its lines and its first status (`pending`) to the read model, like
    /// [`Self::record_order`], and answers the orders service's terms for it.
    #[activity(name = "OpenOrder")]
    pub fn open_order(order: PlaceOrderInput) -> Result<OrderTerms, ActivityError> {
        unimplemented!()
    }

    /// Writes the order, its lines and its first status (`pending`) to the read model.
    /// Idempotent on the order id.
    #[activity(name = "RecordOrder")]
    pub fn record_order(order: PlaceOrderInput) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Appends a status change to the order's history and makes it the current status.
    /// Idempotent on `(order_id, seq)`.
    #[activity(name = "SetOrderStatus")]
    pub fn set_order_status(change: StatusChange) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::orders_activities::{OpenOrder, RecordOrder, SetOrderStatus};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            let json = serde_json::to_value(status).expect("serializes");
            assert_eq!(json, serde_json::json!(status.as_str()));
        }
    }

    #[test]
    fn the_workflow_id_is_derived_from_the_order_id() {
        let id: OrderId = "0190b7e4-8f7a-7c3e-9a4e-2f9d1c0b5a11"
            .parse()
            .expect("uuid");
        assert_eq!(
            workflow_id(id),
            "order-0190b7e4-8f7a-7c3e-9a4e-2f9d1c0b5a11"
        );
    }
}
