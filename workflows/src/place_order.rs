//! PlaceOrder (`order-<id>`, task queue `orders`): the order saga.
//!
//! record → reserve stock → authorise payment → risk check (manual review above the threshold:
//! wait for an approve/reject decision, reject on timeout) → confirm → child FulfillShipment
//! (rate-shop, label) → capture payment and commit stock when the carrier has the parcel →
//! wait for delivery → completed. The customer hears about each step through SendNotification.
//!
//! The payment is authorised *before* the review (DESIGN.md puts the risk check first): an
//! operator then only reviews orders whose card is good, a rejection simply voids the hold, and
//! the provider's events about the authorisation (it can expire or be cancelled while the order
//! waits) reach an order that can act on them.
//!
//! Every step that succeeded pushes its compensation; when a later step fails, or the order is
//! cancelled, or the provider revokes the authorisation, the compensations run in reverse order
//! (void the payment, release the stock) and retry until they succeed. Business outcomes
//! (`rejected`, `payment_failed`, `cancelled`, `refunded`) complete the workflow; unexpected
//! failures end the order `failed` and fail the workflow, so an operator sees it in the Web UI.
//!
//! The carrier taking the parcel is the point of no return: the stock is committed (the goods
//! left), the payment captured, and from then on the `cancel` update is refused; a parcel lost
//! after that is refunded. Should the capture fail then, nothing is undone (the goods are gone):
//! the order fails loudly for an operator to settle. The flag that says so is set in the same workflow task that handles the pickup,
//! so no cancellation can slip in between.
//!
//! The workflow keeps the search attributes `OrderStatus`, `CustomerId` and `OrderTotalCents`
//! current, and answers the `status` query with its live state.

