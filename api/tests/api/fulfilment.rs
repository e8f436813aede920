//! Fulfilment, refunds and notifications: parcels followed to the door (simulated carrier,
//! and an HTTP carrier through its webhooks or by polling), lost parcels refunded, partial
//! refunds with restock, and every message in the customer's mailbox exactly once.

use crate::{order_id, statuses};
use activities::notifications::SmsGateway;
use activities::payments::queries::refunds_of;
use activities::shipping::http::HttpCarrier;
use activities::shipping::{Carriers, TrackingPolicy};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::fake_carrier::FakeCarrier;
use testkit::fake_sms::FakeSms;
use testkit::smtp::MESSAGES_PER_DELIVERED_ORDER;
use testkit::{TestApp, TestAppOptions};

fn subjects(app: &TestApp) -> Vec<String> {
    let mut subjects: Vec<String> = app.mailbox().into_iter().map(|m| m.subject).collect();
    subjects.sort();
    subjects
}

async fn wait_for_mail(app: &TestApp, count: usize) {
    testkit::smtp::smtp_server()
        .wait_for(&app.customer_email, count)
        .await;
}

#[tokio::test]
async fn a_delivered_order_tells_the_customer_each_step_exactly_once() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;
    wait_for_mail(&app, MESSAGES_PER_DELIVERED_ORDER).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    assert_eq!(order["status"], "completed");
    assert_eq!(
        subjects(&app),
        testkit::smtp::delivered_order_subjects(&id),
        "each message once, none twice"
    );
    let shipped = app
        .mailbox()
        .into_iter()
        .find(|m| m.subject.contains("has shipped"))
        .expect("mail");
    let (_, tracking) = app.get_json(&format!("/shipping/track/{id}")).await;
    assert_eq!(tracking["carrier"], "simulated");
    let number = tracking["tracking_number"]
        .as_str()
        .expect("a tracking number");
    assert!(shipped.body.contains(number), "the mail names the parcel");
    assert_eq!(shipped.message_id, format!("<{id}-shipped@emporium>"));
    let events: Vec<&str> = tracking["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(events, ["in_transit", "out_for_delivery", "delivered"]);
    assert_eq!(tracking["status"], "delivered");
    assert_eq!(
        tracking["events"][1]["location"],
        json!({"name": "Parcel hub, Coventry, GB", "latitude": 52.4068, "longitude": -1.5197}),
        "each event keeps where the parcel was"
    );

    let customer = app.customer_email.replace('+', "%2B");
    let (status, history) = app
        .get_json(&format!("/notifications?customer={customer}"))
        .await;
    assert_eq!(status, 200);
    let history = history.as_array().expect("a list");
    assert_eq!(history.len(), MESSAGES_PER_DELIVERED_ORDER);
    assert!(
        history
            .iter()
            .all(|n| n["status"] == "sent" && n["channel"] == "email")
    );
    assert!(
        history
            .iter()
            .all(|n| n["attempts"].as_array().is_some_and(|a| a.len() == 1))
    );
}

#[tokio::test]
async fn a_lost_parcel_is_refunded_in_full_and_the_customer_told() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order_to("MUG", 2, "00404").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "refunded", "{order}");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("lost"),
        "{order}"
    );
    let history = statuses(&order);
    assert_eq!(
        history[..5],
        [
            "pending",
            "reserved",
            "confirmed",
            "label_created",
            "shipped"
        ]
    );
    assert_eq!(history.last().map(String::as_str), Some("refunded"));
    let refunds = refunds_of(&app.db, order_id(&id)).await.expect("refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (refunds[0].status.as_str(), refunds[0].amount_minor),
        ("succeeded", 2500)
    );
    assert_eq!(
        app.stock("MUG").await.on_hand,
        8,
        "a lost parcel is not restocked"
    );
    // Confirmed, shipped, the problem, the refund.
    wait_for_mail(&app, 4).await;
    let mail = subjects(&app);
    assert!(
        mail.iter()
            .any(|s| s.starts_with("A problem with the delivery")),
        "{mail:?}"
    );
    assert!(
        mail.iter().any(|s| s.starts_with("Refund of 25.00 EUR")),
        "{mail:?}"
    );
}

