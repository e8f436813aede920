//! The shipping service's reads: a shipment's tracking, and which order a parcel belongs to.

use contracts::OrderId;
use entities::shipping::{shipment, tracking_event};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// A shipment and its tracking history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShipmentView {
    /// The order.
    pub order_id: OrderId,
    /// Carrier.
    pub carrier: String,
    /// Service level.
    pub service: String,
    /// Tracking number.
    pub tracking_number: String,
    /// Where to print the label.
    pub label_url: String,
    /// Where the parcel stands.
    pub status: String,
    /// Every tracking event, in the order it was recorded.
    pub events: Vec<TrackingView>,
}

/// One tracking event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrackingView {
    /// Status.
    pub status: String,
    /// What happened.
    pub description: String,
    /// When, as the carrier says.
    pub occurred_at: String,
    /// Where the parcel was, when the carrier said.
    pub location: Option<contracts::shipping::Location>,
}

/// The order's shipment, if it has one.
pub async fn shipment_of(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Option<ShipmentView>, DbErr> {
    let Some(row) = shipment::Entity::find_by_id(order_id.0).one(db).await? else {
        return Ok(None);
    };
    let events = tracking_event::Entity::find()
        .filter(tracking_event::Column::OrderId.eq(order_id.0))
        .order_by_asc(tracking_event::Column::RecordedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|event| TrackingView {
            status: event.status,
            description: event.description,
            occurred_at: event.occurred_at,
            location: event
                .location
                .and_then(|place| serde_json::from_value(place).ok()),
        })
        .collect();
    Ok(Some(ShipmentView {
        order_id,
        carrier: row.carrier,
        service: row.service,
        tracking_number: row.tracking_number,
        label_url: row.label_url,
        status: row.status,
        events,
    }))
}

/// The orders whose parcels carry `tracking_number` (whatever the carrier: one, as a rule).
pub async fn orders_with_tracking_number(
    db: &DatabaseConnection,
    tracking_number: &str,
) -> Result<Vec<OrderId>, DbErr> {
    Ok(shipment::Entity::find()
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .all(db)
        .await?
        .into_iter()
        .map(|row| OrderId(row.order_id))
        .collect())
}

/// The order a carrier's parcel belongs to.
pub async fn order_of_parcel(
    db: &DatabaseConnection,
    carrier: &str,
    tracking_number: &str,
) -> Result<Option<OrderId>, DbErr> {
    Ok(shipment::Entity::find()
        .filter(shipment::Column::Carrier.eq(carrier))
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .one(db)
        .await?
        .map(|row| OrderId(row.order_id)))
}
