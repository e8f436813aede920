//! The payments service (schema `payments`): authorise, capture and void through a
//! [`PaymentGateway`].
//!
//! A payment's natural key is `(order_id, attempt)`. The row is written `pending` *before* the
//! provider is called, so a retry after a crash finds it and calls the provider again with the
//! same idempotency key (the provider answers with the same payment); the outcome is then
//! recorded with a conditional update. A declined payment is recorded too, so a retry returns
//! the same refusal without asking the provider again.

pub mod gateway;
pub mod queries;
pub mod sandbox;
pub mod stripe;

use crate::audit;
use crate::failure::{IntoActivityError, non_retryable, refusal, retryable};
use contracts::payments::{
    AuthorizationValidity, AuthorizePayment, IssueRefund, OrderAuthorization, PAYMENT_DECLINED,
    PaymentAuthorization, PaymentDeclined, REFUND_EXCEEDS_CAPTURED, Refunded, RenewalPolicy,
    RiskAssessment, RiskCheck, SettlePayment,
};
use contracts::{Currency, Money, OrderId};
use entities::payments::payment;
pub use gateway::{AuthorizeRequest, GatewayError, PaymentGateway};
use sea_orm::TransactionTrait as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, Value,
};
use serde_json::json;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Application-failure type of a payment request that contradicts an earlier one with the same
/// natural key (a bug, never retried).
pub const PAYMENT_CONFLICT: &str = "PaymentConflict";
/// Application-failure type of a settle request the payment's state does not allow.
pub const PAYMENT_STATE: &str = "PaymentState";

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
            PaymentsError::State { .. } | PaymentsError::Rejected(_) => {
                non_retryable(PAYMENT_STATE, err.to_string())
            }
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

    /// The authorisation a stored payment row stands for, with how long it holds.
    fn authorization(&self, row: &payment::Model) -> Result<PaymentAuthorization, PaymentsError> {
        Ok(PaymentAuthorization {
            order_id: OrderId(row.order_id),
            attempt: u32::try_from(row.attempt).unwrap_or_default(),
            provider: row.provider.clone(),
            provider_ref: row.provider_ref.clone().unwrap_or_default(),
            amount: Money::new(row.amount_minor, currency(&row.currency)?),
            validity: Some(AuthorizationValidity {
                valid_for_secs: self.gateway.authorization_validity().as_secs(),
                renew_before_secs: self.renewal.renew_before.as_secs(),
                renewal: self.renewal.policy,
            }),
        })
    }

    /// Runs a status-changing `UPDATE`; when it changed the row, appends `entry` to the audit
    /// log in the same transaction and counts the outcome. Returns whether it changed the row
    /// (a retry that finds the change made changes nothing and records nothing).
    async fn transition(
        &self,
        update: Statement,
        entry: audit::Entry,
        counter: (&'static str, &'static str),
    ) -> Result<bool, PaymentsError> {
        let txn = self.db.begin().await?;
        let changed = txn.execute(update).await?.rows_affected() == 1;
        if changed {
            audit::record(&txn, entry).await?;
        }
        txn.commit().await?;
        if changed {
            let (name, outcome) = counter;
            metrics::counter!(name, "outcome" => outcome).increment(1);
        }
        Ok(changed)
    }

    async fn find(&self, order_id: OrderId, attempt: u32) -> Result<payment::Model, PaymentsError> {
        payment::Entity::find()
            .filter(payment::Column::OrderId.eq(order_id.0))
            .filter(payment::Column::Attempt.eq(attempt_i32(attempt)))
            .one(&self.db)
            .await?
            .ok_or_else(|| PaymentsError::State {
                order_id,
                attempt,
                status: "unknown".to_owned(),
                operation: "settle a payment that was never authorised",
            })
    }

    /// Authorises the payment, once.
    pub async fn authorize(
        &self,
        request: &AuthorizePayment,
    ) -> Result<PaymentAuthorization, PaymentsError> {
        let (order_id, attempt) = (request.order_id, request.attempt);
        self.db
            .execute(stmt(
                "INSERT INTO payments.payments
                     (id, order_id, attempt, provider, idempotency_key, amount_minor, currency, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
                 ON CONFLICT DO NOTHING",
                [
                    uuid::Uuid::now_v7().into(),
                    order_id.0.into(),
                    attempt_i32(attempt).into(),
                    self.gateway.provider().into(),
                    request.idempotency_key.clone().into(),
                    request.amount.amount_minor.into(),
                    request.amount.currency.code().into(),
                ],
            ))
            .await?;
        let row = self.find(order_id, attempt).await?;
        let conflict = |what: &str| PaymentsError::Conflict {
            order_id,
            attempt,
            what: what.to_owned(),
        };
        if row.idempotency_key != request.idempotency_key {
            return Err(conflict("idempotency key"));
        }
        if row.amount_minor != request.amount.amount_minor
            || row.currency != request.amount.currency.code()
        {
            return Err(conflict("amount"));
        }
        if row.provider != self.gateway.provider() {
            return Err(conflict("provider"));
        }

        match row.status.as_str() {
            "authorized" | "captured" | "voided" => {
                tracing::info!(status = %row.status, "payment already authorised");
                return self.authorization(&row);
            }
            "declined" => {
                return Err(PaymentsError::Declined {
                    code: row.decline_code.unwrap_or_default(),
                    message: row.decline_message.unwrap_or_default(),
                });
            }
            "failed" => {
                return Err(PaymentsError::Rejected(GatewayError::Rejected(
                    row.decline_message.unwrap_or_default(),
                )));
            }
            _ => {}
        }

        let outcome = self
            .gateway
            .authorize(AuthorizeRequest {
                order_id,
                amount: &request.amount,
                payment_method: &request.payment_method,
                idempotency_key: &request.idempotency_key,
            })
            .await;
        match outcome {
            Ok(provider_ref) => {
                self.transition(
                    stmt(
                        "UPDATE payments.payments
                            SET status = 'authorized', provider_ref = $2, updated_at = now()
                          WHERE id = $1 AND status = 'pending'",
                        [row.id.into(), provider_ref.into()],
                    ),
                    entry(
                        "payment.authorized",
                        order_id,
                        format!("payment:{}", row.id),
                        Some(json!({"status": "pending"})),
                        json!({"status": "authorized", "amount": request.amount, "provider": row.provider}),
                    ),
                    (PAYMENTS_TOTAL, "authorized"),
                )
                .await?;
                tracing::info!(amount = %request.amount, "payment authorised");
                self.authorization(&self.find(order_id, attempt).await?)
            }
            Err(GatewayError::Declined { code, message }) => {
                self.transition(
                    stmt(
                        "UPDATE payments.payments
                            SET status = 'declined', decline_code = $2, decline_message = $3,
                                updated_at = now()
                          WHERE id = $1 AND status = 'pending'",
                        [row.id.into(), code.clone().into(), message.clone().into()],
                    ),
                    entry(
                        "payment.declined",
                        order_id,
                        format!("payment:{}", row.id),
                        Some(json!({"status": "pending"})),
                        json!({"status": "declined", "amount": request.amount, "decline_code": code}),
                    ),
                    (PAYMENTS_TOTAL, "declined"),
                )
                .await?;
                tracing::info!(code = %code, "payment declined");
                Err(PaymentsError::Declined { code, message })
            }
            Err(GatewayError::Rejected(reason)) => {
                self.transition(
                    stmt(
                        "UPDATE payments.payments
                            SET status = 'failed', decline_message = $2, updated_at = now()
                          WHERE id = $1 AND status = 'pending'",
                        [row.id.into(), reason.clone().into()],
                    ),
                    entry(
                        "payment.failed",
                        order_id,
                        format!("payment:{}", row.id),
                        Some(json!({"status": "pending"})),
                        json!({"status": "failed", "reason": reason}),
                    ),
                    (PAYMENTS_TOTAL, "failed"),
                )
                .await?;
                tracing::warn!(%reason, "payment refused by the provider");
                Err(PaymentsError::Rejected(GatewayError::Rejected(reason)))
            }
            Err(unavailable) => Err(unavailable.into()),
        }
    }

    /// Captures the authorised amount, once.
    pub async fn capture(&self, request: &SettlePayment) -> Result<(), PaymentsError> {
        let auth = &request.authorization;
        let row = self.find(auth.order_id, auth.attempt).await?;
        match row.status.as_str() {
            "captured" => return Ok(()),
            "authorized" => {}
            status => {
                return Err(PaymentsError::State {
                    order_id: auth.order_id,
                    attempt: auth.attempt,
                    status: status.to_owned(),
                    operation: "capture",
                });
            }
        }
        let provider_ref = row.provider_ref.clone().unwrap_or_default();
        let amount = Money::new(row.amount_minor, currency(&row.currency)?);
        self.gateway
            .capture(&provider_ref, &amount, &request.idempotency_key)
            .await?;
        self.transition(
            stmt(
                "UPDATE payments.payments
                    SET status = 'captured', captured_minor = amount_minor, updated_at = now()
                  WHERE id = $1 AND status = 'authorized'",
                [row.id.into()],
            ),
            entry(
                "payment.captured",
                auth.order_id,
                format!("payment:{}", row.id),
                Some(json!({"status": "authorized", "captured": Money::new(0, amount.currency.clone())})),
                json!({"status": "captured", "captured": amount}),
            ),
            (PAYMENTS_TOTAL, "captured"),
        )
        .await?;
        tracing::info!(amount = %amount, "payment captured");
        Ok(())
    }

    /// Releases the authorised amount, once. Nothing to do for a payment that never held money.
    pub async fn void(&self, request: &SettlePayment) -> Result<(), PaymentsError> {
        let auth = &request.authorization;
        let row = self.find(auth.order_id, auth.attempt).await?;
        match row.status.as_str() {
            "voided" | "declined" | "failed" | "pending" => return Ok(()),
            "authorized" => {}
            status => {
                return Err(PaymentsError::State {
                    order_id: auth.order_id,
                    attempt: auth.attempt,
                    status: status.to_owned(),
                    operation: "void (refund a captured payment instead)",
                });
            }
        }
        let provider_ref = row.provider_ref.clone().unwrap_or_default();
        self.gateway
            .void(&provider_ref, &request.idempotency_key)
            .await?;
        self.transition(
            stmt(
                "UPDATE payments.payments SET status = 'voided', updated_at = now()
                  WHERE id = $1 AND status = 'authorized'",
                [row.id.into()],
            ),
            entry(
                "payment.voided",
                auth.order_id,
                format!("payment:{}", row.id),
                Some(json!({"status": "authorized"})),
                json!({"status": "voided"}),
            ),
            (PAYMENTS_TOTAL, "voided"),
        )
        .await?;
        tracing::info!("payment voided");
        Ok(())
    }
}

