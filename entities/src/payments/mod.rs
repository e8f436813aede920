//! Schema `payments`: every payment attempt and what happened to its money.

pub mod payment;
