//! The payments service's contract: authorising, capturing and voiding a payment.
//!
//! Every call carries an idempotency key derived from the workflow (workflow id + step), so a
//! retried activity reaches the payment provider with the same key and can never charge twice.

use crate::{Money, OrderId};
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Application-failure type of a declined payment. Non-retryable: the same card will be
/// declined again. Its details are a [`PaymentDeclined`].
pub const PAYMENT_DECLINED: &str = "PaymentDeclined";

/// The idempotency key of one step of one workflow's payment, for example
/// `order-…/authorize/1`.
pub fn idempotency_key(workflow_id: &str, step: &str, attempt: u32) -> String {
    format!("{workflow_id}/{step}/{attempt}")
}

/// The payment-provider token of a payment method (`pm_…` or `tok_…`): the one type an order,
/// an authorisation and every entry to an order carry. A card number never becomes one,
/// except a provider's published test cards, which [`PaymentMethod::parse`] turns into their
/// tokens so that no card number is ever stored or logged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct PaymentMethod(String);

/// Why what a client sent is not a payment method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentMethodError {
    /// A card number that is not a test card: raw card numbers are not accepted.
    #[error(
        "raw card numbers are not accepted; send a payment-provider token such as pm_card_visa"
    )]
    RawCardNumber,
    /// Neither a token nor a card number.
    #[error("expected a payment-provider token such as pm_card_visa")]
    Malformed,
}

impl PaymentMethod {
    /// Parses what a client sent: a token passes (trimmed); a card number (spaces and dashes
    /// allowed) becomes the token `test_card` gives it, and is refused when it gives none.
    pub fn parse(
        input: &str,
        test_card: impl FnOnce(&str) -> Option<&'static str>,
    ) -> Result<Self, PaymentMethodError> {
        let trimmed = input.trim();
        let is_token = (trimmed.starts_with("pm_") || trimmed.starts_with("tok_"))
            && trimmed.len() <= 255
            && trimmed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if is_token {
            return Ok(Self(trimmed.to_owned()));
        }
        let digits: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            return test_card(&digits)
                .map(|token| Self(token.to_owned()))
                .ok_or(PaymentMethodError::RawCardNumber);
        }
        Err(PaymentMethodError::Malformed)
    }

    /// The provider token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PaymentMethod {
    type Err = PaymentMethodError;

    /// A token; every card number is refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, |_| None)
    }
}

impl std::fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a payment (one authorisation attempt of an order) stands: the one list of its
/// states, with the moves between them.
///
/// ```text
/// pending ──► authorized ──► captured
///    │             └───────► voided
///    ├──► declined
///    └──► failed
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Recorded before the provider is called; a retry finds it and asks again.
    Pending,
    /// The provider holds the amount.
    Authorized,
    /// The money was taken.
    Captured,
    /// The hold was released.
    Voided,
    /// The provider declined the payment method.
    Declined,
    /// The provider refused the request itself.
    Failed,
}

impl PaymentStatus {
    /// Every status.
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::Pending,
        PaymentStatus::Authorized,
        PaymentStatus::Captured,
        PaymentStatus::Voided,
        PaymentStatus::Declined,
        PaymentStatus::Failed,
    ];

    /// Whether the provider decided on the payment method: it approved (the payment went on
    /// to any later state) or declined. Pending and failed requests decided nothing.
    pub const fn is_decided(self) -> bool {
        match self {
            PaymentStatus::Pending | PaymentStatus::Failed => false,
            PaymentStatus::Authorized
            | PaymentStatus::Captured
            | PaymentStatus::Voided
            | PaymentStatus::Declined => true,
        }
    }

    /// The snake_case name, as the database stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Captured => "captured",
            PaymentStatus::Voided => "voided",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Failed => "failed",
        }
    }

    /// Whether a payment in this status may move to `next`.
    pub const fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::{Authorized, Captured, Declined, Failed, Pending, Voided};
        matches!(
            (self, next),
            (Pending, Authorized | Declined | Failed) | (Authorized, Captured | Voided)
        )
    }

    /// Whether the provider holds or took money for it (an authorisation exists).
    pub const fn was_authorized(self) -> bool {
        matches!(
            self,
            PaymentStatus::Authorized | PaymentStatus::Captured | PaymentStatus::Voided
        )
    }
}

impl std::str::FromStr for PaymentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown payment status `{s}`"))
    }
}

/// Where a refund stands: recorded `pending` before the provider is called, then what the
/// provider said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Recorded, counted against what is left to refund; the provider not (yet) answered.
    Pending,
    /// The money went back.
    Succeeded,
    /// The provider refused it.
    Failed,
}

impl RefundStatus {
    /// Every status.
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    /// The snake_case name, as the database stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    /// Whether a refund in this status may move to `next`.
    pub const fn can_become(self, next: RefundStatus) -> bool {
        matches!(
            (self, next),
            (
                RefundStatus::Pending,
                RefundStatus::Succeeded | RefundStatus::Failed
            )
        )
    }

