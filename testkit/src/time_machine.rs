//! Driving Temporal's time-skipping test server through weeks with real workers.
//!
//! The test server moves its clock with real time while time skipping is locked (as it
//! starts), and jumps when asked. It does not know that a real worker is busy with a workflow
//! task or an activity: a jump then would time the task out. So the [`TimeMachine`] jumps only
//! when every workflow it watches is idle (no workflow task, activity, child start or signal in
//! flight in its latest run, and nothing new for a moment), and only as far as the earliest
//! timer they wait for. Between jumps everything runs at its real pace.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use temporalio_client::Client;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Jumps the test server's clock from timer to timer while the watched workflows idle.
pub struct TimeMachine {
    client: Client,
    watched: Vec<String>,
}

/// What a watched workflow's latest run is doing.
#[derive(Debug, Default, PartialEq, Eq)]
struct Snapshot {
    events: usize,
    busy: bool,
    /// When its earliest pending timer fires (Unix milliseconds of the server's clock).
    next_timer_ms: Option<u64>,
    closed: bool,
}

impl TimeMachine {
    /// A machine watching these workflow ids (their latest runs; ids that do not exist yet
    /// are skipped).
    pub fn new(client: Client, watched: impl IntoIterator<Item = String>) -> Self {
        Self {
            client,
            watched: watched.into_iter().collect(),
        }
    }

    /// Jumps from timer to timer until `done` answers true, for at most `real` time.
    pub async fn run_until(&self, real: Duration, mut done: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + real;
        while !done().await {
            assert!(
                Instant::now() < deadline,
                "the scenario did not finish in {real:?}"
            );
            let Some(next_ms) = self.idle_next_timer().await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let now_ms = millis(crate::server_time(&self.client).await);
            let jump =
                Duration::from_millis(next_ms.saturating_sub(now_ms)) + Duration::from_secs(1);
            crate::sleep_skipping(&self.client, jump).await;
        }
    }

    /// When everything watched is idle and stays so for a moment: the earliest pending timer.
    async fn idle_next_timer(&self) -> Option<u64> {
        let first = self.snapshots().await;
        if first.values().any(|s| s.busy) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = self.snapshots().await;
        if first != second {
            return None;
        }
        second.values().filter_map(|s| s.next_timer_ms).min()
    }

    async fn snapshots(&self) -> HashMap<String, Snapshot> {
        let mut snapshots = HashMap::new();
        for id in &self.watched {
            if let Ok(json) = workers::history::export(&self.client, id).await
                && let Ok((history, _)) = workers::history::parse(json.as_bytes())
            {
                snapshots.insert(id.clone(), snapshot(&history));
            }
        }
        snapshots
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads a run's history: whether anything is in flight, and its pending timers.
fn snapshot(history: &History) -> Snapshot {
    let mut open: HashSet<i64> = HashSet::new();
    let mut timers: HashMap<String, u64> = HashMap::new();
    let mut closed = false;
    for event in &history.events {
        let at_ms = event.event_time.as_ref().map_or(0, |t| {
            u64::try_from(t.seconds * 1000 + i64::from(t.nanos / 1_000_000)).unwrap_or(0)
        });
        let id = event.event_id;
        match &event.attributes {
            Some(Attributes::WorkflowTaskScheduledEventAttributes(_))
            | Some(Attributes::ActivityTaskScheduledEventAttributes(_))
            | Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(_))
            | Some(Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(_)) => {
                open.insert(id);
            }
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::WorkflowTaskTimedOutEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
                open.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(a)) => {
                open.remove(&a.initiated_event_id);
            }
            Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(a)) => {
                open.remove(&a.initiated_event_id);
            }
            Some(Attributes::ExternalWorkflowExecutionSignaledEventAttributes(a)) => {
                open.remove(&a.initiated_event_id);
            }
            Some(Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(a)) => {
                open.remove(&a.initiated_event_id);
            }
            Some(Attributes::TimerStartedEventAttributes(a)) => {
                let wait = a.start_to_fire_timeout.as_ref().map_or(0, |d| {
                    u64::try_from(d.seconds * 1000 + i64::from(d.nanos / 1_000_000)).unwrap_or(0)
                });
                timers.insert(a.timer_id.clone(), at_ms + wait);
            }
            Some(Attributes::TimerFiredEventAttributes(a)) => {
                timers.remove(&a.timer_id);
            }
            Some(Attributes::TimerCanceledEventAttributes(a)) => {
                timers.remove(&a.timer_id);
            }
            Some(
                Attributes::WorkflowExecutionCompletedEventAttributes(_)
                | Attributes::WorkflowExecutionFailedEventAttributes(_)
                | Attributes::WorkflowExecutionTerminatedEventAttributes(_)
                | Attributes::WorkflowExecutionTimedOutEventAttributes(_)
                | Attributes::WorkflowExecutionContinuedAsNewEventAttributes(_)
                | Attributes::WorkflowExecutionCanceledEventAttributes(_),
            ) => closed = true,
            _ => {}
        }
    }
    Snapshot {
        events: history.events.len(),
        busy: !closed && !open.is_empty(),
        next_timer_ms: (!closed).then(|| timers.values().copied().min()).flatten(),
        closed,
    }
}
