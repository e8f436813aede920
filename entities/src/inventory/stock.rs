//! `inventory.stock`: units on hand and units held by reservations, per SKU.
//! `on_hand - reserved` is what can still be sold; the database refuses a negative value.

use sea_orm::entity::prelude::*;

/// Stock of one SKU.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "inventory", table_name = "stock")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
