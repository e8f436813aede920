//! Refunds: money of an order's captured payment given back, never more than is left of it.
//!
//! A refund is recorded `pending` before the provider is called (under a lock per order, so
//! concurrent refunds count against each other), then the provider is asked with the refund's
//! idempotency key, then its answer is recorded. A retry finds the row and asks again with the
//! same key: the provider answers with the same refund.

use super::{
    PaymentsActivities, PaymentsError, REFUNDED_MINOR_TOTAL, REFUNDS_TOTAL, currency, entry,
    status_move, stmt,
};
use crate::audit;
use crate::events::Outgoing;
use crate::payments::GatewayError;
use contracts::events::{EventType, RefundEvent};
use contracts::payments::{IssueRefund, PaymentStatus, RefundStatus, Refunded};
use contracts::{Money, OrderId};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, QueryResult, Statement, TransactionTrait as _, Value,
};
use serde_json::json;

/// Where a refund stands before the provider is asked.
enum Reserved {
    /// It succeeded before: the answer again.
    Done(Refunded),
    /// Recorded and counted; the provider is to be asked to give back `amount` of the payment
    /// `payment_ref`.
    Pending { amount: Money, payment_ref: String },
}

/// The conditional update that moves refund `id` from `from` to `to`, setting what `set` says
/// too (`, column = $4, …`).
fn refund_move(
    id: uuid::Uuid,
    from: RefundStatus,
    to: RefundStatus,
    set: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    debug_assert!(from.can_become(to), "{from:?} cannot become {to:?}");
    status_move(
        "payments.refunds",
        id,
        (from.as_str(), to.as_str()),
        set,
        values,
    )
}

impl PaymentsActivities {
    /// Refunds money of the order's captured payment, never more than is left of it; once per
    /// refund id.
    pub async fn refund(&self, request: &IssueRefund) -> Result<Refunded, PaymentsError> {
        let (amount, payment_ref) = match self.reserve_refund(request).await? {
            Reserved::Done(refunded) => return Ok(refunded),
            Reserved::Pending {
                amount,
                payment_ref,
            } => (amount, payment_ref),
        };
        let outcome = self
            .gateway
            .refund(&payment_ref, &amount, &request.idempotency_key)
            .await;
        self.record_refund(request, amount, outcome).await
    }

    /// The refund as recorded before, or recorded now: under a lock per order, so that what is
    /// left to refund is counted once.
    async fn reserve_refund(&self, request: &IssueRefund) -> Result<Reserved, PaymentsError> {
        let txn = self.db.begin().await?;
        txn.execute(stmt(
            "SELECT pg_advisory_xact_lock(hashtextextended('payments:' || $1::text, 0))",
            [request.order_id.0.into()],
        ))
        .await?;
        let existing = txn
            .query_one(stmt(
                "SELECT r.status, r.amount_minor, r.currency, r.provider_ref,
                        p.provider_ref AS payment_ref
                   FROM payments.refunds r JOIN payments.payments p ON p.id = r.payment_id
                  WHERE r.id = $1",
                [request.refund_id.into()],
            ))
            .await?;
        let reserved = match existing {
            Some(row) => earlier_refund(request, &row)?,
            None => new_refund(&txn, request).await?,
        };
        txn.commit().await?;
        Ok(reserved)
    }

    /// Records what the provider answered to a refund, and answers it.
    async fn record_refund(
        &self,
        request: &IssueRefund,
        amount: Money,
        outcome: Result<String, GatewayError>,
    ) -> Result<Refunded, PaymentsError> {
        let (order_id, refund_id) = (request.order_id, request.refund_id);
        let subject = format!("refund:{refund_id}");
        let (from, before) = (
            RefundStatus::Pending,
            json!({"status": RefundStatus::Pending}),
        );
        match outcome {
            Ok(provider_ref) => {
                let to = RefundStatus::Succeeded;
                let update = refund_move(
                    refund_id,
                    from,
                    to,
                    ", provider_ref = $4",
                    [provider_ref.clone().into()],
                );
                let after = json!({"status": to, "amount": amount});
                let audit = entry("refund.succeeded", order_id, subject, Some(before), after);
                let report = json!({"refund_id": refund_id, "amount": amount});
                let report = Some((crate::feed::FeedKind::Refund, report));
                let event = refund_event(request, amount.clone(), None);
                let counter = (REFUNDS_TOTAL, to.as_str());
                if self
                    .transition_reported(update, audit, counter, report, Some(event))
                    .await?
                {
                    let minor = u64::try_from(amount.amount_minor).unwrap_or_default();
                    metrics::counter!(REFUNDED_MINOR_TOTAL, "currency" => amount.currency.code().to_owned())
                        .increment(minor);
                }
                tracing::info!(amount = %amount, "refunded");
                Ok(Refunded {
                    refund_id,
                    amount,
                    provider_ref,
                })
            }
            Err(unavailable @ GatewayError::Unavailable(_)) => {
                Err(PaymentsError::Unavailable(unavailable))
            }
            Err(refused) => {
                let to = RefundStatus::Failed;
                let update = refund_move(refund_id, from, to, "", []);
                let after = json!({"status": to, "reason": refused.to_string()});
                let audit = entry("refund.failed", order_id, subject, Some(before), after);
                let event = refund_event(request, amount, Some(refused.to_string()));
                self.transition(update, audit, (REFUNDS_TOTAL, to.as_str()), Some(event))
                    .await?;
                Err(PaymentsError::Rejected(refused))
            }
        }
    }
}

