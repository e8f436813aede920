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
//! Each event says where the parcel is: picked up at the warehouse in Leipzig, out for
//! delivery from the parcel hub of the destination's country (the tracking number carries the
//! country), delivered at the recipient's address (no coordinates: the simulator knows no
//! map). A label can be cancelled until the parcel is picked up. The carrier runs on the clock its
//! caller passes (the workflow's), so a test that skips time moves parcels too. Like a real
//! carrier it also tells by webhook: [`super::simulated_webhooks`] posts each event, signed, to
//! the API's `POST /webhooks/carrier/simulated` once it is due.

use super::carrier::{BoughtLabel, Carrier, CarrierError};
use async_trait::async_trait;
use contracts::shipping::{Label, Location, Rate, ShipmentRequest, ShipmentStatus, TrackingEvent};
use contracts::{Currency, Money};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Postal code whose parcels get lost.
pub const LOST_POSTAL_CODE: &str = "00404";
/// Postal code whose parcels cannot be delivered.
pub const EXCEPTION_POSTAL_CODE: &str = "00500";
/// Postal code whose parcels are picked up and then never heard of again.
pub const SILENT_POSTAL_CODE: &str = "00408";

/// Where every simulated parcel starts.
const WAREHOUSE: (&str, f64, f64) = ("Emporium warehouse, Leipzig, DE", 51.3397, 12.3731);

/// The parcel hub a parcel for `country` goes out for delivery from.
fn hub(country: Option<&str>) -> (&'static str, f64, f64) {
    match country {
        Some("DE") => ("Parcel hub, Kassel, DE", 51.3127, 9.4797),
        Some("GB") => ("Parcel hub, Coventry, GB", 52.4068, -1.5197),
        Some("FR") => ("Parcel hub, Paris-Nord, FR", 48.9566, 2.4436),
        Some("NL") => ("Parcel hub, Utrecht, NL", 52.0907, 5.1214),
        Some("US") => ("International gateway, New York JFK, US", 40.6413, -73.7781),
        _ => (
            "International hub, Leipzig/Halle airport, DE",
            51.4239,
            12.2364,
        ),
    }
}

fn at((name, latitude, longitude): (&str, f64, f64)) -> Location {
    Location {
        name: name.to_owned(),
        latitude: Some(latitude),
        longitude: Some(longitude),
    }
}

/// Where the parcel is when it reaches `status`.
fn location(status: ShipmentStatus, country: Option<&str>) -> Option<Location> {
    match status {
        ShipmentStatus::InTransit => Some(at(WAREHOUSE)),
        ShipmentStatus::OutForDelivery | ShipmentStatus::Exception => Some(at(hub(country))),
        ShipmentStatus::Delivered => Some(Location {
            name: match country {
                Some(country) => format!("The recipient's address, {country}"),
                None => "The recipient's address".to_owned(),
            },
            latitude: None,
            longitude: None,
        }),
        ShipmentStatus::LabelCreated | ShipmentStatus::Cancelled => None,
    }
}

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

    /// The destination's country, which tracking numbers carry since parcels have places
    /// (`SIM-N-<ms>-<suffix>-<country>`).
    fn country(tracking_number: &str) -> Option<&str> {
        tracking_number
            .split('-')
            .nth(4)
            .filter(|country| country.len() == 2)
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
                    location: location(status, Self::country(tracking_number)),
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
        let country = &shipment.address.country;
        let tracking_number = format!("SIM-{scenario}-{created_ms}-{suffix}-{country}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn places(tracking_number: &str) -> Vec<(ShipmentStatus, Option<Location>)> {
        let carrier = SimulatedCarrier::new(Duration::from_secs(1));
        carrier
            .events_due(tracking_number, UNIX_EPOCH + Duration::from_secs(60))
            .expect("a simulated parcel")
            .into_iter()
            .map(|event| (event.status, event.location))
            .collect()
    }

    #[test]
    fn a_parcel_moves_from_the_warehouse_through_its_countrys_hub_to_the_address() {
        let route = places("SIM-N-0-abcdef12-GB");
        let names: Vec<&str> = route
            .iter()
            .filter_map(|(_, place)| place.as_ref().map(|p| p.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                "Emporium warehouse, Leipzig, DE",
                "Parcel hub, Coventry, GB",
                "The recipient's address, GB"
            ]
        );
        let (status, warehouse) = &route[0];
        assert_eq!(*status, ShipmentStatus::InTransit);
        let warehouse = warehouse.as_ref().expect("a place");
        assert_eq!(
            (warehouse.latitude, warehouse.longitude),
            (Some(51.3397), Some(12.3731))
        );
        let delivered = route[2].1.as_ref().expect("a place");
        assert_eq!(delivered.latitude, None, "the simulator knows no map");
    }

    #[test]
    fn parcels_from_before_places_were_carried_go_through_the_international_hub() {
        let route = places("SIM-L-0-abcdef12");
        assert_eq!(route[1].0, ShipmentStatus::Exception);
        assert_eq!(
            route[1].1.as_ref().map(|p| p.name.as_str()),
            Some("International hub, Leipzig/Halle airport, DE")
        );
    }
}
