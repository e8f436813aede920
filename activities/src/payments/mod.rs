//! The payments service (schema `payments`): authorise, capture and void through a
//! [`PaymentGateway`].
//!
//! A payment's natural key is `(order_id, attempt)`. The row is written `pending` *before* the
//! provider is called, so a retry after a crash finds it and calls the provider again with the
//! same idempotency key (the provider answers with the same payment); the outcome is then
//! recorded with a conditional update. A declined payment is recorded too, so a retry returns
//! the same refusal without asking the provider again.

mod authorizations;
pub mod gateway;
pub mod queries;
mod refunds;
pub mod sandbox;
pub mod stripe;

use crate::audit;
use crate::events::{self, Outgoing};
use crate::failure::{IntoActivityError, non_retryable, refusal, retryable};
use contracts::payments::{
    AuthorizePayment, IssueRefund, OrderAuthorization, PAYMENT_DECLINED, PaymentAuthorization,
    PaymentDeclined, REFUND_EXCEEDS_CAPTURED, Refunded, RenewalPolicy, RiskAssessment, RiskCheck,
    SettlePayment,
};
use contracts::{Currency, Money, OrderId, Service};
pub use gateway::{AuthorizeRequest, GatewayError, PaymentGateway};
use sea_orm::TransactionTrait as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Application-failure type of a payment request that contradicts an earlier one with the same
/// natural key (a bug, never retried).
pub const PAYMENT_CONFLICT: &str = "PaymentConflict";
/// Application-failure type of a settle request the payment's state does not allow.
pub const PAYMENT_STATE: &str = "PaymentState";
/// Application-failure type of a request the provider refused itself (retrying the same
/// request cannot help).
pub const PAYMENT_REJECTED: &str = "PaymentRejected";
/// Application-failure type of stored payments data no code writes (an unknown status or
/// currency): an operator must look, retrying cannot repair it.
pub const PAYMENTS_CORRUPT: &str = "PaymentsDataCorrupt";

/// Why a payments operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    /// The provider declined: a business refusal.
    #[error("payment declined ({code}): {message}")]
    Declined {
        /// Provider decline code.
        code: String,
        /// Customer-facing message.
        message: String,
    },
    /// The request contradicts the stored payment with the same key.
    #[error("payment {order_id}/{attempt} conflicts with the stored one: {what}")]
    Conflict {
        /// The order.
        order_id: OrderId,
        /// The attempt.
        attempt: u32,
        /// What differs.
        what: String,
    },
    /// The payment's state does not allow the operation.
    #[error("payment {order_id}/{attempt} is {status}: cannot {operation}")]
    State {
        /// The order.
        order_id: OrderId,
        /// The attempt.
        attempt: u32,
        /// Its current state.
        status: String,
        /// What was asked.
        operation: &'static str,
    },
    /// A refund would return more than is left of what was captured.
    #[error("cannot refund {requested}: only {remaining} of the captured amount is left to refund")]
    RefundExceedsCaptured {
        /// What was asked.
        requested: Money,
        /// What is left.
        remaining: Money,
    },
    /// The provider refused the request.
    #[error(transparent)]
    Rejected(GatewayError),
    /// The provider could not be reached.
    #[error(transparent)]
    Unavailable(GatewayError),
    /// A stored row holds a value no version of this code writes.
    #[error("payments data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("payments database error: {0}")]
    Db(#[from] DbErr),
}

impl IntoActivityError for PaymentsError {
    fn into_activity_error(self) -> ActivityError {
        let err = self;
        match err {
            PaymentsError::Declined { code, message } => refusal(
                PAYMENT_DECLINED,
                format!("payment declined ({code}): {message}"),
                PaymentDeclined { code, message },
            ),
            PaymentsError::Conflict { .. } => non_retryable(PAYMENT_CONFLICT, err.to_string()),
            PaymentsError::RefundExceedsCaptured { .. } => {
                non_retryable(REFUND_EXCEEDS_CAPTURED, err.to_string())
            }
            PaymentsError::State { .. } => non_retryable(PAYMENT_STATE, err.to_string()),
            PaymentsError::Rejected(_) => non_retryable(PAYMENT_REJECTED, err.to_string()),
            PaymentsError::Corrupt(_) => non_retryable(PAYMENTS_CORRUPT, err.to_string()),
            PaymentsError::Unavailable(_) | PaymentsError::Db(_) => retryable(err),
        }
    }
}

