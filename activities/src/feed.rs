//! The change feed: what happened to each order, in order, for live clients.
//!
//! This module owns the `feed` schema. Services append with [`append`] inside the transaction
//! of the change they report, as they do with the audit log, so an entry exists exactly when
//! its change committed and never for a rolled-back or repeated one. The database numbers an
//! order's entries `1, 2, 3…` without gaps and announces each on [`CHANNEL`] once it commits;
//! the API reads with [`after`] and [`by_id`]. Nothing here ever calls Temporal: a thousand
//! clients watching an order cost the workflows nothing.

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
    /// The order's status changed (`{"status", "reason"}`).
    Status,
    /// The carrier reported on the parcel (`{"status", "description", "occurred_at"}`).
    Tracking,
    /// Money went back (`{"refund_id", "amount"}`).
    Refund,
    /// The customer was told (`{"template", "channel"}`).
    Notification,
}

impl FeedKind {
    /// The snake_case name, as the table stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            FeedKind::Status => "status",
            FeedKind::Tracking => "tracking",
            FeedKind::Refund => "refund",
            FeedKind::Notification => "notification",
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
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| format!("unknown feed kind `{s}`"))
    }
}

/// One entry of an order's feed.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedEntry {
    /// Its place in the whole feed (increasing across every order).
    pub id: i64,
    /// The order.
    pub order_id: Uuid,
    /// Its place in the order's feed: 1, 2, 3… without gaps. Resume after the last you saw.
    pub seq: i64,
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
    order_id: Uuid,
    seq: i32,
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
            seq: i64::from(row.seq),
            kind: row.kind.parse().map_err(DbErr::Type)?,
            body: row.body,
            recorded_at: row.recorded_at.to_rfc3339(),
        })
    }
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

const COLUMNS: &str = "id, order_id, seq, kind, body, recorded_at";

/// Appends an entry about `order_id` on `conn` (pass the transaction of the change).
pub async fn append(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    kind: FeedKind,
    body: serde_json::Value,
) -> Result<(), DbErr> {
    conn.execute(stmt(
        "INSERT INTO feed.entries (order_id, seq, kind, body) VALUES ($1, 0, $2, $3)",
        [order_id.into(), kind.as_str().into(), body.into()],
    ))
    .await?;
    Ok(())
}

/// The order's entries after `seq`, oldest first, at most [`PAGE`].
pub async fn after(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    seq: i64,
) -> Result<Vec<FeedEntry>, DbErr> {
    let seq = i32::try_from(seq.clamp(0, i64::from(i32::MAX))).unwrap_or(i32::MAX);
    Row::find_by_statement(stmt(
        &format!(
            "SELECT {COLUMNS} FROM feed.entries WHERE order_id = $1 AND seq > $2
              ORDER BY seq LIMIT {PAGE}"
        ),
        [order_id.into(), seq.into()],
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
