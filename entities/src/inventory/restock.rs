//! `inventory.restocks`: returned goods put back on the shelf, once per refund and SKU.

use sea_orm::entity::prelude::*;

/// Units of one SKU returned with one refund.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "inventory", table_name = "restocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub refund_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku: String,
    pub quantity: i64,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
