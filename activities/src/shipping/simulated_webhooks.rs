//! The simulated carrier's webhooks: like a real carrier, it tells the shop about each
//! tracking event by posting it, signed, to the shop's carrier webhook
//! (`POST /webhooks/carrier/simulated`, `X-Carrier-Signature: sha256=<hex>` of HMAC-SHA256
//! over the body), in the same JSON the HTTP carrier API uses.
//!
//! It runs beside the shipping worker: every tick it reads the simulated parcels that are
//! still on their way from the shipping schema, and posts each event that is due and that the
//! shipment has not recorded yet. A failed post is tried again on a later tick, and an event
//! already posted is posted again only if it is still not recorded a while later: the workflow
//! applies each event id once, so a repeat is harmless. With several shipping workers, one
//! sends per tick (a transaction-scoped advisory lock).

use super::http::{SIGNATURE_HEADER, sign_webhook};
use super::simulated::SimulatedCarrier;
use contracts::shipping::{ShipmentStatus, TrackingEvent};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use secrecy::SecretString;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How long a posted event waits to be recorded before it is posted again.
const REPOST_AFTER: Duration = Duration::from_secs(10);

/// Where the simulated carrier posts its events, and the secret it signs them with.
#[derive(Debug, Clone)]
pub struct SimulatedWebhooks {
    /// The shop's carrier webhook, such as `http://127.0.0.1:8080/webhooks/carrier/simulated`.
    pub url: String,
    /// The shared secret (the API verifies with the same one).
    pub secret: SecretString,
}

/// Posts the simulated carrier's events until `stop`.
pub struct WebhookSender {
    db: DatabaseConnection,
    carrier: SimulatedCarrier,
    target: SimulatedWebhooks,
    http: reqwest::Client,
    posted: HashMap<String, Instant>,
}

impl WebhookSender {
    /// A sender for `carrier`'s parcels in this database.
    pub fn new(
        db: DatabaseConnection,
        carrier: SimulatedCarrier,
        target: SimulatedWebhooks,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            db,
            carrier,
            target,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            posted: HashMap::new(),
        })
    }

    /// Sends what is due every `tick` until `stop`.
    pub async fn run(mut self, tick: Duration, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(err) = self.send_due().await {
                        tracing::warn!(%err, "simulated carrier webhooks failed; will retry");
                    }
                }
            }
        }
    }

    /// Posts every due, unrecorded event of every simulated parcel on its way.
    pub async fn send_due(&mut self) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        let mine = txn
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(hashtext('shipping:simulated-webhooks')) AS mine",
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "mine"))
            .transpose()?
            .unwrap_or(false);
        if !mine {
            return txn.commit().await;
        }
        let parcels = txn
            .query_all(Statement::from_string(
                DbBackend::Postgres,
                "SELECT tracking_number, status FROM shipping.shipments
                  WHERE carrier = 'simulated'
                    AND status NOT IN ('delivered', 'exception', 'cancelled')",
            ))
            .await?;
        let now = SystemTime::now();
        for parcel in parcels {
            let tracking_number: String = parcel.try_get("", "tracking_number")?;
            let recorded: String = parcel.try_get("", "status")?;
            let Ok(events) = self.carrier.events_due(&tracking_number, now) else {
                continue;
            };
            for event in events.into_iter().filter(|e| ahead_of(e, &recorded)) {
                self.post_once_in_a_while(&event).await;
            }
        }
        self.posted
            .retain(|_, at| at.elapsed() < Duration::from_secs(3600));
        txn.commit().await
    }

    async fn post_once_in_a_while(&mut self, event: &TrackingEvent) {
        if self
            .posted
            .get(&event.event_id)
            .is_some_and(|at| at.elapsed() < REPOST_AFTER)
        {
            return;
        }
        match self.post(event).await {
            Ok(()) => {
                tracing::debug!(event = %event.event_id, "simulated carrier posted an event");
                self.posted.insert(event.event_id.clone(), Instant::now());
            }
            Err(err) => tracing::info!(event = %event.event_id, %err, "webhook post failed"),
        }
    }

    async fn post(&self, event: &TrackingEvent) -> Result<(), String> {
        let body = serde_json::json!({
            "id": event.event_id,
            "tracking_number": event.tracking_number,
            "status": event.status.as_str(),
            "description": event.description,
            "occurred_at": event.occurred_at,
            "location": event.location,
        })
        .to_string();
        let signature = sign_webhook(&self.target.secret, body.as_bytes());
        let response = self
            .http
            .post(&self.target.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the shop answered {}", response.status()))
        }
    }
}

/// Whether `event` moves a parcel whose recorded status is `recorded` forward.
fn ahead_of(event: &TrackingEvent, recorded: &str) -> bool {
    recorded
        .parse::<ShipmentStatus>()
        .is_ok_and(|recorded| recorded.moves_forward(event.status))
}
