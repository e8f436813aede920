//! The HTTP carrier adapter: any carrier speaking this JSON API (reqwest).
//!
//! | call | request | answer |
//! |---|---|---|
//! | rates | `POST /v1/rates` `{"to": {country, postal_code}, "items": n}` | `{"rates": [{id, service, amount_minor, currency, estimated_days}]}` |
//! | label | `POST /v1/labels` `{"rate_id", "reference", "to": address}` + `Idempotency-Key` | `{id, tracking_number, label_url}` |
//! | tracking | `GET /v1/tracking/{tracking_number}` | `{"events": [{id, status, description, occurred_at}]}` |
//! | cancel | `POST /v1/labels/{id}/cancel` + `Idempotency-Key` | `200`, or `409` once picked up |
//!
//! Requests carry `Authorization: Bearer <api key>`. Statuses are `label_created`,
//! `in_transit`, `out_for_delivery`, `delivered` and `exception`; others are ignored. Rate
//! limits, server errors and network failures are retryable; other refusals are not. The
//! carrier's webhooks (same event shape plus `tracking_number`) are verified and delivered by
//! the API (`POST /webhooks/carrier/{name}`).

use super::carrier::{BoughtLabel, Carrier, CarrierError};
use async_trait::async_trait;
use contracts::shipping::{Label, Location, Rate, ShipmentRequest, ShipmentStatus, TrackingEvent};
use contracts::{Currency, Money};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use std::time::{Duration, SystemTime};

/// A carrier behind the HTTP API above.
#[derive(Clone)]
pub struct HttpCarrier {
    name: String,
    base_url: String,
    api_key: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCarrier")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RatesAnswer {
    rates: Vec<RateAnswer>,
}

#[derive(Deserialize)]
struct RateAnswer {
    id: String,
    service: String,
    amount_minor: i64,
    currency: String,
    estimated_days: u32,
}

#[derive(Deserialize)]
struct LabelAnswer {
    id: String,
    tracking_number: String,
    label_url: String,
}

#[derive(Deserialize)]
struct TrackingAnswer {
    events: Vec<EventAnswer>,
}

/// An event as the carrier reports it (also the body of its webhooks).
#[derive(Debug, Clone, Deserialize)]
pub struct EventAnswer {
    /// The carrier's event id.
    pub id: String,
    /// The carrier's status name.
    pub status: String,
    /// What happened.
    #[serde(default)]
    pub description: String,
    /// When.
    #[serde(default)]
    pub occurred_at: String,
    /// The parcel (present in webhooks).
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// Where the parcel was, when the carrier says.
    #[serde(default)]
    pub location: Option<Location>,
}

impl EventAnswer {
    /// The event in our terms, or `None` for a status we do not follow.
    pub fn into_event(self, tracking_number: &str) -> Option<TrackingEvent> {
        // A carrier cancels no label by itself: that news is ours, not the carrier's.
        let status = self
            .status
            .parse::<ShipmentStatus>()
            .ok()
            .filter(|status| *status != ShipmentStatus::Cancelled)?;
        Some(TrackingEvent {
            event_id: self.id,
            tracking_number: self
                .tracking_number
                .unwrap_or_else(|| tracking_number.to_owned()),
            status,
            description: self.description,
            occurred_at: self.occurred_at,
            location: self.location,
        })
    }
}

/// The header a carrier's webhook is signed in.
pub const SIGNATURE_HEADER: &str = "x-carrier-signature";

/// Why a carrier webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `sha256=<hex>`.
    #[error("the signature is not sha256=<hex>")]
    Malformed,
    /// It does not match the body.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// The `X-Carrier-Signature` of a webhook body: `sha256=<hex>` of HMAC-SHA256 over the raw
