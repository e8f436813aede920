//! `shipping.tracking_events`: every tracking event applied to a shipment, once each.

use sea_orm::entity::prelude::*;

/// One tracking event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "shipping", table_name = "tracking_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub status: String,
    pub description: String,
    pub occurred_at: String,
    pub recorded_at: DateTimeWithTimeZone,
    /// Where the parcel was, when the carrier said (`contracts::shipping::Location`).
    pub location: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
