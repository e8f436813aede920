//! The orders service (schema `orders`): the order read model and status history.
//!
//! PlaceOrder writes here through two activities: [`OrdersActivities::record`] when the order
//! starts (`OpenOrder`, which also answers the service's [`OrderTerms`]) and
//! [`OrdersActivities::set_status`] on every change. Both are idempotent: the order
//! id and `(order_id, seq)` are natural keys, and a change is applied only by the write that
//! inserted its history row, so a retried or late write can never move the status backwards.
//!
//! Each write that changes something appends to the audit log in its own transaction
//! (`order.placed`, `order.status_changed` with the status before and after) and counts the
//! order in the business metrics (`emporium_orders_placed_total`,
//! `emporium_orders_finished_total{status}`).

pub mod intake;
pub mod queries;

use crate::audit;
use crate::events;
use crate::failure::{IntoActivityError, retryable};
use crate::feed::{self, FeedKind};
use contracts::events::{EventLine, EventType, OrderCreated, OrderStatusEvent};
use contracts::orders::{OrderStatus, OrderTerms, PlaceOrderInput, StatusChange};
use contracts::{OrderId, Service};
use entities::orders::{order, order_line, status_history};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Why an orders operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// The database failed.
    #[error("orders database error: {0}")]
    Db(#[from] DbErr),
    /// A value does not fit the read model.
    #[error("order {0} cannot be stored: {1}")]
    Invalid(OrderId, String),
}

impl IntoActivityError for OrdersError {
    fn into_activity_error(self) -> ActivityError {
        let err = self;
        retryable(err)
    }
}

/// Orders placed (recorded in the read model).
const ORDERS_PLACED_TOTAL: &str = "emporium_orders_placed_total";
/// Orders that reached a final status, by status (`completed`, `failed`, `cancelled`, ...).
const ORDERS_FINISHED_TOTAL: &str = "emporium_orders_finished_total";

/// The orders service's activities.
pub struct OrdersActivities {
    db: DatabaseConnection,
    terms: OrderTerms,
}

/// The orders service's terms by default: an order that needs attention waits a week for an
/// operator.
pub const DEFAULT_TERMS: OrderTerms = OrderTerms {
    attention_timeout_secs: 7 * 24 * 60 * 60,
};

