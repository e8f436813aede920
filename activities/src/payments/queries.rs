//! The payments service's reads.

use contracts::OrderId;
use entities::payments::payment;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// A payment attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    /// Attempt number.
    pub attempt: i32,
    /// Gateway.
    pub provider: String,
    /// `pending`, `authorized`, `declined`, `captured` or `voided`.
    pub status: String,
    /// Amount authorised, minor units.
    pub amount_minor: i64,
    /// Amount captured, minor units.
    pub captured_minor: i64,
    /// Currency.
    pub currency: String,
    /// Decline code, when declined.
    pub decline_code: Option<String>,
}

/// The payment attempts of an order, first attempt first.
pub async fn payments_of(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Vec<PaymentRow>, DbErr> {
    Ok(payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.0))
        .order_by_asc(payment::Column::Attempt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| PaymentRow {
            attempt: row.attempt,
            provider: row.provider,
            status: row.status,
            amount_minor: row.amount_minor,
            captured_minor: row.captured_minor,
            currency: row.currency,
            decline_code: row.decline_code,
        })
        .collect())
}
