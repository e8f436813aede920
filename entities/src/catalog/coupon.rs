//! `catalog.coupons`: discount codes, a percentage or a fixed amount, with an expiry.

use sea_orm::entity::prelude::*;

/// A coupon.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "catalog", table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    /// Percent (1..=100) or minor units.
    pub value: i64,
    /// Currency of a fixed amount.
    pub currency: Option<String>,
    pub expires_at: DateTimeWithTimeZone,
    pub active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
