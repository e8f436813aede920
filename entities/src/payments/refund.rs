//! `payments.refunds`: money given back from a captured payment.

use sea_orm::entity::prelude::*;

/// One refund.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "payments", table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub provider_ref: Option<String>,
    pub reason: String,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
