//! Domain events out: the transactional outbox each owning service writes, and the relay that
//! publishes it to NATS JetStream.
//!
//! A service records an event with [`record`] inside the transaction of the change it reports,
//! in its own schema's `outbox` (the services of [`OWNERS`]), as it does with the audit log and
//! the change feed: an event exists exactly when its change committed, and never for a
//! rolled-back or repeated one. (`stock.low` is written by a trigger on `inventory.stock`, so
//! every path that moves stock reports it; see migration 19.) [`relay::Relay`] publishes each
//! outbox in order, deduplicated by event id, and reports how far behind it is.

pub mod relay;

use contracts::Service;
use contracts::events::{Event, EventType};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::Serialize;
use uuid::Uuid;

/// The Postgres channel each outbox insert is announced on (payload: the schema), as the
/// migration's trigger names it.
pub const CHANNEL: &str = "emporium_outbox";

/// The services that keep an outbox: those whose changes become domain events.
pub const OWNERS: [Service; 4] = [
    Service::Orders,
    Service::Payments,
    Service::Shipping,
    Service::Inventory,
];

/// Writes `event` about `aggregate_id` into `owner`'s outbox, in the caller's transaction, and
/// returns its id.
pub async fn record<T: Serialize>(
    txn: &impl ConnectionTrait,
    owner: Service,
    event: EventType,
    aggregate_id: &str,
    data: T,
) -> Result<Uuid, DbErr> {
    if !OWNERS.contains(&owner) {
        return Err(DbErr::Custom(format!(
            "the {owner} service keeps no outbox"
        )));
    }
    let id = Uuid::now_v7();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let envelope = serde_json::to_value(Event::new(event, id, now, aggregate_id, data))
        .map_err(|err| DbErr::Custom(format!("serialising {}: {err}", event.name())))?;
    let sql = format!(
        "INSERT INTO {owner}.outbox (id, event_type, aggregate_id, envelope) \
         VALUES ($1, $2, $3, $4)"
    );
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            id.into(),
            event.name().into(),
            aggregate_id.into(),
            envelope.into(),
        ],
    ))
    .await?;
    Ok(id)
}

/// An event to record with a change, made before the change's transaction begins (see
/// [`record_outgoing`]).
#[derive(Clone, Debug)]
pub struct Outgoing {
    event: EventType,
    aggregate_id: String,
    data: serde_json::Value,
}

impl Outgoing {
    /// `event` about `aggregate_id`, with `data` (its payload type's value).
    pub fn new(event: EventType, aggregate_id: impl ToString, data: impl Serialize) -> Self {
        Self {
            event,
            aggregate_id: aggregate_id.to_string(),
            data: serde_json::to_value(data).unwrap_or_default(),
        }
    }
}

/// [`record`]s `outgoing` into `owner`'s outbox, in the caller's transaction.
pub async fn record_outgoing(
    txn: &impl ConnectionTrait,
    owner: Service,
    outgoing: Outgoing,
) -> Result<Uuid, DbErr> {
    record(
        txn,
        owner,
        outgoing.event,
        &outgoing.aggregate_id,
        outgoing.data,
    )
    .await
}

/// Deletes the events of `owner`'s outbox recorded more than a day ago, published or not: for
/// a deployment that does not publish (no `events.nats_url`), whose outboxes would otherwise
/// only grow. Publishing turned on later starts from the last day's events.
pub async fn discard_stale(db: &impl ConnectionTrait, owner: Service) -> Result<u64, DbErr> {
    let sql = format!("DELETE FROM {owner}.outbox WHERE recorded_at < now() - interval '1 day'");
    Ok(db
        .execute(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .rows_affected())
}
