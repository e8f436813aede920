//! `payments.payments`: one payment attempt of an order, keyed by `(order_id, attempt)`.

use sea_orm::entity::prelude::*;

/// A payment attempt and its state at the provider.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "payments", table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
    pub provider: String,
    pub provider_ref: Option<String>,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
    pub currency: String,
    /// `pending`, `authorized`, `declined`, `failed`, `captured` or `voided`.
    pub status: String,
    pub decline_code: Option<String>,
    pub decline_message: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