use crate::notify::notify;
use crate::options::{child, forward, local_must_finish, must_finish};
use crate::{FulfillShipment, RefundPayment};
use contracts::inventory::{
    InventoryActivities, OUT_OF_STOCK, OutOfStock, ReserveStock, StockLine,
};
use contracts::notifications::{Recipient, Template, TemplateData, order_notification_id};
use contracts::orders::{
    CancelRequest, OrderOutcome, OrderSnapshot, OrderStatus, OrdersActivities,
    PLACE_ORDER_WORKFLOW, PaymentEvent, PlaceOrderInput, QUERY_STATUS, ReviewDecision,
    SIGNAL_PAYMENT_EVENT, SIGNAL_SHIPMENT_UPDATE, StatusChange, UPDATE_CANCEL, UPDATE_REVIEW,
    search,
};
use contracts::payments::{
    AuthorizePayment, PAYMENT_DECLINED, PaymentAuthorization, PaymentDeclined, PaymentsActivities,
    RefundRequest, RiskCheck, SettlePayment, idempotency_key, refund_workflow_id,
};
use contracts::shipping::{ShipmentRequest, ShipmentStatus, ShipmentUpdate};
use contracts::{Service, TaskQueues, Uuid};
use std::time::Duration;
use temporalio_workflow::common::error::{ApplicationFailure, IncomingError};
use temporalio_workflow::{
    ActivityExecutionError, ParentClosePolicy, SignalWorkflowOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The patches of PlaceOrder: changes made while orders were running, each guarded by
/// `ctx.patched(id)` so a history recorded before the change replays the old way. Retire one
/// as docs/VERSIONING.md says, once no run from before it is open.
pub mod patches {
    /// Since this patch an order upserts the `TrackingNumber` search attribute when its label
    /// is bought.
    pub const TRACKING_NUMBER_SEARCH_ATTRIBUTE: &str = "tracking-number-search-attribute";
    /// Since this patch the order writes its read model (`RecordOrder`, `SetOrderStatus`) with
    /// local activities on its own worker: a marker each instead of a round trip through the
    /// server and an extra workflow task (docs/BENCHMARKS.md).
    pub const LOCAL_READ_MODEL_WRITES: &str = "local-read-model-writes";
}

/// Application-failure type with which PlaceOrder fails after an unexpected error.
pub const ORDER_FAILED: &str = "OrderFailed";

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// The PlaceOrder workflow's state: the order and where it stands.
#[workflow]
pub struct PlaceOrder {
    order: PlaceOrderInput,
    status: OrderStatus,
    reason: Option<String>,
    /// Number of status changes written to the read model so far.
    changes: u32,
    review: Option<ReviewDecision>,
    cancel: Option<CancelRequest>,
    /// Why a cancellation came too late (the carrier already had the parcel).
    cancel_refused: Option<String>,
    payment_events: Vec<PaymentEvent>,
    /// Set when the provider reported the authorisation cancelled or failed.
    authorization_revoked: Option<String>,
    /// Set in the workflow task that handles the pickup: cancelling is no longer possible.
    past_point_of_no_return: bool,
    /// The parcel's latest news.
    shipment: Option<ShipmentUpdate>,
    /// Shipment updates received and not yet handled.
    shipment_inbox: Vec<ShipmentUpdate>,
}

/// Why the saga stopped before completing.
enum Stop {
    /// A business outcome: the order ends with this status and reason.
    Refused(OrderStatus, String),
    /// Anything else: the order ends `failed`, and so does the workflow.
    Unexpected(String),
}

/// Something to undo, pushed when the step that did it succeeded.
enum Compensation {
    ReleaseStock,
    VoidPayment(PaymentAuthorization),
}

#[workflow_methods]
impl PlaceOrder {
    #[init]
    fn new(_ctx: &WorkflowContextView, order: PlaceOrderInput) -> Self {
        Self {
            order,
            status: OrderStatus::Pending,
            reason: None,
            changes: 0,
            review: None,
            cancel: None,
            cancel_refused: None,
            payment_events: Vec::new(),
            authorization_revoked: None,
            past_point_of_no_return: false,
            shipment: None,
            shipment_inbox: Vec::new(),
        }
    }

    /// Runs the order to its end and returns how it ended.
    #[run(name = PLACE_ORDER_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderOutcome> {
        let order = ctx.state(|s| s.order.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Orders);
        ctx.upsert_search_attributes([
            search::ORDER_STATUS.value_set(OrderStatus::Pending.as_str().to_owned()),
            search::CUSTOMER_ID.value_set(order.customer_id.to_string()),
            search::ORDER_TOTAL_CENTS.value_set(order.total.amount_minor),
        ]);

        if ctx.patched(patches::LOCAL_READ_MODEL_WRITES) {
            ctx.execute_local_activity(
                OrdersActivities::record_order,
                order.clone(),
                local_must_finish(),
            )
            .await?;
        } else {
            ctx.execute_activity(
                OrdersActivities::record_order,
                order.clone(),
                must_finish(&queues, Service::Orders),
            )
            .await?;
        }

        let mut done = Vec::new();
        let result = match Self::saga(ctx, &queues, &order, &mut done).await {
            Ok(()) => {
                Self::set_status(ctx, &queues, OrderStatus::Completed, None).await?;
                Ok(Self::outcome(ctx))
            }
            Err(stop) => {
                for compensation in done.into_iter().rev() {
                    Self::compensate(ctx, &queues, &order, compensation).await?;
                }
                match stop {
                    Stop::Refused(status, reason) => {
                        Self::set_status(ctx, &queues, status, Some(reason.clone())).await?;
                        let template = match status {
                            OrderStatus::PaymentFailed => Some(Template::PaymentFailed),
                            OrderStatus::Cancelled => Some(Template::Cancelled),
                            _ => None,
                        };
                        if let Some(template) = template {
                            Self::tell(ctx, &queues, template, |data| data.reason = Some(reason))
                                .await;
                        }
                        Ok(Self::outcome(ctx))
                    }
                    Stop::Unexpected(reason) => {
                        Self::set_status(ctx, &queues, OrderStatus::Failed, Some(reason.clone()))
                            .await?;
                        Err(ApplicationFailure::builder(reason)
                            .type_name(ORDER_FAILED.to_owned())
                            .non_retryable(true)
                            .build()
                            .into())
                    }
                }
            }
        };
        // A `cancel` update waits for its answer: let it give it before the run ends.
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        result
    }

    /// The order as placed and where it stands now.
    #[query(name = QUERY_STATUS)]
    pub fn status(&self, _ctx: &WorkflowContextView) -> OrderSnapshot {
        OrderSnapshot {
            order: self.order.clone(),
            status: self.status,
            reason: self.reason.clone(),
            review: self.review.clone(),
            cancel_requested: self.cancel.clone(),
            payment_events: self.payment_events.clone(),
            payment_captured: self.past_point_of_no_return,
            shipment: self.shipment.clone(),
        }
    }

    #[update_validator(cancel)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        request: &CancelRequest,
    ) -> Result<(), HandlerError> {
        if request.reason.trim().is_empty() {
            return Err("a cancellation needs a reason".into());
        }
        if self.status.is_terminal() {
            return Err(format!("the order is already {}", self.status).into());
        }
        if self.past_point_of_no_return {
            return Err(
                "the order has already shipped and been paid; it can no longer be cancelled".into(),
            );
        }
        if self.cancel.is_some() {
            return Err("the order is already being cancelled".into());
        }
        Ok(())
    }

    /// Cancels the order: whatever was done is undone and the order ends `cancelled`. Answers
    /// once the order is cancelled, or with the reason it could not be (the carrier had
    /// already picked the parcel up).
    #[update(name = UPDATE_CANCEL)]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        request: CancelRequest,
    ) -> Result<OrderOutcome, HandlerError> {
        ctx.state_mut(|s| s.cancel = Some(request));
        ctx.wait_condition(|s| s.status.is_terminal() || s.cancel_refused.is_some())
            .await?;
        if let Some(refused) = ctx.state(|s| s.cancel_refused.clone()) {
            return Err(format!("the order could not be cancelled: {refused}").into());
        }
        let outcome = Self::outcome(ctx);
        if outcome.status == OrderStatus::Cancelled {
            Ok(outcome)
        } else {
            Err(format!(
                "the order could not be cancelled: it ended {}",
                outcome.status
            )
            .into())
        }
    }

    #[update_validator(review)]
    fn validate_review(
        &self,
        _ctx: &WorkflowContextView,
        decision: &ReviewDecision,
    ) -> Result<(), HandlerError> {
        if decision.reviewer.trim().is_empty() {
            return Err("a review decision needs a reviewer".into());
        }
        if self.status != OrderStatus::AwaitingReview || self.review.is_some() {
            return Err(format!("the order is {}, not awaiting review", self.status).into());
        }
        Ok(())
    }

    /// Records an operator's review decision; the order goes on (approve) or ends `rejected`.
    #[update(name = UPDATE_REVIEW)]
    pub fn review(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        decision: ReviewDecision,
    ) -> OrderStatus {
        self.review = Some(decision);
        self.status
    }

    /// A payment provider's event. Applied once per event id; an event that revokes the
    /// authorisation stops an order that has not captured its payment yet.
    #[signal(name = SIGNAL_PAYMENT_EVENT)]
    pub fn payment_event(&mut self, _ctx: &mut SyncWorkflowContext<Self>, event: PaymentEvent) {
        if self
            .payment_events
            .iter()
            .any(|seen| seen.event_id == event.event_id)
        {
            return;
        }
        if event.revokes_authorization() && !self.past_point_of_no_return {
            self.authorization_revoked = Some(format!(
                "the payment provider reported {}{}",
                event.event_type,
                event
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
        self.payment_events.push(event);
    }

    /// News from the order's FulfillShipment.
    #[signal(name = SIGNAL_SHIPMENT_UPDATE)]
    pub fn shipment_update(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        update: ShipmentUpdate,
    ) {
        self.shipment = Some(update.clone());
        self.shipment_inbox.push(update);
    }
}

impl PlaceOrder {
    /// The forward steps. Every step that succeeds pushes onto `done` what would undo it.
    async fn saga(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        Self::interrupted(ctx)?;
        let reserve = ReserveStock {
            order_id: order.order_id,
            lines: Self::stock_lines(order),
        };
        ctx.execute_activity(
            InventoryActivities::reserve_stock,
            reserve,
            forward(queues, Service::Inventory),
        )
        .await
        .map_err(|err| classify(err, "reserving stock"))?;
        done.push(Compensation::ReleaseStock);
        Self::step_status(ctx, queues, OrderStatus::Reserved, None).await?;

        Self::interrupted(ctx)?;
        let attempt = 1;
        let authorize = AuthorizePayment {
            order_id: order.order_id,
            attempt,
            amount: order.total.clone(),
            payment_method: order.payment_method.clone(),
            idempotency_key: idempotency_key(ctx.workflow_id(), "authorize", attempt),
        };
        let authorization = ctx
            .execute_activity(
                PaymentsActivities::authorize_payment,
                authorize,
                forward(queues, Service::Payments),
            )
            .await
            .map_err(|err| classify(err, "authorising payment"))?;
        done.push(Compensation::VoidPayment(authorization.clone()));

        Self::interrupted(ctx)?;
        Self::risk_check(ctx, queues, order).await?;
        Self::interrupted(ctx)?;
        Self::step_status(ctx, queues, OrderStatus::Confirmed, None).await?;
        Self::tell(ctx, queues, Template::OrderConfirmed, |_| {}).await;

        Self::fulfil(ctx, queues, order, authorization, done).await
    }

    /// Ships the order through a child FulfillShipment and follows it to delivery: captures
    /// the payment and commits the stock when the carrier takes the parcel, refunds if the
    /// parcel is lost after that.
    async fn fulfil(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        authorization: PaymentAuthorization,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        let request = ShipmentRequest {
            order_id: order.order_id,
            notify_workflow_id: ctx.workflow_id().to_owned(),
            address: order.shipping_address.clone(),
            lines: Self::stock_lines(order),
        };
        let shipment = ctx
            .start_child_workflow(
                FulfillShipment::run,
                request,
                child(
                    queues,
                    Service::Shipping,
                    contracts::shipping::workflow_id(order.order_id),
                    // A parcel on its way keeps being followed whatever happens to the order.
                    ParentClosePolicy::Abandon,
                ),
            )
            .await
            .map_err(|err| Stop::Unexpected(format!("starting the shipment: {err}")))?;

        let mut cancel_sent = false;
        loop {
            let sent = cancel_sent;
            ctx.wait_condition(move |s: &Self| {
                !s.shipment_inbox.is_empty()
                    || (!sent
                        && !s.past_point_of_no_return
                        && (s.cancel.is_some() || s.authorization_revoked.is_some()))
            })
            .await
            .map_err(|_| Stop::Unexpected("the workflow was cancelled".to_owned()))?;

            let stop_wanted = ctx.state(|s| {
                !s.past_point_of_no_return
                    && (s.cancel.is_some() || s.authorization_revoked.is_some())
            });
            if stop_wanted && !cancel_sent {
                cancel_sent = true;
                // The label is cancelled if the carrier has not picked the parcel up; the
                // shipment's answer comes back as an update (cancelled, or in transit).
                let _ = shipment
                    .signal(
                        FulfillShipment::cancel_shipment,
                        "order cancelled".to_owned(),
                        SignalWorkflowOptions::default(),
                    )
                    .await;
                continue;
            }

            let Some(update) = ctx
                .state_mut(|s| (!s.shipment_inbox.is_empty()).then(|| s.shipment_inbox.remove(0)))
            else {
                continue;
            };
            let shipped = |data: &mut TemplateData| {
                data.carrier = Some(update.carrier.clone());
                data.tracking_number = Some(update.tracking_number.clone());
            };
            match update.status {
                ShipmentStatus::LabelCreated => {
                    // Added while orders were running: orders that passed this point before
                    // the change did not upsert, and must not on replay (docs/VERSIONING.md).
                    if ctx.patched(patches::TRACKING_NUMBER_SEARCH_ATTRIBUTE) {
                        ctx.upsert_search_attributes([
                            search::TRACKING_NUMBER.value_set(update.tracking_number.clone())
                        ]);
                    }
                    Self::step_status(ctx, queues, OrderStatus::LabelCreated, None).await?;
                    Self::tell(ctx, queues, Template::LabelCreated, shipped).await;
                }
                ShipmentStatus::InTransit => {
                    if ctx.state(|s| s.past_point_of_no_return) {
                        continue;
                    }
                    ctx.state_mut(|s| {
                        s.past_point_of_no_return = true;
                        if s.cancel.take().is_some() {
                            s.cancel_refused =
                                Some("the carrier had already picked the parcel up".to_owned());
                        }
                    });
                    // The goods are gone: nothing is undone any more, and what follows must
                    // finish (retrying through outages rather than giving up).
                    done.clear();
                    ctx.execute_activity(
                        InventoryActivities::commit_stock,
                        order.order_id,
                        must_finish(queues, Service::Inventory),
                    )
                    .await
                    .map_err(|err| Stop::Unexpected(format!("committing stock: {err}")))?;
                    let capture = SettlePayment {
                        authorization: authorization.clone(),
                        idempotency_key: idempotency_key(
                            ctx.workflow_id(),
                            "capture",
                            authorization.attempt,
                        ),
                    };
                    ctx.execute_activity(
                        PaymentsActivities::capture_payment,
                        capture,
                        must_finish(queues, Service::Payments),
                    )
                    .await
                    .map_err(|err| {
                        Stop::Unexpected(format!(
                            "the parcel shipped but capturing the payment failed: {err}"
                        ))
                    })?;
                    Self::step_status(ctx, queues, OrderStatus::Shipped, None).await?;
                    Self::tell(ctx, queues, Template::Shipped, shipped).await;
                }
                ShipmentStatus::OutForDelivery => {
                    Self::step_status(ctx, queues, OrderStatus::OutForDelivery, None).await?;
                    Self::tell(ctx, queues, Template::OutForDelivery, shipped).await;
                }
                ShipmentStatus::Delivered => {
                    Self::step_status(ctx, queues, OrderStatus::Delivered, None).await?;
                    Self::tell(ctx, queues, Template::Delivered, shipped).await;
                    let _ = shipment.result().await;
                    return Ok(());
                }
                ShipmentStatus::Exception => {
                    let _ = shipment.result().await;
                    let reason = format!("the carrier could not deliver: {}", update.description);
                    if !ctx.state(|s| s.past_point_of_no_return) {
                        return Err(Stop::Refused(OrderStatus::Failed, reason));
                    }
                    Self::tell(ctx, queues, Template::ShipmentException, |data| {
                        data.reason = Some(update.description.clone());
                    })
                    .await;
                    return Err(Self::refund_in_full(ctx, queues, order, reason).await);
                }
                ShipmentStatus::Cancelled => {
                    let _ = shipment.result().await;
                    Self::interrupted(ctx)?;
                    return Err(Stop::Refused(
                        OrderStatus::Failed,
                        format!("the shipment was cancelled: {}", update.description),
                    ));
                }
            }
        }
    }

    /// Refunds everything captured through a child RefundPayment; the order ends `refunded`.
    async fn refund_in_full(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        reason: String,
    ) -> Stop {
        let refund_id = Uuid::parse_str(&ctx.uuid4()).unwrap_or_default();
        let request = RefundRequest {
            refund_id,
            order_id: order.order_id,
            amount: None,
            reason: reason.clone(),
            restock: Vec::new(),
            customer_email: order.customer_email.clone(),
            requested_by: "system".to_owned(),
        };
        let refunded = async {
            ctx.start_child_workflow(
                RefundPayment::run,
                request,
                child(
                    queues,
                    Service::Payments,
                    refund_workflow_id(refund_id),
                    ParentClosePolicy::Abandon,
                ),
            )
            .await
            .map_err(|err| err.to_string())?
            .result()
            .await
            .map_err(|err| err.to_string())
        }
        .await;
        match refunded {
            Ok(outcome) if outcome.status == "refunded" => Stop::Refused(
                OrderStatus::Refunded,
                format!(
                    "{reason}; refunded {}",
                    outcome.amount.map(|a| a.to_string()).unwrap_or_default()
                ),
            ),
            Ok(outcome) => Stop::Unexpected(format!(
                "{reason}; the refund was refused: {}",
                outcome.reason.unwrap_or_default()
            )),
            Err(err) => Stop::Unexpected(format!("{reason}; the refund failed: {err}")),
        }
    }

    /// Checks the order's risk and, when it needs a review, waits for the decision.
    async fn risk_check(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
    ) -> Result<(), Stop> {
        let check = RiskCheck {
            order_id: order.order_id,
            customer_email: order.customer_email.clone(),
            total: order.total.clone(),
        };
        let risk = ctx
            .execute_activity(
                PaymentsActivities::assess_risk,
                check,
                forward(queues, Service::Payments),
            )
            .await
            .map_err(|err| classify(err, "checking risk"))?;
        if !risk.review_required {
            return Ok(());
        }

        Self::step_status(ctx, queues, OrderStatus::AwaitingReview, risk.reason).await?;
        let timeout = Duration::from_secs(risk.review_timeout_secs);
        let decided = temporalio_workflow::select! {
            _ = ctx.wait_condition(|s: &Self| {
                s.review.is_some() || s.cancel.is_some() || s.authorization_revoked.is_some()
            }) => true,
            _ = ctx.timer(timeout) => false,
        };
        if !decided {
            return Err(Stop::Refused(
                OrderStatus::Rejected,
                format!("no review decision within {}s", timeout.as_secs()),
            ));
        }
        Self::interrupted(ctx)?;
        match ctx.state(|s| s.review.clone()) {
            Some(decision) if decision.approve => Ok(()),
            Some(decision) => Err(Stop::Refused(
                OrderStatus::Rejected,
                format!(
                    "rejected in review by {}{}",
                    decision.reviewer,
                    decision.note.map(|n| format!(": {n}")).unwrap_or_default()
                ),
            )),
            None => Err(Stop::Unexpected(
                "review wait ended without a decision".to_owned(),
            )),
        }
    }

    /// Stops the saga if the order was cancelled or its authorisation revoked.
    fn interrupted(ctx: &WorkflowContext<Self>) -> Result<(), Stop> {
        ctx.state(|s| {
            if let Some(cancel) = &s.cancel {
                return Err(Stop::Refused(
                    OrderStatus::Cancelled,
                    format!("cancelled by {}: {}", cancel.requested_by, cancel.reason),
                ));
            }
            if let Some(revoked) = &s.authorization_revoked {
                return Err(Stop::Refused(OrderStatus::PaymentFailed, revoked.clone()));
            }
            Ok(())
        })
    }

    fn stock_lines(order: &PlaceOrderInput) -> Vec<StockLine> {
        order
            .lines
            .iter()
            .map(|line| StockLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
            })
            .collect()
    }

    /// Tells the customer, once per kind of news (the notification id is the order id and the
    /// template).
    async fn tell(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        template: Template,
        fill: impl FnOnce(&mut TemplateData),
    ) {
        let order = ctx.state(|s| s.order.clone());
        let mut data = TemplateData {
            order_id: Some(order.order_id),
            amount: Some(order.total.clone()),
            ..TemplateData::default()
        };
        fill(&mut data);
        let recipient = Recipient {
            email: Some(order.customer_email.clone()),
            phone: order.customer_phone.clone(),
            webhook_url: None,
        };
        notify(
            ctx,
            queues,
            order_notification_id(order.order_id, template),
            recipient,
            template,
            data,
        )
        .await;
    }

    async fn compensate(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        compensation: Compensation,
    ) -> WorkflowResult<()> {
        match compensation {
            Compensation::ReleaseStock => {
                ctx.execute_activity(
                    InventoryActivities::release_stock,
                    order.order_id,
                    must_finish(queues, Service::Inventory),
                )
                .await?;
            }
            Compensation::VoidPayment(authorization) => {
                let void = SettlePayment {
                    idempotency_key: idempotency_key(
                        ctx.workflow_id(),
                        "void",
                        authorization.attempt,
                    ),
                    authorization,
                };
                ctx.execute_activity(
                    PaymentsActivities::void_payment,
                    void,
                    must_finish(queues, Service::Payments),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// [`Self::set_status`] inside the saga, where its failure stops the saga.
    async fn step_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<(), Stop> {
        Self::set_status(ctx, queues, status, reason)
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))
    }

    /// Makes `status` the order's status: here, in the search attributes and in the read model.
    async fn set_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<(), ActivityExecutionError> {
        let change = ctx.state_mut(|s| {
            s.status = status;
            s.reason = reason.clone();
            s.changes += 1;
            StatusChange {
                order_id: s.order.order_id,
                seq: s.changes,
                status,
                reason,
            }
        });
        ctx.upsert_search_attributes([search::ORDER_STATUS.value_set(status.as_str().to_owned())]);
        if ctx.patched(patches::LOCAL_READ_MODEL_WRITES) {
            ctx.execute_local_activity(
                OrdersActivities::set_order_status,
                change,
                local_must_finish(),
            )
            .await
        } else {
            ctx.execute_activity(
                OrdersActivities::set_order_status,
                change,
                must_finish(queues, Service::Orders),
            )
            .await
        }
    }

    fn outcome(ctx: &WorkflowContext<Self>) -> OrderOutcome {
        ctx.state(|s| OrderOutcome {
            order_id: s.order.order_id,
            status: s.status,
            reason: s.reason.clone(),
        })
    }
}

/// Sorts an activity failure into a business refusal or an unexpected failure.
fn classify(err: ActivityExecutionError, step: &str) -> Stop {
    if let Some(IncomingError::Application(failure)) = err.reason() {
        match failure.type_name() {
            Some(OUT_OF_STOCK) => {
                let reason = match failure.details::<OutOfStock>() {
                    Ok(Some(short)) => format!(
                        "not enough stock of {}: {} requested, {} available",
                        short.sku, short.requested, short.available
                    ),
                    _ => "not enough stock".to_owned(),
                };
                return Stop::Refused(OrderStatus::Rejected, reason);
            }
            Some(PAYMENT_DECLINED) => {
                let reason = match failure.details::<PaymentDeclined>() {
                    Ok(Some(declined)) => {
                        format!("payment declined ({}): {}", declined.code, declined.message)
                    }
                    _ => "payment declined".to_owned(),
                };
                return Stop::Refused(OrderStatus::PaymentFailed, reason);
            }
            _ => {}
        }
    }
    Stop::Unexpected(format!("{step} failed: {err}"))
}