    /// Whether it counts against what is left to refund.
    pub const fn counts(self) -> bool {
        !matches!(self, RefundStatus::Failed)
    }
}

impl std::str::FromStr for RefundStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RefundStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown refund status `{s}`"))
    }
}

/// Authorise (hold) an amount on a payment method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizePayment {
    /// The order being paid.
    pub order_id: OrderId,
    /// Which payment attempt of the order this is (1 for the first); with the order id, the
    /// payment's natural key.
    pub attempt: u32,
    /// How much to hold.
    pub amount: Money,
    /// The payment method to charge.
    pub payment_method: PaymentMethod,
    /// Sent to the provider with every call for this authorisation.
    pub idempotency_key: String,
}

/// What an order does when its authorisation would lapse before the parcel is picked up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewalPolicy {
    /// Authorise the amount again (a new payment attempt) and void the old authorisation. If
    /// the card refuses the new one, the old one is captured while it still holds.
    #[default]
    Reauthorize,
    /// Capture the authorised amount before it lapses, although the parcel has not left yet
    /// (a cancellation then refunds instead of voiding).
    Capture,
}

/// How long an authorisation holds the money, and what the order does before it lapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationValidity {
    /// How long the provider holds an authorisation, in seconds (Stripe: 7 days).
    pub valid_for_secs: u64,
    /// How long before the lapse the order acts, in seconds.
    pub renew_before_secs: u64,
    /// What the order does then.
    pub renewal: RenewalPolicy,
}

impl AuthorizationValidity {
    /// How long after the authorisation the order must act.
    pub fn act_after_secs(&self) -> u64 {
        self.valid_for_secs
            .saturating_sub(self.renew_before_secs)
            .max(1)
    }
}

/// A successful authorisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAuthorization {
    /// The order.
    pub order_id: OrderId,
    /// The payment attempt.
    pub attempt: u32,
    /// Which gateway holds the money (`sandbox`, `stripe`).
    pub provider: String,
    /// The gateway's id for the payment.
    pub provider_ref: String,
    /// The amount held.
    pub amount: Money,
    /// How long it holds and what to do before it lapses (absent in histories recorded
    /// before authorisations were renewed: such orders never renew).
    #[serde(default)]
    pub validity: Option<AuthorizationValidity>,
}

/// The answer of `AuthorizeOrder`: the payment is authorised, and the risk verdict on the
/// order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAuthorization {
    /// The authorisation.
    pub authorization: PaymentAuthorization,
    /// Whether the order must wait for an operator's review.
    pub risk: RiskAssessment,
}

/// Capture or void an authorisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlePayment {
    /// The authorisation to settle.
    pub authorization: PaymentAuthorization,
    /// Sent to the provider with the call.
    pub idempotency_key: String,
}

/// Details of a [`PAYMENT_DECLINED`] failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDeclined {
    /// The provider's decline code, such as `card_declined` or `insufficient_funds`.
    pub code: String,
    /// A message that can be shown to the customer.
    pub message: String,
}

/// An order to check for risk before its payment is authorised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCheck {
    /// The order.
    pub order_id: OrderId,
    /// Who placed it.
    pub customer_email: String,
    /// How much it is for.
    pub total: Money,
}

/// The outcome of a risk check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// The order must wait for an operator's approval before payment.
    pub review_required: bool,
    /// Why, when it must.
    pub reason: Option<String>,
    /// How long to wait for the decision before rejecting the order, in seconds.
    pub review_timeout_secs: u64,
}

/// Workflow type name of RefundPayment.
pub const REFUND_PAYMENT_WORKFLOW: &str = "RefundPayment";

/// The workflow id of a refund: `refund-<refund id>`. One refund id, one refund.
pub fn refund_workflow_id(refund_id: uuid::Uuid) -> String {
    format!("refund-{refund_id}")
}

/// Application-failure type of a refund that would return more than was captured.
/// Non-retryable.
pub const REFUND_EXCEEDS_CAPTURED: &str = "RefundExceedsCaptured";

/// Input of RefundPayment: give money back, optionally put goods back on the shelf, tell the
/// customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The refund's id; the workflow id is [`refund_workflow_id`] of it.
    pub refund_id: uuid::Uuid,
    /// The order.
    pub order_id: OrderId,
    /// How much; `None` refunds everything still refundable.
    pub amount: Option<Money>,
    /// Why.
    pub reason: String,
    /// Returned goods to put back into stock.
    pub restock: Vec<crate::inventory::StockLine>,
    /// Who to tell.
    pub customer_email: String,
    /// Who asked for it.
    pub requested_by: String,
}

/// Refund money of an order's captured payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRefund {
    /// The refund's id, its natural key.
    pub refund_id: uuid::Uuid,
    /// The order.
    pub order_id: OrderId,
    /// How much; `None` refunds everything still refundable.
    pub amount: Option<Money>,
    /// Why.
    pub reason: String,
    /// Sent to the provider.
    pub idempotency_key: String,
}

