//! A payment's life: authorise once, then capture or void once.
//!
//! Each operation has the same three steps: load (or record) the payment row, call the
//! gateway unless the row already says how it ended, and record the move to the next
//! [`PaymentStatus`] with a conditional update (so a retry that finds the move made changes
//! nothing and records nothing twice).

use super::{
    PAYMENTS_TOTAL, PaymentsActivities, PaymentsError, attempt_i32, currency, entry, status_move,
    stmt,
};
use crate::events::Outgoing;
use crate::payments::{AuthorizeRequest, GatewayError};
use contracts::events::{EventType, PaymentEvent, PaymentFailed};
use contracts::payments::{AuthorizePayment, PaymentAuthorization, PaymentStatus, SettlePayment};
use contracts::{Money, OrderId};
use entities::payments::payment;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement, Value};
use serde_json::json;

/// The conditional update that moves payment `id` from `from` to `to`, setting what `set`
/// says too (`, column = $4, …`, numbered after the three this fills in).
fn payment_move(
    id: uuid::Uuid,
    from: PaymentStatus,
    to: PaymentStatus,
    set: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    debug_assert!(from.can_become(to), "{from:?} cannot become {to:?}");
    status_move(
        "payments.payments",
        id,
        (from.as_str(), to.as_str()),
        set,
        values,
    )
}

/// A stored payment's status; a value no code writes is corrupt data, not a reason to retry.
fn status_of(row: &payment::Model) -> Result<PaymentStatus, PaymentsError> {
    row.status.parse().map_err(PaymentsError::Corrupt)
}

impl PaymentsActivities {
    /// The authorisation a stored payment row stands for, with how long it holds.
    fn authorization(&self, row: &payment::Model) -> Result<PaymentAuthorization, PaymentsError> {
        Ok(PaymentAuthorization {
            order_id: OrderId(row.order_id),
            attempt: u32::try_from(row.attempt).unwrap_or_default(),
            provider: row.provider.clone(),
            provider_ref: row.provider_ref.clone().unwrap_or_default(),
            amount: Money::new(row.amount_minor, currency(&row.currency)?),
            validity: Some(contracts::payments::AuthorizationValidity {
                valid_for_secs: self.gateway.authorization_validity().as_secs(),
                renew_before_secs: self.renewal.renew_before.as_secs(),
                renewal: self.renewal.policy,
            }),
        })
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
        let row = self.open_attempt(request).await?;
        if let Some(earlier) = self.earlier_outcome(&row)? {
            return earlier;
        }
        let outcome = self
            .gateway
            .authorize(AuthorizeRequest {
                order_id: request.order_id,
                amount: &request.amount,
                payment_method: request.payment_method.as_str(),
                idempotency_key: &request.idempotency_key,
            })
            .await;
        self.record_authorization(&row, request, outcome).await
    }

