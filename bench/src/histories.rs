//! What an order asks of Temporal, read from the histories it left: every run of every workflow
//! it made (PlaceOrder, its shipment across continue-as-new, refunds, notifications of older
//! orders), counted by event kind; and the activity calls the ceiling mirrors.

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use temporalio_client::{Client, WorkflowListOptions};

/// What one order, or the mean of several, cost in history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OrderCost {
    /// Orders measured.
    pub orders: usize,
    /// History events, all its workflows together.
    pub events: f64,
    /// Workflow runs (a workflow that continued as new counts each run).
    pub runs: f64,
    /// History events by kind (`WorkflowTaskCompleted`, `ActivityTaskScheduled`, ...).
    pub events_by_kind: BTreeMap<String, f64>,
}

/// One exported history as JSON (the SDK's form).
async fn history(client: &Client, workflow_id: &str, run_id: Option<&str>) -> Option<Value> {
    let json = workers::history::export_run(client, workflow_id, run_id)
        .await
        .ok()?;
    serde_json::from_str(&json).ok()
}

/// Each event's kind: the name of its attributes, without the suffix.
fn kinds(history: &Value) -> impl Iterator<Item = String> + '_ {
    history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|event| event["attributes"].as_object()?.keys().next().cloned())
        .map(|kind| kind.trim_end_matches("EventAttributes").to_owned())
}

/// The ids of the child workflows a history started.
fn children(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|event| {
            event["attributes"]["StartChildWorkflowExecutionInitiatedEventAttributes"]
                ["workflow_id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// Every run of a workflow id, from visibility (the latest alone when it knows none yet).
async fn runs_of(client: &Client, workflow_id: &str) -> Vec<Option<String>> {
    let found: Vec<String> = client
        .list_workflows(
            format!("WorkflowId = '{workflow_id}'"),
            WorkflowListOptions::default(),
        )
        .filter_map(|run| async move { run.ok().map(|r| r.run_id().to_owned()) })
        .collect()
        .await;
    if found.is_empty() {
        vec![None]
    } else {
        found.into_iter().map(Some).collect()
    }
}

/// The cost of the order whose PlaceOrder is `workflow_id`.
pub async fn order_cost(client: &Client, workflow_id: &str) -> Option<OrderCost> {
    let order = history(client, workflow_id, None).await?;
    let mut cost = OrderCost {
        orders: 1,
        ..OrderCost::default()
    };
    let mut add = |history: &Value| {
        cost.runs += 1.0;
        for kind in kinds(history) {
            cost.events += 1.0;
            *cost.events_by_kind.entry(kind).or_default() += 1.0;
        }
    };
    add(&order);
    for child in children(&order) {
        for run in runs_of(client, &child).await {
            if let Some(history) = history(client, &child, run.as_deref()).await {
                add(&history);
            }
        }
    }
    Some(cost)
}

/// The mean of several orders' costs.
pub fn mean(costs: &[OrderCost]) -> Option<OrderCost> {
    if costs.is_empty() {
        return None;
    }
    #[expect(clippy::cast_precision_loss, reason = "a handful of orders")]
    let n = costs.len() as f64;
    let mut mean = OrderCost {
        orders: costs.len(),
        ..OrderCost::default()
    };
    for cost in costs {
        mean.events += cost.events / n;
        mean.runs += cost.runs / n;
        for (kind, count) in &cost.events_by_kind {
            *mean.events_by_kind.entry(kind.clone()).or_default() += count / n;
        }
    }
    let round = super::stats::round;
    mean.events = round(mean.events);
    mean.runs = round(mean.runs);
    for count in mean.events_by_kind.values_mut() {
        *count = round(*count);
    }
    Some(mean)
}

/// The task queue of each activity call PlaceOrder makes to confirm an order, up to and
/// including the confirmation notice (a `NotifyCustomer` activity; for orders from before the
/// weeks-long patch, the first child workflow, their SendNotification), from a real order's
/// history: activities scheduled through the server on their queue, local activities
/// (markers) on the workflow's own queue; the label, bought alongside, is not part of it. The
/// ceiling makes all of them as plain activities, so work PlaceOrder saves by running some
/// locally shows in the ratio.
pub fn activities_until_confirmed(history: &Value) -> Vec<String> {
    let mut own_queue = String::new();
    let mut queues = Vec::new();
    for event in history["events"].as_array().into_iter().flatten() {
        let attributes = &event["attributes"];
        if let Some(queue) =
            attributes["WorkflowExecutionStartedEventAttributes"]["task_queue"]["name"].as_str()
        {
            own_queue = queue.to_owned();
        }
        if attributes
            .get("StartChildWorkflowExecutionInitiatedEventAttributes")
            .is_some()
        {
            break;
        }
        if let Some(queue) =
            attributes["ActivityTaskScheduledEventAttributes"]["task_queue"]["name"].as_str()
        {
            if queue.ends_with(contracts::Service::Shipping.as_str()) {
                continue;
            }
            queues.push(queue.to_owned());
            if queue.ends_with(contracts::Service::Notifications.as_str()) {
                break;
            }
        }
        if attributes["MarkerRecordedEventAttributes"]["marker_name"] == "core_local_activity" {
            queues.push(own_queue.clone());
        }
    }
    queues
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_ceiling_mirrors_the_calls_that_confirm_an_order() {
        let history = json!({"events": [
            {"attributes": {"WorkflowExecutionStartedEventAttributes": {"task_queue": {"name": "orders"}}}},
            {"attributes": {"MarkerRecordedEventAttributes": {"marker_name": "core_patch"}}},
            {"attributes": {"MarkerRecordedEventAttributes": {"marker_name": "core_local_activity"}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "inventory"}}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "shipping"}}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "notifications"}}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "payments"}}}},
        ]});
        assert_eq!(
            activities_until_confirmed(&history),
            ["orders", "inventory", "notifications"],
            "local activities count on the workflow's own queue; patch markers and the label do \
             not; the confirmation notice ends it"
        );
    }

    #[test]
    fn costs_are_counted_by_kind_and_averaged() {
        let history = json!({"events": [
            {"attributes": {"WorkflowExecutionStartedEventAttributes": {}}},
            {"attributes": {"StartChildWorkflowExecutionInitiatedEventAttributes": {"workflow_id": "shipment-1"}}},
        ]});
        assert_eq!(
            kinds(&history).collect::<Vec<_>>(),
            [
                "WorkflowExecutionStarted",
                "StartChildWorkflowExecutionInitiated"
            ]
        );
        assert_eq!(children(&history), ["shipment-1"]);
        let one = |events: f64| OrderCost {
            orders: 1,
            events,
            runs: 2.0,
            events_by_kind: BTreeMap::from([("WorkflowTaskCompleted".to_owned(), events)]),
        };
        let mean = mean(&[one(100.0), one(120.0)]).expect("a mean");
        assert_eq!((mean.orders, mean.events, mean.runs), (2, 110.0, 2.0));
        assert_eq!(mean.events_by_kind["WorkflowTaskCompleted"], 110.0);
    }
}
