//! Orders that live for weeks, compressed into seconds: every duration is a setting, and the
//! test binary's Temporal server has lowered history limits (`testkit::HISTORY_LIMITS`: a run
//! is terminated at 400 events, continue-as-new is suggested at 150), so a workflow that would
//! outgrow its budget over days fails here within a minute. Each scenario ends in the state a
//! customer and the shop expect, and no workflow run is terminated or over budget.
//!
//! The scenarios that need days of real timers run on Temporal's time-skipping server instead
//! (`emporium/tests/weeks`).

use crate::{order_id, statuses};
use activities::inventory::queries::reservations_of;
use activities::payments::RenewalSettings;
use activities::payments::queries::{payments_of, refunds_of};
use activities::payments::sandbox::SandboxGateway;
use contracts::orders::OrderTerms;
use contracts::payments::RenewalPolicy;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::WorkflowTerminateOptions;
use testkit::gateways::{Script, ScriptedGateway};
use testkit::{HISTORY_LIMITS, TestApp, TestAppOptions};

/// The test server's hard limit of events per run.
fn events_limit() -> i64 {
    HISTORY_LIMITS
        .iter()
        .find(|(key, _)| *key == "limit.historyCount.error")
        .map_or(400, |(_, value)| i64::from(*value))
}

/// Polls `GET /orders/{id}` until it is one of `statuses`, for up to `within`.
async fn wait_until_status(app: &TestApp, id: &str, wanted: &[&str], within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, order) = app.get_json(&format!("/orders/{id}")).await;
        if code == 200 && wanted.contains(&order["status"].as_str().unwrap_or_default()) {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became {wanted:?}; last answer {code}: {order}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Terminates the order's shipment workflow, as an operator might by mistake (once it has
/// started: the label is announced while the shipment starts).
async fn terminate_shipment(app: &TestApp, id: &str) {
    let shipment = app.temporal.get_workflow_handle::<workflows::FollowParcel>(
        contracts::shipping::workflow_id(order_id(id)),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let terminated = shipment
            .terminate(
                WorkflowTerminateOptions::builder()
                    .reason("test: the shipment's worker lost it".to_owned())
                    .build(),
            )
            .await;
        match terminated {
            Ok(()) => return,
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(%err, "the shipment has not started yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("terminating the shipment: {err}"),
        }
    }
}

fn renewing(validity: Duration, before: Duration, policy: RenewalPolicy) -> TestAppOptions {
    TestAppOptions {
        payment_gateway: Arc::new(SandboxGateway::new(validity)),
        renewal: RenewalSettings {
            renew_before: before,
            policy,
        },
        ..TestAppOptions::default()
    }
    .with_simulated_carrier(Duration::from_secs(9))
}

#[tokio::test]
async fn with_history_limits_an_order_polled_every_second_for_minutes_completes() {
    // The "done when": limit 400, continue-as-new at 150, polling every second, the
    // parcel moving every minute, no webhooks: the shipment polls ~180 times.
    let app = TestApp::spawn_with(
        TestAppOptions::default().with_simulated_carrier(Duration::from_secs(60)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(300)).await;

    assert_eq!(
        statuses(&order).last().map(String::as_str),
        Some("completed")
    );
    let runs = app.assert_histories_bounded(events_limit(), &[]).await;
    let shipment_runs = runs
        .iter()
        .filter(|(kind, _, _)| kind == "FollowParcel")
        .count();
    assert!(
        shipment_runs >= 3,
        "the shipment continued as new to stay bounded: {runs:?}"
    );
}

#[tokio::test]
async fn the_last_unit_is_sold_once_when_the_pickup_comes_long_after_the_hold_expired() {
    let app = TestApp::spawn_with(
        TestAppOptions {
            reservation_ttl: Duration::from_secs(2),
            sweep_interval: Duration::from_millis(500),
            ..TestAppOptions::default()
        }
        .with_simulated_carrier(Duration::from_secs(8)),
    )
    .await;
    app.seed_product("LAMP", 4900, 1).await;

    let first = app.place_order("LAMP", 1, "pm_card_visa").await;
    wait_until_status(&app, &first, &["label_created"], Duration::from_secs(30)).await;
    // Twice the hold's lifetime: a hold would have been swept by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let second = app.place_order("LAMP", 1, "pm_card_visa").await;
    let refused = app.wait_for_final_order(&second).await;
    let delivered = wait_until_status(&app, &first, &["completed"], Duration::from_secs(60)).await;

    assert_eq!(refused["status"], "rejected", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not enough stock"),
        "{refused}"
    );
    assert_eq!(delivered["status"], "completed");
    let stock = app.stock("LAMP").await;
    assert_eq!(
        (stock.on_hand, stock.reserved),
        (0, 0),
        "one unit, sold once"
    );
    let held = reservations_of(&app.db, order_id(&first))
        .await
        .expect("rows");
    assert_eq!(held[0].status, "committed");
    app.assert_histories_bounded(events_limit(), &[]).await;
}

#[tokio::test]
async fn an_authorisation_about_to_lapse_is_renewed_and_only_the_last_one_is_captured() {
    let gateway = ScriptedGateway::new(
        Arc::new(SandboxGateway::new(Duration::from_secs(5))),
        Script::default(),
    );
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: gateway.clone(),
        ..renewing(
            Duration::from_secs(5),
            Duration::from_secs(2),
            RenewalPolicy::Reauthorize,
        )
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(60)).await;

    assert_eq!(order["status"], "completed", "{order}");
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert!(payments.len() >= 2, "renewed at least once: {payments:?}");
    let captured: Vec<_> = payments
        .iter()
        .filter(|p| p.status.as_str() == "captured")
        .collect();
    assert_eq!(captured.len(), 1, "one capture: {payments:?}");
    assert_eq!(captured[0].captured_minor, 2500);
    assert_eq!(
        captured[0].attempt,
        payments.iter().map(|p| p.attempt).max().unwrap_or_default(),
        "the newest authorisation was captured"
    );
    assert!(
        payments
            .iter()
            .filter(|p| p.status.as_str() != "captured")
            .all(|p| p.status.as_str() == "voided"),
        "every replaced authorisation was voided: {payments:?}"
    );
    let calls = gateway.calls();
    assert_eq!(calls.iter().filter(|c| *c == "capture").count(), 1);
    assert!(!calls.iter().any(|c| c.ends_with('!')), "{calls:?}");
    app.assert_histories_bounded(events_limit(), &[]).await;
}

#[tokio::test]
async fn by_policy_an_authorisation_about_to_lapse_is_captured_before_pickup() {
    let app = TestApp::spawn_with(renewing(
        Duration::from_secs(5),
        Duration::from_secs(2),
        RenewalPolicy::Capture,
    ))
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let confirmed = wait_until_status(&app, &id, &["label_created"], Duration::from_secs(30)).await;
    let captured_early = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
            if payments.iter().any(|p| p.status.as_str() == "captured") {
                return payments;
            }
            assert!(Instant::now() < deadline, "never captured: {payments:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    .await;
    let (_, still_waiting) = app.get_json(&format!("/orders/{id}")).await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(60)).await;

    assert_eq!(confirmed["status"], "label_created");
    assert_eq!(
        still_waiting["status"], "label_created",
        "captured while the parcel still waited for pickup"
    );
    assert_eq!(captured_early.len(), 1, "no second authorisation");
    assert_eq!(order["status"], "completed");
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        (
            payments.len(),
            payments[0].status.as_str(),
            payments[0].captured_minor
        ),
        (1, "captured", 2500),
        "captured once"
    );
    app.assert_histories_bounded(events_limit(), &[]).await;
}

#[tokio::test]
async fn when_the_card_refuses_a_new_authorisation_the_old_one_is_captured_before_it_lapses() {
    let gateway = ScriptedGateway::new(
        Arc::new(SandboxGateway::new(Duration::from_secs(5))),
        Script {
            decline_authorize_after: Some(1),
            ..Script::default()
        },
    );
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: gateway.clone(),
        ..renewing(
            Duration::from_secs(5),
            Duration::from_secs(2),
            RenewalPolicy::Reauthorize,
        )
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(60)).await;

    assert_eq!(order["status"], "completed", "{order}");
    assert_eq!(
        gateway.calls(),
        ["authorize", "authorize!", "capture"],
        "the refused renewal fell back to capturing the first authorisation, once"
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    let captured: i64 = payments.iter().map(|p| p.captured_minor).sum();
    assert_eq!(captured, 2500);
    app.assert_histories_bounded(events_limit(), &[]).await;
}

/// An app whose parcels are picked up after a second and take their time after that.
async fn slow_parcels(terms: OrderTerms) -> TestApp {
    let app = TestApp::spawn_with(
        TestAppOptions {
            order_terms: terms,
            ..TestAppOptions::default()
        }
        .with_simulated_carrier(Duration::from_secs(3)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    app
}

const A_WEEK: OrderTerms = OrderTerms {
    attention_timeout_secs: 7 * 24 * 3600,
};

#[tokio::test]
async fn a_shipment_lost_after_pickup_needs_attention_and_an_operator_has_it_followed_again() {
    let app = slow_parcels(A_WEEK).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    wait_until_status(&app, &id, &["shipped"], Duration::from_secs(30)).await;

    terminate_shipment(&app, &id).await;
    let stuck = wait_until_status(&app, &id, &["needs_attention"], Duration::from_secs(30)).await;
    // Operators find it in the Web UI.
    app.wait_for_workflows_matching("OrderStatus = 'needs_attention'", 1)
        .await;
    let path = format!("/orders/{id}/attention");
    let retry = json!({"action": "retry_shipment", "note": "the parcel is still moving"});
    let (customer, _) = app.post_json(&path, &retry).await;
    let (operator, answer) = app
        .post_json_as(Some(&app.operator_token), &path, &retry)
        .await;
    let (again, _) = app
        .post_json_as(Some(&app.operator_token), &path, &retry)
        .await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(60)).await;

    assert!(
        stuck["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("terminated"),
        "{stuck}"
    );
    assert_eq!(customer, 403);
    assert_eq!(
        (operator, &answer["action"]),
        (200, &json!("retry_shipment"))
    );
    assert!(
        matches!(again, 409 | 200),
        "a second decision is refused or too late"
    );
    assert_eq!(order["status"], "completed");
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].captured_minor, 2500, "paid once");
    assert_eq!(app.stock("MUG").await.on_hand, 8, "committed once");
    let shipment = contracts::shipping::workflow_id(order_id(&id));
    app.assert_histories_bounded(events_limit(), &[&shipment])
        .await;
}

#[tokio::test]
async fn an_order_that_needs_attention_is_refunded_by_an_operator_or_when_nobody_decides() {
    for (terms, decide) in [
        (A_WEEK, true),
        (
            OrderTerms {
                attention_timeout_secs: 2,
            },
            false,
        ),
    ] {
        let app = slow_parcels(terms).await;
        let id = app.place_order("MUG", 2, "pm_card_visa").await;
        wait_until_status(&app, &id, &["shipped"], Duration::from_secs(30)).await;
        terminate_shipment(&app, &id).await;
        wait_until_status(&app, &id, &["needs_attention"], Duration::from_secs(30)).await;
        if decide {
            let (code, _) = app
                .post_json_as(
                    Some(&app.admin_token),
                    &format!("/orders/{id}/attention"),
                    &json!({"action": "refund"}),
                )
                .await;
            assert_eq!(code, 200);
        }

        let order = wait_until_status(&app, &id, &["refunded"], Duration::from_secs(60)).await;

        let refunds = refunds_of(&app.db, order_id(&id)).await.expect("refunds");
        assert_eq!(refunds.len(), 1, "refunded once");
        assert_eq!(
            (refunds[0].status.as_str(), refunds[0].amount_minor),
            ("succeeded", 2500)
        );
        if !decide {
            assert!(
                order["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("nobody settled"),
                "{order}"
            );
        }
        let shipment = contracts::shipping::workflow_id(order_id(&id));
        app.assert_histories_bounded(events_limit(), &[&shipment])
            .await;
    }
}

#[tokio::test]
async fn an_operator_marks_an_order_that_needs_attention_delivered() {
    let app = slow_parcels(A_WEEK).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    wait_until_status(&app, &id, &["shipped"], Duration::from_secs(30)).await;
    terminate_shipment(&app, &id).await;
    wait_until_status(&app, &id, &["needs_attention"], Duration::from_secs(30)).await;

    let (code, _) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{id}/attention"),
            &json!({"action": "mark_delivered", "note": "the customer confirmed by phone"}),
        )
        .await;
    let order = wait_until_status(&app, &id, &["completed"], Duration::from_secs(30)).await;

    assert_eq!(code, 200);
    let history = statuses(&order);
    assert_eq!(
        history[history.len() - 3..],
        ["needs_attention", "delivered", "completed"]
    );
}

#[tokio::test]
async fn a_shipment_that_ends_abnormally_before_pickup_is_compensated() {
    let app = TestApp::spawn_with(
        TestAppOptions::default().with_simulated_carrier(Duration::from_secs(60)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    wait_until_status(&app, &id, &["label_created"], Duration::from_secs(30)).await;

    terminate_shipment(&app, &id).await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "failed", "{order}");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("terminated"),
        "{order}"
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        (payments[0].status.as_str(), payments[0].captured_minor),
        ("voided", 0)
    );
    let stock = app.stock("MUG").await;
    assert_eq!((stock.on_hand, stock.reserved), (10, 0));
    let (_, parcel) = app.get_json(&format!("/shipping/track/{id}")).await;
    assert_eq!(
        parcel["status"], "cancelled",
        "the label was cancelled: {parcel}"
    );
}
