//! FulfillShipment as it ran before the weeks-long patch, kept for the runs that started then
//! and still replay (`fulfill_shipment/before_weeks_long_orders/` in the recorded histories).
//!
//! It buys the label itself (`QuoteRates`, `BuyLabel`), polls the carrier on a fixed timer,
//! records tracking with a remote activity and reports every status to the order, the final
//! one included. Delete it with the patch (docs/VERSIONING.md) once no such run is open; do not
//! change the commands it issues.

use super::FulfillShipment;
use crate::options::{forward, must_finish, poll};
use contracts::shipping::{
    BuyLabel, Label, RecordTracking, ShipmentOutcome, ShipmentRequest, ShipmentStatus,
    ShippingActivities, TrackParcel,
};
use contracts::{Service, TaskQueues};
use std::time::{Duration, SystemTime};
use temporalio_workflow::{WorkflowContext, WorkflowResult};

/// What woke the tracking loop.
enum Wake {
    Message,
    Poll,
}

impl FulfillShipment {
    /// The run before the patch: label, then fixed-interval polling until the parcel's end.
    pub(super) async fn run_legacy(
        ctx: &mut WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
    ) -> WorkflowResult<ShipmentOutcome> {
        let label = match Self::buy_label_legacy(ctx, queues, request).await {
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
                Self::poll_carrier_legacy(ctx, queues, &label).await;
            }
            if ctx.state_mut(|s| s.cancel_requested.take()).is_some() {
                let cancelled = ctx
                    .execute_activity(
                        ShippingActivities::cancel_label,
                        label.clone(),
                        forward(queues, Service::Shipping),
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
                Self::poll_carrier_legacy(ctx, queues, &label).await;
            }

            if let Some(outcome) = Self::apply_inbox_legacy(ctx, queues, request).await {
                return Ok(outcome);
            }
            let now = ctx.workflow_time().unwrap_or(started);
            if now.duration_since(started).unwrap_or_default() >= deadline {
                return Ok(
                    Self::finish(ctx, ShipmentStatus::Exception, Some(lost(deadline))).await,
                );
            }
        }
    }

    async fn buy_label_legacy(
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

    async fn poll_carrier_legacy(ctx: &WorkflowContext<Self>, queues: &TaskQueues, label: &Label) {
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

    async fn apply_inbox_legacy(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &ShipmentRequest,
    ) -> Option<ShipmentOutcome> {
        let received = ctx.state_mut(|s| std::mem::take(&mut s.inbox));
        for event in received {
            let current = ctx.state(|s| s.status);
            let moves_forward = current.is_none_or(|now| now.moves_forward(event.status));
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
}

/// Why a parcel never delivered within `deadline` is presumed lost.
pub(super) fn lost(deadline: Duration) -> String {
    format!(
        "no delivery within {} days: the parcel is presumed lost",
        deadline.as_secs().div_ceil(86_400)
    )
}