#[activities]
impl OrdersActivities {
    #[activity(definition = contracts::orders::activities::OpenOrder)]
    #[tracing::instrument(skip_all, fields(order.id = %order.order_id))]
    pub async fn open_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order: PlaceOrderInput,
    ) -> Result<OrderTerms, ActivityError> {
        self.record(&order)
            .await
            .map_err(IntoActivityError::into_activity_error)?;
        Ok(self.terms)
    }

    #[activity(definition = contracts::orders::activities::RecordOrder)]
    #[tracing::instrument(skip_all, fields(order.id = %order.order_id))]
    pub async fn record_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order: PlaceOrderInput,
    ) -> Result<(), ActivityError> {
        self.record(&order)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::orders::activities::SetOrderStatus)]
    #[tracing::instrument(skip_all, fields(order.id = %change.order_id, status = %change.status))]
    pub async fn set_order_status(
        self: Arc<Self>,
        _ctx: ActivityContext,
        change: StatusChange,
    ) -> Result<(), ActivityError> {
        self.set_status(&change)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

impl OrdersActivities {
    /// Orders activities on this database, with the default terms.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            terms: DEFAULT_TERMS,
        }
    }

    /// The same, offering these terms to new orders.
    #[must_use]
    pub fn with_terms(mut self, terms: OrderTerms) -> Self {
        self.terms = terms;
        self
    }

    /// Writes the order, its lines, its first status and its audit entry, in one
    /// transaction. A no-op if the order exists.
    pub async fn record(&self, input: &PlaceOrderInput) -> Result<(), OrdersError> {
        let now = chrono::Utc::now();
        let txn = self.db.begin().await?;
        let inserted = order::Entity::insert(order_row(input, now)?)
            .on_conflict(
                OnConflict::column(order::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if inserted == 0 {
            txn.commit().await?;
            return Ok(());
        }
        let lines = line_rows(input)?;
        if !lines.is_empty() {
            order_line::Entity::insert_many(lines)
                .exec_without_returning(&txn)
                .await?;
        }
        status_history::Entity::insert(status_history::ActiveModel {
            order_id: Set(input.order_id.0),
            seq: Set(0),
            status: Set(OrderStatus::Pending.as_str().to_owned()),
            reason: Set(None),
            recorded_at: Set(now.into()),
        })
        .exec_without_returning(&txn)
        .await?;
        audit::record(&txn, placed_entry(input)).await?;
        feed::own(&txn, input.order_id.0, input.customer_id.0).await?;
        let pending = json!({"status": OrderStatus::Pending, "reason": null});
        feed::append(&txn, input.order_id.0, FeedKind::Status, pending).await?;
        let id = input.order_id.to_string();
        events::record(
            &txn,
            Service::Orders,
            EventType::OrderCreated,
            &id,
            created(input),
        )
        .await?;
        txn.commit().await?;
        metrics::counter!(ORDERS_PLACED_TOTAL).increment(1);
        tracing::info!("order recorded");
        Ok(())
    }

    /// Appends the change to the order's history and makes it current. A no-op if this
    /// `(order_id, seq)` was already written.
    pub async fn set_status(&self, change: &StatusChange) -> Result<(), OrdersError> {
        let now = chrono::Utc::now();
        let seq = i32::try_from(change.seq)
            .map_err(|_| OrdersError::Invalid(change.order_id, "seq".to_owned()))?;
        let txn = self.db.begin().await?;
        let inserted = status_history::Entity::insert(status_history::ActiveModel {
            order_id: Set(change.order_id.0),
            seq: Set(seq),
            status: Set(change.status.as_str().to_owned()),
            reason: Set(change.reason.clone()),
            recorded_at: Set(now.into()),
        })
        .on_conflict(
            OnConflict::columns([status_history::Column::OrderId, status_history::Column::Seq])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 1 {
            let before = order::Entity::find_by_id(change.order_id.0)
                .lock_exclusive()
                .one(&txn)
                .await?
                .map(|row| row.status);
            audit::record(
                &txn,
                audit::Entry {
                    actor: audit::order_workflow(change.order_id),
                    action: "order.status_changed",
                    subject: format!("order:{}", change.order_id),
                    order_id: Some(change.order_id.0),
                    before: before.as_ref().map(|status| json!({"status": status})),
                    after: Some(json!({"status": change.status.as_str(), "reason": change.reason})),
                },
            )
            .await?;
            order::Entity::update_many()
                .col_expr(order::Column::Status, change.status.as_str().into())
                .col_expr(order::Column::Reason, change.reason.clone().into())
                .col_expr(order::Column::UpdatedAt, now.fixed_offset().into())
                .filter(order::Column::Id.eq(change.order_id.0))
                .exec(&txn)
                .await?;
            let body = json!({"status": change.status, "reason": change.reason, "from": before});
            feed::append(&txn, change.order_id.0, FeedKind::Status, body).await?;
            if let Some(event) = EventType::of_order_status(change.status) {
                let data = OrderStatusEvent {
                    order_id: change.order_id,
                    status: change.status.as_str().to_owned(),
                    reason: change.reason.clone(),
                };
                let id = change.order_id.to_string();
                events::record(&txn, Service::Orders, event, &id, data).await?;
            }
        }
        txn.commit().await?;
        if inserted == 1 && change.status.is_terminal() {
            metrics::counter!(ORDERS_FINISHED_TOTAL, "status" => change.status.as_str())
                .increment(1);
        }
        tracing::info!(status = %change.status, "order status changed");
        Ok(())
    }
}

/// The order's row, `pending`.
fn order_row(
    input: &PlaceOrderInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<order::ActiveModel, OrdersError> {
    let address = serde_json::to_value(&input.shipping_address)
        .map_err(|e| OrdersError::Invalid(input.order_id, e.to_string()))?;
    Ok(order::ActiveModel {
        id: Set(input.order_id.0),
        customer_id: Set(Some(input.customer_id.0)),
        customer_email: Set(input.customer_email.clone()),
        status: Set(OrderStatus::Pending.as_str().to_owned()),
        reason: Set(None),
        total_minor: Set(input.total.amount_minor),
        currency: Set(input.total.currency.code().to_owned()),
        customer_phone: Set(input.customer_phone.clone()),
        shipping_address: Set(Some(address)),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    })
}

/// The rows of the order's lines, numbered from 0.
fn line_rows(input: &PlaceOrderInput) -> Result<Vec<order_line::ActiveModel>, OrdersError> {
    let order_id = input.order_id;
    let invalid = |what: &str| OrdersError::Invalid(order_id, what.to_owned());
    input
        .lines
        .iter()
        .enumerate()
        .map(|(line_no, line)| {
            Ok(order_line::ActiveModel {
                order_id: Set(order_id.0),
                line_no: Set(i32::try_from(line_no).map_err(|_| invalid("too many lines"))?),
                sku: Set(line.sku.0.clone()),
                name: Set(line.name.clone()),
                quantity: Set(i32::try_from(line.quantity).map_err(|_| invalid("quantity"))?),
                unit_price_minor: Set(line.unit_price.amount_minor),
                line_total_minor: Set(line.line_total.amount_minor),
                currency: Set(line.unit_price.currency.code().to_owned()),
            })
        })
        .collect()
}

/// `order.created`: what the order holds and costs.
fn created(input: &PlaceOrderInput) -> OrderCreated {
    OrderCreated {
        order_id: input.order_id,
        customer_id: input.customer_id,
        lines: input
            .lines
            .iter()
            .map(|line| EventLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price.clone(),
            })
            .collect(),
        total: input.total.clone(),
    }
}

/// The audit entry of a placed order, made by its customer.
fn placed_entry(input: &PlaceOrderInput) -> audit::Entry {
    let lines: Vec<_> = input
        .lines
        .iter()
        .map(|l| json!({"sku": l.sku, "quantity": l.quantity}))
        .collect();
    audit::Entry {
        actor: input.customer_email.clone(),
        action: "order.placed",
        subject: format!("order:{}", input.order_id),
        order_id: Some(input.order_id.0),
        before: None,
        after: Some(json!({
            "status": OrderStatus::Pending.as_str(),
            "total": input.total,
            "lines": lines,
        })),
    }
}
