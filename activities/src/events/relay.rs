//! The outbox relay: publishes one service's outbox to NATS JetStream, in order.
//!
//! Each pass takes the oldest unpublished events (by `seq`, the order they committed in),
//! publishes them on `<prefix>.<aggregate>.<event>` with the event id as JetStream's
//! `Nats-Msg-Id`, waits for the stream's acknowledgements, and marks what was acknowledged.
//! A pass holds a transaction-scoped advisory lock on the outbox, so of several workers of one
//! service one relays at a time and an aggregate's events stay in order; a pass that stops
//! half-way (a crash, a lost connection) leaves its events unmarked, and the next publishes
//! them again, which the stream drops as duplicates within its duplicate window. A relay wakes
//! on the outbox's `NOTIFY` and polls besides, in case a notification is lost.
//!
//! Published events are deleted from the outbox a day later (hourly), so it holds what waits
//! and the day's history, not everything ever published.
//!
//! Metrics: `emporium_outbox_lag_seconds{service}`, the age of the oldest unpublished event
//! (0 when none waits), and `emporium_events_published_total{service}`.

use super::CHANNEL;
use async_nats::jetstream::{self, stream};
use contracts::Service;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement,
    TransactionTrait,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Most events one pass publishes.
const BATCH: usize = 200;
/// How often a relay deletes what it published long ago.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a published event stays in the outbox (the stream keeps it longer), for a look
/// at what went out.
const KEEP_PUBLISHED_HOURS: i64 = 24;

/// Where events are published.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// The NATS server (`nats://127.0.0.1:4222`).
    pub url: String,
    /// The JetStream stream (`EMPORIUM_EVENTS`).
    pub stream: String,
    /// The first token of every subject (`emporium`).
    pub subject_prefix: String,
    /// How long the stream remembers an event id to drop a second publication of it.
    pub duplicate_window: Duration,
    /// How long the stream keeps an event.
    pub max_age: Duration,
}

/// Why a relay could not publish.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// NATS could not be reached, or refused the stream.
    #[error("NATS: {0}")]
    Nats(String),
    /// The outbox could not be read or marked.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Connects to NATS and makes sure the stream exists, on `<prefix>.>`.
pub async fn connect(config: &StreamConfig) -> Result<jetstream::Context, RelayError> {
    let client = async_nats::ConnectOptions::new()
        .name("emporium")
        .connect(config.url.as_str())
        .await
        .map_err(|err| RelayError::Nats(err.to_string()))?;
    let context = jetstream::new(client);
    context
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            duplicate_window: config.duplicate_window,
            max_age: config.max_age,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|err| RelayError::Nats(format!("stream {}: {err}", config.stream)))?;
    Ok(context)
}

/// Relays one service's outbox.
pub struct Relay {
    db: DatabaseConnection,
    owner: Service,
    jetstream: jetstream::Context,
    subject_prefix: String,
    poll: Duration,
}

#[derive(FromQueryResult)]
struct Pending {
    seq: i64,
    id: Uuid,
    event_type: String,
    envelope: serde_json::Value,
}

impl Relay {
    /// A relay of `owner`'s outbox (read through `db`, which works as that service's role).
    pub fn new(
        db: DatabaseConnection,
        owner: Service,
        jetstream: jetstream::Context,
        subject_prefix: &str,
    ) -> Self {
        Self {
            db,
            owner,
            jetstream,
            subject_prefix: subject_prefix.to_owned(),
            poll: Duration::from_secs(1),
        }
    }

    /// Relays until `stop`: at once whenever the outbox announces an event, and at least once a
    /// second.
    pub async fn run(self, stop: CancellationToken) {
        let mut listener = self.listen().await;
        tracing::info!(service = %self.owner, "outbox relay started");
        let mut pruned: Option<tokio::time::Instant> = None;
        loop {
            if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned = Some(tokio::time::Instant::now());
                if let Err(err) = self.prune().await {
                    tracing::warn!(service = %self.owner, %err, "pruning the outbox failed");
                }
            }
            let published = match self.publish_pending().await {
                Ok(published) => published,
                Err(err) => {
                    tracing::warn!(service = %self.owner, %err, "outbox relay pass failed");
                    0
                }
            };
            if published == BATCH {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.poll) => {}
                lost = wake(listener.as_mut()) => if lost { listener = None },
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = PgListener::connect_with(pool).await.ok()?;
        listener.listen(CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Publishes what waits (at most one batch) and returns how many events it published; 0
    /// when another relay of the same outbox holds it.
    pub async fn publish_pending(&self) -> Result<usize, RelayError> {
        let owner = self.owner;
        let txn = self.db.begin().await?;
        let locked = txn
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked",
                [format!("outbox:{owner}").into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?
            .unwrap_or(false);
        if !locked {
            return Ok(0);
        }
        let pending = Pending::find_by_statement(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT seq, id, event_type, envelope FROM {owner}.outbox \
                 WHERE published_at IS NULL ORDER BY seq LIMIT {BATCH}"
            ),
        ))
        .all(&txn)
        .await?;
        let lag = match pending.first() {
            Some(_) => self.lag(&txn).await?,
            None => 0.0,
        };
        metrics::gauge!("emporium_outbox_lag_seconds", "service" => owner.as_str()).set(lag);
        let published = self.publish(&pending).await;
        if let Some(last) = published.checked_sub(1).map(|i| pending[i].seq) {
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "UPDATE {owner}.outbox SET published_at = now() \
                     WHERE seq <= $1 AND published_at IS NULL"
                ),
                [last.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        metrics::counter!("emporium_events_published_total", "service" => owner.as_str())
            .increment(published as u64);
        Ok(published)
    }

    /// Publishes `pending` in order and returns how many, from the first, the stream
    /// acknowledged: the rest wait for the next pass.
    async fn publish(&self, pending: &[Pending]) -> usize {
        let mut acks = Vec::with_capacity(pending.len());
        for event in pending {
            let subject = format!("{}.{}", self.subject_prefix, event.event_type);
            let payload = event.envelope.to_string();
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
            match self
                .jetstream
                .publish_with_headers(subject, headers, payload.into())
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(err) => {
                    tracing::warn!(event_id = %event.id, %err, "publishing an event failed");
                    break;
                }
            }
        }
        let mut acknowledged = 0;
        for ack in acks {
            if let Err(err) = ack.await {
                tracing::warn!(%err, "the stream did not acknowledge an event");
                break;
            }
            acknowledged += 1;
        }
        acknowledged
    }

    /// Deletes the events published more than a day ago.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let owner = self.owner;
        let deleted = self
            .db
            .execute(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "DELETE FROM {owner}.outbox WHERE published_at < now() - \
                     make_interval(hours => {KEEP_PUBLISHED_HOURS})"
                ),
            ))
            .await?
            .rows_affected();
        Ok(deleted)
    }

    /// Seconds since the oldest unpublished event was recorded.
    async fn lag(&self, txn: &impl ConnectionTrait) -> Result<f64, DbErr> {
        let owner = self.owner;
        let row = txn
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(recorded_at)), 0)::float8 \
                     AS lag FROM {owner}.outbox WHERE published_at IS NULL"
                ),
            ))
            .await?;
        Ok(row
            .map(|row| row.try_get::<f64>("", "lag"))
            .transpose()?
            .unwrap_or(0.0))
    }
}

/// Waits for the next announcement; true when the listener failed (the relay then polls
/// only). Without a listener, never returns.
async fn wake(listener: Option<&mut PgListener>) -> bool {
    match listener {
        Some(listener) => listener.recv().await.is_err(),
        None => std::future::pending().await,
    }
}
