//! The payments service's reads.

use contracts::payments::{PaymentStatus, RefundStatus};
use contracts::{Currency, Money, OrderId};
use entities::payments::{payment, refund};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// A payment attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    /// Attempt number.
    pub attempt: i32,
    /// Gateway.
    pub provider: String,
    /// Where it stands.
    pub status: PaymentStatus,
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
    payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.0))
        .order_by_asc(payment::Column::Attempt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(PaymentRow {
                attempt: row.attempt,
                provider: row.provider,
                status: stored(&row.status)?,
                amount_minor: row.amount_minor,
                captured_minor: row.captured_minor,
                currency: row.currency,
                decline_code: row.decline_code,
            })
        })
        .collect()
}

/// What was captured for an order and how much of it is left to refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundBalance {
    /// Captured.
    pub captured: Money,
    /// Refunded or being refunded.
    pub refunded: Money,
    /// Still refundable.
    pub refundable: Money,
}

/// The refund balance of an order, or `None` if nothing was captured.
pub async fn refund_balance(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Option<RefundBalance>, DbErr> {
    let Some(captured) = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.0))
        .filter(payment::Column::Status.eq(PaymentStatus::Captured.as_str()))
        .order_by_desc(payment::Column::Attempt)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let currency = Currency::new(&captured.currency)
        .map_err(|e| DbErr::Custom(format!("stored currency: {e}")))?;
    let refunded: i64 = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id.0))
        .filter(refund::Column::Status.is_in(counting_refunds()))
        .all(db)
        .await?
        .iter()
        .map(|r| r.amount_minor)
        .sum();
    Ok(Some(RefundBalance {
        captured: Money::new(captured.captured_minor, currency.clone()),
        refunded: Money::new(refunded, currency.clone()),
        refundable: Money::new(captured.captured_minor - refunded, currency),
    }))
}

/// A stored status, read back.
fn stored<S: std::str::FromStr<Err = String>>(status: &str) -> Result<S, DbErr> {
    status
        .parse()
        .map_err(|err| DbErr::Custom(format!("stored status: {err}")))
}

/// The refund statuses that count against what is left to refund.
fn counting_refunds() -> impl Iterator<Item = &'static str> {
    RefundStatus::ALL
        .into_iter()
        .filter(|status| status.counts())
        .map(RefundStatus::as_str)
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundRow {
    /// The refund id.
    pub id: uuid::Uuid,
    /// How much.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// Why.
    pub reason: String,
    /// When it was asked for (RFC 3339).
    pub created_at: String,
}

/// The refunds of an order, oldest first.
pub async fn refunds_of(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Vec<RefundRow>, DbErr> {
    refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id.0))
        .order_by_asc(refund::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(RefundRow {
                id: row.id,
                amount_minor: row.amount_minor,
                currency: row.currency,
                status: stored(&row.status)?,
                reason: row.reason,
                created_at: row.created_at.to_rfc3339(),
            })
        })
        .collect()
}
