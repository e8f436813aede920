//! FulfillShipment (`shipment-<order id>`, task queue `shipping`, a child of PlaceOrder):
//! follows a parcel from its label to its end, for as long as that takes.
//!
//! The order buys the label and hands it over (an order from before the weeks-long patch
//! leaves it to the shipment, which then buys it). News arrives first by webhook: the carrier's
//! events come in as the `carrier_event` signal. Polling the carrier is the fallback, with a
//! back-off: the first poll waits the label's `poll_interval_secs`, each quiet poll doubles the
//! wait up to `poll_max_interval_secs`, and news makes the next wait start over. The poll timer
//! is never restarted for news, so a parcel told about by webhook costs one signal per event.
//! Each event is applied once (by id) and only if it moves the parcel forward, recorded in the
//! shipping schema by a local activity (this worker owns that schema), and reported to the
//! order while the parcel travels (`shipment_update`). How the parcel's story ended is the
//! workflow's result, which the order reads; a parcel not delivered by its deadline is presumed
//! lost.
//!
//! The history stays bounded whatever the pace outside: when Temporal suggests it, or at
//! [`EVENTS_PER_RUN`] events, the run continues as new and hands everything it knows to the
//! next run ([`TrackingProgress`]): the label, the events seen, the deadline, the back-off.
//! A parcel waiting in silence costs a poll per back-off period, a timer and a local activity
//! (six events): with the defaults (1 min doubling to 6 h), about 25 events a day.
//!
//! The `cancel_shipment` signal before pickup cancels the label; after pickup the carrier
//! refuses, and the shipment goes on. (A signal rather than Temporal's workflow cancellation,
//! which would also cancel the activities the shipment still needs after a refused cancel.)

mod legacy;

use crate::PlaceOrder;
use crate::clock::now_ms;
use crate::options::{forward, local_must_finish, local_poll};
use contracts::shipping::{
    FULFILL_SHIPMENT_WORKFLOW, Label, QUERY_SHIPMENT, RecordTracking, SIGNAL_CANCEL_SHIPMENT,
    SIGNAL_CARRIER_EVENT, ShipOrder, ShipmentOutcome, ShipmentRequest, ShipmentSnapshot,
    ShipmentStatus, ShipmentUpdate, ShippingActivities, TrackParcel, TrackingEvent,
    TrackingProgress,
};
use contracts::{Service, TaskQueues};
use std::time::Duration;
use temporalio_workflow::{
    CancellableFuture as _, ContinueAsNewOptions, SignalWorkflowOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The patches of FulfillShipment (docs/VERSIONING.md).
pub mod patches {
    /// Since this patch the shipment follows a label the order bought, polls with a back-off,
    /// records tracking locally, leaves the end to its result and continues as new to keep
    /// its history bounded. Runs from before take [`super::legacy`]'s path.
    pub const WEEKS_LONG_ORDERS: &str = "weeks-long-orders";
}

/// A run continues as new once its history has this many events (or sooner, when Temporal
/// suggests it): far below Temporal's limits, so no parcel can outgrow them, and small enough
/// that a worker rebuilding the run after a restart replays little (about 18 days of a silent
/// parcel polled every 6 hours).
pub const EVENTS_PER_RUN: u32 = 500;

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
    /// News came since the last poll: the back-off starts over.
    news_since_poll: bool,
}

/// What woke the tracking loop.
enum Wake {
    Message,
    Tick,
}

#[workflow_methods]
impl FulfillShipment {
    #[init]
    fn new(_ctx: &WorkflowContextView, request: ShipmentRequest) -> Self {
        let progress = request.progress.clone();
        Self {
            label: request.label.clone(),
            status: progress
                .as_ref()
                .map(|p| p.status)
                .or(request.label.as_ref().map(|_| ShipmentStatus::LabelCreated)),
            events: progress
                .as_ref()
                .map(|p| p.events.clone())
                .unwrap_or_default(),
            inbox: progress
                .as_ref()
                .map(|p| p.inbox.clone())
                .unwrap_or_default(),
            cancel_requested: progress.as_ref().and_then(|p| p.cancel_requested.clone()),
            news_since_poll: progress.as_ref().is_some_and(|p| p.news_since_poll),
            request,
        }
    }

