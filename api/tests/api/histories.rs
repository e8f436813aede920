//! Records the workflow histories that `workers/tests/replay.rs` replays: one real run of every
//! workflow path, against real Temporal, Postgres and workers, exported with the same function
//! as `emporium history export` into `workflows/tests/histories/<workflow>/<path>.json`.
//!
//! Ignored in normal runs (it rewrites files in the repository): `./scripts/record-histories`
//! runs it. Re-record after changing a workflow only for new paths; keep the old files, they
//! are what proves that running workflows survive the change.

use activities::payments::RenewalSettings;
use activities::payments::sandbox::SandboxGateway;
use contracts::Service;
use contracts::orders::OrderTerms;
use contracts::payments::RenewalPolicy;
use futures::StreamExt as _;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::WorkflowListOptions;
use temporalio_client::{WorkflowExecutionStatus, WorkflowTerminateOptions};
use testkit::fake_sms::FakeSms;
use testkit::{TestApp, TestAppOptions};

fn histories_dir() -> PathBuf {
    std::env::var_os("EMPORIUM_HISTORIES_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows/tests/histories"),
        PathBuf::from,
    )
}

/// Whether a history's last event closes the workflow.
fn is_closed(history: &Value) -> bool {
    history["events"]
        .as_array()
        .and_then(|events| events.last())
        .and_then(|event| event["attributes"].as_object())
        .is_some_and(|attributes| {
            [
                "WorkflowExecutionCompletedEventAttributes",
                "WorkflowExecutionFailedEventAttributes",
                "WorkflowExecutionTimedOutEventAttributes",
                "WorkflowExecutionCanceledEventAttributes",
                "WorkflowExecutionTerminatedEventAttributes",
                "WorkflowExecutionContinuedAsNewEventAttributes",
            ]
            .iter()
            .any(|kind| attributes.contains_key(*kind))
        })
}