/// body with the carrier's shared secret.
pub fn sign_webhook(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = webhook_mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a webhook's `X-Carrier-Signature` against its raw body, in constant time.
pub fn verify_webhook(
    secret: &SecretString,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let given = signature
        .strip_prefix("sha256=")
        .and_then(|digest| hex::decode(digest).ok())
        .ok_or(SignatureError::Malformed)?;
    let mut mac = webhook_mac(secret);
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

fn webhook_mac(secret: &SecretString) -> Hmac<Sha256> {
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac
}

fn network(err: reqwest::Error) -> CarrierError {
    CarrierError::Unavailable(err.to_string())
}

impl HttpCarrier {
    /// A carrier named `name` at `base_url`.
    pub fn new(name: &str, base_url: &str, api_key: SecretString) -> Result<Self, CarrierError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| CarrierError::Rejected(e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            http,
        })
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CarrierError> {
        let response = request
            .bearer_auth(self.api_key.expose_secret())
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        if status.is_success() {
            return response
                .json()
                .await
                .map_err(|e| CarrierError::Rejected(format!("unexpected answer: {e}")));
        }
        let body = response.text().await.unwrap_or_default();
        let message = format!("{} answered {status}: {body}", self.name);
        if status.is_server_error() || status.as_u16() == 429 {
            Err(CarrierError::Unavailable(message))
        } else {
            Err(CarrierError::Rejected(message))
        }
    }
}

#[async_trait]
impl Carrier for HttpCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Vec<Rate>, CarrierError> {
        let items: u32 = shipment.lines.iter().map(|l| l.quantity).sum();
        let answer: RatesAnswer = self
            .send(
                self.http
                    .post(format!("{}/v1/rates", self.base_url))
                    .json(&json!({
                        "to": {
                            "country": shipment.address.country,
                            "postal_code": shipment.address.postal_code,
                        },
                        "items": items,
                    })),
            )
            .await?;
        answer
            .rates
            .into_iter()
            .map(|rate| {
                let currency = Currency::new(&rate.currency.to_ascii_uppercase())
                    .map_err(|e| CarrierError::Rejected(e.to_string()))?;
                Ok(Rate {
                    carrier: self.name.clone(),
                    rate_id: rate.id,
                    service: rate.service,
                    amount: Money::new(rate.amount_minor, currency),
                    estimated_days: rate.estimated_days,
                })
            })
            .collect()
    }

    async fn buy_label(
        &self,
        shipment: &ShipmentRequest,
        rate: &Rate,
        idempotency_key: &str,
        _now: SystemTime,
    ) -> Result<BoughtLabel, CarrierError> {
        let answer: LabelAnswer = self
            .send(
                self.http
                    .post(format!("{}/v1/labels", self.base_url))
                    .header("Idempotency-Key", idempotency_key)
                    .json(&json!({
                        "rate_id": rate.rate_id,
                        "reference": shipment.order_id.to_string(),
                        "to": shipment.address,
                    })),
            )
            .await?;
        Ok(BoughtLabel {
            label_id: answer.id,
            tracking_number: answer.tracking_number,
            label_url: answer.label_url,
        })
    }

    async fn track(
        &self,
        label: &Label,
        _now: SystemTime,
    ) -> Result<Vec<TrackingEvent>, CarrierError> {
        let answer: TrackingAnswer = self
            .send(self.http.get(format!(
                "{}/v1/tracking/{}",
                self.base_url, label.tracking_number
            )))
            .await?;
        Ok(answer
            .events
            .into_iter()
            .filter_map(|event| event.into_event(&label.tracking_number))
            .collect())
    }

    async fn cancel_label(
        &self,
        label: &Label,
        idempotency_key: &str,
        _now: SystemTime,
    ) -> Result<(), CarrierError> {
        let _: serde_json::Value = self
            .send(
                self.http
                    .post(format!(
                        "{}/v1/labels/{}/cancel",
                        self.base_url, label.label_id
                    ))
                    .header("Idempotency-Key", idempotency_key),
            )
            .await?;
        Ok(())
    }
}
