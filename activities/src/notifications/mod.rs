//! The notifications service (schema `notifications`): renders and delivers notifications and
//! records every attempt.
//!
//! A notification is one row, keyed by its id; every delivery attempt is another row. A
//! notification already `sent` is not sent again, whatever retries or restarts happen: the
//! row is checked before sending. (Between an SMTP server accepting a message and the row being
//! written there is still a window no SMTP client can close; the Message-ID is derived from the
//! notification id, so a duplicate is recognisable by mail clients.)
//!
//! [`webhooks`] delivers the domain events to the merchants' webhook endpoints.

pub mod queries;
pub mod senders;
pub mod templates;
pub mod webhooks;

use crate::failure::{IntoActivityError, non_retryable, retryable};
use crate::feed::{self, FeedKind};
use contracts::notifications::{
    ATTEMPTS_PER_CHANNEL, CHANNEL_UNAVAILABLE, Channel, Deliver, Delivery, GiveUp, Notification,
    NotificationOutcome, NotificationStatus, channel_for_attempt,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
pub use senders::{EmailSender, SendError, SmsGateway, SmtpConfig};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Why a notifications operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// The channel cannot be used for this recipient.
    #[error("{channel} cannot reach the recipient: {reason}")]
    ChannelUnavailable {
        /// The channel.
        channel: Channel,
        /// Why.
        reason: String,
    },
    /// The send failed; try again.
    #[error("{channel} delivery failed: {reason}")]
    SendFailed {
        /// The channel.
        channel: Channel,
        /// Why.
        reason: String,
    },
    /// The template could not be rendered.
    #[error("rendering failed: {0}")]
    Render(String),
    /// The database failed.
    #[error("notifications database error: {0}")]
    Db(#[from] DbErr),
    /// A stored row holds what no code writes: a retry cannot help.
    #[error("stored notification data is corrupt: {0}")]
    Corrupt(String),
}

/// Application-failure type of stored notification data no code writes (non-retryable).
pub const NOTIFICATIONS_CORRUPT: &str = "NotificationsDataCorrupt";

impl IntoActivityError for NotificationsError {
    fn into_activity_error(self) -> ActivityError {
        match self {
            NotificationsError::ChannelUnavailable { .. } | NotificationsError::Render(_) => {
                non_retryable(CHANNEL_UNAVAILABLE, self.to_string())
            }
            NotificationsError::Corrupt(_) => {
                non_retryable(NOTIFICATIONS_CORRUPT, self.to_string())
            }
            NotificationsError::SendFailed { .. } | NotificationsError::Db(_) => retryable(self),
        }
    }
}

/// Notifications by outcome: `sent` (by the channel that delivered it) or `failed` (no
/// channel could, `channel="none"`).
const NOTIFICATIONS_TOTAL: &str = "emporium_notifications_total";
/// Delivery attempts that failed, by channel (each may be retried or fall back).
const NOTIFICATION_ATTEMPTS_FAILED_TOTAL: &str = "emporium_notification_attempts_failed_total";

/// The notifications service's activities.
pub struct NotificationsActivities {
    db: DatabaseConnection,
    email: EmailSender,
    sms: Option<SmsGateway>,
    http: reqwest::Client,
}

/// The order a notification is about, for the logs (empty when it is about none).
fn order_of(notification: &Notification) -> String {
    notification
        .data
        .order_id
        .map(|id| id.to_string())
        .unwrap_or_default()
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Moves notification `id` to `next` from whichever status may become it
/// ([`NotificationStatus::can_become`]), setting `set` too (whose values start at `$3`).
fn status_move(
    id: &str,
    next: NotificationStatus,
    set: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let before = NotificationStatus::before(next);
    let values: Vec<Value> = values.into_iter().collect();
    let first = 3 + values.len();
    let placeholders: Vec<String> = (first..first + before.len())
        .map(|n| format!("${n}"))
        .collect();
    stmt(
        &format!(
            "UPDATE notifications.notifications SET status = $2, {set}
              WHERE id = $1 AND status IN ({})",
            placeholders.join(", ")
        ),
        [id.into(), next.as_str().into()]
            .into_iter()
            .chain(values)
            .chain(before.into_iter().map(Value::from)),
    )
}

#[activities]
impl NotificationsActivities {
    #[activity(definition = contracts::notifications::activities::Deliver)]
    #[tracing::instrument(skip_all, fields(notification.id = %request.notification.notification_id, order.id = %order_of(&request.notification), channel = %request.channel))]
    pub async fn deliver(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: Deliver,
    ) -> Result<Delivery, ActivityError> {
        let attempt = ctx.info().attempt;
        self.send(&request.notification, request.channel, attempt)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::notifications::activities::Notify)]
    #[tracing::instrument(skip_all, fields(notification.id = %notification.notification_id, order.id = %order_of(&notification)))]
    pub async fn notify(
        self: Arc<Self>,
        ctx: ActivityContext,
        notification: Notification,
    ) -> Result<NotificationOutcome, ActivityError> {
        let attempt = ctx.info().attempt;
        self.notify_attempt(&notification, attempt)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::notifications::activities::GiveUp)]
    #[tracing::instrument(skip_all, fields(notification.id = %request.notification.notification_id, order.id = %order_of(&request.notification)))]
    pub async fn give_up(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: GiveUp,
    ) -> Result<(), ActivityError> {
        self.mark_undeliverable(&request.notification, &request.reason)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

impl NotificationsActivities {
    /// Notifications sent with these senders.
    pub fn new(
        db: DatabaseConnection,
        email: EmailSender,
        sms: Option<SmsGateway>,
    ) -> Result<Self, SendError> {
        Ok(Self {
            db,
            email,
            sms,
            http: senders::http_client()?,
        })
    }

    async fn register(&self, notification: &Notification, subject: &str) -> Result<(), DbErr> {
        self.db
            .execute(stmt(
                "INSERT INTO notifications.notifications
                     (id, template, customer_email, phone, order_id, status, subject)
                 VALUES ($1, $2, $3, $4, $5, $7, $6) ON CONFLICT (id) DO NOTHING",
                [
                    notification.notification_id.clone().into(),
                    notification.template.as_str().into(),
                    notification.recipient.email.clone().into(),
                    notification.recipient.phone.clone().into(),
                    notification.data.order_id.map(|id| id.0).into(),
                    subject.into(),
                    NotificationStatus::Pending.as_str().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn record_attempt(
        conn: &impl ConnectionTrait,
        notification_id: &str,
        channel: Channel,
        attempt: u32,
        error: Option<&str>,
    ) -> Result<(), DbErr> {
        conn.execute(stmt(
                "INSERT INTO notifications.attempts (notification_id, channel, attempt, succeeded, error)
                 VALUES ($1, $2, $3, $4, $5)",
                [
                    notification_id.into(),
                    channel.as_str().into(),
                    i32::try_from(attempt).unwrap_or(i32::MAX).into(),
                    error.is_none().into(),
                    error.map(str::to_owned).into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// Sends the notification through `channel`, unless it was already sent: renders it,
    /// registers it (once), delivers it, and records the attempt and its outcome.
    pub async fn send(
        &self,
        notification: &Notification,
        channel: Channel,
        attempt: u32,
    ) -> Result<Delivery, NotificationsError> {
        let id = &notification.notification_id;
        let rendered = templates::render(notification.template, &notification.data)
            .map_err(|e| NotificationsError::Render(e.to_string()))?;
        self.register(notification, &rendered.subject).await?;
        if let Some(delivery) = self.already_sent(id).await? {
            tracing::info!("already sent; not sending again");
            return Ok(delivery);
        }
        match self.hand_over(notification, channel, &rendered).await {
            Ok(reference) => {
                let txn = self.db.begin().await?;
                Self::record_attempt(&txn, id, channel, attempt, None).await?;
                let moved = txn
                    .execute(status_move(
                        id,
                        NotificationStatus::Sent,
                        "channel = $3, reference = $4, sent_at = now(), failure = NULL",
                        [channel.as_str().into(), reference.clone().into()],
                    ))
                    .await?
                    .rows_affected();
                if moved == 1 {
                    Self::tell_feed(&txn, notification, channel, &rendered).await?;
                }
                txn.commit().await?;
                metrics::counter!(NOTIFICATIONS_TOTAL, "channel" => channel.as_str(), "outcome" => "sent")
                    .increment(1);
                tracing::info!(%channel, "notification sent");
                Ok(Delivery { channel, reference })
            }
            Err(err) => {
                Self::record_attempt(&self.db, id, channel, attempt, Some(&err.to_string()))
                    .await?;
                metrics::counter!(NOTIFICATION_ATTEMPTS_FAILED_TOTAL, "channel" => channel.as_str())
                    .increment(1);
                tracing::warn!(%channel, attempt, %err, "notification attempt failed");
                Err(match err {
                    SendError::Unavailable(reason) => {
                        NotificationsError::ChannelUnavailable { channel, reason }
                    }
                    SendError::Failed(reason) => NotificationsError::SendFailed { channel, reason },
                })
            }
        }
    }

    /// Shows the sent message on its customer's live connections: in the order's feed when
    /// it is about one, else in the customer's when the recipient has an account.
    async fn tell_feed(
        txn: &impl ConnectionTrait,
        notification: &Notification,
        channel: Channel,
        rendered: &templates::Rendered,
    ) -> Result<(), DbErr> {
        let body = serde_json::json!({
            "template": notification.template.as_str(),
            "channel": channel,
            "subject": rendered.subject,
            "text": rendered.body,
        });
        match (
            notification.data.order_id,
            notification.recipient.customer_id,
        ) {
            (Some(order_id), _) => {
                feed::append(txn, order_id.0, FeedKind::Notification, body).await
            }
            (None, Some(customer)) => {
                feed::append_for_customer(txn, customer.0, FeedKind::Notification, body).await
            }
            (None, None) => Ok(()),
        }
    }

    /// How notification `id` was delivered, if it was.
    async fn already_sent(&self, id: &str) -> Result<Option<Delivery>, NotificationsError> {
        let sent = self
            .db
            .query_one(stmt(
                "SELECT channel, reference FROM notifications.notifications
                  WHERE id = $1 AND status = $2",
                [id.into(), NotificationStatus::Sent.as_str().into()],
            ))
            .await?;
        let Some(row) = sent else {
            return Ok(None);
        };
        let channel: String = row.try_get("", "channel")?;
        Ok(Some(Delivery {
            channel: channel
                .parse()
                .map_err(|err| NotificationsError::Corrupt(format!("{id}: {err}")))?,
            reference: row
                .try_get::<Option<String>>("", "reference")?
                .unwrap_or_default(),
        }))
    }

    /// Hands the rendered message to `channel`'s sender; the sender's reference for it.
    async fn hand_over(
        &self,
        notification: &Notification,
        channel: Channel,
        rendered: &templates::Rendered,
    ) -> Result<String, SendError> {
        let id = &notification.notification_id;
        let recipient = &notification.recipient;
        let unavailable = |reason: &str| Err(SendError::Unavailable(reason.to_owned()));
        match channel {
            Channel::Email => match &recipient.email {
                Some(to) => {
                    self.email
                        .send(id, to, &rendered.subject, &rendered.body)
                        .await
                }
                None => unavailable("no email address"),
            },
            Channel::Sms => match (&self.sms, &recipient.phone) {
                (Some(gateway), Some(phone)) => gateway.send(id, phone, &rendered.sms).await,
                (None, _) => unavailable("no SMS gateway is configured"),
                (_, None) => unavailable("no phone number"),
            },
            Channel::Webhook => match &recipient.webhook_url {
                Some(url) => {
                    let (subject, body) = (&rendered.subject, &rendered.body);
                    senders::send_webhook(&self.http, url, notification, subject, body).await
                }
                None => unavailable("no webhook URL"),
            },
        }
    }

    /// One attempt of [`contracts::notifications::NotificationsActivities::notify`]: the channel
    /// this attempt is due to use, or the next ones at once when a channel cannot reach the
    /// recipient. A retryable failure is returned for Temporal to retry with backoff, except on
    /// the last attempt, which records the notification undeliverable and completes.
    pub async fn notify_attempt(
        &self,
        notification: &Notification,
        attempt: u32,
    ) -> Result<NotificationOutcome, NotificationsError> {
        let channels = &notification.channels;
        let last_attempt =
            attempt >= ATTEMPTS_PER_CHANNEL * u32::try_from(channels.len()).unwrap_or(1);
        let mut failure = "no channel can reach the recipient".to_owned();
        let first = channel_for_attempt(channels, attempt).map_or(channels.len(), |(i, _)| i);
        for &channel in &channels[first..] {
            match self.send(notification, channel, attempt).await {
                Ok(delivery) => {
                    return Ok(NotificationOutcome {
                        notification_id: notification.notification_id.clone(),
                        delivered: Some(delivery),
                    });
                }
                Err(err @ NotificationsError::ChannelUnavailable { .. }) => {
                    failure = err.to_string();
                }
                Err(err @ NotificationsError::SendFailed { .. }) if last_attempt => {
                    failure = err.to_string();
                    break;
                }
                Err(err) => return Err(err),
            }
        }
        self.mark_undeliverable(notification, &failure).await?;
        Ok(NotificationOutcome {
            notification_id: notification.notification_id.clone(),
            delivered: None,
        })
    }

    /// Records that no channel could deliver the notification.
    pub async fn mark_undeliverable(
        &self,
        notification: &Notification,
        reason: &str,
    ) -> Result<(), NotificationsError> {
        let subject = templates::render(notification.template, &notification.data)
            .map(|r| r.subject)
            .unwrap_or_default();
        self.register(notification, &subject).await?;
        let failed = self
            .db
            .execute(status_move(
                &notification.notification_id,
                NotificationStatus::Failed,
                "failure = $3",
                [reason.into()],
            ))
            .await?
            .rows_affected();
        if failed == 1 {
            metrics::counter!(NOTIFICATIONS_TOTAL, "channel" => "none", "outcome" => "failed")
                .increment(1);
        }
        tracing::warn!(%reason, "notification could not be delivered");
        Ok(())
    }
}