/// Exports `workflow_id` to `<workflow>/<path>.json`, once it has closed (or, with
/// `open: true`, as it stands).
async fn record(app: &TestApp, workflow_id: &str, file: &str, open: bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let json = loop {
        let json = workers::history::export(&app.temporal, workflow_id)
            .await
            .unwrap_or_else(|err| panic!("exporting {workflow_id}: {err}"));
        let value: Value = serde_json::from_str(&json).expect("a history");
        if open || is_closed(&value) {
            break json;
        }
        assert!(Instant::now() < deadline, "{workflow_id} did not close");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let path = histories_dir().join(format!("{file}.json"));
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
    std::fs::write(&path, format!("{json}\n")).expect("writing the history");
    println!("recorded {workflow_id} as {}", path.display());
}

/// The id of the one workflow of `kind` on this app's `service` queue.
async fn workflow_of_type(app: &TestApp, service: Service, kind: &str) -> String {
    let query = format!(
        "TaskQueue = '{}' AND WorkflowType = '{kind}'",
        app.queues.of(service)
    );
    workflow_matching(app, &query).await
}

fn order(id: &str) -> String {
    format!("order-{id}")
}

/// Orders that complete, are declined, find no stock, lose their parcel; a partial refund; a
/// cart checked out.
async fn ordinary_paths() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("POSTER", 900, 0).await;

    let completed = app.place_order("MUG", 2, "pm_card_visa").await;
    let declined = app.place_order("MUG", 1, "pm_card_chargeDeclined").await;
    let no_stock = app.place_order("POSTER", 1, "pm_card_visa").await;
    let lost = app.place_order_to("MUG", 1, "00404").await;
    for id in [&completed, &declined, &no_stock, &lost] {
        app.wait_for_final_order(id).await;
    }
    let (status, refund) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{completed}/refunds"),
            &json!({"amount_minor": 1250, "reason": "one mug arrived broken",
                    "restock": [{"sku": "MUG", "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, 202, "{refund}");

    record(&app, &order(&completed), "place_order/completed", false).await;
    record(
        &app,
        &format!("shipment-{completed}"),
        "follow_parcel/delivered",
        false,
    )
    .await;
    let partial = refund["workflow_id"].as_str().expect("a workflow id");
    record(&app, partial, "refund_payment/partial_with_restock", false).await;
    record(
        &app,
        &order(&declined),
        "place_order/payment_declined",
        false,
    )
    .await;
    record(&app, &order(&no_stock), "place_order/out_of_stock", false).await;
    record(
        &app,
        &order(&lost),
        "place_order/shipment_exception_refunded",
        false,
    )
    .await;
    record(
        &app,
        &format!("shipment-{lost}"),
        "follow_parcel/exception",
        false,
    )
    .await;
    // The only refund of the lost parcel's order is the full one it started itself.
    let query = format!(
        "TaskQueue = '{}' AND WorkflowType = 'RefundPayment' AND WorkflowId != '{partial}'",
        app.queues.of(Service::Payments)
    );
    let full = workflow_matching(&app, &query).await;
    record(&app, &full, "refund_payment/full", false).await;
}

/// Carts checked out through the order intake: one at once; one whose first checkout is
/// refused (a product gone), which opens it again, then placed; one whose card is declined,
/// which takes the order's lines back. Since `carts-outlive-checkout` a cart runs on after
/// its checkout, so they are recorded open.
async fn cart_checkout_paths() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("POSTER", 900, 10).await;
    let checkout =
        json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"});
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    let (status, body) = app.post_json("/cart/checkout", &checkout).await;
    assert_eq!(status, 202, "{body}");
    record(
        &app,
        &format!("cart-{}", app.customer.id),
        "cart/checkout",
        true,
    )
    .await;

    let (other, token) = app.another_customer("refused").await;
    let other_post = |path: &'static str, body: Value| {
        let (app, token) = (&app, token.clone());
        async move { app.post_json_as(Some(&token), path, &body).await }
    };
    for sku in ["MUG", "POSTER"] {
        other_post("/cart/items", json!({"sku": sku, "quantity": 1})).await;
    }
    app.withdraw_product("POSTER").await;
    let (status, body) = other_post("/cart/checkout", checkout.clone()).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app
        .send_json_as(
            reqwest::Method::DELETE,
            Some(&token),
            "/cart/items/POSTER",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = other_post("/cart/checkout", checkout).await;
    assert_eq!(status, 202, "{body}");
    record(
        &app,
        &format!("cart-{}", other.id),
        "cart/checkout_refused_then_placed",
        true,
    )
    .await;
    declined_checkout_path(&app).await;
}

/// A checkout whose card is declined: the order tells its cart, which takes the lines back.
async fn declined_checkout_path(app: &TestApp) {
    let (declined, token) = app.another_customer("declined").await;
    let post = |path: &'static str, body: Value| {
        let token = token.clone();
        async move { app.post_json_as(Some(&token), path, &body).await }
    };
    post("/cart/items", json!({"sku": "MUG", "quantity": 2})).await;
    let checkout =
        json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_chargeDeclined"});
    let (status, body) = post("/cart/checkout", checkout).await;
    assert_eq!(status, 202, "{body}");
    let order_id = body["order_id"].as_str().expect("an order").to_owned();
    record(
        app,
        &order(&order_id),
        "place_order/declined_from_cart",
        false,
    )
    .await;
    let (_, cart) = app.get_json_as(Some(&token), "/cart").await;
    assert_eq!(cart["lines"][0]["quantity"], 2, "taken back: {cart}");
    record(
        app,
        &format!("cart-{}", declined.id),
        "cart/declined_then_taken_back",
        true,
    )
    .await;
}

/// The id of a workflow matching a visibility query (visibility lags a little).
async fn workflow_matching(app: &TestApp, query: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<_> = app
            .temporal
            .list_workflows(query.to_owned(), WorkflowListOptions::default())
            .filter_map(|found| async move { found.ok() })
            .collect()
            .await;
        if let Some(execution) = found.first() {
            return execution.id().to_owned();
        }
        assert!(Instant::now() < deadline, "nothing matches {query}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn reviewing(timeout: Duration) -> TestAppOptions {
    TestAppOptions {
        risk: activities::payments::RiskPolicy {
            review_threshold_minor: 5_000,
            review_timeout: timeout,
        },
        ..TestAppOptions::default()
    }
}

/// Orders waiting for review: approved, rejected, cancelled.
async fn review_paths() {
    let app = TestApp::spawn_with(reviewing(Duration::from_secs(3600))).await;
    app.seed_product("LAMP", 8_000, 10).await;
    let approved = app.place_order("LAMP", 1, "pm_card_visa").await;
    let rejected = app.place_order("LAMP", 1, "pm_card_visa").await;
    let cancelled = app.place_order("LAMP", 1, "pm_card_visa").await;
    for (id, decision) in [(&approved, "approve"), (&rejected, "reject")] {
        app.wait_for_status(id, "awaiting_review").await;
        let (status, answer) = app
            .post_json_as(
                Some(&app.operator_token),
                &format!("/orders/{id}/review"),
                &json!({"decision": decision, "reviewer": "Grace"}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    app.wait_for_status(&cancelled, "awaiting_review").await;
    let (status, answer) = app
        .post_json(
            &format!("/orders/{cancelled}/cancel"),
            &json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for id in [&approved, &rejected, &cancelled] {
        app.wait_for_final_order(id).await;
    }
    record(
        &app,
        &order(&approved),
        "place_order/review_approved",
        false,
    )
    .await;
    record(
        &app,
        &order(&rejected),
        "place_order/review_rejected",
        false,
    )
    .await;
    record(&app, &order(&cancelled), "place_order/cancelled", false).await;
}

/// An order whose review never comes.
async fn review_timeout_path() {
    let app = TestApp::spawn_with(reviewing(Duration::from_secs(2))).await;
    app.seed_product("LAMP", 8_000, 10).await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    record(&app, &order(&id), "place_order/review_timed_out", false).await;
}

fn sms_gateway(sms: &FakeSms) -> Option<activities::notifications::SmsGateway> {
    Some(
        activities::notifications::SmsGateway::new(
            &sms.base_url,
            SecretString::from("sms_key".to_owned()),
        )
        .expect("gateway"),
    )
}

/// A notification sent at once, one whose channel fails twice before it works, and one whose
/// email never works and falls back to SMS.
async fn notification_paths() {
    let app = TestApp::spawn().await;
    let (status, sent) = app
        .post_json_as(
            Some(&app.admin_token),
            "/notifications/send",
            &json!({"email": app.customer_email, "subject": "Hi", "body": "Thanks for shopping."}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    record(
        &app,
        sent["workflow_id"].as_str().expect("an id"),
        "send_notification/first_try",
        false,
    )
    .await;

    let sms = FakeSms::start().await;
    sms.fail_next(2);
    let app = TestApp::spawn_with(TestAppOptions {
        sms: sms_gateway(&sms),
        ..TestAppOptions::default()
    })
    .await;
    let (status, retried) = app
        .post_json_as(
            Some(&app.admin_token),
            "/notifications/send",
            &json!({"phone": "+4915112345678", "subject": "Hi", "body": "Your parcel is on its way.", "channels": ["sms"]}),
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    record(
        &app,
        retried["workflow_id"].as_str().expect("an id"),
        "send_notification/retried",
        false,
    )
    .await;

    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(TestAppOptions {
        smtp_port: Some(testkit::free_port()),
        sms: sms_gateway(&sms),
        ..TestAppOptions::default()
    })
    .await;
    let (status, fell_back) = app
        .post_json_as(
            Some(&app.admin_token),
            "/notifications/send",
            &json!({"email": app.customer_email, "phone": "+4915112345678", "subject": "Hello", "body": "Your parcel is late."}),
        )
        .await;
    assert_eq!(status, 202, "{fell_back}");
    record(
        &app,
        fell_back["workflow_id"].as_str().expect("an id"),
        "send_notification/fell_back",
        false,
    )
    .await;
}

/// A cart left alone until it reminds its customer (it keeps running).
async fn abandoned_cart_path() {
    let app = TestApp::spawn_with(TestAppOptions {
        cart_reminder_after: Duration::from_secs(2),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1000, 10).await;
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 2}))
        .await;
    testkit::smtp::smtp_server()
        .wait_for(&app.customer_email, 1)
        .await;
    let reminder = workflow_of_type(&app, Service::Notifications, "SendNotification").await;
    record(
        &app,
        &reminder,
        "send_notification/abandoned_cart_reminder",
        false,
    )
    .await;
    record(
        &app,
        &format!("cart-{}", app.customer.id),
        "cart/abandoned",
        true,
    )
    .await;
}

/// Waits until `id` has `status`.
async fn reach(app: &TestApp, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, order) = app.get_json(&format!("/orders/{id}")).await;
        if order["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {status}: {order}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Terminates an order's shipment once it has started.
async fn terminate_shipment(app: &TestApp, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let handle = app
        .temporal
        .get_workflow_handle::<workflows::FollowParcel>(format!("shipment-{id}"));
    while let Err(err) = handle
        .terminate(
            WorkflowTerminateOptions::builder()
                .reason("recording: the shipment's worker lost it".to_owned())
                .build(),
        )
        .await
    {
        assert!(
            Instant::now() < deadline,
            "terminating shipment-{id}: {err}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Orders whose shipment ended abnormally after pickup (retried by an operator; refunded when
/// nobody decided) and before it (compensated).
async fn attention_paths() {
    let app = TestApp::spawn_with(
        TestAppOptions {
            order_terms: OrderTerms {
                attention_timeout_secs: 3,
            },
            ..TestAppOptions::default()
        }
        .with_simulated_carrier(Duration::from_secs(3)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    let retried = app.place_order("MUG", 1, "pm_card_visa").await;
    let refunded = app.place_order("MUG", 1, "pm_card_visa").await;
    for id in [&retried, &refunded] {
        reach(&app, id, "shipped").await;
        terminate_shipment(&app, id).await;
        reach(&app, id, "needs_attention").await;
    }
    let (status, answer) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{retried}/attention"),
            &json!({"action": "retry_shipment"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for id in [&retried, &refunded] {
        app.wait_for_final_order(id).await;
    }
    record(
        &app,
        &order(&retried),
        "place_order/needs_attention_retried",
        false,
    )
    .await;
    record(
        &app,
        &order(&refunded),
        "place_order/needs_attention_refunded",
        false,
    )
    .await;

    let app = TestApp::spawn_with(
        TestAppOptions::default().with_simulated_carrier(Duration::from_secs(60)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    let failed = app.place_order("MUG", 1, "pm_card_visa").await;
    reach(&app, &failed, "label_created").await;
    terminate_shipment(&app, &failed).await;
    app.wait_for_final_order(&failed).await;
    record(
        &app,
        &order(&failed),
        "place_order/shipment_failed_before_pickup",
        false,
    )
    .await;
}

fn renewing(policy: RenewalPolicy) -> TestAppOptions {
    TestAppOptions {
        payment_gateway: Arc::new(SandboxGateway::new(Duration::from_secs(5))),
        renewal: RenewalSettings {
            renew_before: Duration::from_secs(2),
            policy,
        },
        ..TestAppOptions::default()
    }
    .with_simulated_carrier(Duration::from_secs(9))
}

/// Orders whose authorisation would lapse before pickup: renewed, and captured early.
async fn renewal_paths() {
    for (policy, path) in [
        (
            RenewalPolicy::Reauthorize,
            "place_order/authorization_renewed",
        ),
        (RenewalPolicy::Capture, "place_order/captured_before_pickup"),
    ] {
        let app = TestApp::spawn_with(renewing(policy)).await;
        app.seed_product("MUG", 1250, 10).await;
        let id = app.place_order("MUG", 1, "pm_card_visa").await;
        app.wait_for_final_order(&id).await;
        record(&app, &order(&id), path, false).await;
    }
}

/// The run of `workflow_id` that continued as new, and the last run.
async fn runs_of(app: &TestApp, workflow_id: &str) -> (String, String) {
    let query = format!("WorkflowId = '{workflow_id}'");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs: Vec<_> = app
            .temporal
            .list_workflows(query.clone(), WorkflowListOptions::default())
            .filter_map(|found| async move { found.ok() })
            .collect()
            .await;
        let continued = runs
            .iter()
            .find(|run| run.status() == WorkflowExecutionStatus::ContinuedAsNew);
        let last = runs
            .iter()
            .find(|run| run.status() == WorkflowExecutionStatus::Completed);
        if let (Some(continued), Some(last)) = (continued, last) {
            return (continued.run_id().to_owned(), last.run_id().to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "{workflow_id} never continued as new"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Records one run of a workflow.
async fn record_run(app: &TestApp, workflow_id: &str, run_id: &str, file: &str) {
    let json = workers::history::export_run(&app.temporal, workflow_id, Some(run_id))
        .await
        .unwrap_or_else(|err| panic!("exporting {workflow_id}/{run_id}: {err}"));
    let path = histories_dir().join(format!("{file}.json"));
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
    std::fs::write(&path, format!("{json}\n")).expect("writing the history");
    println!("recorded {workflow_id}/{run_id} as {}", path.display());
}

/// Shipments that continue as new under polling, that are cancelled before pickup, and whose
/// parcel is never heard of again until the deadline.
async fn long_shipment_paths() {
    // Polled every second for a parcel that moves every 12: well past the test server's
    // suggestion to continue as new (150 events).
    let app = TestApp::spawn_with(
        TestAppOptions::default().with_simulated_carrier(Duration::from_secs(12)),
    )
    .await;
    app.seed_product("MUG", 1250, 10).await;
    let polled = app.place_order("MUG", 1, "pm_card_visa").await;
    let cancelled = app.place_order("MUG", 1, "pm_card_visa").await;
    reach(&app, &cancelled, "label_created").await;
    let (status, answer) = app
        .post_json(
            &format!("/orders/{cancelled}/cancel"),
            &json!({"reason": "ordered twice"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    app.wait_for_final_order(&polled).await;
    let shipment = format!("shipment-{polled}");
    let (first, last) = runs_of(&app, &shipment).await;
    record_run(&app, &shipment, &first, "follow_parcel/continued_as_new").await;
    record_run(
        &app,
        &shipment,
        &last,
        "follow_parcel/delivered_after_continuing",
    )
    .await;
    record(
        &app,
        &order(&cancelled),
        "place_order/cancelled_after_label",
        false,
    )
    .await;
    record(
        &app,
        &format!("shipment-{cancelled}"),
        "follow_parcel/cancelled",
        false,
    )
    .await;

    let app = TestApp::spawn_with(TestAppOptions {
        tracking: activities::shipping::TrackingPolicy {
            poll_interval: Duration::from_secs(1),
            poll_max_interval: Duration::from_secs(4),
            delivery_deadline: Duration::from_secs(6),
        },
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;
    let silent = app.place_order_to("MUG", 1, "00408").await;
    app.wait_for_final_order(&silent).await;
    record(
        &app,
        &format!("shipment-{silent}"),
        "follow_parcel/lost_at_deadline",
        false,
    )
    .await;
}

/// A cart that reminds its customer, then closes after its idle expiry.
async fn expired_cart_path() {
    let app = TestApp::spawn_with(TestAppOptions {
        cart_reminder_after: Duration::from_secs(1),
        cart_expire_after: Duration::from_secs(3),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1000, 10).await;
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    record(
        &app,
        &format!("cart-{}", app.customer.id),
        "cart/expired",
        false,
    )
    .await;
}

/// A sales report started by its Temporal Schedule (no day given: the day before the run),
/// sent to the one admin.
async fn daily_report_path() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1000, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    let schedule =
        workers::schedules::ensure_daily_sales_report(&app.temporal, &app.queues, "0 6 * * *")
            .await
            .expect("the schedule");
    schedule
        .trigger(
            temporalio_client::schedules::ScheduleOverlapPolicy::AllowAll,
            Default::default(),
        )
        .await
        .expect("triggered");
    let report = workflow_of_type(&app, Service::Reporting, "DailySalesReport").await;
    record(&app, &report, "daily_sales_report/scheduled", false).await;
    schedule.delete(Default::default()).await.expect("deleted");
}

/// An admin's stock adjustment applied, then one refused below what is reserved.
async fn adjust_stock_paths() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1000, 10).await;
    let adjust = async |delta: i64| {
        let body = json!({"sku": "MUG", "delta": delta, "reason": "count"});
        app.post_json_as(Some(&app.admin_token), "/inventory/adjustments", &body)
            .await
            .0
    };
    assert_eq!(adjust(5).await, 200);
    let adjusted = workflow_of_type(&app, Service::Inventory, "AdjustStock").await;
    record(&app, &adjusted, "adjust_stock/adjusted", false).await;
    assert_eq!(adjust(-100).await, 409);
    let query = format!(
        "TaskQueue = '{}' AND WorkflowType = 'AdjustStock' AND WorkflowId != '{adjusted}'",
        app.queues.of(Service::Inventory)
    );
    let refused = workflow_matching(&app, &query).await;
    record(&app, &refused, "adjust_stock/below_reserved", false).await;
}

/// Webhook deliveries: accepted after a 500, refused for good (410), and abandoned when the
/// endpoint is disabled for failing too long (the admins told).
async fn webhook_paths() {
    use crate::domain_events::{register, wait_for_delivery, with_events};
    use testkit::events::WebhookReceiver;
    let delivery = |delivery: Value| format!("webhook-{}", delivery["id"].as_str().expect("id"));
    let app = TestApp::spawn_with(with_events(Duration::from_secs(3600))).await;
    let retried = WebhookReceiver::start(&[500], 200).await;
    let refused = WebhookReceiver::start(&[], 410).await;
    let (retried, _) = register(&app, &retried.url, &["order.created"]).await;
    let (refused, _) = register(&app, &refused.url, &["order.created"]).await;
    app.seed_product("MUG", 1250, 10).await;
    app.place_order("MUG", 1, "pm_card_visa").await;
    let accepted = delivery(wait_for_delivery(&app, &retried, "delivered").await);
    record(
        &app,
        &accepted,
        "deliver_webhook/retried_then_delivered",
        false,
    )
    .await;
    let rejected = delivery(wait_for_delivery(&app, &refused, "failed").await);
    record(&app, &rejected, "deliver_webhook/rejected", false).await;

    let app = TestApp::spawn_with(with_events(Duration::from_secs(2))).await;
    let failing = WebhookReceiver::start(&[], 503).await;
    let (failing, _) = register(&app, &failing.url, &["order.created"]).await;
    app.seed_product("MUG", 1250, 10).await;
    app.place_order("MUG", 1, "pm_card_visa").await;
    let abandoned = delivery(wait_for_delivery(&app, &failing, "abandoned").await);
    record(&app, &abandoned, "deliver_webhook/endpoint_disabled", false).await;
}

/// Whether to record the histories of `workflow` (every workflow unless
/// `EMPORIUM_RECORD_ONLY` names others, comma-separated, such as `daily_sales_report`).
fn wanted(workflow: &str) -> bool {
    std::env::var("EMPORIUM_RECORD_ONLY").map_or(true, |only| {
        only.split(',').any(|name| name.trim() == workflow)
    })
}

async fn when(wanted: bool, scenario: impl std::future::Future<Output = ()>) {
    if wanted {
        scenario.await;
    }
}

#[tokio::test]
#[ignore = "rewrites workflows/tests/histories; run by ./scripts/record-histories"]
async fn record_workflow_histories() {
    let core = [
        "place_order",
        "follow_parcel",
        "refund_payment",
        "send_notification",
        "cart",
    ]
    .iter()
    .any(|workflow| wanted(workflow));
    use futures::StreamExt as _;
    let scenarios: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> = vec![
        Box::pin(when(core, ordinary_paths())),
        Box::pin(when(core, review_paths())),
        Box::pin(when(core, review_timeout_path())),
        Box::pin(when(core, notification_paths())),
        Box::pin(when(core, abandoned_cart_path())),
        Box::pin(when(core, attention_paths())),
        Box::pin(when(core, renewal_paths())),
        Box::pin(when(core, long_shipment_paths())),
        Box::pin(when(core, expired_cart_path())),
        Box::pin(when(wanted("daily_sales_report"), daily_report_path())),
        Box::pin(when(wanted("adjust_stock"), adjust_stock_paths())),
        Box::pin(when(wanted("cart_checkout"), cart_checkout_paths())),
        Box::pin(when(wanted("deliver_webhook"), webhook_paths())),
    ];
    // A few at a time: each scenario's TestApp holds pools of its own, and all thirteen at once
    // ask Postgres for more than its 100 connections.
    futures::stream::iter(scenarios)
        .buffer_unordered(3)
        .collect::<Vec<()>>()
        .await;
}
