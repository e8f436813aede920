//! Starting a SendNotification from another workflow: fire and forget, exactly once.

use crate::SendNotification;
use crate::options::child;
use contracts::notifications::{
    Channel, Notification, Recipient, Template, TemplateData, workflow_id,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::{ParentClosePolicy, WorkflowContext};

/// Starts the notification `notification_id` as a child that outlives its parent, and waits
/// only for the start. Its id makes it unique: a replay or a second start of the same
/// notification cannot send it again. Channels: email, then SMS when there is a phone number.
pub(crate) async fn notify<W>(
    ctx: &WorkflowContext<W>,
    queues: &TaskQueues,
    notification_id: String,
    recipient: Recipient,
    template: Template,
    data: TemplateData,
) {
    let mut channels = Vec::new();
    if recipient.email.is_some() {
        channels.push(Channel::Email);
    }
    if recipient.phone.is_some() {
        channels.push(Channel::Sms);
    }
    if recipient.webhook_url.is_some() {
        channels.push(Channel::Webhook);
    }
    let options = child(
        queues,
        Service::Notifications,
        workflow_id(&notification_id),
        ParentClosePolicy::Abandon,
    );
    let notification = Notification {
        notification_id,
        recipient,
        template,
        data,
        channels,
    };
    // A failed start means the notification exists already: nothing more to do.
    let _ = ctx
        .start_child_workflow(SendNotification::run, notification, options)
        .await;
}
