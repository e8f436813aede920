//! Reads of the support schema: a conversation, its history page by page, the inbox.

use super::{ConversationStatus, Message, MessageRow, Side, SupportError, stmt};
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;
use uuid::Uuid;

/// A conversation about an order.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    /// The order it is about.
    pub order_id: Uuid,
    /// The order's customer.
    pub customer_id: Uuid,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Whose turn it is: the side that did not write the last message.
    pub waiting_on: Side,
    /// How many messages it holds.
    pub messages: i64,
    /// When its first message came (RFC 3339).
    pub opened_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// When it was closed, while it is (RFC 3339).
    pub closed_at: Option<String>,
    /// Its newest message.
    pub last_message: Option<Message>,
}

/// A page of a conversation's messages, oldest first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// The messages.
    pub items: Vec<Message>,
    /// Pass as `before` for the page of older messages; absent on the oldest page.
    pub before: Option<i64>,
}

/// A page of the inbox.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    /// The conversations, most recently active first.
    pub items: Vec<Conversation>,
    /// This page's number, from 1.
    pub page: u64,
    /// Conversations per page.
    pub per_page: u64,
    /// Conversations with this status, on all pages.
    pub total: u64,
}

const MESSAGE_COLUMNS: &str = "id, order_id, seq, author_id, author_role, body, sent_at";

#[derive(FromQueryResult)]
struct ConversationRow {
    order_id: Uuid,
    customer_id: Uuid,
    status: String,
    waiting_on: String,
    messages: i32,
    opened_at: chrono::DateTime<chrono::FixedOffset>,
    updated_at: chrono::DateTime<chrono::FixedOffset>,
    closed_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl ConversationRow {
    fn into_conversation(self, last: Option<Message>) -> Result<Conversation, SupportError> {
        let corrupt = |what: &str| SupportError::DataCorrupt(what.to_owned());
        Ok(Conversation {
            order_id: self.order_id,
            customer_id: self.customer_id,
            status: self.status.parse().map_err(|_| corrupt(&self.status))?,
            waiting_on: self
                .waiting_on
                .parse()
                .map_err(|_| corrupt(&self.waiting_on))?,
            messages: i64::from(self.messages),
            opened_at: self.opened_at.to_rfc3339(),
            updated_at: self.updated_at.to_rfc3339(),
            closed_at: self.closed_at.map(|at| at.to_rfc3339()),
            last_message: last,
        })
    }
}

const CONVERSATION_COLUMNS: &str =
    "order_id, customer_id, status, waiting_on, messages, opened_at, updated_at, closed_at";

/// Message `id`, if stored.
pub(super) async fn message(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<Message>, SupportError> {
    MessageRow::find_by_statement(stmt(
        &format!("SELECT {MESSAGE_COLUMNS} FROM support.messages WHERE id = $1"),
        [id.into()],
    ))
    .one(conn)
    .await?
    .map(Message::try_from)
    .transpose()
}

/// The newest message of the order's conversation.
async fn last_message(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Option<Message>, SupportError> {
    MessageRow::find_by_statement(stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM support.messages WHERE order_id = $1
              ORDER BY seq DESC LIMIT 1"
        ),
        [order_id.into()],
    ))
    .one(conn)
    .await?
    .map(Message::try_from)
    .transpose()
}

/// The order's conversation, if there is one.
pub(super) async fn conversation(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Option<Conversation>, SupportError> {
    let Some(row) = ConversationRow::find_by_statement(stmt(
        &format!("SELECT {CONVERSATION_COLUMNS} FROM support.conversations WHERE order_id = $1"),
        [order_id.into()],
    ))
    .one(conn)
    .await?
    else {
        return Ok(None);
    };
    let last = last_message(conn, order_id).await?;
    row.into_conversation(last).map(Some)
}

/// Up to `limit` messages before `before` (the newest without it), oldest first.
pub(super) async fn history(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    before: Option<i64>,
    limit: u64,
) -> Result<HistoryPage, SupportError> {
    let before = before.map_or(i32::MAX, |seq| {
        i32::try_from(seq.clamp(0, i64::from(i32::MAX))).unwrap_or(i32::MAX)
    });
    let mut items = MessageRow::find_by_statement(stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM support.messages WHERE order_id = $1 AND seq < $2
              ORDER BY seq DESC LIMIT {}",
            limit + 1
        ),
        [order_id.into(), before.into()],
    ))
    .all(conn)
    .await?
    .into_iter()
    .map(Message::try_from)
    .collect::<Result<Vec<_>, _>>()?;
    let more = items.len() as u64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    items.reverse();
    let before = more
        .then(|| items.first().map(|message| message.seq))
        .flatten();
    Ok(HistoryPage { items, before })
}

/// Page `page` of the conversations with `status`, most recently active first.
pub(super) async fn inbox(
    conn: &impl ConnectionTrait,
    status: ConversationStatus,
    page: u64,
    per_page: u64,
) -> Result<InboxPage, SupportError> {
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let rows = ConversationRow::find_by_statement(stmt(
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM support.conversations WHERE status = $1
              ORDER BY updated_at DESC, order_id LIMIT {per_page} OFFSET {offset}"
        ),
        [status.as_ref().into()],
    ))
    .all(conn)
    .await?;
    let total = conn
        .query_one(stmt(
            "SELECT count(*) AS total FROM support.conversations WHERE status = $1",
            [status.as_ref().into()],
        ))
        .await?
        .map_or(Ok(0), |row| row.try_get::<i64>("", "total"))?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let last = last_message(conn, row.order_id).await?;
        items.push(row.into_conversation(last)?);
    }
    Ok(InboxPage {
        items,
        page,
        per_page,
        total: u64::try_from(total).unwrap_or(0),
    })
}
