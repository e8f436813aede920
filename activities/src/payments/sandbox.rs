//! The built-in sandbox payment provider: no network, no state, and the payment method decides
//! the outcome, like Stripe's test cards and test PaymentMethods.
//!
//! | payment method | card number | outcome |
//! |---|---|---|
//! | `pm_card_visa` | 4242 4242 4242 4242 | approved |
//! | `pm_card_mastercard` | 5555 5555 5555 4444 | approved |
//! | `pm_card_amex` | 3782 822463 10005 | approved |
//! | `pm_card_chargeDeclined` | 4000 0000 0000 0002 | declined: `card_declined` |
//! | `pm_card_chargeDeclinedInsufficientFunds` | 4000 0000 0000 9995 | declined: `insufficient_funds` |
//! | `pm_card_chargeDeclinedLostCard` | 4000 0000 0000 9987 | declined: `lost_card` |
//! | `pm_card_chargeDeclinedExpiredCard` | 4000 0000 0000 0069 | declined: `expired_card` |
//! | `pm_card_chargeDeclinedIncorrectCvc` | 4000 0000 0000 0127 | declined: `incorrect_cvc` |
//! | `pm_card_chargeDeclinedProcessingError` | 4000 0000 0000 0119 | declined: `processing_error` |
//!
//! Any other `pm_…` or `tok_…` token is declined with `payment_method_unknown`. Card numbers
//! never enter a workflow: [`parse_payment_method`] turns a test card number into its
//! PaymentMethod id at the API and refuses any other number.
//!
//! Like a real provider, the sandbox lets an authorisation lapse: after its validity (a
//! setting, 7 days by default, as at Stripe) a capture is refused. A payment's id carries the
//! moment it was authorised, so the sandbox needs no state to know.

use super::gateway::{AuthorizeRequest, GatewayError, PaymentGateway};
use async_trait::async_trait;
use contracts::Money;
use contracts::payments::{PaymentMethod, PaymentMethodError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// How a test payment method behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Approve,
    Decline(&'static str, &'static str),
}

