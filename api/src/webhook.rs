//! What every webhook endpoint shares (Stripe's, the carriers'): the receipt it answers and
//! the problem a missing or wrong signature gets.

use crate::ApiError;
use crate::error::ErrorCode;
use contracts::OrderId;
use serde::Serialize;

/// What happened to a verified event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Receipt {
    /// Always true: the event was verified; the sender need not deliver it again.
    received: bool,
    /// The order it was handed to; absent when it concerns nothing known here.
    delivered_to: Option<OrderId>,
}

impl Receipt {
    /// Handed to `order`'s workflows.
    pub(crate) fn delivered(order: OrderId) -> Self {
        Self {
            received: true,
            delivered_to: Some(order),
        }
    }

    /// Verified, about nothing known here, and dropped (the sender would retry it for days).
    pub(crate) fn ignored() -> Self {
        Self {
            received: true,
            delivered_to: None,
        }
    }
}

/// A 400 about the signature header `header`: missing, malformed, stale or not matching.
pub(crate) fn signature_problem(header: &str, code: ErrorCode, detail: &str) -> ApiError {
    ApiError::bad_request(code, detail).with_field(header, detail)
}
