//! The shipping service (schema `shipping`): rate shopping, labels and tracking through
//! [`Carrier`]s.
//!
//! A shipment's natural key is its order: a label is bought once per order (attempts for one
//! order are serialised with an advisory lock and find the label an earlier attempt stored), a
//! tracking event once per `(order, event id)`.

pub mod carrier;
pub mod http;
pub mod queries;
pub mod simulated;
pub mod simulated_webhooks;

use crate::events;
use crate::failure::{IntoActivityError, non_retryable, retryable};
pub use carrier::{BoughtLabel, Carrier, CarrierError, Carriers};
use contracts::events::{EventType, ShipmentLabelCreated, ShipmentStatusUpdated};
use contracts::shipping::{
    BuyLabel, Label, Rate, RecordTracking, ShipOrder, ShipmentRequest, ShipmentStatus, TrackParcel,
    TrackingEvent,
};
use contracts::{OrderId, Service};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait, Value,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Application-failure type when no carrier can ship the parcel. Non-retryable.
pub const NO_CARRIER: &str = "NoCarrier";
/// Application-failure type when a carrier refuses a request. Non-retryable.
pub const CARRIER_REFUSED: &str = "CarrierRefused";

/// Why a shipping operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// No carrier offers a rate.
    #[error("no carrier can ship this parcel")]
    NoCarrier,
    /// The named carrier is not configured here.
    #[error("carrier `{0}` is not configured")]
    UnknownCarrier(String),
    /// The carrier failed.
    #[error(transparent)]
    Carrier(#[from] CarrierError),
    /// The database failed.
    #[error("shipping database error: {0}")]
    Db(#[from] DbErr),
    /// A stored row holds what no code writes: a retry cannot help.
    #[error("stored shipping data is corrupt: {0}")]
    Corrupt(String),
}

/// Application-failure type of stored shipping data no code writes (non-retryable).
pub const SHIPPING_CORRUPT: &str = "ShippingDataCorrupt";

impl IntoActivityError for ShippingError {
    fn into_activity_error(self) -> ActivityError {
        match self {
            ShippingError::NoCarrier | ShippingError::UnknownCarrier(_) => {
                non_retryable(NO_CARRIER, self.to_string())
            }
            ShippingError::Carrier(CarrierError::Rejected(_)) => {
                non_retryable(CARRIER_REFUSED, self.to_string())
            }
            ShippingError::Corrupt(_) => non_retryable(SHIPPING_CORRUPT, self.to_string()),
            ShippingError::Carrier(CarrierError::Unavailable(_)) | ShippingError::Db(_) => {
                retryable(self)
            }
        }
    }
}

/// How the shipping service follows parcels.
#[derive(Debug, Clone, Copy)]
pub struct TrackingPolicy {
    /// How long the first poll of a carrier waits (webhooks are the carriers' first way to
    /// tell; polling is the fallback).
    pub poll_interval: Duration,
    /// The longest wait between polls: the wait doubles up to it while no news comes.
    pub poll_max_interval: Duration,
    /// After how long without delivery a parcel is presumed lost.
    pub delivery_deadline: Duration,
}

/// A time from the workflow's clock (Unix milliseconds), or this machine's when none is given.
fn clock(as_of_ms: Option<u64>) -> SystemTime {
    as_of_ms.map_or_else(SystemTime::now, |ms| UNIX_EPOCH + Duration::from_millis(ms))
}

/// The shipping service's activities.
pub struct ShippingActivities {
    db: DatabaseConnection,
    carriers: Carriers,
    policy: TrackingPolicy,
}

/// The label stored for an order (`$1`).
const STORED_LABEL: &str = "SELECT carrier, service, label_id, tracking_number, label_url
                              FROM shipping.shipments WHERE order_id = $1";

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

#[activities]
impl ShippingActivities {
    #[activity(definition = contracts::shipping::activities::ShipOrder)]
    #[tracing::instrument(skip_all, fields(order.id = %request.request.order_id))]
    pub async fn ship_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ShipOrder,
    ) -> Result<Label, ActivityError> {
        self.ship(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::shipping::activities::QuoteRates)]
    #[tracing::instrument(skip_all, fields(order.id = %request.order_id))]
    pub async fn quote_rates(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ShipmentRequest,
    ) -> Result<Vec<Rate>, ActivityError> {
        self.rates(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::shipping::activities::BuyLabel)]
    #[tracing::instrument(skip_all, fields(order.id = %request.request.order_id, carrier = %request.rate.carrier))]
    pub async fn buy_label(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: BuyLabel,
    ) -> Result<Label, ActivityError> {
        self.label(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::shipping::activities::TrackShipment)]
    #[tracing::instrument(skip_all, fields(order.id = %request.label.order_id, tracking = %request.label.tracking_number))]
    pub async fn track_shipment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: TrackParcel,
    ) -> Result<Vec<TrackingEvent>, ActivityError> {
        self.track(&request.label, clock(request.as_of_ms))
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::shipping::activities::RecordTracking)]
    #[tracing::instrument(skip_all, fields(order.id = %record.order_id, status = %record.event.status))]
    pub async fn record_tracking(
        self: Arc<Self>,
        _ctx: ActivityContext,
        record: RecordTracking,
    ) -> Result<(), ActivityError> {
        self.record(&record)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::shipping::activities::CancelLabel)]
    #[tracing::instrument(skip_all, fields(order.id = %label.order_id))]
    pub async fn cancel_label(
        self: Arc<Self>,
        _ctx: ActivityContext,
        label: Label,
    ) -> Result<(), ActivityError> {
        self.cancel(&label)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

impl ShippingActivities {
    /// Shipping activities with these carriers and this tracking policy.
    pub fn new(db: DatabaseConnection, carriers: Carriers, policy: TrackingPolicy) -> Self {
        Self {
            db,
            carriers,
            policy,
        }
    }

    fn carrier(&self, name: &str) -> Result<&Arc<dyn Carrier>, ShippingError> {
        self.carriers
            .get(name)
            .ok_or_else(|| ShippingError::UnknownCarrier(name.to_owned()))
    }

    /// Every carrier's offers, cheapest (then fastest) first. A carrier that refuses is
    /// skipped; if none answers at all, the call is retried.
    pub async fn rates(&self, request: &ShipmentRequest) -> Result<Vec<Rate>, ShippingError> {
        let mut rates = Vec::new();
        let mut outage = None;
        for carrier in self.carriers.all() {
            match carrier.rates(request).await {
                Ok(offers) => rates.extend(offers),
                Err(CarrierError::Unavailable(reason)) => outage = Some(reason),
                Err(CarrierError::Rejected(reason)) => {
                    tracing::info!(carrier = carrier.name(), %reason, "carrier offers no rate");
                }
            }
        }
        if rates.is_empty() {
            return Err(match outage {
                Some(reason) => CarrierError::Unavailable(reason).into(),
                None => ShippingError::NoCarrier,
            });
        }
        rates.sort_by_key(|rate| (rate.amount.amount_minor, rate.estimated_days));
        Ok(rates)
    }

    fn label_of(&self, order_id: OrderId, row: &sea_orm::QueryResult) -> Result<Label, DbErr> {
        Ok(Label {
            order_id,
            carrier: row.try_get("", "carrier")?,
            service: row.try_get("", "service")?,
            label_id: row.try_get("", "label_id")?,
            tracking_number: row.try_get("", "tracking_number")?,
            label_url: row.try_get("", "label_url")?,
            poll_interval_secs: self.policy.poll_interval.as_secs().max(1),
            delivery_deadline_secs: self.policy.delivery_deadline.as_secs(),
            poll_max_interval_secs: self
                .policy
                .poll_max_interval
                .max(self.policy.poll_interval)
                .as_secs()
                .max(1),
        })
    }

    /// Rate-shops and buys the cheapest label, once per order: when the order has a label
    /// already (a retry, or the shipment continued elsewhere) it is returned without asking
    /// any carrier.
    pub async fn ship(&self, request: &ShipOrder) -> Result<Label, ShippingError> {
        if let Some(label) = self.stored_label(request.request.order_id).await? {
            return Ok(label);
        }
        let cheapest = self
            .rates(&request.request)
            .await?
            .into_iter()
            .next()
            .ok_or(ShippingError::NoCarrier)?;
        self.buy(
            &BuyLabel {
                request: request.request.clone(),
                rate: cheapest,
                idempotency_key: request.idempotency_key.clone(),
            },
            clock(Some(request.as_of_ms)),
        )
        .await
    }

    async fn stored_label(&self, order_id: OrderId) -> Result<Option<Label>, ShippingError> {
        let row = self
            .db
            .query_one(stmt(STORED_LABEL, [order_id.0.into()]))
            .await?;
        Ok(row.map(|row| self.label_of(order_id, &row)).transpose()?)
    }

    /// Buys the order's label, once: a second call returns the stored label.
    pub async fn label(&self, request: &BuyLabel) -> Result<Label, ShippingError> {
        self.buy(request, SystemTime::now()).await
    }

    async fn buy(&self, request: &BuyLabel, now: SystemTime) -> Result<Label, ShippingError> {
        let order_id = request.request.order_id;
        let txn = self.db.begin().await?;
        txn.execute(stmt(
            "SELECT pg_advisory_xact_lock(hashtextextended('shipping:' || $1::text, 0))",
            [order_id.0.into()],
        ))
        .await?;
        let select = STORED_LABEL;
        if let Some(row) = txn.query_one(stmt(select, [order_id.0.into()])).await? {
            txn.commit().await?;
            tracing::info!("label already bought");
            return Ok(self.label_of(order_id, &row)?);
        }
        let carrier = self.carrier(&request.rate.carrier)?;
        let bought = carrier
            .buy_label(
                &request.request,
                &request.rate,
                &request.idempotency_key,
                now,
            )
            .await?;
        txn.execute(stmt(
            "INSERT INTO shipping.shipments
                 (order_id, carrier, service, label_id, tracking_number, label_url, rate_minor, currency, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'label_created')",
            [
                order_id.0.into(),
                request.rate.carrier.clone().into(),
                request.rate.service.clone().into(),
                bought.label_id.clone().into(),
                bought.tracking_number.clone().into(),
                bought.label_url.clone().into(),
                request.rate.amount.amount_minor.into(),
                request.rate.amount.currency.code().into(),
            ],
        ))
        .await?;
        let data = ShipmentLabelCreated {
            order_id,
            carrier: request.rate.carrier.clone(),
            tracking_number: bought.tracking_number.clone(),
        };
        let id = order_id.to_string();
        events::record(
            &txn,
            Service::Shipping,
            EventType::ShipmentLabelCreated,
            &id,
            data,
        )
        .await?;
        let row = txn
            .query_one(stmt(select, [order_id.0.into()]))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("shipment just written".to_owned()))?;
        txn.commit().await?;
        tracing::info!(tracking = %bought.tracking_number, "label bought");
        Ok(self.label_of(order_id, &row)?)
    }

    /// The carrier's tracking events for the label, as of `now` (see [`Carrier`]).
    pub async fn track(
        &self,
        label: &Label,
        now: SystemTime,
    ) -> Result<Vec<TrackingEvent>, ShippingError> {
        Ok(self.carrier(&label.carrier)?.track(label, now).await?)
    }

    /// Records a tracking event once and moves the shipment's status forward.
    pub async fn record(&self, record: &RecordTracking) -> Result<(), ShippingError> {
        let txn = self.db.begin().await?;
        let inserted = txn
            .execute(stmt(
                "INSERT INTO shipping.tracking_events
                     (order_id, event_id, status, description, occurred_at, location)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                [
                    record.order_id.0.into(),
                    record.event.event_id.clone().into(),
                    record.event.status.as_str().into(),
                    record.event.description.clone().into(),
                    record.event.occurred_at.clone().into(),
                    record
                        .event
                        .location
                        .as_ref()
                        .and_then(|place| serde_json::to_value(place).ok())
                        .into(),
                ],
            ))
            .await?
            .rows_affected();
        if inserted == 1 {
            advance_shipment(&txn, record.order_id, record.event.status).await?;
            let body = serde_json::json!({
                "status": record.event.status,
                "description": record.event.description,
                "occurred_at": record.event.occurred_at,
                "location": record.event.location,
            });
            crate::feed::append(
                &txn,
                record.order_id.0,
                crate::feed::FeedKind::Tracking,
                body,
            )
            .await?;
            let data = ShipmentStatusUpdated {
                order_id: record.order_id,
                status: record.event.status.as_str().to_owned(),
                description: record.event.description.clone(),
                location: record.event.location.clone(),
                occurred_at: record.event.occurred_at.clone(),
            };
            let (event, id) = (
                EventType::ShipmentStatusUpdated,
                record.order_id.to_string(),
            );
            events::record(&txn, Service::Shipping, event, &id, data).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Cancels the label before pickup.
    pub async fn cancel(&self, label: &Label) -> Result<(), ShippingError> {
        self.carrier(&label.carrier)?
            .cancel_label(
                label,
                &format!("shipment-{}/cancel", label.order_id),
                SystemTime::now(),
            )
            .await?;
        self.db
            .execute(stmt(
                "UPDATE shipping.shipments SET status = $2, updated_at = now()
                  WHERE order_id = $1",
                [
                    label.order_id.0.into(),
                    contracts::shipping::ShipmentStatus::Cancelled
                        .as_str()
                        .into(),
                ],
            ))
            .await?;
        tracing::info!("label cancelled");
        Ok(())
    }
}

/// Moves the order's shipment to `next` if that moves it forward
/// ([`ShipmentStatus::moves_forward`], the one place the order of statuses is kept).
async fn advance_shipment(
    txn: &DatabaseTransaction,
    order_id: OrderId,
    next: ShipmentStatus,
) -> Result<(), ShippingError> {
    let current = txn
        .query_one(stmt(
            "SELECT status FROM shipping.shipments WHERE order_id = $1 FOR UPDATE",
            [order_id.0.into()],
        ))
        .await?
        .map(|row| row.try_get::<String>("", "status"))
        .transpose()?;
    let Some(current) = current else {
        return Ok(());
    };
    let current: ShipmentStatus = current
        .parse()
        .map_err(|err: String| ShippingError::Corrupt(format!("shipment of {order_id}: {err}")))?;
    if current.moves_forward(next) {
        txn.execute(stmt(
            "UPDATE shipping.shipments SET status = $2, updated_at = now() WHERE order_id = $1",
            [order_id.0.into(), next.as_str().into()],
        ))
        .await?;
    }
    Ok(())
}
