//! The audit log: an append-only record of every critical action (order status changes,
//! payments, refunds, price changes, stock adjustments, logins, role changes) with its actor,
//! its time and the state before and after.
//!
//! This module owns the `audit` schema. The other services do not touch its tables: they call
//! [`record`] with their own transaction, so an entry is written exactly when the change it
//! describes commits, and never for a change that rolled back or was a retried no-op. The
//! database refuses every update and delete of an entry (see the migration).

use entities::audit::event;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// One action to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Who: an account's email, `workflow <id>` for a workflow's step, or `anonymous <ip>`.
    pub actor: String,
    /// What, as `<area>.<verb>`, such as `order.status_changed`.
    pub action: &'static str,
    /// On what, such as `order:<id>` or `product:<sku>`.
    pub subject: String,
    /// The order it concerns, if any.
    pub order_id: Option<Uuid>,
    /// The state before, if there was one.
    pub before: Option<Value>,
    /// The state after.
    pub after: Option<Value>,
}

/// The longest actor or subject the log keeps.
const MAX_NAME: usize = 300;

/// What the log keeps for a name that is empty (the table refuses empty actors and subjects),
/// such as the email of a login attempt that was only white space.
const NO_NAME: &str = "(blank)";

/// `name` cut to what the log keeps (the table refuses longer actors), on a character boundary;
/// [`NO_NAME`] for an empty one.
pub fn actor(name: &str) -> String {
    if name.is_empty() {
        return NO_NAME.to_owned();
    }
    match name.char_indices().nth(MAX_NAME) {
        Some((end, _)) => name[..end].to_owned(),
        None => name.to_owned(),
    }
}

/// The actor of a change made by a step of the order's workflow: `workflow order-<id>`.
pub fn order_workflow(order_id: contracts::OrderId) -> String {
    format!("workflow {}", contracts::orders::workflow_id(order_id))
}

/// Appends `entry`, on `conn` (pass the transaction of the change it describes).
pub async fn record(conn: &impl ConnectionTrait, entry: Entry) -> Result<(), DbErr> {
    event::Entity::insert(event::ActiveModel {
        id: NotSet,
        at: Set(chrono::Utc::now().into()),
        actor: Set(entry.actor),
        action: Set(entry.action.to_owned()),
        subject: Set(entry.subject),
        order_id: Set(entry.order_id),
        before: Set(entry.before),
        after: Set(entry.after),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An entry as `GET /audit/logs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    /// Its position in the log.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// The order it concerns, if any.
    pub order_id: Option<Uuid>,
    /// The state before.
    pub before: Option<Value>,
    /// The state after.
    pub after: Option<Value>,
}

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this action, or every action of an area with `area.*`.
    pub action: Option<String>,
    /// Exactly this subject.
    pub subject: Option<String>,
    /// About this order.
    pub order_id: Option<Uuid>,
    /// At or after.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Before.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of entries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The entries.
    pub items: Vec<EntryView>,
    /// This page's number, from 1.
    pub page: u64,
    /// Entries per page.
    pub per_page: u64,
    /// Entries matching, on all pages.
    pub total: u64,
}

/// Entries matching `filter`, newest first.
pub async fn list(
    db: &DatabaseConnection,
    filter: &Filter,
    page: u64,
    per_page: u64,
) -> Result<Page, DbErr> {
    let mut find = event::Entity::find();
    if let Some(actor) = &filter.actor {
        find = find.filter(event::Column::Actor.eq(actor.clone()));
    }
    match filter.action.as_deref() {
        Some(area) if area.ends_with(".*") => {
            let prefix = area.trim_end_matches('*');
            find = find.filter(Expr::col(event::Column::Action).like(format!("{prefix}%")));
        }
        Some(action) => find = find.filter(event::Column::Action.eq(action.to_owned())),
        None => {}
    }
    if let Some(subject) = &filter.subject {
        find = find.filter(event::Column::Subject.eq(subject.clone()));
    }
    if let Some(order_id) = filter.order_id {
        find = find.filter(event::Column::OrderId.eq(order_id));
    }
    if let Some(from) = filter.from {
        find = find.filter(event::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        find = find.filter(event::Column::At.lt(to));
    }
    let total = find.clone().count(db).await?;
    let rows = find
        .order_by_desc(event::Column::Id)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|row| EntryView {
                id: row.id,
                at: row.at.to_rfc3339(),
                actor: row.actor,
                action: row.action,
                subject: row.subject,
                order_id: row.order_id,
                before: row.before,
                after: row.after,
            })
            .collect(),
        page,
        per_page,
        total,
    })
}
