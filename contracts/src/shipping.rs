//! The shipping domain: the FollowParcel and FulfillShipment workflows' contracts and the
//! shipping service's activities (rate shopping, labels, tracking) across carriers.

use crate::inventory::StockLine;
use crate::{Money, OrderId};
use serde::{Deserialize, Serialize};
use std::fmt;
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of FulfillShipment.
pub const FULFILL_SHIPMENT_WORKFLOW: &str = "FulfillShipment";
/// The shipment workflows' signal carrying a carrier's tracking event ([`TrackingEvent`]).
pub const SIGNAL_CARRIER_EVENT: &str = "carrier_event";
/// The shipment workflows' signal asking it to cancel the label before pickup (a reason).
pub const SIGNAL_CANCEL_SHIPMENT: &str = "cancel_shipment";
/// The shipment workflows' query for its live state ([`ShipmentSnapshot`]).
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

/// What an order ships: what a label is bought for (and what FulfillShipment, for orders from
/// before the weeks-long patch, starts from).
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

/// Workflow type name of FollowParcel, which follows an order's parcel from the label the order
/// bought to its end (`shipment-<order id>`, like the FulfillShipment of older orders).
pub const FOLLOW_PARCEL_WORKFLOW: &str = "FollowParcel";

/// What FollowParcel follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelToFollow {
    /// The order.
    pub order_id: OrderId,
    /// The order's workflow, told of the news polling finds (the carrier's webhooks tell it
    /// themselves).
    pub order_workflow_id: String,
    /// The parcel's label.
    pub label: Label,
    /// Where a run that continued as new had got to.
    #[serde(default)]
    pub progress: Option<TrackingProgress>,
}

/// What a FollowParcel run hands to the next when it continues as new: everything it knows
/// about the parcel, so the next run goes on exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingProgress {
    /// Where the parcel stands.
    pub status: ShipmentStatus,
    /// Events applied, oldest first.
    pub events: Vec<TrackingEvent>,
    /// Events received and not yet applied.
    pub inbox: Vec<TrackingEvent>,
    /// A cancellation the order asked for and the run had not handled yet.
    pub cancel_requested: Option<String>,
    /// When the parcel is presumed lost (Unix milliseconds, the workflow's clock).
    pub deadline_at_ms: u64,
    /// How long the next poll of the carrier waits, in seconds.
    pub poll_wait_secs: u64,
    /// Whether news arrived since the last poll (the back-off starts over at the next one).
    pub news_since_poll: bool,
    /// How many runs came before this one.
    pub runs: u32,
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
    /// The longest wait between two polls, in seconds: the wait doubles from
    /// `poll_interval_secs` up to this while nothing happens, and starts over after news
    /// (0 in labels from before the back-off: no back-off).
    #[serde(default)]
    pub poll_max_interval_secs: u64,
}

/// Rate-shop every carrier and buy the cheapest label, once per order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipOrder {
    /// The shipment.
    pub request: ShipmentRequest,
    /// Sent to the carrier; the order id is also the shipment's natural key.
    pub idempotency_key: String,
    /// The workflow's clock when it asked (Unix milliseconds): the simulated carrier runs on
    /// it, so tests that skip time move parcels too; real carriers keep their own.
    pub as_of_ms: u64,
}

/// Ask the carrier for a parcel's tracking events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackParcel {
    /// The parcel's label.
    #[serde(flatten)]
    pub label: Label,
    /// The workflow's clock when it asked (Unix milliseconds), as in [`ShipOrder`].
    #[serde(default)]
    pub as_of_ms: Option<u64>,
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
    /// Every status, in the order a parcel moves through them (then the two other ends).
    pub const ALL: [ShipmentStatus; 6] = [
        ShipmentStatus::LabelCreated,
        ShipmentStatus::InTransit,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::Delivered,
        ShipmentStatus::Exception,
        ShipmentStatus::Cancelled,
    ];

    /// Whether news of `next` moves a parcel that is `self` forward: a final parcel stays put,
    /// an exception can come at any time, any other status only after the current one.
    pub fn moves_forward(self, next: ShipmentStatus) -> bool {
        !self.is_final() && (next > self || next == ShipmentStatus::Exception)
    }

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

    /// News the order acts on while the parcel travels (the pickup, the van). The order
    /// learns the end of the story from its shipment's result, and the label it bought itself.
    pub const fn is_progress(self) -> bool {
        matches!(
            self,
            ShipmentStatus::InTransit | ShipmentStatus::OutForDelivery
        )
    }

    /// True once nothing more will happen to the parcel.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            ShipmentStatus::Delivered | ShipmentStatus::Exception | ShipmentStatus::Cancelled
        )
    }
}

impl std::str::FromStr for ShipmentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShipmentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown shipment status `{s}`"))
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a parcel was when something happened to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    /// A place name, such as `Parcel hub, Kassel, DE`.
    pub name: String,
    /// Latitude in degrees, when the carrier knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Longitude in degrees, when the carrier knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

// Coordinates are carriers' numbers or ours, never NaN: equality is an equivalence.
impl Eq for Location {}

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
    /// Where the parcel was, when the carrier says (absent from events recorded before
    /// carriers reported it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A tracking event to record for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTracking {
    /// The order.
    pub order_id: OrderId,
    /// The event.
    pub event: TrackingEvent,
}

/// What the order hears about its parcel: from its shipment workflow, or straight from the
/// carrier's webhook (`POST /webhooks/carrier/{carrier}` tells both the shipment and the order).
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

impl ShipmentUpdate {
    /// The update a carrier's tracking event makes.
    pub fn of_event(carrier: &str, event: &TrackingEvent) -> Self {
        Self {
            status: event.status,
            carrier: carrier.to_owned(),
            tracking_number: event.tracking_number.clone(),
            description: event.description.clone(),
        }
    }
}

/// How a shipment workflow (FollowParcel, FulfillShipment) ended.
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

/// A shipment workflow's live state.
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
    /// Rate-shops every carrier and buys the cheapest label, once per order (a retry or a
    /// second call returns the stored label), and records the shipment.
    #[activity(name = "ShipOrder")]
    pub fn ship_order(request: ShipOrder) -> Result<Label, ActivityError> {
        unimplemented!()
    }

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
    pub fn track_shipment(request: TrackParcel) -> Result<Vec<TrackingEvent>, ActivityError> {
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
        BuyLabel, CancelLabel, QuoteRates, RecordTracking, ShipOrder, TrackShipment,
    };
}
