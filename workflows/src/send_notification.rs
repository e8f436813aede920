//! SendNotification (`notification-<id>`, task queue `notifications`): one notification, sent
//! at most once.
//!
//! The workflow id is the notification's id, so the same notification can never be started
//! twice. Each channel in the notification's preference order is tried with a few retries and
//! exponential backoff; when one keeps failing the next is used; every attempt is recorded by
//! the delivery activity in the notifications schema. When no channel works, the notification is
//! recorded as undeliverable and the workflow completes: a notification is never worth failing
//! an order for.

use crate::options::{delivery, must_finish};
use contracts::notifications::{
    Deliver, GiveUp, Notification, NotificationOutcome, NotificationsActivities,
    SEND_NOTIFICATION_WORKFLOW,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The SendNotification workflow's state.
#[workflow]
pub struct SendNotification {
    notification: Notification,
}

#[workflow_methods]
impl SendNotification {
    #[init]
    fn new(_ctx: &WorkflowContextView, notification: Notification) -> Self {
        Self { notification }
    }

    /// Delivers the notification through the first channel that works.
    #[run(name = SEND_NOTIFICATION_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<NotificationOutcome> {
        let notification = ctx.state(|s| s.notification.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Notifications);
        let mut last_error = "no channel to try".to_owned();
        for &channel in &notification.channels {
            let request = Deliver {
                notification: notification.clone(),
                channel,
            };
            match ctx
                .execute_activity(NotificationsActivities::deliver, request, delivery(&queues))
                .await
            {
                Ok(delivered) => {
                    return Ok(NotificationOutcome {
                        notification_id: notification.notification_id,
                        delivered: Some(delivered),
                    });
                }
                Err(err) => last_error = format!("{channel}: {err}"),
            }
        }
        ctx.execute_activity(
            NotificationsActivities::give_up,
            GiveUp {
                notification: notification.clone(),
                reason: last_error,
            },
            must_finish(&queues, Service::Notifications),
        )
        .await?;
        Ok(NotificationOutcome {
            notification_id: notification.notification_id,
            delivered: None,
        })
    }
}