    /// The attempt's row, recorded `pending` if it is new; refused if the request contradicts
    /// the stored one (another key, amount or provider for the same natural key).
    async fn open_attempt(
        &self,
        request: &AuthorizePayment,
    ) -> Result<payment::Model, PaymentsError> {
        let (order_id, attempt) = (request.order_id, request.attempt);
        self.db
            .execute(stmt(
                "INSERT INTO payments.payments
                     (id, order_id, attempt, provider, idempotency_key, amount_minor, currency, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT DO NOTHING",
                [
                    uuid::Uuid::now_v7().into(),
                    order_id.0.into(),
                    attempt_i32(attempt).into(),
                    self.gateway.provider().into(),
                    request.idempotency_key.clone().into(),
                    request.amount.amount_minor.into(),
                    request.amount.currency.code().into(),
                    PaymentStatus::Pending.as_str().into(),
                ],
            ))
            .await?;
        let row = self.find(order_id, attempt).await?;
        let differs = if row.idempotency_key != request.idempotency_key {
            Some("idempotency key")
        } else if row.amount_minor != request.amount.amount_minor
            || row.currency != request.amount.currency.code()
        {
            Some("amount")
        } else if row.provider != self.gateway.provider() {
            Some("provider")
        } else {
            None
        };
        match differs {
            Some(what) => Err(PaymentsError::Conflict {
                order_id,
                attempt,
                what: what.to_owned(),
            }),
            None => Ok(row),
        }
    }

    /// How an attempt ended before, if it did: a retry answers the same without asking the
    /// provider again.
    fn earlier_outcome(
        &self,
        row: &payment::Model,
    ) -> Result<Option<Result<PaymentAuthorization, PaymentsError>>, PaymentsError> {
        let status = status_of(row)?;
        let message = || row.decline_message.clone().unwrap_or_default();
        Ok(match status {
            PaymentStatus::Pending => None,
            PaymentStatus::Authorized | PaymentStatus::Captured | PaymentStatus::Voided => {
                tracing::info!(status = status.as_str(), "payment already authorised");
                Some(self.authorization(row))
            }
            PaymentStatus::Declined => Some(Err(PaymentsError::Declined {
                code: row.decline_code.clone().unwrap_or_default(),
                message: message(),
            })),
            PaymentStatus::Failed => Some(Err(PaymentsError::Rejected(GatewayError::Rejected(
                message(),
            )))),
        })
    }

    /// Records what the provider answered to an authorisation, and answers it.
    async fn record_authorization(
        &self,
        row: &payment::Model,
        request: &AuthorizePayment,
        outcome: Result<String, GatewayError>,
    ) -> Result<PaymentAuthorization, PaymentsError> {
        let (order_id, subject) = (request.order_id, format!("payment:{}", row.id));
        let pending = Some(json!({"status": PaymentStatus::Pending}));
        match outcome {
            Ok(provider_ref) => {
                let to = PaymentStatus::Authorized;
                let update = payment_move(
                    row.id,
                    PaymentStatus::Pending,
                    to,
                    ", provider_ref = $4",
                    [provider_ref.into()],
                );
                let after =
                    json!({"status": to, "amount": request.amount, "provider": row.provider});
                let audit = entry("payment.authorized", order_id, subject, pending, after);
                let data = PaymentEvent {
                    order_id,
                    amount: request.amount.clone(),
                };
                let event = Outgoing::new(EventType::PaymentAuthorized, order_id, data);
                self.transition(update, audit, (PAYMENTS_TOTAL, to.as_str()), Some(event))
                    .await?;
                tracing::info!(amount = %request.amount, "payment authorised");
                self.authorization(&self.find(order_id, request.attempt).await?)
            }
            Err(GatewayError::Declined { code, message }) => {
                let to = PaymentStatus::Declined;
                let set = ", decline_code = $4, decline_message = $5";
                let update = payment_move(
                    row.id,
                    PaymentStatus::Pending,
                    to,
                    set,
                    [code.clone().into(), message.clone().into()],
                );
                let after = json!({"status": to, "amount": request.amount, "decline_code": code});
                let audit = entry("payment.declined", order_id, subject, pending, after);
                let event = failed(order_id, code.clone());
                self.transition(update, audit, (PAYMENTS_TOTAL, to.as_str()), Some(event))
                    .await?;
                tracing::info!(code = %code, "payment declined");
                Err(PaymentsError::Declined { code, message })
            }
            Err(GatewayError::Rejected(reason)) => {
                let to = PaymentStatus::Failed;
                let update = payment_move(
                    row.id,
                    PaymentStatus::Pending,
                    to,
                    ", decline_message = $4",
                    [reason.clone().into()],
                );
                let after = json!({"status": to, "reason": reason});
                let audit = entry("payment.failed", order_id, subject, pending, after);
                let event = failed(order_id, reason.clone());
                self.transition(update, audit, (PAYMENTS_TOTAL, to.as_str()), Some(event))
                    .await?;
                tracing::warn!(%reason, "payment refused by the provider");
                Err(PaymentsError::Rejected(GatewayError::Rejected(reason)))
            }
            Err(unavailable) => Err(unavailable.into()),
        }
    }

    /// The authorised payment `request` settles, or why it cannot be settled: `Ok(None)` when
    /// it already is in `done`, or (for a void) never held money.
    async fn to_settle(
        &self,
        request: &SettlePayment,
        done: PaymentStatus,
        operation: &'static str,
    ) -> Result<Option<payment::Model>, PaymentsError> {
        let auth = &request.authorization;
        let row = self.find(auth.order_id, auth.attempt).await?;
        match status_of(&row)? {
            PaymentStatus::Authorized => Ok(Some(row)),
            status if status == done => Ok(None),
            // A void of a payment that never held money has nothing to release.
            status if done == PaymentStatus::Voided && !status.was_authorized() => Ok(None),
            status => Err(PaymentsError::State {
                order_id: auth.order_id,
                attempt: auth.attempt,
                status: status.as_str().to_owned(),
                operation,
            }),
        }
    }

    /// Captures the authorised amount, once.
    pub async fn capture(&self, request: &SettlePayment) -> Result<(), PaymentsError> {
        let to = PaymentStatus::Captured;
        let Some(row) = self.to_settle(request, to, "capture").await? else {
            return Ok(());
        };
        let provider_ref = row.provider_ref.clone().unwrap_or_default();
        let amount = Money::new(row.amount_minor, currency(&row.currency)?);
        self.gateway
            .capture(&provider_ref, &amount, &request.idempotency_key)
            .await?;
        let from = PaymentStatus::Authorized;
        let update = payment_move(row.id, from, to, ", captured_minor = amount_minor", []);
        let before = json!({"status": from, "captured": Money::new(0, amount.currency.clone())});
        let after = json!({"status": to, "captured": amount});
        let subject = format!("payment:{}", row.id);
        let order_id = request.authorization.order_id;
        let audit = entry("payment.captured", order_id, subject, Some(before), after);
        let data = PaymentEvent { order_id, amount };
        let event = Outgoing::new(EventType::PaymentCaptured, order_id, &data);
        self.transition(update, audit, (PAYMENTS_TOTAL, to.as_str()), Some(event))
            .await?;
        let amount = data.amount;
        tracing::info!(amount = %amount, "payment captured");
        Ok(())
    }

    /// Releases the authorised amount, once. Nothing to do for a payment that never held money.
    pub async fn void(&self, request: &SettlePayment) -> Result<(), PaymentsError> {
        let to = PaymentStatus::Voided;
        let operation = "void (refund a captured payment instead)";
        let Some(row) = self.to_settle(request, to, operation).await? else {
            return Ok(());
        };
        let provider_ref = row.provider_ref.clone().unwrap_or_default();
        self.gateway
            .void(&provider_ref, &request.idempotency_key)
            .await?;
        let from = PaymentStatus::Authorized;
        let update = payment_move(row.id, from, to, "", []);
        let subject = format!("payment:{}", row.id);
        let order_id = request.authorization.order_id;
        let before = Some(json!({"status": from}));
        let audit = entry(
            "payment.voided",
            order_id,
            subject,
            before,
            json!({"status": to}),
        );
        self.transition(update, audit, (PAYMENTS_TOTAL, to.as_str()), None)
            .await?;
        tracing::info!("payment voided");
        Ok(())
    }
}

/// `payment.failed`: declined (the provider's code) or refused (its reason).
fn failed(order_id: OrderId, reason: String) -> Outgoing {
    Outgoing::new(
        EventType::PaymentFailed,
        order_id,
        PaymentFailed { order_id, reason },
    )
}
