//! Which customers hold a live connection, as seen by every API instance.
//!
//! Each authenticated WebSocket is a row of `feed.connections`, written when it opens
//! ([`arrive`]), touched at each of its heartbeats ([`still_here`]) and deleted when it ends
//! ([`left`]). A process that dies leaves its rows behind, so a connection counts only while
//! it was seen within the window the caller gives ([`connected`]); rows older than an hour
//! are swept by the next arrival.

use super::stmt;
use sea_orm::{ConnectionTrait, DbErr};
use std::time::Duration;
use uuid::Uuid;

/// Registers connection `id` of `customer_id`, and sweeps what dead processes left.
pub async fn arrive(conn: &impl ConnectionTrait, id: Uuid, customer_id: Uuid) -> Result<(), DbErr> {
    conn.execute(stmt(
        "DELETE FROM feed.connections WHERE seen_at < now() - interval '1 hour'",
        [],
    ))
    .await?;
    conn.execute(stmt(
        "INSERT INTO feed.connections (id, customer_id) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = now()",
        [id.into(), customer_id.into()],
    ))
    .await?;
    Ok(())
}

/// Connection `id` is still open.
pub async fn still_here(conn: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    conn.execute(stmt(
        "UPDATE feed.connections SET seen_at = now() WHERE id = $1",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// Connection `id` ended.
pub async fn left(conn: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    conn.execute(stmt(
        "DELETE FROM feed.connections WHERE id = $1",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// Whether `customer_id` holds a connection seen within `within`.
pub async fn connected(
    conn: &impl ConnectionTrait,
    customer_id: Uuid,
    within: Duration,
) -> Result<bool, DbErr> {
    let seconds = within.as_secs_f64();
    let row = conn
        .query_one(stmt(
            "SELECT EXISTS (SELECT 1 FROM feed.connections
                             WHERE customer_id = $1
                               AND seen_at > now() - make_interval(secs => $2)) AS connected",
            [customer_id.into(), seconds.into()],
        ))
        .await?;
    row.map_or(Ok(false), |row| row.try_get("", "connected"))
}