async fn http_carrier_app(poll: Duration) -> (TestApp, FakeCarrier) {
    let carrier = FakeCarrier::start("acme").await;
    let adapter = HttpCarrier::new(
        "acme",
        &carrier.base_url,
        SecretString::from(carrier.api_key.clone()),
    )
    .expect("an adapter");
    let app = TestApp::spawn_with(TestAppOptions {
        carriers: Carriers::default().with(Arc::new(adapter)),
        tracking: TrackingPolicy {
            poll_interval: poll,
            poll_max_interval: poll,
            delivery_deadline: Duration::from_secs(3600),
        },
        carrier_webhook_secrets: HashMap::from([(
            "acme".to_owned(),
            carrier.webhook_secret.clone(),
        )]),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;
    (app, carrier)
}

async fn post_webhook(
    app: &TestApp,
    carrier: &str,
    body: &str,
    signature: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/webhooks/carrier/{carrier}", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-carrier-signature", signature);
    }
    // Like a carrier, sends again while the answer is 503 (the parcel's workflow about to start).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = request
            .try_clone()
            .expect("a plain body")
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        if status != 503 || Instant::now() > deadline {
            return (status, response.json().await.unwrap_or(Value::Null));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_http_carrier_drives_the_order_through_verified_deduplicated_webhooks() {
    let (app, carrier) = http_carrier_app(Duration::from_secs(3600)).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "label_created").await;
    let tracking = carrier.tracking_numbers().remove(0);

    let (body, signature) = carrier.advance(&tracking, "in_transit", "picked up");
    assert_eq!(
        post_webhook(&app, "acme", &body, None).await.0,
        400,
        "unsigned"
    );
    assert_eq!(
        post_webhook(&app, "acme", &body, Some("sha256=00")).await.0,
        400,
        "wrong signature"
    );
    let forged = body.replace("picked up", "delivered");
    assert_eq!(
        post_webhook(&app, "acme", &forged, Some(&signature))
            .await
            .0,
        400,
        "tampered"
    );
    assert_eq!(
        post_webhook(&app, "nobody", &body, Some(&signature))
            .await
            .0,
        404,
        "unknown carrier"
    );
    for _ in 0..2 {
        let (status, receipt) = post_webhook(&app, "acme", &body, Some(&signature)).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["delivered_to"], json!(id));
    }
    app.wait_for_status(&id, "shipped").await;

    for (status, text) in [
        ("out_for_delivery", "on the van"),
        ("delivered", "handed over"),
    ] {
        let (body, signature) = carrier.advance(&tracking, status, text);
        post_webhook(&app, "acme", &body, Some(&signature)).await;
    }
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "completed");
    let (_, track) = app.get_json(&format!("/shipping/track/{id}")).await;
    assert_eq!(track["carrier"], "acme");
    assert_eq!(
        track["events"].as_array().map(Vec::len),
        Some(3),
        "the duplicate was applied once: {track}"
    );
    assert_eq!(carrier.labels_sold(), 1);
}

#[tokio::test]
async fn polling_follows_the_parcel_when_no_webhook_comes() {
    let (app, carrier) = http_carrier_app(Duration::from_secs(1)).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "label_created").await;
    let tracking = carrier.tracking_numbers().remove(0);

    for status in ["in_transit", "out_for_delivery", "delivered"] {
        carrier.advance(&tracking, status, status);
    }
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "completed");
}

#[tokio::test]
async fn cancelling_before_pickup_cancels_the_label_and_undoes_everything() {
    let (app, carrier) = http_carrier_app(Duration::from_secs(3600)).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    app.wait_for_status(&id, "label_created").await;
    let tracking = carrier.tracking_numbers().remove(0);

    let (status, outcome) = app
        .post_json(
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "wrong size"}),
        )
        .await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["status"], "cancelled");
    assert_eq!(carrier.status(&tracking).as_deref(), Some("cancelled"));
    assert_eq!(app.stock("MUG").await.reserved, 0);
    let payments = activities::payments::queries::payments_of(&app.db, order_id(&id))
        .await
        .expect("rows");
    assert_eq!(payments[0].status.as_str(), "voided");
    // Confirmed, cancelled.
    wait_for_mail(&app, 2).await;
    assert!(subjects(&app).iter().any(|s| s.ends_with("is cancelled")));
}

#[tokio::test]
async fn cancelling_after_pickup_is_refused_because_the_goods_are_gone() {
    let (app, carrier) = http_carrier_app(Duration::from_secs(3600)).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "label_created").await;
    let tracking = carrier.tracking_numbers().remove(0);
    let (body, signature) = carrier.advance(&tracking, "in_transit", "picked up");
    post_webhook(&app, "acme", &body, Some(&signature)).await;
    app.wait_for_status(&id, "shipped").await;

    let (status, problem) = app
        .post_json(
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "too late"}),
        )
        .await;

    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("shipped"),
        "{problem}"
    );
    assert_eq!(app.live_state(&id).await.status.as_str(), "shipped");
}