/// `(PaymentMethod id, card number, behaviour)`, after Stripe's testing documentation.
const TEST_METHODS: &[(&str, &str, Behaviour)] = &[
    ("pm_card_visa", "4242424242424242", Behaviour::Approve),
    ("pm_card_mastercard", "5555555555554444", Behaviour::Approve),
    ("pm_card_amex", "378282246310005", Behaviour::Approve),
    (
        "pm_card_chargeDeclined",
        "4000000000000002",
        Behaviour::Decline("card_declined", "Your card was declined."),
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "4000000000009995",
        Behaviour::Decline("insufficient_funds", "Your card has insufficient funds."),
    ),
    (
        "pm_card_chargeDeclinedLostCard",
        "4000000000009987",
        Behaviour::Decline("lost_card", "Your card was declined."),
    ),
    (
        "pm_card_chargeDeclinedExpiredCard",
        "4000000000000069",
        Behaviour::Decline("expired_card", "Your card has expired."),
    ),
    (
        "pm_card_chargeDeclinedIncorrectCvc",
        "4000000000000127",
        Behaviour::Decline("incorrect_cvc", "Your card's security code is incorrect."),
    ),
    (
        "pm_card_chargeDeclinedProcessingError",
        "4000000000000119",
        Behaviour::Decline(
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
];

/// The token of a test card number (digits only), for [`PaymentMethod::parse`]: card numbers
/// never enter a workflow, and any number that is not a test card is refused at the API.
pub fn test_card_token(number: &str) -> Option<&'static str> {
    TEST_METHODS
        .iter()
        .find(|(_, test_number, _)| *test_number == number)
        .map(|(token, _, _)| *token)
}

/// What a client sent as its payment method, as a provider token (see [`PaymentMethod::parse`]).
pub fn parse_payment_method(input: &str) -> Result<PaymentMethod, PaymentMethodError> {
    PaymentMethod::parse(input, test_card_token)
}

/// What a test payment method does when charged, for fakes of real providers in tests:
/// `Ok(())` approves, `Err((code, message))` declines.
pub fn test_method_outcome(payment_method: &str) -> Result<(), (&'static str, &'static str)> {
    match behaviour(payment_method) {
        Behaviour::Approve => Ok(()),
        Behaviour::Decline(code, message) => Err((code, message)),
    }
}

/// The sandbox gateway. Stateless: the same idempotency key always yields the same payment
/// (the id's first part), and the id's last part is when it was authorised.
#[derive(Debug, Clone, Copy)]
pub struct SandboxGateway {
    validity: Duration,
}

impl Default for SandboxGateway {
    fn default() -> Self {
        Self::new(super::stripe::AUTHORIZATION_VALIDITY)
    }
}

impl SandboxGateway {
    /// A sandbox whose authorisations lapse after `validity`.
    pub fn new(validity: Duration) -> Self {
        Self { validity }
    }

    /// Refuses a payment that is not the sandbox's, or whose authorisation has lapsed.
    fn holding(&self, provider_ref: &str) -> Result<(), GatewayError> {
        let authorized_ms = parse_ref(provider_ref)?;
        let now_ms = now_ms();
        let validity_ms = u64::try_from(self.validity.as_millis()).unwrap_or(u64::MAX);
        if now_ms.saturating_sub(authorized_ms) > validity_ms {
            return Err(GatewayError::Rejected(format!(
                "the authorisation {provider_ref} lapsed after {}s: it can no longer be captured",
                self.validity.as_secs()
            )));
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

fn behaviour(payment_method: &str) -> Behaviour {
    TEST_METHODS
        .iter()
        .find(|(token, number, _)| *token == payment_method || *number == payment_method)
        .map(|(_, _, behaviour)| *behaviour)
        .unwrap_or(Behaviour::Decline(
            "payment_method_unknown",
            "This payment method is not known to the sandbox.",
        ))
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    fn provider(&self) -> &'static str {
        "sandbox"
    }

    fn authorization_validity(&self) -> Duration {
        self.validity
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<String, GatewayError> {
        if request.amount.amount_minor <= 0 {
            return Err(GatewayError::Rejected("amount must be positive".to_owned()));
        }
        match behaviour(request.payment_method) {
            Behaviour::Approve => Ok(format!(
                "sbx_pi_{}_{}",
                Uuid::new_v5(&Uuid::NAMESPACE_OID, request.idempotency_key.as_bytes()).simple(),
                now_ms()
            )),
            Behaviour::Decline(code, message) => Err(GatewayError::Declined {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
        }
    }

    async fn capture(
        &self,
        provider_ref: &str,
        _amount: &Money,
        _idempotency_key: &str,
    ) -> Result<(), GatewayError> {
        self.holding(provider_ref)
    }

    async fn void(&self, provider_ref: &str, _idempotency_key: &str) -> Result<(), GatewayError> {
        // Voiding a lapsed authorisation has nothing left to do.
        parse_ref(provider_ref).map(|_| ())
    }

    async fn refund(
        &self,
        provider_ref: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<String, GatewayError> {
        parse_ref(provider_ref)?;
        if amount.amount_minor <= 0 {
            return Err(GatewayError::Rejected(
                "refund amount must be positive".to_owned(),
            ));
        }
        Ok(format!(
            "sbx_re_{}",
            Uuid::new_v5(&Uuid::NAMESPACE_OID, idempotency_key.as_bytes()).simple()
        ))
    }
}

/// When a sandbox payment was authorised (Unix milliseconds), from its id
/// `sbx_pi_<key hash>_<ms>`. Ids from before authorisations lapsed carry no time: they count
/// as authorised now.
fn parse_ref(provider_ref: &str) -> Result<u64, GatewayError> {
    let rest = provider_ref.strip_prefix("sbx_pi_").ok_or_else(|| {
        GatewayError::Rejected(format!("`{provider_ref}` is not a sandbox payment"))
    })?;
    Ok(rest
        .split_once('_')
        .and_then(|(_, ms)| ms.parse().ok())
        .unwrap_or_else(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::{Currency, OrderId};

    #[test]
    fn tokens_pass_and_test_cards_become_tokens() {
        let parsed = |input| parse_payment_method(input).map(|m| m.as_str().to_owned());
        assert_eq!(parsed(" pm_card_visa "), Ok("pm_card_visa".into()));
        assert_eq!(
            parsed("4000 0000 0000 0002"),
            Ok("pm_card_chargeDeclined".into())
        );
        assert_eq!(
            parsed("4111111111111111"),
            Err(PaymentMethodError::RawCardNumber)
        );
        assert_eq!(parsed("visa"), Err(PaymentMethodError::Malformed));
        assert_eq!(parsed("pm_<script>"), Err(PaymentMethodError::Malformed));
    }

    #[tokio::test]
    async fn the_payment_method_decides_and_the_key_fixes_the_id() {
        let eur = Currency::new("EUR").expect("valid");
        let amount = Money::new(1000, eur);
        let request = |payment_method, idempotency_key| AuthorizeRequest {
            order_id: OrderId::new(),
            amount: &amount,
            payment_method,
            idempotency_key,
        };
        let gateway = SandboxGateway::default();
        let payment = |id: Result<String, GatewayError>| {
            let id = id.expect("approved");
            id.rsplit_once('_').map(|(payment, _)| payment.to_owned())
        };
        let first = payment(gateway.authorize(request("pm_card_visa", "k1")).await);
        let again = payment(gateway.authorize(request("pm_card_visa", "k1")).await);
        let other = payment(gateway.authorize(request("pm_card_visa", "k2")).await);
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(
            gateway
                .authorize(request("pm_card_chargeDeclinedInsufficientFunds", "k3"))
                .await,
            Err(GatewayError::Declined {
                code: "insufficient_funds".into(),
                message: "Your card has insufficient funds.".into()
            })
        );
    }

    #[tokio::test]
    async fn an_authorisation_can_be_captured_until_it_lapses() {
        let eur = Currency::new("EUR").expect("valid");
        let amount = Money::new(1000, eur);
        let request = AuthorizeRequest {
            order_id: OrderId::new(),
            amount: &amount,
            payment_method: "pm_card_visa",
            idempotency_key: "lapse",
        };
        let lasting = SandboxGateway::new(Duration::from_secs(3600));
        let id = lasting.authorize(request).await.expect("approved");
        assert_eq!(lasting.capture(&id, &amount, "c").await, Ok(()));

        let fleeting = SandboxGateway::new(Duration::from_millis(1));
        let id = fleeting.authorize(request).await.expect("approved");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(
            fleeting.capture(&id, &amount, "c").await,
            Err(GatewayError::Rejected(reason)) if reason.contains("lapsed")
        ));
        assert_eq!(
            fleeting.void(&id, "v").await,
            Ok(()),
            "a lapsed hold voids quietly"
        );
    }
}
