//! The carrier seam: every carrier answers rates, sells labels, reports tracking and cancels
//! labels before pickup.

use async_trait::async_trait;
use contracts::shipping::{Label, Rate, ShipmentRequest, TrackingEvent};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

/// How a carrier call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier refused: retrying the same request cannot help.
    #[error("the carrier refused: {0}")]
    Rejected(String),
    /// The carrier could not be reached or failed; retry later.
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
}

/// A label as a carrier sells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoughtLabel {
    /// The carrier's id of the label.
    pub label_id: String,
    /// Tracking number.
    pub tracking_number: String,
    /// Where to print it.
    pub label_url: String,
}

/// A shipping carrier.
///
/// `now` is the caller's clock (the workflow's): a real carrier has its own and ignores it;
/// the simulated carrier runs on it, so a test that skips time moves parcels too.
#[async_trait]
pub trait Carrier: Send + Sync + 'static {
    /// The carrier's name in rates, labels, the database and its webhook URL.
    fn name(&self) -> &str;

    /// Offers for the shipment.
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Vec<Rate>, CarrierError>;

    /// Buys a label for an offer.
    async fn buy_label(
        &self,
        shipment: &ShipmentRequest,
        rate: &Rate,
        idempotency_key: &str,
        now: SystemTime,
    ) -> Result<BoughtLabel, CarrierError>;

    /// Every tracking event so far.
    async fn track(
        &self,
        label: &Label,
        now: SystemTime,
    ) -> Result<Vec<TrackingEvent>, CarrierError>;

    /// Cancels a label; refused once the carrier has the parcel.
    async fn cancel_label(
        &self,
        label: &Label,
        idempotency_key: &str,
        now: SystemTime,
    ) -> Result<(), CarrierError>;
}

/// The carriers a deployment ships with, by name.
#[derive(Clone, Default)]
pub struct Carriers {
    by_name: BTreeMap<String, Arc<dyn Carrier>>,
}

impl Carriers {
    /// Adds a carrier.
    pub fn with(mut self, carrier: Arc<dyn Carrier>) -> Self {
        self.by_name.insert(carrier.name().to_owned(), carrier);
        self
    }

    /// The carrier with this name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Carrier>> {
        self.by_name.get(name)
    }

    /// Every carrier.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Carrier>> {
        self.by_name.values()
    }
}
