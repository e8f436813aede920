//! The shipping domain: the FulfillShipment workflow's contract and the shipping service's
//! activities (rate shopping, labels, tracking) across carriers.

use crate::inventory::StockLine;
use crate::{Money, OrderId};
use serde::{Deserialize, Serialize};
use std::fmt;
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of FulfillShipment.
pub const FULFILL_SHIPMENT_WORKFLOW: &str = "FulfillShipment";
/// FulfillShipment's signal carrying a carrier's tracking event ([`TrackingEvent`]).
pub const SIGNAL_CARRIER_EVENT: &str = "carrier_event";
/// FulfillShipment's signal asking it to cancel the label before pickup (a reason).
pub const SIGNAL_CANCEL_SHIPMENT: &str = "cancel_shipment";
/// FulfillShipment's query for its live state ([`ShipmentSnapshot`]).
pub const QUERY_SHIPMENT: &str = "shipment";

/// The workflow id of an order's shipment: `shipment-<order id>`.
pub fn workflow_id(order_id: OrderId) -> String {
    format!("shipment-{order_id}")
}

/// Where a parcel goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// Recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// More of it.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, such as `DE`.
    pub country: String,
}

/// What FulfillShipment ships.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    /// The order.
    pub order_id: OrderId,
    /// The workflow that receives [`ShipmentUpdate`]s (the order's PlaceOrder).
    pub notify_workflow_id: String,
    /// Where to.
    pub address: Address,
    /// What is in the parcel.
    pub lines: Vec<StockLine>,
}

/// A carrier's offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Which carrier (`simulated`, `http`).
    pub carrier: String,
    /// The carrier's id of the offer.
    pub rate_id: String,
    /// Service level, such as `standard`.
    pub service: String,
    /// Price of the label.
    pub amount: Money,
    /// Promised days in transit.
    pub estimated_days: u32,
}

/// A bought label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The order.
    pub order_id: OrderId,
    /// Which carrier.
    pub carrier: String,
    /// Service level.
    pub service: String,
    /// The carrier's id of the label.
    pub label_id: String,
    /// Tracking number.
    pub tracking_number: String,
    /// Where to print it.
    pub label_url: String,
    /// How often to ask the carrier for tracking when it sends no webhooks, in seconds.
    pub poll_interval_secs: u64,
    /// After how long without delivery the parcel is declared lost, in seconds.
    pub delivery_deadline_secs: u64,
}

/// Buy a label for an offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyLabel {
    /// The shipment.
    pub request: ShipmentRequest,
    /// The chosen offer.
    pub rate: Rate,
    /// Sent to the carrier; the order id is also the shipment's natural key.
    pub idempotency_key: String,
}

/// Where a parcel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// The label exists; the parcel is not with the carrier yet.
    LabelCreated,
    /// The carrier has the parcel.
    InTransit,
    /// On the van.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// The carrier could not deliver it (lost, refused, address not found).
    Exception,
    /// The label was cancelled before pickup.
    Cancelled,
}

impl ShipmentStatus {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::LabelCreated => "label_created",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::OutForDelivery => "out_for_delivery",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Exception => "exception",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }

    /// True once nothing more will happen to the parcel.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            ShipmentStatus::Delivered | ShipmentStatus::Exception | ShipmentStatus::Cancelled
        )
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tracking event, from a carrier's webhook or from polling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    /// The carrier's id of the event; each is applied once.
    pub event_id: String,
    /// The tracking number it is about.
    pub tracking_number: String,
    /// The parcel's new status.
    pub status: ShipmentStatus,
    /// What happened, in words.
    pub description: String,
    /// When (RFC 3339), as the carrier says.
    pub occurred_at: String,
}

/// A tracking event to record for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTracking {
    /// The order.
    pub order_id: OrderId,
    /// The event.
    pub event: TrackingEvent,
}

/// What FulfillShipment tells the order about its parcel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentUpdate {
    /// The parcel's new status.
    pub status: ShipmentStatus,
    /// Carrier.
    pub carrier: String,
    /// Tracking number (empty before a label exists).
    pub tracking_number: String,
    /// What happened.
    pub description: String,
}

/// How FulfillShipment ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentOutcome {
    /// The order.
    pub order_id: OrderId,
    /// `delivered`, `exception` or `cancelled`.
    pub status: ShipmentStatus,
    /// The label, if one was bought.
    pub label: Option<Label>,
    /// Why, for an exception.
    pub reason: Option<String>,
}

/// FulfillShipment's live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentSnapshot {
    /// Where the parcel stands (`None` before the label).
    pub status: Option<ShipmentStatus>,
    /// The label.
    pub label: Option<Label>,
    /// Tracking events applied, oldest first.
    pub events: Vec<TrackingEvent>,
}

/// Activities of the shipping service (task queue `shipping`).
pub struct ShippingActivities;

#[activity_definitions]
impl ShippingActivities {
    /// Every carrier's offers for the shipment, cheapest first.
    #[activity(name = "QuoteRates")]
    pub fn quote_rates(request: ShipmentRequest) -> Result<Vec<Rate>, ActivityError> {
        unimplemented!()
    }

    /// Buys the label once per order and records the shipment.
    #[activity(name = "BuyLabel")]
    pub fn buy_label(request: BuyLabel) -> Result<Label, ActivityError> {
        unimplemented!()
    }

    /// Asks the carrier for the parcel's tracking events.
    #[activity(name = "TrackShipment")]
    pub fn track_shipment(label: Label) -> Result<Vec<TrackingEvent>, ActivityError> {
        unimplemented!()
    }

    /// Records a tracking event (idempotent on its id) and the shipment's new status.
    #[activity(name = "RecordTracking")]
    pub fn record_tracking(record: RecordTracking) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Cancels the label before pickup.
    #[activity(name = "CancelLabel")]
    pub fn cancel_label(label: Label) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::shipping_activities::{
        BuyLabel, CancelLabel, QuoteRates, RecordTracking, TrackShipment,
    };
}
