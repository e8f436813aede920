//! `shipping.shipments`: the label bought for an order and where the parcel stands.

use sea_orm::entity::prelude::*;

/// One order's shipment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "shipping", table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    pub carrier: String,
    pub service: String,
    pub label_id: String,
    pub tracking_number: String,
    pub label_url: String,
    pub rate_minor: i64,
    pub currency: String,
    /// `label_created`, `in_transit`, `out_for_delivery`, `delivered`, `exception`, `cancelled`.
    pub status: String,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
