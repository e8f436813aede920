//! Activity options shared by the workflows: how long a step may take and how it is retried.
//!
//! Infrastructure errors are retried with exponential backoff; business refusals are raised by
//! the activities as non-retryable failures and are never retried. Three kinds of step:
//! - a *forward* step before the point of no return gives up after [`FORWARD_STEP_DEADLINE`],
//!   so a customer is not left waiting on an outage: the order is then compensated;
//! - a *must-finish* step (read-model writes, compensations, and everything after money was
//!   taken) retries until it succeeds: giving up would leave stock or money inconsistent.

use contracts::{Service, TaskQueues};
use std::time::Duration;
use temporalio_workflow::{ActivityOptions, LocalActivityOptions, RetryPolicy};

/// How long one attempt of any activity may run.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a forward step may keep retrying before the order is compensated.
pub(crate) const FORWARD_STEP_DEADLINE: Duration = Duration::from_secs(5 * 60);

fn retry_policy() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(30))
        // 0 = unlimited; the deadlines above bound forward steps.
        .maximum_attempts(0)
        .build()
}

/// Options for a step that may give up, on the given service's queue.
pub(crate) fn forward(queues: &TaskQueues, service: Service) -> ActivityOptions {
    forward_on(queues.of(service))
}

/// [`forward`]'s timeouts and retries on any task queue (for the benchmark's ceiling, which
/// mirrors a recorded run's queues).
pub fn forward_on(task_queue: String) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(
        temporalio_workflow::ActivityCloseTimeouts::ScheduleAndStartToClose {
            schedule_to_close: FORWARD_STEP_DEADLINE,
            start_to_close: ATTEMPT_TIMEOUT,
        },
    )
    .task_queue(task_queue)
    .retry_policy(retry_policy())
    .build()
}

/// Options for a step that must eventually succeed, on the given service's queue. Its own
/// cancellation token keeps it running even when an operator cancels the workflow: a
/// compensation that is cancelled would leave stock held or money authorised.
pub(crate) fn must_finish(queues: &TaskQueues, service: Service) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(ATTEMPT_TIMEOUT)
        .task_queue(queues.of(service))
        .retry_policy(retry_policy())
        .cancellation_token(temporalio_workflow::WorkflowCancellationToken::new())
        .build()
}

/// Options for a must-finish step run as a *local* activity: on the workflow's own worker,
/// inside its workflow task, with no trip through the server's task queues and a single marker
/// in the history. For quick writes to the workflow's own service's schema (the orders read
/// model from PlaceOrder), which that worker serves anyway. Retried until it succeeds, and not
/// cancelled with the workflow, like [`must_finish`].
pub(crate) fn local_must_finish() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(ATTEMPT_TIMEOUT)
        .retry_policy(retry_policy())
        .cancellation_token(temporalio_workflow::WorkflowCancellationToken::new())
        .build()
}

/// Options for one channel's delivery of a notification: a few quick retries, then the
/// workflow falls back to the next channel.
pub(crate) fn delivery(queues: &TaskQueues) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(ATTEMPT_TIMEOUT)
        .task_queue(queues.of(Service::Notifications))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(DELIVERY_ATTEMPTS)
                .build(),
        )
        .build()
}

/// Attempts per channel before falling back to the next one.
pub(crate) const DELIVERY_ATTEMPTS: u32 = contracts::notifications::ATTEMPTS_PER_CHANNEL;

/// Options for a notification sent as one activity through all its channels
/// (`NotifyCustomer`): [`DELIVERY_ATTEMPTS`] attempts per channel with backoff, the activity
/// picking each attempt's channel, and never giving up early.
pub(crate) fn notification(queues: &TaskQueues, channels: usize) -> ActivityOptions {
    let channels = u32::try_from(channels.max(1)).unwrap_or(u32::MAX);
    ActivityOptions::with_start_to_close_timeout(ATTEMPT_TIMEOUT)
        .task_queue(queues.of(Service::Notifications))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(DELIVERY_ATTEMPTS.saturating_mul(channels))
                .build(),
        )
        .build()
}

/// Options for polling a carrier: a short-lived step whose failure just waits for the next tick.
pub(crate) fn poll(queues: &TaskQueues) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(
        temporalio_workflow::ActivityCloseTimeouts::ScheduleAndStartToClose {
            schedule_to_close: Duration::from_secs(60),
            start_to_close: ATTEMPT_TIMEOUT,
        },
    )
    .task_queue(queues.of(Service::Shipping))
    .retry_policy(retry_policy())
    .build()
}

/// [`poll`] as a *local* activity, for a workflow on the shipping worker itself: a poll is a
/// marker in the history instead of a round trip through the server (a parcel waiting weeks
/// is polled hundreds of times).
pub(crate) fn local_poll() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(ATTEMPT_TIMEOUT)
        .schedule_to_close_timeout(Duration::from_secs(60))
        .retry_policy(retry_policy())
        .build()
}

/// Options for a child workflow on a service's queue with a fixed id.
pub(crate) fn child(
    queues: &TaskQueues,
    service: Service,
    workflow_id: String,
    parent_close_policy: temporalio_workflow::ParentClosePolicy,
) -> temporalio_workflow::ChildWorkflowOptions {
    temporalio_workflow::ChildWorkflowOptions::builder()
        .workflow_id(workflow_id)
        .task_queue(queues.of(service))
        .parent_close_policy(parent_close_policy)
        .build()
}

/// Options for an order's FollowParcel child (it outlives the order if it must): its whole
/// execution, across continue-as-new, may take at most `timeout`, so an order that waits for
/// it waits with a deadline even if the shipment could not keep its own.
pub(crate) fn shipment_child(
    queues: &TaskQueues,
    workflow_id: String,
    timeout: Duration,
) -> temporalio_workflow::ChildWorkflowOptions {
    temporalio_workflow::ChildWorkflowOptions::builder()
        .workflow_id(workflow_id)
        .task_queue(queues.of(Service::Shipping))
        .parent_close_policy(temporalio_workflow::ParentClosePolicy::Abandon)
        .execution_timeout(timeout)
        .build()
}
