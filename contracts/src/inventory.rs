//! The inventory service's contract: reserving, releasing and committing stock.

use crate::{OrderId, Sku};
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Application-failure type of a reservation refused for lack of stock. Non-retryable: retrying
/// will not create stock. Its details are an [`OutOfStock`].
pub const OUT_OF_STOCK: &str = "OutOfStock";

/// Application-failure type of an allocation or commit whose reservation is gone (it expired
/// and was reclaimed, and the stock was sold meanwhile). Non-retryable.
pub const RESERVATION_LOST: &str = "ReservationLost";

/// Where one SKU's reservation for one order stands.
///
/// ```text
/// held ──allocate──► allocated ──commit──► committed
///   │                    │
///   └──release/expiry──► released ◄──release (compensation)
/// ```
///
/// Only a `held` reservation expires: once the order is confirmed its units are `allocated`
/// and no sweep can take them. A `released` one may be taken again by a late allocation or
/// commit if the stock is still free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Held for an order not confirmed yet; expires.
    Held,
    /// Allocated to a confirmed order; never expires.
    Allocated,
    /// Sold: the units left the warehouse.
    Committed,
    /// Given back.
    Released,
}

impl ReservationStatus {
    /// Every status.
    pub const ALL: [ReservationStatus; 4] = [
        ReservationStatus::Held,
        ReservationStatus::Allocated,
        ReservationStatus::Committed,
        ReservationStatus::Released,
    ];

    /// The snake_case name, as the database stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Allocated => "allocated",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Released => "released",
        }
    }

    /// Whether the units still count as reserved in the stock row.
    pub const fn holds_stock(self) -> bool {
        matches!(self, ReservationStatus::Held | ReservationStatus::Allocated)
    }
}

impl std::str::FromStr for ReservationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReservationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown reservation status `{s}`"))
    }
}

/// A quantity of one SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    /// Which product.
    pub sku: Sku,
    /// How many units (at least 1).
    pub quantity: u32,
}

/// Hold stock for every line of an order, all or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveStock {
    /// The order the stock is held for; with the SKU, the reservation's natural key.
    pub order_id: OrderId,
    /// What to hold.
    pub lines: Vec<StockLine>,
}

/// Stock held for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The order.
    pub order_id: OrderId,
    /// What is held.
    pub lines: Vec<StockLine>,
}

/// Details of an [`OUT_OF_STOCK`] failure: the first line that could not be held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfStock {
    /// The SKU that ran short.
    pub sku: Sku,
    /// How many units were asked for.
    pub requested: u32,
    /// How many units were available.
    pub available: i64,
}

/// Put returned goods back into stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restock {
    /// The refund the goods came back with: the restock's natural key.
    pub refund_id: uuid::Uuid,
    /// What came back.
    pub lines: Vec<StockLine>,
}

/// Workflow type of an admin's stock adjustment, on the inventory queue: the API may not write
/// the inventory's tables, so it asks the inventory service through this workflow.
pub const ADJUST_STOCK_WORKFLOW: &str = "AdjustStock";

/// The workflow id of a stock adjustment.
pub fn stock_adjustment_workflow_id(adjustment_id: uuid::Uuid) -> String {
    format!("stock-adjustment-{adjustment_id}")
}

/// Change a SKU's units on hand (an admin's correction, a delivery from a supplier).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustStock {
    /// The adjustment's natural key: applying it twice changes the stock once.
    pub adjustment_id: uuid::Uuid,
    /// Which product (a new SKU starts at 0 units).
    pub sku: Sku,
    /// Units to add (positive) or remove (negative), not 0.
    pub delta: i64,
    /// Why, kept in the adjustment log.
    pub reason: String,
    /// Who asked (kept in the adjustment log and the audit log).
    pub actor: String,
}

/// How a stock adjustment ended, with the SKU's units afterwards (or as they stand, when
/// refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StockAdjustment {
    /// Applied (or applied before, by the same adjustment id).
    Adjusted {
        /// Units in the warehouse.
        on_hand: i64,
        /// Units held by reservations.
        reserved: i64,
    },
    /// Refused: it would leave fewer units than are reserved (or fewer than 0).
    BelowReserved {
        /// Units in the warehouse.
        on_hand: i64,
        /// Units held by reservations.
        reserved: i64,
    },
}

/// Activities of the inventory service (task queue `inventory`).
pub struct InventoryActivities;

#[activity_definitions]
impl InventoryActivities {
    /// Holds stock for every line, or for none: fails with [`OUT_OF_STOCK`] if any line cannot
    /// be held. Reserving an order twice is a no-op.
    #[activity(name = "ReserveStock")]
    pub fn reserve_stock(request: ReserveStock) -> Result<Reservation, ActivityError> {
        unimplemented!()
    }

    /// The order is confirmed: what is held for it becomes allocated to it, with no expiry,
    /// until it is committed at pickup or released by a compensation; the expiry sweep never
    /// takes allocated stock. Idempotent. If the hold expired and was reclaimed before, the
    /// stock is taken again if it is still there; otherwise it fails with [`RESERVATION_LOST`].
    #[activity(name = "AllocateStock")]
    pub fn allocate_stock(order_id: OrderId) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Gives back what is held or allocated for the order. Releasing twice, or releasing an
    /// order that holds nothing, is a no-op.
    #[activity(name = "ReleaseStock")]
    pub fn release_stock(order_id: OrderId) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Turns what is held for the order into a sale: stock leaves the warehouse. Idempotent.
    /// If the hold expired and was reclaimed, the stock is taken again if it is still there;
    /// otherwise it fails with [`RESERVATION_LOST`].
    #[activity(name = "CommitStock")]
    pub fn commit_stock(order_id: OrderId) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Puts returned goods back on the shelf, once per refund.
    #[activity(name = "Restock")]
    pub fn restock(request: Restock) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Changes a SKU's units on hand, never below what is reserved; once per adjustment id.
    #[activity(name = "AdjustStock")]
    pub fn adjust_stock(request: AdjustStock) -> Result<StockAdjustment, ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::inventory_activities::{
        AdjustStock, AllocateStock, CommitStock, ReleaseStock, ReserveStock, Restock,
    };
}
