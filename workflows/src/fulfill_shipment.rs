//! FulfillShipment (`shipment-<order id>`, task queue `shipping`, a child of PlaceOrder from
//! before the weeks-long patch; newer orders buy the label themselves and start
//! [`crate::FollowParcel`]). Kept unchanged for the orders that still run it.
//!
//! Rate-shops every carrier, buys the cheapest label (once per order), then follows the parcel
//! until it is delivered or lost: carrier webhooks arrive as the `carrier_event` signal, and a
//! poll of the carrier on a timer is the fallback for carriers that send none (or webhooks that
//! never came). Every event is applied once (by event id) and only if it moves the parcel
//! forward; each applied status is recorded in the shipping schema and reported to the order
//! with the `shipment_update` signal. A parcel not delivered within the carrier's deadline is
//! declared lost.
//!
//! The `cancel_shipment` signal before pickup cancels the label; after pickup the carrier
//! refuses, and the shipment goes on. (A signal rather than Temporal's workflow cancellation,
//! which would also cancel the activities the shipment still needs after a refused cancel.)

use crate::PlaceOrder;
use crate::options::{forward, must_finish, poll};
use contracts::shipping::{
    BuyLabel, FULFILL_SHIPMENT_WORKFLOW, Label, QUERY_SHIPMENT, RecordTracking,
    SIGNAL_CANCEL_SHIPMENT, SIGNAL_CARRIER_EVENT, ShipmentOutcome, ShipmentRequest,
    ShipmentSnapshot, ShipmentStatus, ShipmentUpdate, ShippingActivities, TrackParcel,
    TrackingEvent,
};
use contracts::{Service, TaskQueues};
use std::time::{Duration, SystemTime};
use temporalio_workflow::{
    SignalWorkflowOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView,
    WorkflowResult, workflow, workflow_methods,
};

/// The FulfillShipment workflow's state.
#[workflow]
pub struct FulfillShipment {
    request: ShipmentRequest,
    label: Option<Label>,
    status: Option<ShipmentStatus>,
    /// Events applied, oldest first.
    events: Vec<TrackingEvent>,
    /// Events received and not yet applied.
    inbox: Vec<TrackingEvent>,
    /// Why the order asked to stop the shipment, while that is still to be tried.
    cancel_requested: Option<String>,
}

/// What woke the tracking loop.
enum Wake {
    Message,
    Poll,
}

#[workflow_methods]
impl FulfillShipment {
    #[init]
    fn new(_ctx: &WorkflowContextView, request: ShipmentRequest) -> Self {
        Self {
            request,
            label: None,
            status: None,
            events: Vec::new(),
            inbox: Vec::new(),
            cancel_requested: None,
        }
    }

    /// Ships the order and follows the parcel to its end.
    ///
    /// Long, and left so: FulfillShipment is frozen for the orders from before the weeks-long
    /// patch (its histories must replay command for command); FollowParcel is its successor.
    #[run(name = FULFILL_SHIPMENT_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShipmentOutcome> {
        let request = ctx.state(|s| s.request.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Shipping);

        let label = match Self::buy_label(ctx, &queues, &request).await {
            Ok(label) => label,
            Err(reason) => {
                return Ok(Self::finish(ctx, ShipmentStatus::Exception, Some(reason)).await);
            }
        };
        ctx.state_mut(|s| {
            s.label = Some(label.clone());
            s.status = Some(ShipmentStatus::LabelCreated);
        });
        Self::report(
            ctx,
            ShipmentStatus::LabelCreated,
            "label created".to_owned(),
        )
        .await;

        let started = ctx.workflow_time().unwrap_or(SystemTime::UNIX_EPOCH);
        let deadline = Duration::from_secs(label.delivery_deadline_secs);
        let interval = Duration::from_secs(label.poll_interval_secs.max(1));
        loop {
            let wake = temporalio_workflow::select! {
                _ = ctx.wait_condition(|s: &Self| {
                    !s.inbox.is_empty() || s.cancel_requested.is_some()
                }) => Wake::Message,
                _ = ctx.timer(interval) => Wake::Poll,
            };
            if matches!(wake, Wake::Poll) {
                Self::poll_carrier(ctx, &queues, &label).await;
            }
            if ctx.state_mut(|s| s.cancel_requested.take()).is_some() {
                let cancelled = ctx
                    .execute_activity(
                        ShippingActivities::cancel_label,
                        label.clone(),
                        forward(&queues, Service::Shipping),
                    )
                    .await;
                if cancelled.is_ok() {
                    return Ok(Self::finish(
                        ctx,
                        ShipmentStatus::Cancelled,
                        Some("label cancelled before pickup".to_owned()),
                    )
                    .await);
                }
                // The carrier already has the parcel: the shipment goes on; its tracking says so.
                Self::poll_carrier(ctx, &queues, &label).await;
            }

            if let Some(outcome) = Self::apply_inbox(ctx, &queues, &request).await {
                return Ok(outcome);
            }
            let now = ctx.workflow_time().unwrap_or(started);
            if now.duration_since(started).unwrap_or_default() >= deadline {
                let reason = format!(
                    "no delivery within {} days: the parcel is presumed lost",
                    deadline.as_secs().div_ceil(86_400)
                );
                return Ok(Self::finish(ctx, ShipmentStatus::Exception, Some(reason)).await);
            }
        }
    }

    /// A carrier's tracking event (from its webhook). Applied once, by event id.
    #[signal(name = SIGNAL_CARRIER_EVENT)]
    pub fn carrier_event(&mut self, _ctx: &mut SyncWorkflowContext<Self>, event: TrackingEvent) {
        self.receive(event);
    }

    /// Asks to stop the shipment: the label is cancelled if the carrier has not picked the
    /// parcel up yet.
    #[signal(name = SIGNAL_CANCEL_SHIPMENT)]
    pub fn cancel_shipment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, reason: String) {
        if !self.status.is_some_and(ShipmentStatus::is_final) {
            self.cancel_requested = Some(reason);
        }
    }

    /// The shipment's live state.
    #[query(name = QUERY_SHIPMENT)]
    pub fn shipment(&self, _ctx: &WorkflowContextView) -> ShipmentSnapshot {
        ShipmentSnapshot {
            status: self.status,
            label: self.label.clone(),
            events: self.events.clone(),
        }
    }
}