    /// Follows the parcel to its end.
    #[run(name = FULFILL_SHIPMENT_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShipmentOutcome> {
        let request = ctx.state(|s| s.request.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Shipping);
        if !ctx.patched(patches::WEEKS_LONG_ORDERS) {
            return Self::run_legacy(ctx, &queues, &request).await;
        }
        let label = match ctx.state(|s| s.label.clone()) {
            Some(label) => label,
            None => match Self::buy_label(ctx, &queues, &request).await {
                Ok(label) => label,
                Err(reason) => {
                    return Ok(Self::finish(ctx, ShipmentStatus::Exception, Some(reason)).await);
                }
            },
        };
        Self::track(ctx, &queues, &request, &label).await
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
            self.news_since_poll = true;
        }
    }

    /// For an order from before the patch, which left the label to its shipment.
    async fn buy_label(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
    ) -> Result<Label, String> {
        let ship = ShipOrder {
            request: request.clone(),
            idempotency_key: format!("{}/label", ctx.workflow_id()),
            as_of_ms: now_ms(ctx),
        };
        let label = ctx
            .execute_activity(
                ShippingActivities::ship_order,
                ship,
                forward(queues, Service::Shipping),
            )
            .await
            .map_err(|err| format!("buying a label failed: {err}"))?;
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
        Ok(label)
    }

    /// The tracking loop: apply news, handle a cancellation, poll when the back-off says so,
    /// end at the deadline, continue as new when the history is long enough.
    async fn track(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
        label: &Label,
    ) -> WorkflowResult<ShipmentOutcome> {
        let progress = request.progress.as_ref();
        let deadline_at_ms = progress.map_or_else(
            || now_ms(ctx).saturating_add(label.delivery_deadline_secs.saturating_mul(1000)),
            |p| p.deadline_at_ms,
        );
        let mut wait = progress.map_or(label.poll_interval_secs, |p| p.poll_wait_secs);
        let mut tick = Box::pin(ctx.timer(bounded(wait, deadline_at_ms, now_ms(ctx))));
        loop {
            if let Some(outcome) = Self::apply_inbox(ctx, request).await {
                return Ok(outcome);
            }
            if let Some(outcome) = Self::handle_cancel(ctx, queues, label).await {
                return Ok(outcome);
            }
            let remaining_ms = deadline_at_ms.saturating_sub(now_ms(ctx));
            if remaining_ms == 0 {
                tick.cancel();
                let deadline = Duration::from_secs(label.delivery_deadline_secs);
                let reason = legacy::lost(deadline);
                return Ok(Self::finish(ctx, ShipmentStatus::Exception, Some(reason)).await);
            }
            if Self::history_is_long(ctx) {
                let next = Self::progress(ctx, deadline_at_ms, wait);
                let input = ShipmentRequest {
                    label: Some(label.clone()),
                    progress: Some(next),
                    ..request.clone()
                };
                ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
            }
            let wake = temporalio_workflow::select! {
                _ = tick => Wake::Tick,
                _ = ctx.wait_condition(|s: &Self| {
                    !s.inbox.is_empty() || s.cancel_requested.is_some()
                }) => Wake::Message,
            };
            if matches!(wake, Wake::Tick) && now_ms(ctx) < deadline_at_ms {
                Self::poll_carrier(ctx, label).await;
                wait = Self::next_wait(ctx, label, wait);
                tick = Box::pin(ctx.timer(bounded(wait, deadline_at_ms, now_ms(ctx))));
            }
        }
    }

    /// The wait before the poll after this one: back to the first interval after news,
    /// doubled up to the cap otherwise.
    fn next_wait(ctx: &WorkflowContext<Self>, label: &Label, wait: u64) -> u64 {
        let news = ctx.state_mut(|s| std::mem::take(&mut s.news_since_poll));
        let max = label.poll_max_interval_secs.max(label.poll_interval_secs);
        if news {
            label.poll_interval_secs
        } else {
            wait.saturating_mul(2).min(max)
        }
    }

    fn history_is_long(ctx: &WorkflowContext<Self>) -> bool {
        (ctx.continue_as_new_suggested() || ctx.history_length() >= EVENTS_PER_RUN)
            && ctx.all_handlers_finished()
    }

    fn progress(ctx: &WorkflowContext<Self>, deadline_at_ms: u64, wait: u64) -> TrackingProgress {
        ctx.state(|s| TrackingProgress {
            status: s.status.unwrap_or(ShipmentStatus::LabelCreated),
            events: s.events.clone(),
            inbox: s.inbox.clone(),
            cancel_requested: s.cancel_requested.clone(),
            deadline_at_ms,
            poll_wait_secs: wait,
            news_since_poll: s.news_since_poll,
            runs: s.request.progress.as_ref().map_or(0, |p| p.runs) + 1,
        })
    }

    /// Cancels the label if the order asked; `Some` when the shipment ends with that.
    async fn handle_cancel(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        label: &Label,
    ) -> Option<ShipmentOutcome> {
        ctx.state_mut(|s| s.cancel_requested.take())?;
        let cancelled = ctx
            .execute_activity(
                ShippingActivities::cancel_label,
                label.clone(),
                forward(queues, Service::Shipping),
            )
            .await;
        if cancelled.is_ok() {
            let reason = Some("label cancelled before pickup".to_owned());
            return Some(Self::finish(ctx, ShipmentStatus::Cancelled, reason).await);
        }
        // The carrier already has the parcel: the shipment goes on, and its tracking says so.
        Self::poll_carrier(ctx, label).await;
        None
    }

    /// Asks the carrier for news (a local activity: this worker is the shipping service); a
    /// failed poll just waits for the next tick.
    async fn poll_carrier(ctx: &WorkflowContext<Self>, label: &Label) {
        let request = TrackParcel {
            label: label.clone(),
            as_of_ms: Some(now_ms(ctx)),
        };
        if let Ok(events) = ctx
            .execute_local_activity(ShippingActivities::track_shipment, request, local_poll())
            .await
        {
            ctx.state_mut(|s| {
                for event in events {
                    s.receive(event);
                }
            });
        }
    }

    /// Applies received events in order (recording each with a local activity); returns the
    /// outcome once the parcel's story ends.
    async fn apply_inbox(
        ctx: &WorkflowContext<Self>,
        request: &ShipmentRequest,
    ) -> Option<ShipmentOutcome> {
        let received = ctx.state_mut(|s| std::mem::take(&mut s.inbox));
        for event in received {
            let current = ctx.state(|s| s.status);
            let moves_forward = current.is_none_or(|now| now.moves_forward(event.status));
            let record = RecordTracking {
                order_id: request.order_id,
                event: event.clone(),
            };
            // Retried until it succeeds: a recorded event is never lost.
            let _ = ctx
                .execute_local_activity(
                    ShippingActivities::record_tracking,
                    record,
                    local_must_finish(),
                )
                .await;
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

    /// Ends the shipment: the order reads how from the result (an order from before the patch
    /// is also told, as it expects).
    async fn finish(
        ctx: &WorkflowContext<Self>,
        status: ShipmentStatus,
        reason: Option<String>,
    ) -> ShipmentOutcome {
        ctx.state_mut(|s| s.status = Some(status));
        if !ctx.state(|s| s.request.parent_awaits_result) {
            Self::report(ctx, status, reason.clone().unwrap_or_default()).await;
        }
        ctx.state(|s| ShipmentOutcome {
            order_id: s.request.order_id,
            status,
            label: s.label.clone(),
            reason,
        })
    }
}

/// `wait_secs`, but no later than the deadline, and at least a second.
fn bounded(wait_secs: u64, deadline_at_ms: u64, now_ms: u64) -> Duration {
    let remaining = Duration::from_millis(deadline_at_ms.saturating_sub(now_ms));
    Duration::from_secs(wait_secs.max(1))
        .min(remaining)
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::bounded;
    use std::time::Duration;

    #[test]
    fn a_poll_never_waits_past_the_deadline_nor_less_than_a_second() {
        assert_eq!(bounded(60, 10_000, 0), Duration::from_secs(10));
        assert_eq!(bounded(60, 1_000_000, 0), Duration::from_secs(60));
        assert_eq!(bounded(60, 5, 10), Duration::from_secs(1));
        assert_eq!(bounded(0, 1_000_000, 0), Duration::from_secs(1));
    }
}
