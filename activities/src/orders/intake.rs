//! The order intake (`orders.intake`): each order the API accepted, before and after its
//! PlaceOrder starts.
//!
//! The API writes an order here and answers; the workflow is started from the row (by the
//! writer at once, by a relay if that did not happen) and the row marked started. Its id
//! doubles as the idempotency record: a second request under the same id finds the first
//! request's row ([`accept`] answers [`Accepted::Before`]). Rows written before the intake
//! existed (migration 20) have no input: their orders were started by then.

use contracts::OrderId;
use contracts::orders::PlaceOrderInput;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};
use std::time::Duration;

/// An order accepted by the API, as its row holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeOrder {
    /// PlaceOrder's input: the order as priced.
    pub input: PlaceOrderInput,
    /// Hex SHA-256 of a keyed request (who asked and what), to tell its replay from a
    /// key used again for another order.
    pub request_sha256: Option<String>,
}

/// An earlier request's row under the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// The order as accepted, or `None` for an order placed before the intake existed (its
    /// workflow's memo has what the row lacks).
    pub order: Option<IntakeOrder>,
    /// Its workflow has been started.
    pub started: bool,
}

/// What [`accept`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The order is written: this request placed it.
    New,
    /// An earlier request holds the id.
    Before(Box<Earlier>),
}

/// How many accepted orders wait for their workflow, and how long the oldest has waited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiting {
    /// Orders not yet started.
    pub orders: u64,
    /// Age of the oldest of them (zero when none waits).
    pub oldest: Duration,
}

fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn json_of(input: &PlaceOrderInput) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(input).map_err(|err| DbErr::Json(err.to_string()))
}

/// The order a row holds (`input`, `request_sha256`), if it has one.
fn intake_order(row: &QueryResult) -> Result<Option<IntakeOrder>, DbErr> {
    let Some(input) = row.try_get::<Option<serde_json::Value>>("", "input")? else {
        return Ok(None);
    };
    Ok(Some(IntakeOrder {
        input: serde_json::from_value(input).map_err(|err| DbErr::Json(err.to_string()))?,
        request_sha256: row.try_get("", "request_sha256")?,
    }))
}

fn earlier(row: &QueryResult) -> Result<Earlier, DbErr> {
    Ok(Earlier {
        order: intake_order(row)?,
        started: row.try_get("", "started")?,
    })
}

const EARLIER: &str = "SELECT request_sha256, input, started_at IS NOT NULL AS started
                       FROM orders.intake WHERE order_id = $1";

/// Writes `order` unless its id is taken; then answers the row that holds it.
pub async fn accept(db: &impl ConnectionTrait, order: &IntakeOrder) -> Result<Accepted, DbErr> {
    let input = &order.input;
    let inserted = db
        .execute(statement(
            "INSERT INTO orders.intake (order_id, customer_id, request_sha256, input)
             VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
            [
                input.order_id.0.into(),
                input.customer_id.0.into(),
                order.request_sha256.clone().into(),
                json_of(input)?.into(),
            ],
        ))
        .await?
        .rows_affected();
    if inserted == 1 {
        return Ok(Accepted::New);
    }
    let row = db
        .query_one(statement(EARLIER, [input.order_id.0.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("intake of order {}", input.order_id)))?;
    earlier(&row).map(|earlier| Accepted::Before(Box::new(earlier)))
}

/// The row of `order_id`, if the API accepted that order.
pub async fn find(db: &impl ConnectionTrait, order_id: OrderId) -> Result<Option<Earlier>, DbErr> {
    db.query_one(statement(EARLIER, [order_id.0.into()]))
        .await?
        .map(|row| earlier(&row))
        .transpose()
}

/// Marks `order_id`'s workflow started (again is harmless).
pub async fn started(db: &impl ConnectionTrait, order_id: OrderId) -> Result<(), DbErr> {
    db.execute(statement(
        "UPDATE orders.intake SET started_at = now()
         WHERE order_id = $1 AND started_at IS NULL",
        [order_id.0.into()],
    ))
    .await?;
    Ok(())
}

/// At most `limit` orders accepted at least `older_than` ago whose workflow has not been
/// marked started, oldest first.
pub async fn unstarted(
    db: &impl ConnectionTrait,
    older_than: Duration,
    limit: i64,
) -> Result<Vec<IntakeOrder>, DbErr> {
    let rows = db
        .query_all(statement(
            "SELECT request_sha256, input FROM orders.intake
             WHERE started_at IS NULL AND accepted_at < now() - make_interval(secs => $1)
             ORDER BY accepted_at LIMIT $2",
            [older_than.as_secs_f64().into(), limit.into()],
        ))
        .await?;
    // A row not started always has its input (the table's check).
    rows.iter()
        .filter_map(|row| intake_order(row).transpose())
        .collect()
}

/// How many accepted orders wait for their workflow, and the oldest's age.
pub async fn waiting(db: &impl ConnectionTrait) -> Result<Waiting, DbErr> {
    let row = db
        .query_one(statement(
            "SELECT count(*) AS orders,
                    COALESCE(EXTRACT(EPOCH FROM now() - min(accepted_at)), 0)::float8 AS oldest
             FROM orders.intake WHERE started_at IS NULL",
            [],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("intake count".to_owned()))?;
    let orders: i64 = row.try_get("", "orders")?;
    let oldest: f64 = row.try_get("", "oldest")?;
    Ok(Waiting {
        orders: u64::try_from(orders).unwrap_or(0),
        oldest: Duration::try_from_secs_f64(oldest.max(0.0)).unwrap_or_default(),
    })
}
