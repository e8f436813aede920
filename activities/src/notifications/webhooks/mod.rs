//! Merchant webhooks (tables `notifications.webhook_*`): endpoints, deliveries and attempts.
//!
//! - Admins keep the endpoints through the API ([`endpoints`]): a URL, the event types it
//!   wants, and a secret shown once. (The API's role may write that one table; see migration
//!   19.)
//! - The notifications worker reads the event stream and records one delivery per event and
//!   matching enabled endpoint ([`record_deliveries`]); each delivery is carried out by a
//!   DeliverWebhook workflow, whose [`WebhookActivities::attempt`] posts it once, signed
//!   ([`signing`]), to an address [`destinations`] allows, and records the attempt, the
//!   delivery's status and the endpoint's health in one transaction. An endpoint whose every
//!   attempt failed for `webhooks.disable_after_secs` is disabled there and then.

pub mod destinations;
pub mod endpoints;
pub mod signing;

use crate::audit;
use crate::failure::{IntoActivityError, non_retryable, retryable};
use contracts::webhooks::{AttemptOutcome, AttemptWebhook, DeliveryStatus, DisabledEndpoint};
pub use destinations::{DestinationError, Destinations};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, FromQueryResult,
    Statement, TransactionTrait, Value,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The database failed.
    #[error("webhooks database error: {0}")]
    Db(#[from] DbErr),
    /// A stored row holds what no code writes.
    #[error("stored webhook data is corrupt: {0}")]
    Corrupt(String),
}

impl IntoActivityError for WebhookError {
    fn into_activity_error(self) -> ActivityError {
        match self {
            WebhookError::Db(_) => retryable(self),
            WebhookError::Corrupt(_) => non_retryable("WebhookDataCorrupt", self.to_string()),
        }
    }
}

