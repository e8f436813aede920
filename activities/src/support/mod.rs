//! The support service (schema `support`): conversations between a customer and the shop's
//! operators, one per order.
//!
//! A conversation opens with its first message and is `open` until an operator closes it; a
//! new message opens it again. Messages are numbered per conversation (`seq`) and never
//! edited. Each write happens in one transaction with its audit entry and its change-feed
//! entry (kind `support`), so both sides see it live exactly when it is stored. A message
//! carries the id its client chose: sending it again returns the stored message instead of
//! a second one. The API runs this service (there is no worker); it decides who may write.

use crate::audit;
use crate::feed::{self, FeedKind};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement,
    TransactionTrait, Value,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

mod queries;

pub use queries::{Conversation, HistoryPage, InboxPage};

/// The longest message, in characters (the schema checks it too).
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// Why a support operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The message id is already another message's.
    #[error("message id {0} is already used by another message")]
    IdTaken(Uuid),
    /// Stored data no code writes.
    #[error("support data is corrupt: {0}")]
    DataCorrupt(String),
}

/// Who wrote a message: which side of the conversation.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Side {
    /// The order's customer.
    Customer,
    /// The shop's staff (an operator or an admin).
    Operator,
}

impl Side {
    /// The other side: whom a message from this side waits on.
    pub const fn other(self) -> Side {
        match self {
            Side::Customer => Side::Operator,
            Side::Operator => Side::Customer,
        }
    }
}

/// Whether a conversation is going on.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ConversationStatus {
    /// Going on: in the operators' inbox.
    Open,
    /// Closed by an operator; a new message opens it again.
    Closed,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Its id (the one its client chose, or one the server gave it).
    pub id: Uuid,
    /// The order the conversation is about.
    pub order_id: Uuid,
    /// Its place in the conversation: 1, 2, 3…
    pub seq: i64,
    /// Its author's account.
    pub author_id: Uuid,
    /// Its author's side.
    pub author: Side,
    /// The text.
    pub body: String,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
}

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Its id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The order's customer.
    pub customer_id: Uuid,
    /// The author's account.
    pub author_id: Uuid,
    /// The author's email, for the audit log.
    pub author_email: String,
    /// The author's side.
    pub author: Side,
    /// The text, 1 to [`MAX_MESSAGE_CHARS`] characters.
    pub body: String,
}

/// A stored message, and whether this call stored it (false: it was sent before).
#[derive(Clone, Debug)]
pub struct Posted {
    /// The message.
    pub message: Message,
    /// Whether this call stored it.
    pub new: bool,
}

pub(crate) fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The support service.
#[derive(Clone)]
pub struct Support {
    db: DatabaseConnection,
}

impl Support {
    /// The service on `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Stores a message, opening (or opening again) its order's conversation, with its audit
    /// and feed entries. A message whose id is stored already is returned as it was.
    pub async fn post(&self, new: &NewMessage) -> Result<Posted, SupportError> {
        if let Some(message) = self.stored(new).await? {
            return Ok(Posted {
                message,
                new: false,
            });
        }
        let txn = self.db.begin().await?;
        let (seq, reopened) = open(&txn, new).await?;
        let inserted = txn
            .query_one(stmt(
                "INSERT INTO support.messages (id, order_id, seq, author_id, author_role, body)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING
                 RETURNING sent_at",
                [
                    new.id.into(),
                    new.order_id.into(),
                    seq.into(),
                    new.author_id.into(),
                    new.author.as_ref().into(),
                    new.body.clone().into(),
                ],
            ))
            .await?;
        let Some(row) = inserted else {
            // Sent twice at once: the other call stored it.
            txn.rollback().await?;
            let message = self
                .stored(new)
                .await?
                .ok_or(SupportError::IdTaken(new.id))?;
            return Ok(Posted {
                message,
                new: false,
            });
        };
        let sent_at: chrono::DateTime<chrono::FixedOffset> = row.try_get("", "sent_at")?;
        let message = Message {
            id: new.id,
            order_id: new.order_id,
            seq: i64::from(seq),
            author_id: new.author_id,
            author: new.author,
            body: new.body.clone(),
            sent_at: sent_at.to_rfc3339(),
        };
        record_post(&txn, new, &message, reopened).await?;
        txn.commit().await?;
        tracing::info!(order.id = %new.order_id, seq, author = new.author.as_ref(), "support message stored");
        Ok(Posted { message, new: true })
    }

    /// The message stored under `new.id`, if it is the same message; another message under
    /// that id is [`SupportError::IdTaken`].
    async fn stored(&self, new: &NewMessage) -> Result<Option<Message>, SupportError> {
        match queries::message(&self.db, new.id).await? {
            Some(message)
                if message.order_id == new.order_id
                    && message.author_id == new.author_id
                    && message.body == new.body =>
            {
                Ok(Some(message))
            }
            Some(_) => Err(SupportError::IdTaken(new.id)),
            None => Ok(None),
        }
    }

