//! Workflow histories: exporting them from Temporal, and replaying them against this build's
//! workflow code.
//!
//! A workflow history is the durable record a running workflow is rebuilt from: a worker that
//! picks an order up after a deploy replays its history through the new code, and if the new
//! code would issue different commands than the history records, the order is stuck with a
//! nondeterminism error. Replaying recorded histories before a deploy finds that first. The
//! histories of every workflow path live in `workflows/tests/histories/` and are replayed by
//! `cargo test`; `emporium history replay FILE...` does the same for histories exported from
//! any cluster with `emporium history export`.

use futures::{StreamExt as _, TryStreamExt as _};
use temporalio_client::{
    Client, NamespacedClient as _, WorkflowDescribeOptions, WorkflowExecutionInfo,
    WorkflowFetchHistoryOptions, WorkflowHistory, WorkflowHistoryError,
};
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayer, WorkflowReplayerOptions,
};
use workflows::{
    AdjustStock, Cart, DailySalesReport, DeliverWebhook, FollowParcel, FulfillShipment, PlaceOrder,
    RefundPayment, SendNotification,
};

/// Why a history did not replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The history could not be fetched, or is not a workflow history in the SDK's JSON form.
    #[error("{0}")]
    History(#[from] WorkflowHistoryError),
    /// The history does not start with the workflow's start event.
    #[error("the history does not start with WorkflowExecutionStarted")]
    NoStart,
    /// The workflow code is incompatible with the history (or replay could not run).
    #[error(transparent)]
    Replay(#[from] WorkflowReplayError),
    /// The workflows could not be registered with the replayer.
    #[error("registering workflows for replay: {0}")]
    Registration(String),
}

/// The history of the latest run of `workflow_id`, as pretty-printed JSON in the SDK's form
/// (what `WorkflowHistory::from_json` reads; not the proto3 JSON of `temporal workflow show`).
///
/// A running workflow's history is exported as far as it goes now: the length comes from
/// describing the workflow first, because paging through an open history never runs dry.
pub async fn export(client: &Client, workflow_id: &str) -> Result<String, ReplayError> {
    export_run(client, workflow_id, None).await
}

/// Like [`export`], of one run of the workflow (the latest when `run_id` is `None`): a run
/// that continued as new keeps its own history.
pub async fn export_run(
    client: &Client,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<String, ReplayError> {
    let handle = WorkflowExecutionInfo::builder()
        .namespace(client.namespace())
        .workflow_id(workflow_id)
        .maybe_run_id(run_id.map(str::to_owned))
        .build()
        .bind_untyped(client.clone());
    let length = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|err| ReplayError::History(WorkflowHistoryError::Fetch(err)))?
        .history_length();
    let events: Vec<_> = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .take(length)
        .try_collect()
        .await
        .map_err(|err| ReplayError::History(WorkflowHistoryError::Fetch(err)))?;
    serde_json::to_string_pretty(&History { events })
        .map_err(|err| ReplayError::History(WorkflowHistoryError::Json(err)))
}

/// What a history is of: its workflow type, id and task queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryInfo {
    /// The workflow type, such as `PlaceOrder`.
    pub workflow_type: String,
    /// The workflow id, such as `order-<id>`.
    pub workflow_id: String,
    /// The task queue it ran on.
    pub task_queue: String,
    /// How many events it holds.
    pub events: usize,
}

/// A history in the SDK's JSON form (as `emporium history export` writes it), and what it is
/// of.
pub fn parse(json: &[u8]) -> Result<(History, HistoryInfo), ReplayError> {
    let history: History = serde_json::from_slice(json)
        .map_err(|err| ReplayError::History(WorkflowHistoryError::Json(err)))?;
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) = history
        .events
        .first()
        .and_then(|event| event.attributes.as_ref())
    else {
        return Err(ReplayError::NoStart);
    };
    let info = HistoryInfo {
        workflow_type: started
            .workflow_type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        workflow_id: started.workflow_id.clone(),
        task_queue: started
            .task_queue
            .as_ref()
            .map(|q| q.name.clone())
            .unwrap_or_default(),
        events: history.events.len(),
    };
    Ok((history, info))
}

/// Options replaying on `task_queue` with every Emporium workflow registered.
pub fn options(task_queue: &str) -> Result<WorkflowReplayerOptions, ReplayError> {
    let registration =
        |err: temporalio_sdk::WorkflowRegistrationError| ReplayError::Registration(err.to_string());
    Ok(WorkflowReplayerOptions::new()
        .task_queue(task_queue)
        .register_workflow::<PlaceOrder>()
        .map_err(registration)?
        .register_workflow::<Cart>()
        .map_err(registration)?
        .register_workflow::<FollowParcel>()
        .map_err(registration)?
        .register_workflow::<FulfillShipment>()
        .map_err(registration)?
        .register_workflow::<RefundPayment>()
        .map_err(registration)?
        .register_workflow::<SendNotification>()
        .map_err(registration)?
        .register_workflow::<DailySalesReport>()
        .map_err(registration)?
        .register_workflow::<AdjustStock>()
        .map_err(registration)?
        .register_workflow::<DeliverWebhook>()
        .map_err(registration)?
        .build())
}

/// Replays a history against `options`' workflows, on the task queue it was recorded on (the
/// workflows derive their sibling queues from their own).
pub async fn replay_with(
    history: History,
    options: WorkflowReplayerOptions,
) -> Result<(), ReplayError> {
    let replayer = WorkflowReplayer::new(options)?;
    replayer
        .replay_workflow(WorkflowHistory::from(history))
        .await?;
    Ok(())
}

/// Replays a history (JSON) against this build's workflows.
pub async fn replay(json: &[u8]) -> Result<HistoryInfo, ReplayError> {
    let (history, info) = parse(json)?;
    replay_with(history, options(&info.task_queue)?).await?;
    Ok(info)
}
