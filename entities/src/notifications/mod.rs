//! Schema `notifications`: every notification and every attempt to deliver it.

pub mod attempt;
pub mod notification;
