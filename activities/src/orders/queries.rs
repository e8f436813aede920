//! The orders service's reads: the order read model as the API shows it.

use contracts::{Currency, Money, OrderId};
use entities::orders::order;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Statement,
};
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

/// The order with its lines and history, if it is in the read model: one round trip, the lines
/// and the history aggregated as JSON next to the order's row.
pub async fn get_order(db: &DatabaseConnection, id: OrderId) -> Result<Option<OrderView>, DbErr> {
    let statement =
        Statement::from_sql_and_values(DbBackend::Postgres, ORDER_WITH_ALL, [id.0.into()]);
    let Some(mut row) = OrderRow::find_by_statement(statement).one(db).await? else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = from_json(std::mem::take(&mut row.lines), "lines")?;
    let history: Vec<StatusRow> = from_json(std::mem::take(&mut row.history), "history")?;
    let order = row;
    Ok(Some(OrderView {
        id,
        total: money(order.total_minor, &order.currency)?,
        shipping_address: order
            .shipping_address
            .map(|a| from_json(a, "address"))
            .transpose()?,
        customer_phone: order.customer_phone,
        customer_id: order.customer_id.map(contracts::CustomerId),
        customer_email: order.customer_email,
        status: order.status,
        reason: order.reason,
        lines: lines
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
            .collect::<Result<_, DbErr>>()?,
        history: history
            .into_iter()
            .map(|change| StatusView {
                status: change.status,
                reason: change.reason,
                at: change.recorded_at.to_rfc3339(),
            })
            .collect(),
        created_at: order.created_at.to_rfc3339(),
        updated_at: order.updated_at.to_rfc3339(),
    }))
}

/// The order's row, its lines (by line number) and its history (oldest first), in one query.
const ORDER_WITH_ALL: &str = r#"
SELECT o.*,
       COALESCE((SELECT json_agg(l ORDER BY l.line_no) FROM orders.order_lines l
                 WHERE l.order_id = o.id), '[]') AS lines,
       COALESCE((SELECT json_agg(h ORDER BY h.seq) FROM orders.status_history h
                 WHERE h.order_id = o.id), '[]') AS history
FROM orders.orders o
WHERE o.id = $1"#;

/// A row of [`ORDER_WITH_ALL`].
#[derive(FromQueryResult)]
struct OrderRow {
    customer_id: Option<uuid::Uuid>,
    customer_email: String,
    status: String,
    reason: Option<String>,
    total_minor: i64,
    currency: String,
    customer_phone: Option<String>,
    shipping_address: Option<serde_json::Value>,
    created_at: chrono::DateTime<chrono::FixedOffset>,
    updated_at: chrono::DateTime<chrono::FixedOffset>,
    lines: serde_json::Value,
    history: serde_json::Value,
}

/// An order line, as `json_agg` renders its row.
#[derive(serde::Deserialize)]
struct LineRow {
    sku: String,
    name: String,
    quantity: i32,
    unit_price_minor: i64,
    line_total_minor: i64,
    currency: String,
}

/// A status change, as `json_agg` renders its row.
#[derive(serde::Deserialize)]
struct StatusRow {
    status: String,
    reason: Option<String>,
    recorded_at: chrono::DateTime<chrono::FixedOffset>,
}

fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, DbErr> {
    serde_json::from_value(value).map_err(|e| DbErr::Custom(format!("stored {what}: {e}")))
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
    /// Only orders placed at or after this time.
    pub placed_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only orders placed before this time.
    pub placed_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only these orders (none match an empty list).
    pub order_ids: Option<Vec<OrderId>>,
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
    if let Some(from) = filter.placed_from {
        query = query.filter(order::Column::CreatedAt.gte(from.fixed_offset()));
    }
    if let Some(before) = filter.placed_before {
        query = query.filter(order::Column::CreatedAt.lt(before.fixed_offset()));
    }
    if let Some(ids) = &filter.order_ids {
        query = query.filter(order::Column::Id.is_in(ids.iter().map(|id| id.0)));
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
