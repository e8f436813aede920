//! The order intake: `POST /orders` accepts an order once its row commits, whether Temporal
//! can be reached or not, and the order's workflow starts from that row: at once, or when
//! Temporal is back, or by another instance's relay.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::{TestApp, TestAppOptions};

fn order(quantity: u32) -> Value {
    json!({
        "shipping_address": TestApp::address(),
        "lines": [{"sku": "MUG", "quantity": quantity}],
        "payment_method": "pm_card_visa",
    })
}

/// `POST /orders` to `api` with an idempotency key: status, whether replayed, body.
async fn post(app: &TestApp, api: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    let response = app
        .http
        .post(format!("{api}/orders"))
        .header("idempotency-key", key)
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .expect("POST /orders");
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let status = response.status().as_u16();
    (
        status,
        replayed,
        response.json().await.expect("a JSON body"),
    )
}

/// A gated app, its gate closed, with stock to order.
async fn cut_off_app() -> TestApp {
    let app = TestApp::spawn_with(TestAppOptions {
        api_behind_gate: true,
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1_250, 10).await;
    app.gate.as_ref().expect("the API is behind a gate").close();
    app
}

async fn workflow_exists(app: &TestApp, order_id: &str) -> bool {
    let id: contracts::OrderId = order_id.parse().expect("an order id");
    app.temporal
        .get_workflow_handle::<workflows::PlaceOrder>(contracts::orders::workflow_id(id))
        .describe(temporalio_client::WorkflowDescribeOptions::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn an_order_placed_while_temporal_is_unreachable_is_accepted_and_starts_once_it_is_back() {
    let app = cut_off_app().await;

    let asked = Instant::now();
    let (status, _, accepted) = post(&app, &app.address, "outage-1", &order(2)).await;
    assert_eq!(status, 202, "{accepted}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered without waiting for Temporal, in {:?}",
        asked.elapsed()
    );
    let id = accepted["order_id"].as_str().expect("an id").to_owned();
    // The intake alone tells a repeated request from a reused key.
    let (status, replayed, again) = post(&app, &app.address, "outage-1", &order(2)).await;
    assert_eq!((status, replayed), (202, true), "{again}");
    assert_eq!(again["order_id"], accepted["order_id"]);
    let (status, _, problem) = post(&app, &app.address, "outage-1", &order(5)).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "idempotency_key_reused");

    // Past the relay's grace, still nothing started: Temporal is away from this API.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(!workflow_exists(&app, &id).await, "started while cut off");
    let (status, pending) = app.get_json(&format!("/orders/{id}")).await;
    assert_eq!(
        (status, &pending["status"]),
        (200, &json!("pending")),
        "{pending}"
    );

    app.gate.as_ref().expect("the gate").open();
    app.wait_for_status(&id, "confirmed").await;
    assert_eq!(app.workflows_started().await, 1, "started once");
    assert_eq!(app.stock("MUG").await.available, 8, "two taken, once");
}

#[tokio::test]
async fn an_order_its_api_could_not_start_is_started_by_another_instances_relay() {
    let app = cut_off_app().await;
    let (status, _, accepted) = post(&app, &app.address, "relayed-1", &order(1)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["order_id"].as_str().expect("an id").to_owned();

    // Another instance, which reaches Temporal: the order is not its own, and until its
    // relay starts it, the intake's row answers for it.
    let other = app.another_api().await;
    let response = app
        .http
        .get(format!("{other}/orders/{id}"))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("GET /orders/{id}");
    assert_eq!(response.status(), 200);
    let pending: Value = response.json().await.expect("the order");
    assert_eq!(pending["status"], "pending", "{pending}");
    assert!(
        !workflow_exists(&app, &id).await,
        "the relay waits out its grace"
    );

    app.wait_for_status(&id, "confirmed").await;
    assert_eq!(app.workflows_started().await, 1, "started once");
}
