//! The payment gateway: the one seam between Emporium and a payment provider.
//!
//! Every call carries the idempotency key the workflow derived for the step, so a provider that
//! sees the same call twice (because Temporal retried the activity) does the work once.

use async_trait::async_trait;
use contracts::{Money, OrderId};
use std::time::Duration;

/// What the gateway is asked to authorise.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    /// The order being paid, for the provider's metadata.
    pub order_id: OrderId,
    /// How much to hold.
    pub amount: &'a Money,
    /// The provider's token of the payment method.
    pub payment_method: &'a str,
    /// Same key, same result.
    pub idempotency_key: &'a str,
}

/// How a gateway call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused the payment: a business outcome, never retried.
    #[error("payment declined ({code}): {message}")]
    Declined {
        /// Provider decline code, such as `insufficient_funds`.
        code: String,
        /// Message fit for the customer.
        message: String,
    },
    /// The provider refused the request itself; retrying the same request cannot help.
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed; retry later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Short name stored with each payment (`sandbox`, `stripe`).
    fn provider(&self) -> &'static str;

    /// How long the provider holds an authorisation before it lapses (Stripe: 7 days for
    /// online card payments); an order renews or captures before then.
    fn authorization_validity(&self) -> Duration;

    /// Holds the amount; returns the provider's id of the payment.
    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<String, GatewayError>;

    /// Takes the held amount.
    async fn capture(
        &self,
        provider_ref: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<(), GatewayError>;

    /// Releases the held amount.
    async fn void(&self, provider_ref: &str, idempotency_key: &str) -> Result<(), GatewayError>;

    /// Gives `amount` of a captured payment back; returns the provider's id of the refund.
    async fn refund(
        &self,
        provider_ref: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<String, GatewayError>;
}