impl From<GatewayError> for PaymentsError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Declined { code, message } => PaymentsError::Declined { code, message },
            GatewayError::Rejected(_) => PaymentsError::Rejected(err),
            GatewayError::Unavailable(_) => PaymentsError::Unavailable(err),
        }
    }
}

/// When an order must wait for a manual review before its payment is authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskPolicy {
    /// Orders whose total exceeds this many minor units need a review.
    pub review_threshold_minor: i64,
    /// How long an order waits for the decision before it is rejected.
    pub review_timeout: std::time::Duration,
}

impl RiskPolicy {
    /// The policy's verdict on an order of this total.
    pub fn assess(&self, total: &Money) -> RiskAssessment {
        let review_required = total.amount_minor > self.review_threshold_minor;
        RiskAssessment {
            review_required,
            reason: review_required.then(|| {
                format!(
                    "total {} is above the review threshold of {}",
                    total,
                    Money::new(self.review_threshold_minor, total.currency.clone())
                )
            }),
            review_timeout_secs: self.review_timeout.as_secs(),
        }
    }
}

/// What an order does before its authorisation lapses, and how long before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalSettings {
    /// How long before the provider's lapse the order acts.
    pub renew_before: std::time::Duration,
    /// Re-authorise, or capture.
    pub policy: RenewalPolicy,
}

impl Default for RenewalSettings {
    fn default() -> Self {
        Self {
            renew_before: std::time::Duration::from_secs(24 * 60 * 60),
            policy: RenewalPolicy::Reauthorize,
        }
    }
}

/// The payments service's activities.
pub struct PaymentsActivities {
    db: DatabaseConnection,
    gateway: Arc<dyn PaymentGateway>,
    risk: RiskPolicy,
    renewal: RenewalSettings,
}

#[activities]
impl PaymentsActivities {
    #[activity(definition = contracts::payments::activities::AssessRisk)]
    #[tracing::instrument(skip_all, fields(order.id = %check.order_id))]
    pub async fn assess_risk(
        self: Arc<Self>,
        _ctx: ActivityContext,
        check: RiskCheck,
    ) -> Result<RiskAssessment, ActivityError> {
        let assessment = self.risk.assess(&check.total);
        if assessment.review_required {
            tracing::info!(total = %check.total, "order needs a manual review");
        }
        Ok(assessment)
    }

