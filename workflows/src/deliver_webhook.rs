//! DeliverWebhook (`webhook-<delivery id>`, task queue `notifications`): one event to one
//! merchant endpoint, retried over hours.
//!
//! Each attempt is one `AttemptWebhook` activity, which signs, posts and records it and
//! answers how it went (only a database failure fails the activity, and is retried at once).
//! After a failure (5xx, 408, 429, a timeout, no connection) the workflow sleeps the next wait
//! of its input's schedule and tries again; after the last wait's attempt the delivery is
//! failed. A refusal (another 4xx) ends it at once. When a failure disabled the endpoint
//! (failing continuously for too long), the admins are told by email, once each, and the
//! delivery is abandoned. A re-send starts the workflow again under the same id.

use crate::notify::notify_once;
use crate::options::must_finish;
use contracts::notifications::{Recipient, Template, TemplateData};
use contracts::reporting::ReportingActivities;
use contracts::webhooks::{
    AttemptOutcome, AttemptWebhook, DELIVER_WEBHOOK_WORKFLOW, DeliverWebhookInput, DeliveryOutcome,
    DeliveryStatus, DisabledEndpoint, WebhookActivities, disabled_notification_id,
};
use contracts::{Service, TaskQueues};
use std::time::Duration;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The DeliverWebhook workflow's state.
#[workflow]
pub struct DeliverWebhook {
    input: DeliverWebhookInput,
}

#[workflow_methods]
impl DeliverWebhook {
    #[init]
    fn new(_ctx: &WorkflowContextView, input: DeliverWebhookInput) -> Self {
        Self { input }
    }

    /// Attempts until the endpoint accepts or refuses the event, the schedule runs out, or
    /// the endpoint is disabled.
    #[run(name = DELIVER_WEBHOOK_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<DeliveryOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Notifications);
        let waits = input.retry_schedule_secs.len();
        let mut attempt = 0;
        let status = loop {
            let request = AttemptWebhook {
                delivery_id: input.delivery_id,
                attempt: attempt + 1,
                last: attempt as usize >= waits,
            };
            let outcome = ctx
                .execute_activity(
                    WebhookActivities::attempt,
                    request,
                    must_finish(&queues, Service::Notifications),
                )
                .await?;
            attempt += 1;
            match outcome {
                AttemptOutcome::Delivered => break DeliveryStatus::Delivered,
                AttemptOutcome::Rejected => break DeliveryStatus::Failed,
                AttemptOutcome::Abandoned => break DeliveryStatus::Abandoned,
                AttemptOutcome::Failed {
                    disabled: Some(endpoint),
                } => {
                    tell_admins(ctx, &queues, input.delivery_id, &endpoint).await?;
                    break DeliveryStatus::Abandoned;
                }
                AttemptOutcome::Failed { disabled: None } => {
                    let Some(&wait) = input.retry_schedule_secs.get(attempt as usize - 1) else {
                        break DeliveryStatus::Failed;
                    };
                    ctx.timer(Duration::from_secs(wait)).await;
                }
            }
        };
        Ok(DeliveryOutcome {
            delivery_id: input.delivery_id,
            status,
            attempts: attempt,
        })
    }
}

/// Emails every admin that the endpoint was disabled, once each.
async fn tell_admins(
    ctx: &WorkflowContext<DeliverWebhook>,
    queues: &TaskQueues,
    delivery_id: contracts::Uuid,
    endpoint: &DisabledEndpoint,
) -> WorkflowResult<()> {
    let admins = ctx
        .execute_activity(
            ReportingActivities::admins,
            (),
            must_finish(queues, Service::Reporting),
        )
        .await?;
    for admin in admins {
        let data = TemplateData {
            subject: Some("A webhook endpoint was disabled".to_owned()),
            body: Some(format!(
                "Emporium stopped sending events to {} ({}): {}. Deliveries to it are \
                 abandoned until an admin enables it again (PATCH /webhooks/endpoints/{} with \
                 \"enabled\": true); abandoned ones can then be re-sent.",
                endpoint.url, endpoint.endpoint_id, endpoint.reason, endpoint.endpoint_id
            )),
            ..TemplateData::default()
        };
        let recipient = Recipient {
            email: Some(admin.clone()),
            ..Recipient::default()
        };
        let id = disabled_notification_id(endpoint.endpoint_id, delivery_id, &admin);
        notify_once(ctx, queues, id, recipient, Template::Custom, data).await;
    }
    Ok(())
}