impl FulfillShipment {
    fn receive(&mut self, event: TrackingEvent) {
        let seen = |e: &TrackingEvent| e.event_id == event.event_id;
        let ours = self
            .label
            .as_ref()
            .is_some_and(|label| label.tracking_number == event.tracking_number);
        if ours && !self.events.iter().any(seen) && !self.inbox.iter().any(seen) {
            self.inbox.push(event);
        }
    }

    async fn buy_label(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
    ) -> Result<Label, String> {
        let rates = ctx
            .execute_activity(
                ShippingActivities::quote_rates,
                request.clone(),
                forward(queues, Service::Shipping),
            )
            .await
            .map_err(|err| format!("no carrier could quote: {err}"))?;
        let cheapest = rates
            .into_iter()
            .next()
            .ok_or_else(|| "no carrier ships to this address".to_owned())?;
        ctx.execute_activity(
            ShippingActivities::buy_label,
            BuyLabel {
                request: request.clone(),
                idempotency_key: format!("{}/label", ctx.workflow_id()),
                rate: cheapest,
            },
            forward(queues, Service::Shipping),
        )
        .await
        .map_err(|err| format!("buying the label failed: {err}"))
    }

    /// Asks the carrier for news; a failed poll just waits for the next tick.
    async fn poll_carrier(ctx: &WorkflowContext<Self>, queues: &TaskQueues, label: &Label) {
        let request = TrackParcel {
            label: label.clone(),
            as_of_ms: None,
        };
        if let Ok(events) = ctx
            .execute_activity(ShippingActivities::track_shipment, request, poll(queues))
            .await
        {
            ctx.state_mut(|s| {
                for event in events {
                    s.receive(event);
                }
            });
        }
    }

    /// Applies received events in order; returns the outcome once the parcel's story ends.
    async fn apply_inbox(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
    ) -> Option<ShipmentOutcome> {
        let received = ctx.state_mut(|s| std::mem::take(&mut s.inbox));
        for event in received {
            let current = ctx.state(|s| s.status);
            let moves_forward = current.is_none_or(|now| {
                !now.is_final() && (event.status > now || event.status == ShipmentStatus::Exception)
            });
            if ctx
                .execute_activity(
                    ShippingActivities::record_tracking,
                    RecordTracking {
                        order_id: request.order_id,
                        event: event.clone(),
                    },
                    must_finish(queues, Service::Shipping),
                )
                .await
                .is_err()
            {
                continue;
            }
            ctx.state_mut(|s| {
                s.events.push(event.clone());
                if moves_forward {
                    s.status = Some(event.status);
                }
            });
            if !moves_forward {
                continue;
            }
            if event.status.is_final() {
                return Some(Self::finish(ctx, event.status, Some(event.description)).await);
            }
            Self::report(ctx, event.status, event.description).await;
        }
        None
    }

    /// Tells the order.
    async fn report(ctx: &WorkflowContext<Self>, status: ShipmentStatus, description: String) {
        let (parent, label) =
            ctx.state(|s| (s.request.notify_workflow_id.clone(), s.label.clone()));
        let update = ShipmentUpdate {
            status,
            carrier: label
                .as_ref()
                .map(|l| l.carrier.clone())
                .unwrap_or_default(),
            tracking_number: label.map(|l| l.tracking_number).unwrap_or_default(),
            description,
        };
        // An order that is gone has nobody left to tell.
        let _ = ctx
            .external_workflow(parent, None)
            .signal(
                PlaceOrder::shipment_update,
                update,
                SignalWorkflowOptions::default(),
            )
            .await;
    }

    /// Reports the final status and builds the outcome.
    async fn finish(
        ctx: &WorkflowContext<Self>,
        status: ShipmentStatus,
        reason: Option<String>,
    ) -> ShipmentOutcome {
        ctx.state_mut(|s| s.status = Some(status));
        Self::report(ctx, status, reason.clone().unwrap_or_default()).await;
        ctx.state(|s| ShipmentOutcome {
            order_id: s.request.order_id,
            status,
            label: s.label.clone(),
            reason,
        })
    }
}