impl PaymentsActivities {
    /// Refunds money of the order's captured payment, never more than is left of it. A refund
    /// is recorded `pending` before the provider is called, so concurrent refunds count against
    /// each other, and a retry finds its row and calls the provider again with the same key.
    pub async fn refund(&self, request: &IssueRefund) -> Result<Refunded, PaymentsError> {
        use sea_orm::TransactionTrait;
        let order_id = request.order_id;
        let txn = self.db.begin().await?;
        txn.execute(stmt(
            "SELECT pg_advisory_xact_lock(hashtextextended('payments:' || $1::text, 0))",
            [order_id.0.into()],
        ))
        .await?;
        let existing = txn
            .query_one(stmt(
                "SELECT r.status, r.amount_minor, r.currency, r.provider_ref, p.provider_ref AS payment_ref
                   FROM payments.refunds r JOIN payments.payments p ON p.id = r.payment_id
                  WHERE r.id = $1",
                [request.refund_id.into()],
            ))
            .await?;
        let (amount, payment_ref) = if let Some(row) = existing {
            txn.commit().await?;
            let status: String = row.try_get("", "status")?;
            let amount = Money::new(
                row.try_get("", "amount_minor")?,
                currency(&row.try_get::<String>("", "currency")?)?,
            );
            match status.as_str() {
                "succeeded" => {
                    return Ok(Refunded {
                        refund_id: request.refund_id,
                        amount,
                        provider_ref: row
                            .try_get::<Option<String>>("", "provider_ref")?
                            .unwrap_or_default(),
                    });
                }
                "failed" => {
                    return Err(PaymentsError::Rejected(GatewayError::Rejected(
                        "the provider refused this refund".to_owned(),
                    )));
                }
                _ => (
                    amount,
                    row.try_get::<Option<String>>("", "payment_ref")?
                        .unwrap_or_default(),
                ),
            }
        } else {
            let payment = txn
                .query_one(stmt(
                    "SELECT id, captured_minor, currency, provider_ref FROM payments.payments
                      WHERE order_id = $1 AND status = 'captured'
                      ORDER BY attempt DESC LIMIT 1",
                    [order_id.0.into()],
                ))
                .await?
                .ok_or_else(|| PaymentsError::State {
                    order_id,
                    attempt: 0,
                    status: "not captured".to_owned(),
                    operation: "refund money that was never taken",
                })?;
            let payment_id: uuid::Uuid = payment.try_get("", "id")?;
            let captured: i64 = payment.try_get("", "captured_minor")?;
            let payment_currency = currency(&payment.try_get::<String>("", "currency")?)?;
            let refunded: i64 = txn
                .query_one(stmt(
                    "SELECT COALESCE(sum(amount_minor), 0)::bigint AS refunded FROM payments.refunds
                      WHERE order_id = $1 AND status IN ('pending', 'succeeded')",
                    [order_id.0.into()],
                ))
                .await?
                .map(|row| row.try_get::<i64>("", "refunded"))
                .transpose()?
                .unwrap_or(0);
            let remaining = Money::new(captured - refunded, payment_currency.clone());
            let amount = request.amount.clone().unwrap_or_else(|| remaining.clone());
            if amount.currency != payment_currency
                || amount.amount_minor <= 0
                || amount.amount_minor > remaining.amount_minor
            {
                txn.rollback().await?;
                return Err(PaymentsError::RefundExceedsCaptured {
                    requested: amount,
                    remaining,
                });
            }
            txn.execute(stmt(
                "INSERT INTO payments.refunds (id, order_id, payment_id, amount_minor, currency, status, reason)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
                [
                    request.refund_id.into(),
                    order_id.0.into(),
                    payment_id.into(),
                    amount.amount_minor.into(),
                    amount.currency.code().into(),
                    request.reason.clone().into(),
                ],
            ))
            .await?;
            audit::record(
                &txn,
                entry(
                    "refund.requested",
                    order_id,
                    format!("refund:{}", request.refund_id),
                    Some(json!({"refunded": Money::new(refunded, remaining.currency.clone())})),
                    json!({"status": "pending", "amount": amount, "reason": request.reason}),
                ),
            )
            .await?;
            txn.commit().await?;
            (
                amount,
                payment
                    .try_get::<Option<String>>("", "provider_ref")?
                    .unwrap_or_default(),
            )
        };

        match self
            .gateway
            .refund(&payment_ref, &amount, &request.idempotency_key)
            .await
        {
            Ok(provider_ref) => {
                let changed = self
                    .transition(
                        stmt(
                            "UPDATE payments.refunds SET status = 'succeeded', provider_ref = $2, updated_at = now()
                              WHERE id = $1 AND status = 'pending'",
                            [request.refund_id.into(), provider_ref.clone().into()],
                        ),
                        entry(
                            "refund.succeeded",
                            order_id,
                            format!("refund:{}", request.refund_id),
                            Some(json!({"status": "pending"})),
                            json!({"status": "succeeded", "amount": amount}),
                        ),
                        (REFUNDS_TOTAL, "succeeded"),
                    )
                    .await?;
                if changed {
                    metrics::counter!(REFUNDED_MINOR_TOTAL, "currency" => amount.currency.code().to_owned())
                        .increment(u64::try_from(amount.amount_minor).unwrap_or_default());
                }
                tracing::info!(amount = %amount, "refunded");
                Ok(Refunded {
                    refund_id: request.refund_id,
                    amount,
                    provider_ref,
                })
            }
            Err(GatewayError::Unavailable(reason)) => Err(PaymentsError::Unavailable(
                GatewayError::Unavailable(reason),
            )),
            Err(refused) => {
                self.transition(
                    stmt(
                        "UPDATE payments.refunds SET status = 'failed', updated_at = now()
                          WHERE id = $1 AND status = 'pending'",
                        [request.refund_id.into()],
                    ),
                    entry(
                        "refund.failed",
                        order_id,
                        format!("refund:{}", request.refund_id),
                        Some(json!({"status": "pending"})),
                        json!({"status": "failed", "reason": refused.to_string()}),
                    ),
                    (REFUNDS_TOTAL, "failed"),
                )
                .await?;
                Err(PaymentsError::Rejected(refused))
            }
        }
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

fn currency(code: &str) -> Result<Currency, PaymentsError> {
    Currency::new(code)
        .map_err(|e| PaymentsError::Db(DbErr::Custom(format!("stored currency: {e}"))))
}
