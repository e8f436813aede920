//! The notifications service's reads: a customer's notification history.

use contracts::notifications::{Channel, NotificationStatus};
use entities::notifications::{attempt, notification};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

/// A notification with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    /// Its id.
    pub id: String,
    /// Which message.
    pub template: String,
    /// The subject.
    pub subject: String,
    /// Where it stands.
    pub status: NotificationStatus,
    /// The channel that delivered it.
    pub channel: Option<Channel>,
    /// The order it is about.
    pub order_id: Option<uuid::Uuid>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was sent (RFC 3339).
    pub sent_at: Option<String>,
    /// Every delivery attempt, oldest first.
    pub attempts: Vec<AttemptView>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    /// Channel.
    pub channel: String,
    /// The activity attempt number.
    pub attempt: i32,
    /// Whether it went through.
    pub succeeded: bool,
    /// Why not.
    pub error: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// The latest notifications of a customer (by email), newest first, at most `limit`.
pub async fn history(
    db: &DatabaseConnection,
    customer_email: &str,
    limit: u64,
) -> Result<Vec<NotificationView>, DbErr> {
    let rows = notification::Entity::find()
        .filter(notification::Column::CustomerEmail.eq(customer_email))
        .order_by_desc(notification::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::NotificationId.is_in(ids))
        .order_by_asc(attempt::Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(NotificationView {
                attempts: attempts
                    .iter()
                    .filter(|a| a.notification_id == row.id)
                    .map(|a| AttemptView {
                        channel: a.channel.clone(),
                        attempt: a.attempt,
                        succeeded: a.succeeded,
                        error: a.error.clone(),
                        at: a.attempted_at.to_rfc3339(),
                    })
                    .collect(),
                id: row.id,
                template: row.template,
                subject: row.subject,
                status: row.status.parse().map_err(DbErr::Type)?,
                channel: row
                    .channel
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(DbErr::Type)?,
                order_id: row.order_id,
                created_at: row.created_at.to_rfc3339(),
                sent_at: row.sent_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect()
}
