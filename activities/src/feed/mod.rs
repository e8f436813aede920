//! The change feed: what happened to each order and for each customer, in order, for live
//! clients.
//!
//! This module owns the `feed` schema. Services append with [`append`] (or
//! [`append_for_customer`], for news about no order) inside the transaction of the change they
//! report, as they do with the audit log, so an entry exists exactly when its change committed
//! and never for a rolled-back or repeated one. The database numbers an order's entries
//! `1, 2, 3…` without gaps (`seq`), and a customer's across all of their orders the same way
//! (`customer_seq`; whose an order is comes from [`own`], written with the order's first
//! entry), and announces each entry on [`CHANNEL`] once it commits; the API reads with
//! [`after`] and [`by_id`]. [`presence`] keeps which customers hold a live connection. Nothing
//! here ever calls Temporal: a thousand clients watching an order cost the workflows nothing.

pub mod presence;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};
use serde::Serialize;
use uuid::Uuid;

/// The Postgres channel each committed entry is announced on (payload: the entry's id), as
/// the migration's trigger names it.
pub const CHANNEL: &str = "emporium_feed";

/// Most entries one read returns.
pub const PAGE: u64 = 500;

/// What an entry reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// The order's status changed (`{"status", "reason", "from"}`).
    Status,
    /// The carrier reported on the parcel (`{"status", "description", "occurred_at",
    /// "location"}`).
    Tracking,
    /// Money went back (`{"refund_id", "amount"}`).
    Refund,
    /// The customer was told (`{"template", "channel", "subject", "text"}`).
    Notification,
    /// A support conversation about the order: a message, or its closing
    /// (`{"event": "message", "message": {…}}`, `{"event": "closed", …}`).
    Support,
}

impl FeedKind {
    /// The snake_case name, as the table stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            FeedKind::Status => "status",
            FeedKind::Tracking => "tracking",
            FeedKind::Refund => "refund",
            FeedKind::Notification => "notification",
            FeedKind::Support => "support",
        }
    }
}

impl std::str::FromStr for FeedKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            FeedKind::Status,
            FeedKind::Tracking,
            FeedKind::Refund,
            FeedKind::Notification,
            FeedKind::Support,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| format!("unknown feed kind `{s}`"))
    }
}

/// One entry of the feed: about an order (and its customer), or about a customer only.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedEntry {
    /// Its place in the whole feed (increasing across every order).
    pub id: i64,
    /// The order, when it is about one.
    pub order_id: Option<Uuid>,
    /// Its place in the order's feed: 1, 2, 3… without gaps. Resume after the last you saw.
    pub seq: Option<i64>,
    /// The customer it is for, when known (every order placed since the feed has one).
    pub customer_id: Option<Uuid>,
    /// Its place in the customer's feed, across all of their orders: 1, 2, 3… without gaps.
    pub customer_seq: Option<i64>,
    /// What it reports.
    pub kind: FeedKind,
    /// The details, by kind.
    pub body: serde_json::Value,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

#[derive(FromQueryResult)]
struct Row {
    id: i64,
    order_id: Option<Uuid>,
    seq: Option<i32>,
    customer_id: Option<Uuid>,
    customer_seq: Option<i32>,
    kind: String,
    body: serde_json::Value,
    recorded_at: chrono::DateTime<chrono::FixedOffset>,
}

impl TryFrom<Row> for FeedEntry {
    type Error = DbErr;

    fn try_from(row: Row) -> Result<Self, DbErr> {
        Ok(FeedEntry {
            id: row.id,
            order_id: row.order_id,
            seq: row.seq.map(i64::from),
            customer_id: row.customer_id,
            customer_seq: row.customer_seq.map(i64::from),
            kind: row.kind.parse().map_err(DbErr::Type)?,
            body: row.body,
            recorded_at: row.recorded_at.to_rfc3339(),
        })
    }
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

const COLUMNS: &str = "id, order_id, seq, customer_id, customer_seq, kind, body, recorded_at";

/// Which run of entries a client follows, each numbered without gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One order's entries, by `seq`.
    Order(Uuid),
    /// Everything about one customer (all of their orders, and news about no order), by
    /// `customer_seq`.
    Customer(Uuid),
}

impl Scope {
    /// The entry's place in this scope, if it belongs to it.
    pub fn place(self, entry: &FeedEntry) -> Option<i64> {
        match self {
            Scope::Order(id) => entry.seq.filter(|_| entry.order_id == Some(id)),
            Scope::Customer(id) => entry.customer_seq.filter(|_| entry.customer_id == Some(id)),
        }
    }
}

/// Records whose order `order_id` is, so that its entries join its customer's feed (the
/// orders service, with the order's first entry). A no-op when already recorded.
pub async fn own(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    customer_id: Uuid,
) -> Result<(), DbErr> {
    conn.execute(stmt(
        "INSERT INTO feed.orders (order_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [order_id.into(), customer_id.into()],
    ))
    .await?;
    Ok(())
}

/// Appends an entry about `order_id` on `conn` (pass the transaction of the change).
pub async fn append(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    kind: FeedKind,
    body: serde_json::Value,
) -> Result<(), DbErr> {
    conn.execute(stmt(
        "INSERT INTO feed.entries (order_id, kind, body) VALUES ($1, $2, $3)",
        [order_id.into(), kind.as_str().into(), body.into()],
    ))
    .await?;
    Ok(())
}

/// Appends an entry for `customer_id` about no order (a cart reminder, a message from the
/// shop) on `conn`.
pub async fn append_for_customer(
    conn: &impl ConnectionTrait,
    customer_id: Uuid,
    kind: FeedKind,
    body: serde_json::Value,
) -> Result<(), DbErr> {
    conn.execute(stmt(
        "INSERT INTO feed.entries (customer_id, kind, body) VALUES ($1, $2, $3)",
        [customer_id.into(), kind.as_str().into(), body.into()],
    ))
    .await?;
    Ok(())
}

/// The scope's entries after place `after`, oldest first, at most [`PAGE`].
pub async fn after(
    conn: &impl ConnectionTrait,
    scope: Scope,
    after: i64,
) -> Result<Vec<FeedEntry>, DbErr> {
    let after = i32::try_from(after.clamp(0, i64::from(i32::MAX))).unwrap_or(i32::MAX);
    let (id, column, owner) = match scope {
        Scope::Order(id) => (id, "seq", "order_id"),
        Scope::Customer(id) => (id, "customer_seq", "customer_id"),
    };
    Row::find_by_statement(stmt(
        &format!(
            "SELECT {COLUMNS} FROM feed.entries WHERE {owner} = $1 AND {column} > $2
              ORDER BY {column} LIMIT {PAGE}"
        ),
        [id.into(), after.into()],
    ))
    .all(conn)
    .await?
    .into_iter()
    .map(FeedEntry::try_from)
    .collect()
}

/// The entry `id`, if there is one.
pub async fn by_id(conn: &impl ConnectionTrait, id: i64) -> Result<Option<FeedEntry>, DbErr> {
    Row::find_by_statement(stmt(
        &format!("SELECT {COLUMNS} FROM feed.entries WHERE id = $1"),
        [id.into()],
    ))
    .one(conn)
    .await?
    .map(FeedEntry::try_from)
    .transpose()
}
