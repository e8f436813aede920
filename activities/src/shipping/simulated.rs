//! The built-in simulated carrier: no network, no state, and tracking that advances with time.
//!
//! The tracking number carries everything the simulation needs (scenario and the moment the
//! label was bought), so tracking survives any restart. Every `step` the parcel moves on:
//! picked up (`in_transit`), `out_for_delivery`, `delivered`. Like the payment sandbox's test
//! cards, some postal codes misbehave on purpose:
//!
//! | postal code | what happens |
//! |---|---|
//! | `00404` | picked up, then lost: `exception` ("parcel lost in transit") |
//! | `00408` | picked up, then never heard of again (the delivery deadline declares it lost) |
//! | `00500` | picked up, then `exception` ("address not found, returned to sender") |
//!
//! A label can be cancelled until the parcel is picked up. The carrier runs on the clock its
//! caller passes (the workflow's), so a test that skips time moves parcels too. Like a real
//! carrier it also tells by webhook: [`super::simulated_webhooks`] posts each event, signed, to
//! the API's `POST /webhooks/carrier/simulated` once it is due.

use super::carrier::{BoughtLabel, Carrier, CarrierError};
use async_trait::async_trait;
use contracts::shipping::{Label, Rate, ShipmentRequest, ShipmentStatus, TrackingEvent};
use contracts::{Currency, Money};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Postal code whose parcels get lost.
pub const LOST_POSTAL_CODE: &str = "00404";
/// Postal code whose parcels cannot be delivered.
pub const EXCEPTION_POSTAL_CODE: &str = "00500";
/// Postal code whose parcels are picked up and then never heard of again.
pub const SILENT_POSTAL_CODE: &str = "00408";

/// The simulated carrier.
#[derive(Debug, Clone)]
pub struct SimulatedCarrier {
    step: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Normal,
    Lost,
    Undeliverable,
    Silent,
}

impl SimulatedCarrier {
    /// A carrier whose parcels move on every `step`.
    pub fn new(step: Duration) -> Self {
        Self { step }
    }

    fn parse(tracking_number: &str) -> Option<(Scenario, u64)> {
        let mut parts = tracking_number.strip_prefix("SIM-")?.split('-');
        let scenario = match parts.next()? {
            "N" => Scenario::Normal,
            "L" => Scenario::Lost,
            "X" => Scenario::Undeliverable,
            "S" => Scenario::Silent,
            _ => return None,
        };
        let created_ms = parts.next()?.parse().ok()?;
        Some((scenario, created_ms))
    }

    fn timeline(scenario: Scenario) -> Vec<(u32, ShipmentStatus, &'static str)> {
        let picked_up = (1, ShipmentStatus::InTransit, "picked up by the carrier");
        match scenario {
            Scenario::Normal => vec![
                picked_up,
                (2, ShipmentStatus::OutForDelivery, "out for delivery"),
                (3, ShipmentStatus::Delivered, "delivered to the recipient"),
            ],
            Scenario::Lost => vec![
                picked_up,
                (3, ShipmentStatus::Exception, "parcel lost in transit"),
            ],
            Scenario::Undeliverable => vec![
                picked_up,
                (
                    2,
                    ShipmentStatus::Exception,
                    "address not found, returned to sender",
                ),
            ],
            Scenario::Silent => vec![picked_up],
        }
    }

    fn elapsed_since(created_ms: u64, now: SystemTime) -> Duration {
        now.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(Duration::from_millis(created_ms))
    }

    /// The parcel's events that have happened by `now`, oldest first.
    pub fn events_due(
        &self,
        tracking_number: &str,
        now: SystemTime,
    ) -> Result<Vec<TrackingEvent>, CarrierError> {
        let (scenario, created_ms) = Self::parse(tracking_number)
            .ok_or_else(|| CarrierError::Rejected(format!("unknown parcel {tracking_number}")))?;
        let elapsed = Self::elapsed_since(created_ms, now);
        Ok(Self::timeline(scenario)
            .into_iter()
            .filter(|(steps, _, _)| elapsed >= self.step * *steps)
            .map(|(steps, status, description)| {
                let at = UNIX_EPOCH + Duration::from_millis(created_ms) + self.step * steps;
                TrackingEvent {
                    event_id: format!("{tracking_number}-{}", status.as_str()),
                    tracking_number: tracking_number.to_owned(),
                    status,
                    description: description.to_owned(),
                    occurred_at: chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339(),
                }
            })
            .collect())
    }
}

fn eur(cents: i64) -> Result<Money, CarrierError> {
    Currency::new("EUR")
        .map(|c| Money::new(cents, c))
        .map_err(|e| CarrierError::Rejected(e.to_string()))
}

#[async_trait]
impl Carrier for SimulatedCarrier {
    fn name(&self) -> &str {
        "simulated"
    }

    async fn rates(&self, _shipment: &ShipmentRequest) -> Result<Vec<Rate>, CarrierError> {
        Ok(vec![
            Rate {
                carrier: self.name().to_owned(),
                rate_id: "sim-standard".to_owned(),
                service: "standard".to_owned(),
                amount: eur(495)?,
                estimated_days: 3,
            },
            Rate {
                carrier: self.name().to_owned(),
                rate_id: "sim-express".to_owned(),
                service: "express".to_owned(),
                amount: eur(995)?,
                estimated_days: 1,
            },
        ])
    }

    async fn buy_label(
        &self,
        shipment: &ShipmentRequest,
        _rate: &Rate,
        idempotency_key: &str,
        now: SystemTime,
    ) -> Result<BoughtLabel, CarrierError> {
        let scenario = match shipment.address.postal_code.as_str() {
            LOST_POSTAL_CODE => "L",
            EXCEPTION_POSTAL_CODE => "X",
            SILENT_POSTAL_CODE => "S",
            _ => "N",
        };
        let created_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let suffix = &uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, idempotency_key.as_bytes())
            .simple()
            .to_string()[..8];
        let tracking_number = format!("SIM-{scenario}-{created_ms}-{suffix}");
        Ok(BoughtLabel {
            label_id: format!("simlabel_{suffix}"),
            label_url: format!("https://labels.emporium.invalid/{tracking_number}.pdf"),
            tracking_number,
        })
    }

    async fn track(
        &self,
        label: &Label,
        now: SystemTime,
    ) -> Result<Vec<TrackingEvent>, CarrierError> {
        self.events_due(&label.tracking_number, now)
    }

    async fn cancel_label(
        &self,
        label: &Label,
        _idempotency_key: &str,
        now: SystemTime,
    ) -> Result<(), CarrierError> {
        let (_, created_ms) = Self::parse(&label.tracking_number).ok_or_else(|| {
            CarrierError::Rejected(format!("unknown parcel {}", label.tracking_number))
        })?;
        if Self::elapsed_since(created_ms, now) >= self.step {
            Err(CarrierError::Rejected(
                "the parcel was already picked up".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}
