//! Telling someone from a workflow, exactly once: as a SendNotification child that outlives
//! its parent (standalone messages, and orders from before the weeks-long patch), or as one
//! `NotifyCustomer` activity (an order's messages since): the notification id is checked in the
//! notifications schema either way, so a replayed or retried workflow cannot send it twice.

use crate::SendNotification;
use crate::options::{child, notification as notification_options};
use contracts::notifications::{
    Notification, NotificationsActivities, Recipient, Template, TemplateData, workflow_id,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::{ParentClosePolicy, WorkflowContext};

/// Starts the notification as a SendNotification child that outlives its parent, and waits
/// only for the start. A failed start means the notification exists already.
pub(crate) async fn notify<W>(
    ctx: &WorkflowContext<W>,
    queues: &TaskQueues,
    notification_id: String,
    recipient: Recipient,
    template: Template,
    data: TemplateData,
) {
    let options = child(
        queues,
        Service::Notifications,
        workflow_id(&notification_id),
        ParentClosePolicy::Abandon,
    );
    let notification = Notification::new(notification_id, recipient, template, data);
    let _ = ctx
        .start_child_workflow(SendNotification::run, notification, options)
        .await;
}

/// Sends the notification as one durable `NotifyCustomer` activity on the notifications
/// queue and waits until it is sent or recorded undeliverable. No workflow run per message;
/// retries and the fallback to the next channel are the activity's, with Temporal's backoff.
/// A notification never fails the caller: if even recording fails, it is let go.
pub(crate) async fn notify_once<W>(
    ctx: &WorkflowContext<W>,
    queues: &TaskQueues,
    notification_id: String,
    recipient: Recipient,
    template: Template,
    data: TemplateData,
) {
    let notification = Notification::new(notification_id, recipient, template, data);
    let options = notification_options(queues, notification.channels.len());
    let _ = ctx
        .execute_activity(NotificationsActivities::notify, notification, options)
        .await;
}