    /// Closes the order's conversation (idempotent), with its audit and feed entries. `None`
    /// when the order has no conversation.
    pub async fn close(
        &self,
        order_id: Uuid,
        by: Uuid,
        by_email: &str,
    ) -> Result<Option<Conversation>, SupportError> {
        let txn = self.db.begin().await?;
        let closed = txn
            .execute(stmt(
                "UPDATE support.conversations
                    SET status = 'closed', closed_at = now(), closed_by = $2, updated_at = now()
                  WHERE order_id = $1 AND status = 'open'",
                [order_id.into(), by.into()],
            ))
            .await?
            .rows_affected();
        if closed == 1 {
            audit::record(&txn, close_entry(order_id, by_email)).await?;
            let body = json!({"event": "closed", "closed_by": by});
            feed::append(&txn, order_id, FeedKind::Support, body).await?;
        }
        txn.commit().await?;
        queries::conversation(&self.db, order_id).await
    }

    /// The order's conversation, if there is one.
    pub async fn conversation(&self, order_id: Uuid) -> Result<Option<Conversation>, SupportError> {
        queries::conversation(&self.db, order_id).await
    }

    /// The conversation's messages before `before` (the newest without it), at most `limit`,
    /// oldest first.
    pub async fn history(
        &self,
        order_id: Uuid,
        before: Option<i64>,
        limit: u64,
    ) -> Result<HistoryPage, SupportError> {
        queries::history(&self.db, order_id, before, limit).await
    }

    /// The conversations with `status`, most recently active first: page `page` (from 1) of
    /// `per_page`.
    pub async fn inbox(
        &self,
        status: ConversationStatus,
        page: u64,
        per_page: u64,
    ) -> Result<InboxPage, SupportError> {
        queries::inbox(&self.db, status, page, per_page).await
    }
}

/// Opens the conversation for the new message (creating it, or opening it again), counting
/// the message: its `seq`, and whether a closed conversation was opened again. The row's
/// lock serialises the conversation's writers until the transaction ends.
async fn open(txn: &impl ConnectionTrait, new: &NewMessage) -> Result<(i32, bool), DbErr> {
    let row = txn
        .query_one(stmt(
            "INSERT INTO support.conversations AS c (order_id, customer_id, status, waiting_on, messages)
             VALUES ($1, $2, 'open', $3, 1)
             ON CONFLICT (order_id) DO UPDATE
                SET status = 'open', closed_at = NULL, closed_by = NULL,
                    waiting_on = EXCLUDED.waiting_on, messages = c.messages + 1,
                    updated_at = now()
             RETURNING messages,
                       (SELECT status = 'closed' FROM support.conversations
                         WHERE order_id = $1) AS reopened",
            [
                new.order_id.into(),
                new.customer_id.into(),
                new.author.other().as_ref().into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("support.conversations".to_owned()))?;
    let reopened: Option<bool> = row.try_get("", "reopened")?;
    Ok((row.try_get("", "messages")?, reopened.unwrap_or(false)))
}

/// The audit and feed entries of a stored message.
async fn record_post(
    txn: &impl ConnectionTrait,
    new: &NewMessage,
    message: &Message,
    reopened: bool,
) -> Result<(), DbErr> {
    audit::record(
        txn,
        audit::Entry {
            actor: audit::actor(&new.author_email),
            action: "support.message_sent",
            subject: format!("order:{}", new.order_id),
            order_id: Some(new.order_id),
            before: None,
            after: Some(json!({
                "message_id": message.id,
                "seq": message.seq,
                "author": message.author,
                "chars": message.body.chars().count(),
                "reopened": reopened,
            })),
        },
    )
    .await?;
    let body = json!({"event": "message", "message": message});
    feed::append(txn, new.order_id, FeedKind::Support, body).await
}

fn close_entry(order_id: Uuid, by_email: &str) -> audit::Entry {
    audit::Entry {
        actor: audit::actor(by_email),
        action: "support.conversation_closed",
        subject: format!("order:{order_id}"),
        order_id: Some(order_id),
        before: Some(json!({"status": ConversationStatus::Open})),
        after: Some(json!({"status": ConversationStatus::Closed})),
    }
}

#[derive(FromQueryResult)]
pub(crate) struct MessageRow {
    id: Uuid,
    order_id: Uuid,
    seq: i32,
    author_id: Uuid,
    author_role: String,
    body: String,
    sent_at: chrono::DateTime<chrono::FixedOffset>,
}

impl TryFrom<MessageRow> for Message {
    type Error = SupportError;

    fn try_from(row: MessageRow) -> Result<Self, SupportError> {
        Ok(Message {
            id: row.id,
            order_id: row.order_id,
            seq: i64::from(row.seq),
            author_id: row.author_id,
            author: row
                .author_role
                .parse()
                .map_err(|_| SupportError::DataCorrupt(format!("author `{}`", row.author_role)))?,
            body: row.body,
            sent_at: row.sent_at.to_rfc3339(),
        })
    }
}