/// Webhook attempts by outcome (`delivered`, `rejected`, `failed`).
const WEBHOOK_ATTEMPTS_TOTAL: &str = "emporium_webhook_attempts_total";

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Records a delivery of the event `envelope` (as published) to each enabled endpoint that
/// wants its type and was registered before it happened, once per endpoint, and returns the deliveries not carried out yet (new
/// ones, and ones recorded before whose workflow may not have started).
pub async fn record_deliveries(
    db: &DatabaseConnection,
    envelope: &serde_json::Value,
) -> Result<Vec<Uuid>, WebhookError> {
    let field = |name: &str| {
        envelope
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| WebhookError::Corrupt(format!("an event without `{name}`")))
    };
    let event_type = field("type")?;
    let time = field("time")?;
    let event_id: Uuid = field("id")?
        .parse()
        .map_err(|_| WebhookError::Corrupt("an event id that is no UUID".to_owned()))?;
    db.execute(stmt(
        "INSERT INTO notifications.webhook_deliveries
             (id, endpoint_id, event_id, event_type, envelope, status)
         SELECT gen_random_uuid(), e.id, $1, $2, $3, 'pending'
           FROM notifications.webhook_endpoints e
          WHERE e.enabled AND $2 = ANY (e.event_types) AND e.created_at <= $4::timestamptz
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        [
            event_id.into(),
            event_type.into(),
            envelope.clone().into(),
            time.into(),
        ],
    ))
    .await?;
    let rows = db
        .query_all(stmt(
            "SELECT id FROM notifications.webhook_deliveries
              WHERE event_id = $1 AND status = 'pending' AND attempts = 0",
            [event_id.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?)
}

/// What an attempt needs: the delivery and its endpoint.
#[derive(FromQueryResult)]
struct Target {
    event_id: Uuid,
    envelope: serde_json::Value,
    endpoint_id: Uuid,
    url: String,
    secret: String,
    enabled: bool,
}

/// What the endpoint answered, or why it was not asked.
struct Answer {
    status_code: Option<u16>,
    error: Option<String>,
    /// Not sent: the destination is not allowed (which waiting does not change).
    not_allowed: bool,
    took: Duration,
}

impl Answer {
    fn outcome(&self) -> Verdict {
        match self.status_code {
            Some(code) if (200..300).contains(&code) => Verdict::Accepted,
            Some(408 | 429) => Verdict::Failed,
            Some(code) if (400..500).contains(&code) => Verdict::Refused,
            _ if self.not_allowed => Verdict::Refused,
            _ => Verdict::Failed,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused,
    Failed,
}

/// How webhooks are delivered (`webhooks.*` settings).
#[derive(Clone, Debug)]
pub struct WebhookPolicy {
    /// Where they may go.
    pub destinations: Destinations,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// An endpoint failing this long is disabled.
    pub disable_after: Duration,
    /// Waits between attempts, in seconds.
    pub retry_schedule_secs: Vec<u64>,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            destinations: Destinations::default(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            retry_schedule_secs: contracts::webhooks::DEFAULT_RETRY_SCHEDULE_SECS.to_vec(),
        }
    }
}

/// The webhook activities: attempts, through the destinations allowed.
pub struct WebhookActivities {
    db: DatabaseConnection,
    destinations: Destinations,
    timeout: Duration,
    disable_after: Duration,
}

#[activities]
impl WebhookActivities {
    #[activity(definition = contracts::webhooks::activities::Attempt)]
    #[tracing::instrument(skip_all, fields(delivery.id = %request.delivery_id, attempt = request.attempt))]
    pub async fn attempt_webhook(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: AttemptWebhook,
    ) -> Result<AttemptOutcome, ActivityError> {
        self.attempt(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

impl WebhookActivities {
    /// Attempts on this database, as `policy` says.
    pub fn new(db: DatabaseConnection, policy: &WebhookPolicy) -> Self {
        Self {
            db,
            destinations: policy.destinations.clone(),
            timeout: policy.timeout,
            disable_after: policy.disable_after,
        }
    }

    /// Posts the delivery once and records how it went (see the module's documentation).
    pub async fn attempt(&self, request: &AttemptWebhook) -> Result<AttemptOutcome, WebhookError> {
        let target = Target::find_by_statement(stmt(
            "SELECT d.event_id, d.envelope, e.id AS endpoint_id, e.url, e.secret, e.enabled
               FROM notifications.webhook_deliveries d
               JOIN notifications.webhook_endpoints e ON e.id = d.endpoint_id
              WHERE d.id = $1",
            [request.delivery_id.into()],
        ))
        .one(&self.db)
        .await?;
        let Some(target) = target.filter(|target| target.enabled) else {
            self.abandon(request.delivery_id).await?;
            return Ok(AttemptOutcome::Abandoned);
        };
        let answer = self.post(&target).await?;
        let verdict = answer.outcome();
        let label = match verdict {
            Verdict::Accepted => "delivered",
            Verdict::Refused => "rejected",
            Verdict::Failed => "failed",
        };
        metrics::counter!(WEBHOOK_ATTEMPTS_TOTAL, "outcome" => label).increment(1);
        tracing::info!(status = ?answer.status_code, error = ?answer.error, outcome = label, "webhook attempted");
        let txn = self.db.begin().await?;
        let disabled = self.note(&txn, request, &target, &answer, verdict).await?;
        txn.commit().await?;
        // A refusal that disabled the endpoint is reported as the failure that disabled it,
        // so that the admins are told.
        Ok(match (verdict, disabled) {
            (Verdict::Accepted, _) => AttemptOutcome::Delivered,
            (Verdict::Refused, None) => AttemptOutcome::Rejected,
            (_, disabled) => AttemptOutcome::Failed { disabled },
        })
    }

    /// Signs and posts the event to the addresses its URL resolves to, if they are allowed.
    async fn post(&self, target: &Target) -> Result<Answer, WebhookError> {
        let started = Instant::now();
        let answer = |status_code, error: Option<String>, not_allowed| Answer {
            status_code,
            error,
            not_allowed,
            took: started.elapsed(),
        };
        let refused = |err: DestinationError| {
            let not_allowed = !matches!(err, DestinationError::Unresolvable(_));
            Ok(answer(None, Some(format!("not sent: {err}")), not_allowed))
        };
        let url = match Destinations::parse(&target.url) {
            Ok(url) => url,
            Err(err) => return refused(err),
        };
        let addresses = match self.destinations.resolve(&url).await {
            Ok(addresses) => addresses,
            Err(err) => return refused(err),
        };
        let body = target.envelope.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let id = target.event_id.to_string();
        let signature = signing::signature(&target.secret, &id, timestamp, body.as_bytes())
            .map_err(|err| WebhookError::Corrupt(err.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(url.host_str().unwrap_or_default(), &addresses)
            .user_agent("Emporium-Webhooks/1")
            .build()
            .map_err(|err| WebhookError::Corrupt(format!("HTTP client: {err}")))?;
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        Ok(match sent {
            Ok(response) => answer(Some(response.status().as_u16()), None, false),
            Err(err) => answer(None, Some(without_url(&err)), false),
        })
    }

    /// Records the attempt, moves the delivery, and keeps the endpoint's health: returns the
    /// endpoint if this failure disabled it.
    async fn note(
        &self,
        txn: &DatabaseTransaction,
        request: &AttemptWebhook,
        target: &Target,
        answer: &Answer,
        verdict: Verdict,
    ) -> Result<Option<DisabledEndpoint>, WebhookError> {
        let status = match verdict {
            Verdict::Accepted => DeliveryStatus::Delivered,
            Verdict::Refused => DeliveryStatus::Failed,
            Verdict::Failed if request.last => DeliveryStatus::Failed,
            Verdict::Failed => DeliveryStatus::Pending,
        };
        txn.execute(stmt(
            "WITH moved AS (
                 UPDATE notifications.webhook_deliveries
                    SET attempts = attempts + 1, status = $2, updated_at = now()
                  WHERE id = $1 RETURNING attempts)
             INSERT INTO notifications.webhook_attempts
                 (delivery_id, number, status_code, error, duration_ms)
             SELECT $1, attempts, $3, $4, $5 FROM moved",
            [
                request.delivery_id.into(),
                status.as_str().into(),
                answer.status_code.map(i32::from).into(),
                answer.error.clone().into(),
                i32::try_from(answer.took.as_millis())
                    .unwrap_or(i32::MAX)
                    .into(),
            ],
        ))
        .await?;
        if verdict == Verdict::Accepted {
            txn.execute(stmt(
                "UPDATE notifications.webhook_endpoints SET failing_since = NULL WHERE id = $1",
                [target.endpoint_id.into()],
            ))
            .await?;
            return Ok(None);
        }
        self.disable_if_failing(txn, request, target).await
    }

    /// Marks the endpoint failing since now unless it already was, and disables it once it
    /// has been failing for `disable_after`; the delivery is then abandoned.
    async fn disable_if_failing(
        &self,
        txn: &DatabaseTransaction,
        request: &AttemptWebhook,
        target: &Target,
    ) -> Result<Option<DisabledEndpoint>, WebhookError> {
        let overdue = txn
            .query_one(stmt(
                "UPDATE notifications.webhook_endpoints
                    SET failing_since = COALESCE(failing_since, now())
                  WHERE id = $1
              RETURNING failing_since <= now() - make_interval(secs => $2) AS overdue",
                [
                    target.endpoint_id.into(),
                    self.disable_after.as_secs_f64().into(),
                ],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "overdue"))
            .transpose()?
            .unwrap_or(false);
        let hours = self.disable_after.as_secs_f64() / 3600.0;
        let reason = format!("every delivery failed for {hours:.1} hours");
        let now_disabled = overdue
            && txn
                .execute(stmt(
                    "UPDATE notifications.webhook_endpoints
                        SET enabled = false, disabled_reason = $2, updated_at = now()
                      WHERE id = $1 AND enabled",
                    [target.endpoint_id.into(), reason.clone().into()],
                ))
                .await?
                .rows_affected()
                == 1;
        if !now_disabled {
            return Ok(None);
        }
        txn.execute(stmt(
            "UPDATE notifications.webhook_deliveries SET status = 'abandoned' WHERE id = $1",
            [request.delivery_id.into()],
        ))
        .await?;
        audit::record(txn, disabled_entry(target, &reason)).await?;
        tracing::warn!(endpoint.id = %target.endpoint_id, %reason, "webhook endpoint disabled");
        Ok(Some(DisabledEndpoint {
            endpoint_id: target.endpoint_id,
            url: target.url.clone(),
            reason,
        }))
    }

    /// Marks a delivery whose endpoint is disabled or gone abandoned.
    async fn abandon(&self, delivery_id: Uuid) -> Result<(), WebhookError> {
        self.db
            .execute(stmt(
                "UPDATE notifications.webhook_deliveries SET status = 'abandoned',
                        updated_at = now() WHERE id = $1 AND status = 'pending'",
                [delivery_id.into()],
            ))
            .await?;
        Ok(())
    }
}

/// The audit entry of an endpoint the platform disabled.
fn disabled_entry(target: &Target, reason: &str) -> audit::Entry {
    audit::Entry {
        actor: "webhook delivery".to_owned(),
        action: "webhook.endpoint_disabled",
        subject: format!("webhook_endpoint:{}", target.endpoint_id),
        order_id: None,
        before: Some(json!({"enabled": true})),
        after: Some(json!({"enabled": false, "reason": reason})),
    }
}

/// A transport error in words, without the URL (which may hold a token in its query).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
