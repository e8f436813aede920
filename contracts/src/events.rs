//! Domain events: what the systems around a shop hear about it (an ERP, a warehouse, a data
//! warehouse, the merchant's integrations), versioned.
//!
//! Inside Emporium, services talk through Temporal; events are how the world outside hears what
//! happened. Each event has a name (`order.created`), a version, an id, a time, the aggregate it
//! is about, and a payload whose JSON Schema [`schemas`] publishes (`GET /events/schemas`).
//!
//! **Compatibility.** Within a version, fields may be added (optional to readers: a consumer
//! ignores what it does not know) and never removed, renamed or retyped. A breaking change is a
//! new version of the event, published beside the old one while consumers move. The stored
//! copies under `contracts/events/` hold every published schema to that rule
//! (`tests/event_schemas.rs`).

use crate::orders::OrderStatus;
use crate::shipping::Location;
use crate::{CustomerId, Money, OrderId, Sku, Uuid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// An order (its id).
    Order,
    /// An order's payment (the order's id).
    Payment,
    /// An order's parcel (the order's id).
    Shipment,
    /// A refund (its id).
    Refund,
    /// A SKU's stock (the SKU).
    Stock,
}

/// Every event type, with its version; named as it is published (`order.created`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// `order.created` v1: [`OrderCreated`].
    #[serde(rename = "order.created")]
    OrderCreated,
    /// `order.confirmed` v1: [`OrderStatusEvent`].
    #[serde(rename = "order.confirmed")]
    OrderConfirmed,
    /// `order.cancelled` v1: [`OrderStatusEvent`].
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// `order.completed` v1: [`OrderStatusEvent`].
    #[serde(rename = "order.completed")]
    OrderCompleted,
    /// `order.needs_attention` v1: [`OrderStatusEvent`].
    #[serde(rename = "order.needs_attention")]
    OrderNeedsAttention,
    /// `payment.authorized` v1: [`PaymentEvent`].
    #[serde(rename = "payment.authorized")]
    PaymentAuthorized,
    /// `payment.captured` v1: [`PaymentEvent`].
    #[serde(rename = "payment.captured")]
    PaymentCaptured,
    /// `payment.failed` v1: [`PaymentFailed`].
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    /// `shipment.label_created` v1: [`ShipmentLabelCreated`].
    #[serde(rename = "shipment.label_created")]
    ShipmentLabelCreated,
    /// `shipment.status_updated` v1: [`ShipmentStatusUpdated`] (the seeds' DeliveryStatusUpdated).
    #[serde(rename = "shipment.status_updated")]
    ShipmentStatusUpdated,
    /// `refund.succeeded` v1: [`RefundEvent`].
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    /// `refund.failed` v1: [`RefundEvent`].
    #[serde(rename = "refund.failed")]
    RefundFailed,
    /// `stock.low` v1: [`StockLow`].
    #[serde(rename = "stock.low")]
    StockLow,
}

impl EventType {
    /// Every type, in the order the schemas list them.
    pub const ALL: [EventType; 13] = [
        EventType::OrderCreated,
        EventType::OrderConfirmed,
        EventType::OrderCancelled,
        EventType::OrderCompleted,
        EventType::OrderNeedsAttention,
        EventType::PaymentAuthorized,
        EventType::PaymentCaptured,
        EventType::PaymentFailed,
        EventType::ShipmentLabelCreated,
        EventType::ShipmentStatusUpdated,
        EventType::RefundSucceeded,
        EventType::RefundFailed,
        EventType::StockLow,
    ];

    /// Its name, `<aggregate>.<what happened>`.
    pub const fn name(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderConfirmed => "order.confirmed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderCompleted => "order.completed",
            EventType::OrderNeedsAttention => "order.needs_attention",
            EventType::PaymentAuthorized => "payment.authorized",
            EventType::PaymentCaptured => "payment.captured",
            EventType::PaymentFailed => "payment.failed",
            EventType::ShipmentLabelCreated => "shipment.label_created",
            EventType::ShipmentStatusUpdated => "shipment.status_updated",
            EventType::RefundSucceeded => "refund.succeeded",
            EventType::RefundFailed => "refund.failed",
            EventType::StockLow => "stock.low",
        }
    }

    /// The type named `name` (`order.created`), if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.name() == name)
    }

    /// What an order reaching `status` tells the world outside, if anything: every way an
    /// order ends without being fulfilled (declined, rejected, failed, cancelled) is
    /// `order.cancelled`, its `status` saying which.
    pub const fn of_order_status(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::Confirmed => Some(EventType::OrderConfirmed),
            OrderStatus::Completed => Some(EventType::OrderCompleted),
            OrderStatus::NeedsAttention => Some(EventType::OrderNeedsAttention),
            OrderStatus::Cancelled
            | OrderStatus::Rejected
            | OrderStatus::PaymentFailed
            | OrderStatus::Failed => Some(EventType::OrderCancelled),
            _ => None,
        }
    }

    /// The NATS subject it is published on: `<prefix>.<aggregate>.<event>`
    /// (`emporium.order.created`).
    pub fn subject(self, prefix: &str) -> String {
        format!("{prefix}.{}", self.name())
    }

    /// Its version: 1 for all of them so far.
    pub const fn version(self) -> u32 {
        1
    }

    /// What it is about.
    pub const fn aggregate(self) -> Aggregate {
        match self {
            EventType::OrderCreated
            | EventType::OrderConfirmed
            | EventType::OrderCancelled
            | EventType::OrderCompleted
            | EventType::OrderNeedsAttention => Aggregate::Order,
            EventType::PaymentAuthorized
            | EventType::PaymentCaptured
            | EventType::PaymentFailed => Aggregate::Payment,
            EventType::ShipmentLabelCreated | EventType::ShipmentStatusUpdated => {
                Aggregate::Shipment
            }
            EventType::RefundSucceeded | EventType::RefundFailed => Aggregate::Refund,
            EventType::StockLow => Aggregate::Stock,
        }
    }

    /// The JSON Schema of its payload (`$defs` holding the types it uses).
    pub fn payload_schema(self) -> serde_json::Value {
        match self {
            EventType::OrderCreated => json_schema::<OrderCreated>(),
            EventType::OrderConfirmed
            | EventType::OrderCancelled
            | EventType::OrderCompleted
            | EventType::OrderNeedsAttention => json_schema::<OrderStatusEvent>(),
            EventType::PaymentAuthorized | EventType::PaymentCaptured => {
                json_schema::<PaymentEvent>()
            }
            EventType::PaymentFailed => json_schema::<PaymentFailed>(),
            EventType::ShipmentLabelCreated => json_schema::<ShipmentLabelCreated>(),
            EventType::ShipmentStatusUpdated => json_schema::<ShipmentStatusUpdated>(),
            EventType::RefundSucceeded | EventType::RefundFailed => json_schema::<RefundEvent>(),
            EventType::StockLow => json_schema::<StockLow>(),
        }
    }
}

