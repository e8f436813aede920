//! Schema `payments`: every payment attempt, what happened to its money, and refunds.

pub mod payment;
pub mod refund;
