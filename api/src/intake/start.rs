//! Starting an accepted order's PlaceOrder from its intake row, and the relay that makes sure
//! every accepted order is started.
//!
//! The instance that accepted an order starts its workflow at once, off the request
//! ([`start_now`]). Each API instance also runs [`relay`]: every [`RELAY_EVERY`] it counts the
//! orders not yet started (the `emporium_intake_waiting_orders` and
//! `emporium_intake_lag_seconds` gauges) and starts those accepted more than [`GRACE`] ago,
//! which only happens when the first start failed (Temporal unreachable) or its instance
//! stopped in between. Starting twice is harmless: the workflow id is the order's and reused
//! ids are refused, so a second start finds the first one's workflow and only marks the row.

use crate::AppState;
use activities::orders::intake::{self, IntakeOrder};
use contracts::Service;
use contracts::orders::{PlaceOrderInput, memo, search, workflow_id};
use std::time::Duration;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{WorkflowIdReusePolicy, WorkflowStartOptions};
use temporalio_common::MemoValues;
use tracing::Instrument;
use workflows::PlaceOrder;

/// How often each instance's relay looks for accepted orders not yet started.
pub const RELAY_EVERY: Duration = Duration::from_secs(1);

/// How long an accepted order is left to the instance that accepted it before a relay starts
/// it: far longer than a start takes, so that relays do not race the first start.
pub const GRACE: Duration = Duration::from_secs(5);

/// At most this many orders a relay starts in one pass.
const BATCH: i64 = 100;

/// The longest a relay waits between passes while starts or its queries fail.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Why an accepted order did not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// Temporal refused or could not be reached.
    #[error("starting the order's workflow: {0}")]
    Temporal(#[from] WorkflowStartError),
    /// The intake could not be read or marked.
    #[error("order intake: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl StartError {
    /// Whether it is about this order (Temporal refused it), not about reaching Temporal or
    /// the database, which would fail the next order's start too.
    fn refused_this_order(&self) -> bool {
        use temporalio_client::tonic::Code;
        match self {
            StartError::Temporal(WorkflowStartError::PayloadConversion(_)) => true,
            StartError::Temporal(WorkflowStartError::Rpc(status)) => matches!(
                status.code(),
                Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange
            ),
            StartError::Temporal(_) | StartError::Db(_) => false,
        }
    }
}

/// Starts `order`'s workflow off the request; should that fail, a relay starts it later.
pub(super) fn start_now(state: &AppState, order: IntakeOrder) {
    let state = state.clone();
    tokio::spawn(
        async move {
            if let Err(err) = start(&state, &order).await {
                tracing::warn!(error = %err, "the order is accepted; a relay will start it");
            }
        }
        .in_current_span(),
    );
}

/// Starts `order`'s PlaceOrder (or finds it started) and marks its row started.
async fn start(state: &AppState, order: &IntakeOrder) -> Result<(), StartError> {
    let input = &order.input;
    let options = WorkflowStartOptions::new(
        state.queues.of(Service::Orders),
        workflow_id(input.order_id),
    )
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .memo(order_memo(input, order.request_sha256.as_deref()))
    .search_attributes(search::at_start(input))
    .build();
    match state
        .temporal
        .start_workflow(PlaceOrder::run, input.clone(), options)
        .await
    {
        Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    intake::started(&state.db, input.order_id).await?;
    Ok(())
}

/// What the order's memo holds: who, what and how much (for a read before the read model
/// has the order), and a keyed request's hash (what a replay was checked against before the
/// intake, kept for the operators who read it in the Web UI).
fn order_memo(input: &PlaceOrderInput, request_sha256: Option<&str>) -> MemoValues {
    let mut values = MemoValues::new();
    values.insert(memo::CUSTOMER_EMAIL, input.customer_email.clone());
    values.insert(memo::TOTAL, input.total.clone());
    values.insert(memo::CUSTOMER_ID, input.customer_id);
    values.insert(memo::LINES, input.lines.clone());
    if let Some(request_sha256) = request_sha256 {
        values.insert(memo::REQUEST_SHA256, request_sha256.to_owned());
    }
    values
}

/// Until the instance stops: every [`RELAY_EVERY`], reports the orders waiting for their
/// workflow and starts those the instance that accepted them did not (backing off while
/// that fails).
pub(crate) async fn relay(state: AppState) {
    let mut pause = RELAY_EVERY;
    loop {
        tokio::select! {
            () = state.stopping.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = match relay_once(&state).await {
            Ok(()) => RELAY_EVERY,
            Err(err) => {
                tracing::warn!(error = %err, "the intake relay will try again");
                (pause * 2).min(MAX_PAUSE)
            }
        };
    }
}

/// One pass of the relay.
async fn relay_once(state: &AppState) -> Result<(), StartError> {
    let waiting = intake::waiting(&state.db).await?;
    metrics::gauge!("emporium_intake_waiting_orders").set(waiting.orders as f64);
    metrics::gauge!("emporium_intake_lag_seconds").set(waiting.oldest.as_secs_f64());
    if waiting.oldest < GRACE {
        return Ok(());
    }
    for order in intake::unstarted(&state.db, GRACE, BATCH).await? {
        let span = tracing::info_span!("intake relay", order.id = %order.input.order_id);
        match start(state, &order).instrument(span.clone()).await {
            Ok(()) => span.in_scope(|| tracing::info!("accepted order started by the relay")),
            // One order Temporal refuses must not hold up the ones behind it; it stays
            // waiting (and counted) for an operator to read why.
            Err(err) if err.refused_this_order() => span.in_scope(|| {
                tracing::error!(error = %err, "Temporal refused an accepted order's start");
            }),
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_client::tonic::Status;

    #[test]
    fn the_relay_passes_over_an_order_temporal_refuses_and_stops_when_temporal_is_away() {
        let refused = StartError::Temporal(Status::invalid_argument("memo too large").into());
        assert!(refused.refused_this_order());
        let away = StartError::Temporal(Status::unavailable("connection refused").into());
        assert!(!away.refused_this_order());
        let late = StartError::Temporal(Status::deadline_exceeded("slow").into());
        assert!(!late.refused_this_order());
        let db = StartError::Db(sea_orm::DbErr::Custom("connection closed".to_owned()));
        assert!(!db.refused_this_order());
    }
}
