//! The endpoints admins keep, and the deliveries made to them: what the API reads and writes.
//!
//! Every change is audited in its own transaction. A secret is made here and returned once,
//! by [`create`]; nothing reads it back out. Whether a URL may receive webhooks is the
//! caller's to check first ([`super::Destinations`]).

use super::{WebhookError, stmt};
use crate::audit;
use contracts::events::EventType;
use contracts::webhooks::DeliveryStatus;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// An endpoint, as admins see it (without its secret).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are posted.
    pub url: String,
    /// The events it receives.
    pub event_types: Vec<EventType>,
    /// The admin's note.
    pub description: Option<String>,
    /// Whether it receives deliveries: an endpoint that failed for too long is disabled,
    /// and an admin enables it again.
    pub enabled: bool,
    /// Why it was disabled, when the platform disabled it.
    pub disabled_reason: Option<String>,
    /// Since when every attempt to it failed, while they do (RFC 3339).
    pub failing_since: Option<String>,
    /// When it was registered (RFC 3339).
    pub created_at: String,
}

#[derive(FromQueryResult)]
struct EndpointRow {
    id: Uuid,
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<chrono::DateTime<chrono::FixedOffset>>,
    created_at: chrono::DateTime<chrono::FixedOffset>,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = WebhookError;

    fn try_from(row: EndpointRow) -> Result<Self, WebhookError> {
        let event_types = row
            .event_types
            .iter()
            .map(|name| {
                EventType::from_name(name)
                    .ok_or_else(|| WebhookError::Corrupt(format!("event type `{name}`")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Endpoint {
            id: row.id,
            url: row.url,
            event_types,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since.map(|at| at.to_rfc3339()),
            created_at: row.created_at.to_rfc3339(),
        })
    }
}

const ENDPOINT: &str = "SELECT id, url, event_types, description, enabled, disabled_reason,
                               failing_since, created_at
                          FROM notifications.webhook_endpoints";

/// What an admin registers.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// Where to post (checked by the caller).
    pub url: String,
    /// The events it wants (at least one).
    pub event_types: Vec<EventType>,
    /// A note.
    pub description: Option<String>,
}

/// What an admin changes; `None` keeps the value.
#[derive(Clone, Debug, Default)]
pub struct EndpointChange {
    /// A new URL (checked by the caller).
    pub url: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<EventType>>,
    /// A new note (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// Enabling clears why it was disabled and its failures.
    pub enabled: Option<bool>,
}

fn names(types: &[EventType]) -> Vec<String> {
    let mut names: Vec<String> = types.iter().map(|t| t.name().to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

fn entry(actor: &str, action: &'static str, id: Uuid, after: serde_json::Value) -> audit::Entry {
    audit::Entry {
        actor: actor.to_owned(),
        action,
        subject: format!("webhook_endpoint:{id}"),
        order_id: None,
        before: None,
        after: Some(after),
    }
}

/// Registers an endpoint with a new secret, and returns it with the secret (shown only now).
pub async fn create(
    db: &DatabaseConnection,
    new: NewEndpoint,
    actor: &str,
) -> Result<(Endpoint, String), WebhookError> {
    let id = Uuid::now_v7();
    let secret = super::signing::new_secret();
    let types = names(&new.event_types);
    let txn = db.begin().await?;
    txn.execute(stmt(
        "INSERT INTO notifications.webhook_endpoints (id, url, event_types, description, secret)
         VALUES ($1, $2, $3, $4, $5)",
        [
            id.into(),
            new.url.clone().into(),
            types.clone().into(),
            new.description.clone().into(),
            secret.clone().into(),
        ],
    ))
    .await?;
    let after = json!({"url": new.url, "event_types": types});
    audit::record(&txn, entry(actor, "webhook.endpoint_created", id, after)).await?;
    txn.commit().await?;
    let endpoint = get(db, id)
        .await?
        .ok_or_else(|| WebhookError::Corrupt("an endpoint just written is gone".to_owned()))?;
    Ok((endpoint, secret))
}

/// Every endpoint, newest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Endpoint>, WebhookError> {
    let sql = format!("{ENDPOINT} ORDER BY created_at DESC, id DESC");
    EndpointRow::find_by_statement(stmt(&sql, []))
        .all(db)
        .await?
        .into_iter()
        .map(Endpoint::try_from)
        .collect()
}

/// One endpoint.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Endpoint>, WebhookError> {
    let sql = format!("{ENDPOINT} WHERE id = $1");
    EndpointRow::find_by_statement(stmt(&sql, [id.into()]))
        .one(db)
        .await?
        .map(Endpoint::try_from)
        .transpose()
}

/// Applies `change`; `None` when there is no such endpoint.
pub async fn update(
    db: &DatabaseConnection,
    id: Uuid,
    change: EndpointChange,
    actor: &str,
) -> Result<Option<Endpoint>, WebhookError> {
    let types = change.event_types.as_deref().map(names);
    let txn = db.begin().await?;
    let updated = txn
        .execute(stmt(
            "UPDATE notifications.webhook_endpoints
                SET url = COALESCE($2, url),
                    event_types = COALESCE($3, event_types),
                    description = CASE WHEN $4 THEN $5 ELSE description END,
                    enabled = COALESCE($6, enabled),
                    disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
                    failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
                    updated_at = now()
              WHERE id = $1",
            [
                id.into(),
                change.url.clone().into(),
                types.clone().into(),
                change.description.is_some().into(),
                change.description.clone().flatten().into(),
                change.enabled.into(),
            ],
        ))
        .await?
        .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    let after = json!({"url": change.url, "event_types": types, "enabled": change.enabled});
    audit::record(&txn, entry(actor, "webhook.endpoint_updated", id, after)).await?;
    let endpoint = get(&txn, id).await?;
    txn.commit().await?;
    Ok(endpoint)
}

/// Removes an endpoint and its deliveries; false when there was none.
pub async fn delete(db: &DatabaseConnection, id: Uuid, actor: &str) -> Result<bool, WebhookError> {
    let txn = db.begin().await?;
    let deleted = txn
        .execute(stmt(
            "DELETE FROM notifications.webhook_endpoints WHERE id = $1",
            [id.into()],
        ))
        .await?
        .rows_affected();
    if deleted == 1 {
        audit::record(
            &txn,
            entry(actor, "webhook.endpoint_deleted", id, json!({})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(deleted == 1)
}

/// A delivery of one event to one endpoint, with its attempts.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event (also the `webhook-id` header).
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: EventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// When it was recorded (RFC 3339).
    pub created_at: String,
}

/// One attempt to post a delivery (read straight from the row's JSON).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// 1, 2, 3… across every run of the delivery.
    pub number: i32,
    /// When it was made (RFC 3339).
    pub at: String,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<i32>,
    /// What went wrong, when it did not answer or was not asked.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i32,
}

#[derive(FromQueryResult)]
struct DeliveryRow {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    created_at: chrono::DateTime<chrono::FixedOffset>,
    attempts: serde_json::Value,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = WebhookError;

    fn try_from(row: DeliveryRow) -> Result<Self, WebhookError> {
        let corrupt = |what: String| WebhookError::Corrupt(what);
        let attempts: Vec<Attempt> =
            serde_json::from_value(row.attempts).map_err(|e| corrupt(e.to_string()))?;
        Ok(Delivery {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            event_type: EventType::from_name(&row.event_type)
                .ok_or_else(|| corrupt(format!("event type `{}`", row.event_type)))?,
            status: row.status.parse().map_err(corrupt)?,
            attempts,
            created_at: row.created_at.to_rfc3339(),
        })
    }
}

const DELIVERY: &str = "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status,
           d.created_at,
           COALESCE((SELECT jsonb_agg(jsonb_build_object(
                        'number', a.number, 'at', a.at, 'status_code', a.status_code,
                        'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.number)
                       FROM notifications.webhook_attempts a WHERE a.delivery_id = d.id),
                    '[]'::jsonb) AS attempts
      FROM notifications.webhook_deliveries d";

/// The endpoint's latest deliveries (at most `limit`), newest first.
pub async fn deliveries(
    db: &DatabaseConnection,
    endpoint_id: Uuid,
    limit: u64,
) -> Result<Vec<Delivery>, WebhookError> {
    let sql = format!("{DELIVERY} WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC LIMIT $2");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    DeliveryRow::find_by_statement(stmt(&sql, [endpoint_id.into(), limit.into()]))
        .all(db)
        .await?
        .into_iter()
        .map(Delivery::try_from)
        .collect()
}

/// One delivery.
pub async fn delivery(db: &DatabaseConnection, id: Uuid) -> Result<Option<Delivery>, WebhookError> {
    let sql = format!("{DELIVERY} WHERE d.id = $1");
    DeliveryRow::find_by_statement(stmt(&sql, [id.into()]))
        .one(db)
        .await?
        .map(Delivery::try_from)
        .transpose()
}
