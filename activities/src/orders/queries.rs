//! The orders service's reads: the order read model as the API shows it.

use contracts::{Currency, Money, OrderId};
use entities::orders::{order, order_line, status_history};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// An order as stored in the read model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    /// The order id.
    pub id: OrderId,
    /// Whose order it is.
    pub customer_id: Option<contracts::CustomerId>,
    /// Who placed it.
    pub customer_email: String,
    /// Their phone, if given.
    pub customer_phone: Option<String>,
    /// Where it ships.
    pub shipping_address: Option<contracts::shipping::Address>,
    /// Current status (snake_case).
    pub status: String,
    /// Why it did not complete, when it did not.
    pub reason: Option<String>,
    /// What it contains.
    pub lines: Vec<OrderLineView>,
    /// Sum of the lines.
    pub total: Money,
    /// Every status it went through, oldest first.
    pub history: Vec<StatusView>,
    /// When it was placed (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderLineView {
    /// Which product.
    pub sku: String,
    /// Its name when ordered.
    pub name: String,
    /// How many units.
    pub quantity: i32,
    /// Price of one unit when ordered.
    pub unit_price: Money,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    /// The status.
    pub status: String,
    /// Why, for failures.
    pub reason: Option<String>,
    /// When it was recorded (RFC 3339).
    pub at: String,
}

fn money(amount_minor: i64, currency: &str) -> Result<Money, DbErr> {
    Currency::new(currency)
        .map(|c| Money::new(amount_minor, c))
        .map_err(|e| DbErr::Custom(format!("stored currency: {e}")))
}

/// The order with its lines and history, if it is in the read model.
pub async fn get_order(db: &DatabaseConnection, id: OrderId) -> Result<Option<OrderView>, DbErr> {
    let Some(row) = order::Entity::find_by_id(id.0).one(db).await? else {
        return Ok(None);
    };
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(id.0))
        .order_by_asc(order_line::Column::LineNo)
        .all(db)
        .await?
        .into_iter()
        .map(|line| {
            Ok(OrderLineView {
                unit_price: money(line.unit_price_minor, &line.currency)?,
                line_total: money(line.line_total_minor, &line.currency)?,
                sku: line.sku,
                name: line.name,
                quantity: line.quantity,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let history = status_history::Entity::find()
        .filter(status_history::Column::OrderId.eq(id.0))
        .order_by_asc(status_history::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(|change| StatusView {
            status: change.status,
            reason: change.reason,
            at: change.recorded_at.to_rfc3339(),
        })
        .collect();
    Ok(Some(OrderView {
        id,
        total: money(row.total_minor, &row.currency)?,
        shipping_address: row
            .shipping_address
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| DbErr::Custom(format!("stored address: {e}")))?,
        customer_phone: row.customer_phone,
        customer_id: row.customer_id.map(contracts::CustomerId),
        customer_email: row.customer_email,
        status: row.status,
        reason: row.reason,
        lines,
        history,
        created_at: row.created_at.to_rfc3339(),
        updated_at: row.updated_at.to_rfc3339(),
    }))
}

/// An order in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    /// The order id.
    pub id: OrderId,
    /// Who placed it.
    pub customer_email: String,
    /// Current status.
    pub status: String,
    /// Why it did not complete, when it did not.
    pub reason: Option<String>,
    /// Its total.
    pub total: Money,
    /// When it was placed (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only orders with this status.
    pub status: Option<String>,
    /// Only orders of this customer (by email).
    pub customer_email: Option<String>,
    /// Only orders of this customer (by id).
    pub customer_id: Option<contracts::CustomerId>,
}

/// One page of orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    /// The orders on this page.
    pub items: Vec<OrderSummary>,
    /// This page's number, from 1.
    pub page: u64,
    /// Orders per page.
    pub per_page: u64,
    /// Orders matching the filter, on all pages.
    pub total: u64,
    /// Number of pages.
    pub total_pages: u64,
}

/// Lists orders matching `filter`, newest first, `per_page` at a time.
pub async fn list_orders(
    db: &DatabaseConnection,
    filter: &OrderFilter,
    page: u64,
    per_page: u64,
) -> Result<OrderPage, DbErr> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let mut query = order::Entity::find();
    if let Some(status) = &filter.status {
        query = query.filter(order::Column::Status.eq(status.clone()));
    }
    if let Some(customer) = &filter.customer_email {
        query = query.filter(order::Column::CustomerEmail.eq(customer.clone()));
    }
    if let Some(customer) = filter.customer_id {
        query = query.filter(order::Column::CustomerId.eq(customer.0));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    let items = rows
        .into_iter()
        .map(|row| {
            Ok(OrderSummary {
                id: OrderId(row.id),
                total: money(row.total_minor, &row.currency)?,
                customer_email: row.customer_email,
                status: row.status,
                reason: row.reason,
                created_at: row.created_at.to_rfc3339(),
                updated_at: row.updated_at.to_rfc3339(),
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(OrderPage {
        items,
        page,
        per_page,
        total,
        total_pages: total.div_ceil(per_page.max(1)),
    })
}
