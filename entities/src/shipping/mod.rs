//! Schema `shipping`: shipments (one per order) and their tracking events.

pub mod shipment;
pub mod tracking_event;
