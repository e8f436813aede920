//! The Stripe payment gateway, through async-stripe.
//!
//! An order's payment is one PaymentIntent: created and confirmed with `capture_method=manual`
//! when the order is placed (authorised: `requires_capture`), captured when the goods are
//! handed over, cancelled when the order is cancelled before that. Every call carries the
//! idempotency key the workflow derived for the step, so a retried activity replays Stripe's
//! first answer instead of charging again. The PaymentIntent carries the order id in its
//! metadata, which is how webhook events find their order.
//!
//! Stripe's answers are sorted the way Temporal needs them: a card error (402) is a decline,
//! rate limits and server errors (409, 429, 5xx) and network failures are retried, any other
//! refusal is not.

use super::gateway::{AuthorizeRequest, GatewayError, PaymentGateway};
use async_trait::async_trait;
use contracts::Money;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::str::FromStr as _;
use std::time::Duration;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CapturePaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_shared::{
    PaymentIntentAllowedPaymentMethodTypes, PaymentIntentCaptureMethod, PaymentIntentStatus,
};

/// Metadata key under which each PaymentIntent carries its order id.
pub const ORDER_ID_METADATA: &str = "order_id";

/// How long Stripe holds an uncaptured online card payment before it cancels it.
pub const AUTHORIZATION_VALIDITY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Payments through Stripe.
#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway using this secret key against `api_base` (`https://api.stripe.com/`, or a
    /// local fake in tests).
    pub fn new(secret_key: &SecretString, api_base: &str) -> Result<Self, GatewayError> {
        // Two rustls crypto providers end up in this binary (sqlx brings ring, the Temporal SDK's
        // reqwest brings aws-lc-rs), so rustls cannot pick one by itself: choose ring, once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = if api_base.ends_with('/') {
            api_base.to_owned()
        } else {
            format!("{api_base}/")
        };
        let client = ClientBuilder::new(secret_key.expose_secret())
            .url(base)
            .timeout(Duration::from_secs(20))
            .app_info("emporium", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|err| GatewayError::Rejected(format!("Stripe client: {err}")))?;
        Ok(Self { client })
    }
}

fn strategy(idempotency_key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(idempotency_key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| GatewayError::Rejected(format!("idempotency key: {err}")))
}

/// Sorts a Stripe error into decline, retry or refusal.
fn classify(err: StripeError) -> GatewayError {
    match err {
        StripeError::Stripe(api, status) => {
            let message = api.message.clone().unwrap_or_default();
            if status == 402 || api.type_.as_str() == "card_error" {
                let code = api
                    .decline_code
                    .clone()
                    .or_else(|| api.code.as_ref().map(|c| c.as_str().to_owned()))
                    .unwrap_or_else(|| "card_declined".to_owned());
                GatewayError::Declined { code, message }
            } else if matches!(status, 409 | 429 | 500..=599) {
                GatewayError::Unavailable(format!("Stripe answered {status}: {message}"))
            } else {
                GatewayError::Rejected(format!(
                    "Stripe answered {status} ({}): {message}",
                    api.type_.as_str()
                ))
            }
        }
        StripeError::ClientError(_) | StripeError::Timeout => {
            GatewayError::Unavailable(err.to_string())
        }
        StripeError::JSONDeserialize(_) | StripeError::ConfigError(_) => {
            GatewayError::Rejected(err.to_string())
        }
    }
}

fn currency(money: &Money) -> stripe_types::Currency {
    match stripe_types::Currency::from_str(&money.currency.code().to_ascii_lowercase()) {
        Ok(currency) => currency,
        Err(never) => match never {},
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn provider(&self) -> &'static str {
        "stripe"
    }

    fn authorization_validity(&self) -> Duration {
        AUTHORIZATION_VALIDITY
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<String, GatewayError> {
        let metadata =
            HashMap::from([(ORDER_ID_METADATA.to_owned(), request.order_id.to_string())]);
        let intent =
            CreatePaymentIntent::new(request.amount.amount_minor, currency(request.amount))
                .capture_method(PaymentIntentCaptureMethod::Manual)
                .confirm(true)
                .payment_method(request.payment_method)
                .allowed_payment_method_types(vec![PaymentIntentAllowedPaymentMethodTypes::Card])
                .metadata(metadata)
                .customize()
                .request_strategy(strategy(request.idempotency_key)?)
                .send(&self.client)
                .await
                .map_err(classify)?;
        match intent.status {
            PaymentIntentStatus::RequiresCapture | PaymentIntentStatus::Succeeded => {
                Ok(intent.id.as_str().to_owned())
            }
            PaymentIntentStatus::RequiresAction => Err(GatewayError::Declined {
                code: "authentication_required".to_owned(),
                message: "The card needs authentication the customer has not completed.".to_owned(),
            }),
            PaymentIntentStatus::Processing => Err(GatewayError::Unavailable(
                "the payment is still processing".to_owned(),
            )),
            other => Err(GatewayError::Declined {
                code: other.as_str().to_owned(),
                message: "The payment was not authorised.".to_owned(),
            }),
        }
    }

    async fn capture(
        &self,
        provider_ref: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<(), GatewayError> {
        let intent = CapturePaymentIntent::new(provider_ref)
            .amount_to_capture(amount.amount_minor)
            .customize()
            .request_strategy(strategy(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(classify)?;
        match intent.status {
            PaymentIntentStatus::Succeeded => Ok(()),
            other => Err(GatewayError::Rejected(format!(
                "capture left the PaymentIntent {}",
                other.as_str()
            ))),
        }
    }

    async fn void(&self, provider_ref: &str, idempotency_key: &str) -> Result<(), GatewayError> {
        let cancelled = CancelPaymentIntent::new(provider_ref)
            .customize()
            .request_strategy(strategy(idempotency_key)?)
            .send(&self.client)
            .await;
        let intent = match cancelled {
            Ok(intent) => intent,
            // Stripe refuses to cancel a PaymentIntent that is no longer cancellable: if it is
            // already cancelled (it expired, or someone cancelled it in the dashboard), the
            // void has nothing left to do.
            Err(StripeError::Stripe(api, 400))
                if api.code.as_ref().map(|c| c.as_str())
                    == Some("payment_intent_unexpected_state") =>
            {
                RetrievePaymentIntent::new(provider_ref)
                    .send(&self.client)
                    .await
                    .map_err(classify)?
            }
            Err(err) => return Err(classify(err)),
        };
        match intent.status {
            PaymentIntentStatus::Canceled => Ok(()),
            other => Err(GatewayError::Rejected(format!(
                "cancel left the PaymentIntent {}",
                other.as_str()
            ))),
        }
    }

    async fn refund(
        &self,
        provider_ref: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<String, GatewayError> {
        let refund = CreateRefund::new()
            .payment_intent(provider_ref)
            .amount(amount.amount_minor)
            .customize()
            .request_strategy(strategy(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(classify)?;
        match refund.status.as_deref() {
            Some("failed" | "canceled") => Err(GatewayError::Rejected(format!(
                "Stripe refund {} {}",
                refund.id.as_str(),
                refund.status.unwrap_or_default()
            ))),
            _ => Ok(refund.id.as_str().to_owned()),
        }
    }
}