/// A refund done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refunded {
    /// The refund.
    pub refund_id: uuid::Uuid,
    /// How much went back.
    pub amount: Money,
    /// The provider's id of the refund.
    pub provider_ref: String,
}

/// How a refund ended, as RefundPayment reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundResult {
    /// The money went back.
    Refunded,
    /// Refused: it would have returned more than was captured.
    Refused,
}

/// How RefundPayment ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOutcome {
    /// The refund.
    pub refund_id: uuid::Uuid,
    /// The order.
    pub order_id: OrderId,
    /// Refunded, or refused with a reason.
    pub status: RefundResult,
    /// How much went back.
    pub amount: Option<Money>,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// Activities of the payments service (task queue `payments`).
pub struct PaymentsActivities;

#[activity_definitions]
impl PaymentsActivities {
    /// Decides whether the order needs a manual review before payment.
    #[activity(name = "AssessRisk")]
    pub fn assess_risk(check: RiskCheck) -> Result<RiskAssessment, ActivityError> {
        unimplemented!()
    }

    /// Checks the order's risk and authorises its payment in one step: the authorisation
    /// (with how long it holds), and whether the order must wait for a review. Fails with
    /// [`PAYMENT_DECLINED`] like [`Self::authorize_payment`], whose idempotency it shares.
    #[activity(name = "AuthorizeOrder")]
    pub fn authorize_order(request: AuthorizePayment) -> Result<OrderAuthorization, ActivityError> {
        unimplemented!()
    }

    /// Authorises the amount, or fails with [`PAYMENT_DECLINED`]. Idempotent on
    /// `(order_id, attempt)` and on the idempotency key at the provider.
    #[activity(name = "AuthorizePayment")]
    pub fn authorize_payment(
        request: AuthorizePayment,
    ) -> Result<PaymentAuthorization, ActivityError> {
        unimplemented!()
    }

    /// Takes the authorised money. Idempotent.
    #[activity(name = "CapturePayment")]
    pub fn capture_payment(request: SettlePayment) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Releases the authorised money without taking it. Idempotent.
    #[activity(name = "VoidPayment")]
    pub fn void_payment(request: SettlePayment) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Gives captured money back, never more than was captured (fails with
    /// [`REFUND_EXCEEDS_CAPTURED`]). Idempotent on the refund id.
    #[activity(name = "IssueRefund")]
    pub fn issue_refund(request: IssueRefund) -> Result<Refunded, ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::payments_activities::{
        AssessRisk, AuthorizeOrder, AuthorizePayment, CapturePayment, IssueRefund, VoidPayment,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_method_is_a_token_or_a_known_test_card() {
        let visa = |number: &str| (number == "4242424242424242").then_some("pm_card_visa");
        let parsed = |input| PaymentMethod::parse(input, visa).map(|m| m.to_string());
        assert_eq!(parsed(" tok_abc_1 "), Ok("tok_abc_1".into()));
        assert_eq!(parsed("4242-4242 4242-4242"), Ok("pm_card_visa".into()));
        assert_eq!(
            parsed("4111111111111111"),
            Err(PaymentMethodError::RawCardNumber)
        );
        assert_eq!(parsed("pm_a b"), Err(PaymentMethodError::Malformed));
        assert_eq!(parsed(""), Err(PaymentMethodError::Malformed));
        assert_eq!(
            "4242424242424242".parse::<PaymentMethod>(),
            Err(PaymentMethodError::RawCardNumber)
        );
        let method: PaymentMethod = "pm_card_visa".parse().expect("a token");
        assert_eq!(
            serde_json::to_string(&method).expect("serializes"),
            r#""pm_card_visa""#,
            "the same JSON as the string it replaced, so recorded histories replay"
        );
    }

    #[test]
    fn statuses_read_back_what_they_store() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
        }
        for status in RefundStatus::ALL {
            assert_eq!(status.as_str().parse::<RefundStatus>(), Ok(status));
        }
        assert!("refunded".parse::<PaymentStatus>().is_err());
    }

    #[test]
    fn a_payment_moves_only_forward_and_ends_once() {
        use PaymentStatus::*;
        let allowed: Vec<_> = PaymentStatus::ALL
            .into_iter()
            .flat_map(|from| PaymentStatus::ALL.map(|to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Pending, Authorized),
                (Pending, Declined),
                (Pending, Failed),
                (Authorized, Captured),
                (Authorized, Voided),
            ]
        );
        let refunds: Vec<_> = RefundStatus::ALL
            .into_iter()
            .flat_map(|from| RefundStatus::ALL.map(|to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            refunds,
            [
                (RefundStatus::Pending, RefundStatus::Succeeded),
                (RefundStatus::Pending, RefundStatus::Failed)
            ]
        );
    }
}