/// `refund.succeeded`, or `refund.failed` with its reason.
fn refund_event(request: &IssueRefund, amount: Money, reason: Option<String>) -> Outgoing {
    let event = match reason {
        None => EventType::RefundSucceeded,
        Some(_) => EventType::RefundFailed,
    };
    let data = RefundEvent {
        refund_id: request.refund_id,
        order_id: request.order_id,
        amount,
        reason,
    };
    Outgoing::new(event, request.refund_id, data)
}

/// What a refund recorded before stands for: its answer if it ended, else the call to make
/// again.
fn earlier_refund(request: &IssueRefund, row: &QueryResult) -> Result<Reserved, PaymentsError> {
    let status: RefundStatus = row
        .try_get::<String>("", "status")?
        .parse()
        .map_err(PaymentsError::Corrupt)?;
    let amount = Money::new(
        row.try_get("", "amount_minor")?,
        currency(&row.try_get::<String>("", "currency")?)?,
    );
    match status {
        RefundStatus::Succeeded => Ok(Reserved::Done(Refunded {
            refund_id: request.refund_id,
            amount,
            provider_ref: row
                .try_get::<Option<String>>("", "provider_ref")?
                .unwrap_or_default(),
        })),
        RefundStatus::Failed => Err(PaymentsError::Rejected(GatewayError::Rejected(
            "the provider refused this refund".to_owned(),
        ))),
        RefundStatus::Pending => Ok(Reserved::Pending {
            amount,
            payment_ref: row
                .try_get::<Option<String>>("", "payment_ref")?
                .unwrap_or_default(),
        }),
    }
}

/// Records a new refund `pending` against the order's captured payment, if what is left of it
/// covers the amount (all of what is left when the request names none).
async fn new_refund(
    txn: &DatabaseTransaction,
    request: &IssueRefund,
) -> Result<Reserved, PaymentsError> {
    let order_id = request.order_id;
    let payment = captured_payment(txn, order_id).await?;
    let payment_id: uuid::Uuid = payment.try_get("", "id")?;
    let captured: i64 = payment.try_get("", "captured_minor")?;
    let payment_currency = currency(&payment.try_get::<String>("", "currency")?)?;
    let refunded = refunded_so_far(txn, order_id).await?;
    let remaining = Money::new(captured - refunded, payment_currency.clone());
    let amount = request.amount.clone().unwrap_or_else(|| remaining.clone());
    if amount.currency != payment_currency
        || amount.amount_minor <= 0
        || amount.amount_minor > remaining.amount_minor
    {
        return Err(PaymentsError::RefundExceedsCaptured {
            requested: amount,
            remaining,
        });
    }
    txn.execute(stmt(
        "INSERT INTO payments.refunds
             (id, order_id, payment_id, amount_minor, currency, status, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            request.refund_id.into(),
            order_id.0.into(),
            payment_id.into(),
            amount.amount_minor.into(),
            amount.currency.code().into(),
            RefundStatus::Pending.as_str().into(),
            request.reason.clone().into(),
        ],
    ))
    .await?;
    let before = json!({"refunded": Money::new(refunded, payment_currency)});
    let after =
        json!({"status": RefundStatus::Pending, "amount": amount, "reason": request.reason});
    let subject = format!("refund:{}", request.refund_id);
    audit::record(
        txn,
        entry("refund.requested", order_id, subject, Some(before), after),
    )
    .await?;
    Ok(Reserved::Pending {
        amount,
        payment_ref: payment
            .try_get::<Option<String>>("", "provider_ref")?
            .unwrap_or_default(),
    })
}

/// The order's captured payment (its latest attempt).
async fn captured_payment(
    txn: &DatabaseTransaction,
    order_id: OrderId,
) -> Result<QueryResult, PaymentsError> {
    txn.query_one(stmt(
        "SELECT id, captured_minor, currency, provider_ref FROM payments.payments
          WHERE order_id = $1 AND status = $2
          ORDER BY attempt DESC LIMIT 1",
        [order_id.0.into(), PaymentStatus::Captured.as_str().into()],
    ))
    .await?
    .ok_or_else(|| PaymentsError::State {
        order_id,
        attempt: 0,
        status: "not captured".to_owned(),
        operation: "refund money that was never taken",
    })
}

/// What the order's refunds that count (all but the failed) add up to, in minor units.
async fn refunded_so_far(
    txn: &DatabaseTransaction,
    order_id: OrderId,
) -> Result<i64, PaymentsError> {
    debug_assert!(!RefundStatus::Failed.counts());
    let row = txn
        .query_one(stmt(
            "SELECT COALESCE(sum(amount_minor), 0)::bigint AS refunded FROM payments.refunds
              WHERE order_id = $1 AND status <> $2",
            [order_id.0.into(), RefundStatus::Failed.as_str().into()],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "refunded"))
        .transpose()?
        .unwrap_or(0))
}