#[tokio::test]
async fn a_partial_refund_with_restock_is_recorded_and_never_exceeds_the_capture() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    wait_for_mail(&app, MESSAGES_PER_DELIVERED_ORDER).await;

    let (status, accepted) = app.post_json_as(Some(&app.admin_token), &format!("/orders/{id}/refunds"),
            &json!({"amount_minor": 1250, "reason": "one mug arrived broken", "restock": [{"sku": "MUG", "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    wait_until("the refund", async || {
        let (_, view) = app.get_json(&format!("/orders/{id}/refunds")).await;
        view["refunds"][0]["status"] == "succeeded"
    })
    .await;

    let (_, view) = app.get_json(&format!("/orders/{id}/refunds")).await;
    assert_eq!(view["balance"]["refundable"]["amount_minor"], 1250);
    wait_until("the returned mug back on the shelf", async || {
        app.stock("MUG").await.on_hand == 9
    })
    .await;
    wait_for_mail(&app, MESSAGES_PER_DELIVERED_ORDER + 1).await;
    assert!(
        subjects(&app)
            .iter()
            .any(|s| s.starts_with("Refund of 12.50 EUR"))
    );

    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{id}/refunds"),
            &json!({"amount_minor": 1251, "reason": "more"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "refund_exceeds_captured");
    assert_eq!(problem["errors"][0]["field"], "amount_minor");
    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{id}/refunds"),
            &json!({"reason": "more", "restock": [{"sku": "MUG", "quantity": 3}]}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(problem["errors"][0]["field"], "restock[0].quantity");
    let (status, _) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{id}/refunds"),
            &json!({"reason": "the rest"}),
        )
        .await;
    assert_eq!(status, 202, "the rest is refundable");
    wait_until("the second refund", async || {
        let (_, view) = app.get_json(&format!("/orders/{id}/refunds")).await;
        view["balance"]["refundable"]["amount_minor"] == 0
            && view["refunds"][1]["status"] == "succeeded"
    })
    .await;
}

#[tokio::test]
async fn email_that_keeps_failing_falls_back_to_sms_and_every_attempt_is_recorded() {
    let sms = FakeSms::start().await;
    let dead_port = testkit::free_port();
    let app = TestApp::spawn_with(TestAppOptions {
        smtp_port: Some(dead_port),
        sms: Some(
            SmsGateway::new(&sms.base_url, SecretString::from("sms_key".to_owned()))
                .expect("gateway"),
        ),
        ..TestAppOptions::default()
    })
    .await;

    let (status, accepted) = app.post_json_as(Some(&app.admin_token), "/notifications/send",
            &json!({"email": app.customer_email, "phone": "+4915112345678", "subject": "Hello", "body": "Your parcel is late."}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    wait_until("the SMS", async || !sms.messages().is_empty()).await;

    let messages = sms.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, "+4915112345678");
    assert_eq!(messages[0].text, "Hello: Your parcel is late.");
    let customer = app.customer_email.replace('+', "%2B");
    let (_, history) = app
        .get_json(&format!("/notifications?customer={customer}"))
        .await;
    let attempts = history[0]["attempts"].as_array().expect("attempts").clone();
    let channels: Vec<(&str, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a["channel"].as_str().unwrap_or_default(),
                a["succeeded"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("email", false),
            ("email", false),
            ("email", false),
            ("email", false),
            ("sms", true)
        ]
    );
    assert_eq!(history[0]["channel"], "sms");
}

#[tokio::test]
async fn an_sms_gateway_outage_is_retried_and_the_message_sent_once() {
    let sms = FakeSms::start().await;
    sms.fail_next(2);
    let app = TestApp::spawn_with(TestAppOptions {
        sms: Some(
            SmsGateway::new(&sms.base_url, SecretString::from("sms_key".to_owned()))
                .expect("gateway"),
        ),
        ..TestAppOptions::default()
    })
    .await;

    let (status, _) = app.post_json_as(Some(&app.admin_token), "/notifications/send",
            &json!({"phone": "+4915112345678", "subject": "Hi", "body": "Test", "channels": ["sms"]}),
        )
        .await;
    assert_eq!(status, 202);
    wait_until("the SMS", async || !sms.messages().is_empty()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(sms.messages().len(), 1);
}

#[tokio::test]
async fn a_webhook_channel_posts_the_message() {
    let receiver = FakeSms::start().await;
    let app = TestApp::spawn().await;

    let (status, _) = app.post_json_as(Some(&app.admin_token), "/notifications/send",
            &json!({"webhook_url": format!("{}/v1/messages", receiver.base_url), "subject": "Hi", "body": "Webhook body"}),
        )
        .await;
    assert_eq!(status, 202);
    wait_until("the webhook", async || !receiver.messages().is_empty()).await;

    assert_eq!(receiver.messages()[0].text, "Webhook body");
}

#[tokio::test]
async fn bad_notification_and_refund_requests_are_refused() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            "/notifications/send",
            &json!({"subject": "Hi", "body": "x"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "no_recipient");
    let (status, problem) = app.get_json("/notifications?customer=nope").await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "customer");
    let unknown = contracts::OrderId::new();
    let (status, _) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{unknown}/refunds"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json(&format!("/shipping/track/{unknown}")).await;
    assert_eq!(status, 404);
}