    #[activity(definition = contracts::payments::activities::AuthorizeOrder)]
    #[tracing::instrument(skip_all, fields(order.id = %request.order_id, attempt = request.attempt))]
    pub async fn authorize_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: AuthorizePayment,
    ) -> Result<OrderAuthorization, ActivityError> {
        let authorization = self
            .authorize(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)?;
        let risk = self.risk.assess(&request.amount);
        if risk.review_required {
            tracing::info!(total = %request.amount, "order needs a manual review");
        }
        Ok(OrderAuthorization {
            authorization,
            risk,
        })
    }

    #[activity(definition = contracts::payments::activities::AuthorizePayment)]
    #[tracing::instrument(skip_all, fields(order.id = %request.order_id, attempt = request.attempt))]
    pub async fn authorize_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: AuthorizePayment,
    ) -> Result<PaymentAuthorization, ActivityError> {
        self.authorize(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::payments::activities::CapturePayment)]
    #[tracing::instrument(skip_all, fields(order.id = %request.authorization.order_id))]
    pub async fn capture_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SettlePayment,
    ) -> Result<(), ActivityError> {
        self.capture(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::payments::activities::IssueRefund)]
    #[tracing::instrument(skip_all, fields(order.id = %request.order_id, refund.id = %request.refund_id))]
    pub async fn issue_refund(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: IssueRefund,
    ) -> Result<Refunded, ActivityError> {
        self.refund(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::payments::activities::VoidPayment)]
    #[tracing::instrument(skip_all, fields(order.id = %request.authorization.order_id))]
    pub async fn void_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SettlePayment,
    ) -> Result<(), ActivityError> {
        self.void(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The conditional update that moves row `id` of `table` from status `from` to `to`, setting
/// what `set` says too (`, column = $4, …`, numbered after the three this fills in): it changes
/// nothing when the row has moved already, so a retry records nothing twice.
fn status_move(
    table: &str,
    id: uuid::Uuid,
    (from, to): (&str, &str),
    set: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    stmt(
        &format!(
            "UPDATE {table} SET status = $3{set}, updated_at = now() WHERE id = $1 AND status = $2"
        ),
        [id.into(), from.into(), to.into()]
            .into_iter()
            .chain(values),
    )
}

/// The audit entry of a payment's (or refund's) status change, made by the order's workflow.
fn entry(
    action: &'static str,
    order_id: OrderId,
    subject: String,
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) -> audit::Entry {
    audit::Entry {
        actor: audit::order_workflow(order_id),
        action,
        subject,
        order_id: Some(order_id.0),
        before,
        after: Some(after),
    }
}

impl PaymentsActivities {
    /// Payments activities on this database, through this gateway, with this risk policy and
    /// the default renewal of authorisations (re-authorise a day before the lapse).
    pub fn new(db: DatabaseConnection, gateway: Arc<dyn PaymentGateway>, risk: RiskPolicy) -> Self {
        Self {
            db,
            gateway,
            risk,
            renewal: RenewalSettings::default(),
        }
    }

    /// The same, renewing authorisations as `renewal` says.
    #[must_use]
    pub fn with_renewal(mut self, renewal: RenewalSettings) -> Self {
        self.renewal = renewal;
        self
    }

    /// Runs a status-changing `UPDATE`; when it changed the row, appends `entry` to the audit
    /// log in the same transaction and counts the outcome. Returns whether it changed the row
    /// (a retry that finds the change made changes nothing and records nothing).
    /// `event`, when given, goes to the payments outbox in the same transaction.
    async fn transition(
        &self,
        update: Statement,
        entry: audit::Entry,
        counter: (&'static str, &'static str),
        event: Option<Outgoing>,
    ) -> Result<bool, PaymentsError> {
        self.transition_reported(update, entry, counter, None, event)
            .await
    }

    /// [`Self::transition`], also appending `report` to the order's change feed (for the
    /// moves a customer watches, such as money going back).
    async fn transition_reported(
        &self,
        update: Statement,
        entry: audit::Entry,
        counter: (&'static str, &'static str),
        report: Option<(crate::feed::FeedKind, serde_json::Value)>,
        event: Option<Outgoing>,
    ) -> Result<bool, PaymentsError> {
        let txn = self.db.begin().await?;
        let changed = txn.execute(update).await?.rows_affected() == 1;
        if changed {
            if let Some(event) = event {
                events::record_outgoing(&txn, Service::Payments, event).await?;
            }
            if let (Some(order_id), Some((kind, body))) = (entry.order_id, report) {
                crate::feed::append(&txn, order_id, kind, body).await?;
            }
            audit::record(&txn, entry).await?;
        }
        txn.commit().await?;
        if changed {
            let (name, outcome) = counter;
            metrics::counter!(name, "outcome" => outcome).increment(1);
        }
        Ok(changed)
    }
}

/// Payments by outcome (`authorized`, `declined`, `failed`, `captured`, `voided`).
const PAYMENTS_TOTAL: &str = "emporium_payments_total";
/// Refunds by outcome (`succeeded`, `failed`).
const REFUNDS_TOTAL: &str = "emporium_refunds_total";
/// Money refunded, in minor units, by currency.
const REFUNDED_MINOR_TOTAL: &str = "emporium_refunded_minor_total";

fn attempt_i32(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

/// A stored currency code; one no code writes is corrupt data, not a reason to retry.
fn currency(code: &str) -> Result<Currency, PaymentsError> {
    Currency::new(code).map_err(|e| PaymentsError::Corrupt(format!("stored currency: {e}")))
}
