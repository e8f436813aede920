//! `inventory.reservations`: stock held for an order, keyed by `(order_id, sku)`.

use sea_orm::entity::prelude::*;

/// Units of one SKU held (or allocated, committed, released) for one order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "inventory", table_name = "reservations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku: String,
    pub quantity: i64,
    /// `held`, `allocated`, `committed` or `released`
    /// (`contracts::inventory::ReservationStatus`).
    pub status: String,
    /// When a `held` reservation may be reclaimed; none once allocated.
    pub expires_at: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