/// An event as it is published: the envelope and its payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event<T> {
    /// Unique: consumers deduplicate by it (so does JetStream).
    pub id: Uuid,
    /// Its name, such as `order.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of its payload's schema.
    pub version: u32,
    /// When it happened (RFC 3339).
    pub time: String,
    /// What it is about.
    pub aggregate: Aggregate,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// What happened.
    pub data: T,
}

impl<T> Event<T> {
    /// A new event of type `event` about `aggregate_id`, which happened at `time` (RFC 3339).
    pub fn new(
        event: EventType,
        id: Uuid,
        time: String,
        aggregate_id: impl Into<String>,
        data: T,
    ) -> Self {
        Self {
            id,
            kind: event.name().to_owned(),
            version: event.version(),
            time,
            aggregate: event.aggregate(),
            aggregate_id: aggregate_id.into(),
            data,
        }
    }
}

/// A line of a new order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventLine {
    /// The product.
    pub sku: Sku,
    /// Units.
    pub quantity: u32,
    /// The price of one unit.
    pub unit_price: Money,
}

/// `order.created` v1: an order was accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderCreated {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// What it holds.
    pub lines: Vec<EventLine>,
    /// What the customer pays.
    pub total: Money,
}

/// `order.confirmed`, `order.cancelled`, `order.completed`, `order.needs_attention` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderStatusEvent {
    /// The order.
    pub order_id: OrderId,
    /// Its status now (snake_case).
    pub status: String,
    /// Why, when there is a reason.
    pub reason: Option<String>,
}

/// `payment.authorized`, `payment.captured` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentEvent {
    /// The order paid for.
    pub order_id: OrderId,
    /// How much.
    pub amount: Money,
}

/// `payment.failed` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentFailed {
    /// The order.
    pub order_id: OrderId,
    /// Why (the provider's decline code where it gave one).
    pub reason: String,
}

/// `shipment.label_created` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentLabelCreated {
    /// The order shipped.
    pub order_id: OrderId,
    /// The carrier.
    pub carrier: String,
    /// The parcel's tracking number.
    pub tracking_number: String,
}

/// `shipment.status_updated` v1: the carrier's news about the parcel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentStatusUpdated {
    /// The order shipped.
    pub order_id: OrderId,
    /// The parcel's status (snake_case).
    pub status: String,
    /// The carrier's words.
    pub description: String,
    /// Where the parcel was, when the carrier said.
    pub location: Option<Location>,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
}

/// `refund.succeeded`, `refund.failed` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundEvent {
    /// The refund.
    pub refund_id: Uuid,
    /// The order refunded.
    pub order_id: OrderId,
    /// How much.
    pub amount: Money,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

/// `stock.low` v1: a SKU's availability fell to or below its threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockLow {
    /// The SKU.
    pub sku: Sku,
    /// Units that can still be sold.
    pub available: i64,
    /// The threshold it reached.
    pub threshold: i64,
}

/// Every published schema, by event name: `{"version", "aggregate", "schema"}`.
pub fn schemas() -> BTreeMap<&'static str, serde_json::Value> {
    EventType::ALL
        .into_iter()
        .map(|event| {
            let document = serde_json::json!({
                "version": event.version(),
                "aggregate": event.aggregate(),
                "schema": event.payload_schema(),
            });
            (event.name(), document)
        })
        .collect()
}

/// `T`'s schema as a standalone JSON Schema (2020-12): the types it refers to under `$defs`.
fn json_schema<T: utoipa::ToSchema>() -> serde_json::Value {
    let mut used: Vec<(String, RefOr<Schema>)> = Vec::new();
    T::schemas(&mut used);
    let defs: serde_json::Map<String, serde_json::Value> = used
        .into_iter()
        .map(|(name, schema)| (name, to_json(&schema)))
        .collect();
    let mut schema = to_json(&T::schema());
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$schema".to_owned(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        object.insert("title".to_owned(), T::name().into_owned().into());
        if !defs.is_empty() {
            object.insert("$defs".to_owned(), defs.into());
        }
    }
    schema
}

/// An OpenAPI 3.1 schema as plain JSON Schema: references point into `$defs`.
fn to_json(schema: &impl Serialize) -> serde_json::Value {
    let text = serde_json::to_string(schema).unwrap_or_default();
    serde_json::from_str(&text.replace("#/components/schemas/", "#/$defs/")).unwrap_or_default()
}
