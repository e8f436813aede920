//! Stripe end to end: orders paid through the real Stripe client against a fake Stripe, and
//! Stripe's webhook events verified and delivered to their order's workflow.

use crate::order_id;
use activities::payments::RiskPolicy;
use activities::payments::queries::payments_of;
use activities::payments::stripe::StripeGateway;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use testkit::fake_stripe::{FakeStripe, event_payload, sign};
use testkit::{TestApp, TestAppOptions};

const SECRET: &str = "whsec_test_emporium";

async fn stripe_app() -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start().await;
    let gateway = StripeGateway::new(&SecretString::from(fake.secret_key.clone()), &fake.base_url)
        .expect("a Stripe client");
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: Arc::new(gateway),
        stripe_webhook_secret: Some(SECRET.to_owned()),
        risk: RiskPolicy {
            review_threshold_minor: 5_000,
            review_timeout: Duration::from_secs(3600),
        },
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1_250, 10).await;
    app.seed_product("LAMP", 8_000, 10).await;
    (app, fake)
}

async fn deliver(app: &TestApp, payload: &str, signature: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/webhooks/stripe", app.address))
        .header("content-type", "application/json")
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.expect("POST /webhooks/stripe");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_order_paid_through_stripe_completes_and_its_payment_intent_is_captured() {
    let (app, fake) = stripe_app().await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "completed");
    let intents = fake.intents_of(&id);
    assert_eq!(intents.len(), 1, "one PaymentIntent per order");
    assert_eq!(
        (intents[0].status.as_str(), intents[0].amount_received),
        ("succeeded", 2_500)
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].provider, "stripe");
    assert_eq!(payments[0].captured_minor, 2_500);
}

#[tokio::test]
async fn a_stripe_decline_fails_the_payment_and_releases_the_stock() {
    let (app, fake) = stripe_app().await;

    let id = app.place_order("MUG", 2, "pm_card_chargeDeclined").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "payment_failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("card_declined")
    );
    assert_eq!(app.stock("MUG").await.reserved, 0);
    assert_eq!(fake.intents_of(&id)[0].status, "requires_payment_method");
}

#[tokio::test]
async fn cancelling_before_capture_cancels_the_payment_intent() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;

    let (status, _) = app
        .post_json(
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "ordered twice"}),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(fake.intents_of(&id)[0].status, "canceled");
    assert_eq!(app.stock("LAMP").await.reserved, 0);
}

#[tokio::test]
async fn bad_missing_or_stale_signatures_are_refused_and_change_nothing() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;
    let intent = fake.intents_of(&id).remove(0);
    let payload = event_payload("evt_1", "payment_intent.canceled", &intent);
    let now = chrono_now();

    let cases = [
        ("missing", None, "missing_signature"),
        (
            "wrong secret",
            Some(sign(&payload, "whsec_other", None)),
            "invalid_signature",
        ),
        (
            "stale",
            Some(sign(&payload, SECRET, Some(now - 600))),
            "stale_signature",
        ),
        ("garbage", Some("t=1,v1=00".to_owned()), "invalid_signature"),
    ];
    for (what, signature, code) in cases {
        let (status, problem) = deliver(&app, &payload, signature.as_deref()).await;
        assert_eq!(status, 400, "{what}: {problem}");
        assert_eq!(problem["code"], code, "{what}");
    }
    let tampered = payload.replace("evt_1", "evt_2");
    let (status, _) = deliver(&app, &tampered, Some(&sign(&payload, SECRET, None))).await;
    assert_eq!(status, 400, "a signature over another body");

    let live = app.live_state(&id).await;
    assert!(live.payment_events.is_empty(), "nothing reached the order");
    assert_eq!(live.status.as_str(), "awaiting_review");
}

#[tokio::test]
async fn a_payment_event_reaches_its_order_once_however_often_it_is_delivered() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;
    let intent = fake.intents_of(&id).remove(0);
    let payload = event_payload(
        "evt_capturable",
        "payment_intent.amount_capturable_updated",
        &intent,
    );

    for _ in 0..3 {
        let (status, receipt) = deliver(&app, &payload, Some(&sign(&payload, SECRET, None))).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["delivered_to"], json!(id));
    }

    let live = app.live_state(&id).await;
    assert_eq!(live.payment_events.len(), 1, "{:?}", live.payment_events);
    assert_eq!(live.payment_events[0].event_id, "evt_capturable");
    assert_eq!(live.payment_events[0].provider_ref, intent.id);
    assert_eq!(
        live.status.as_str(),
        "awaiting_review",
        "this event changes nothing else"
    );
}

#[tokio::test]
async fn an_authorisation_cancelled_at_stripe_fails_the_waiting_order_and_releases_its_stock() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;
    let intent_id = fake.intents_of(&id)[0].id.clone();

    let payload = fake.expire_authorization(&intent_id);
    let (status, _) = deliver(&app, &payload, Some(&sign(&payload, SECRET, None))).await;

    assert_eq!(status, 200);
    let order = app.wait_for_final_order(&id).await;
    assert_eq!(order["status"], "payment_failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("payment_intent.canceled")
    );
    assert_eq!(app.stock("LAMP").await.reserved, 0);
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        payments[0].status.as_str(),
        "voided",
        "the void found the intent already cancelled"
    );
}

#[tokio::test]
async fn events_for_no_running_order_are_acknowledged_and_dropped() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_workflow_end(&id).await;
    let intent = fake.intents_of(&id).remove(0);
    let payload = event_payload("evt_late", "payment_intent.succeeded", &intent);

    let (status, receipt) = deliver(&app, &payload, Some(&sign(&payload, SECRET, None))).await;

    assert_eq!(status, 200);
    assert_eq!(receipt["delivered_to"], Value::Null);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
        .unwrap_or_default()
}

/// Asks for a refund of `cents` (admin) and waits until the order has `count` refunds, all
/// succeeded.
async fn refund_and_wait(app: &TestApp, id: &str, cents: i64, count: usize) {
    let (status, accepted) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{id}/refunds"),
            &json!({"amount_minor": cents, "reason": "a broken mug"}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, view) = app.get_json(&format!("/orders/{id}/refunds")).await;
        let refunds = view["refunds"].as_array().cloned().unwrap_or_default();
        if refunds.len() == count && refunds.iter().all(|r| r["status"] == "succeeded") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refund {count} never succeeded: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn refunds_run_through_stripe_in_part_in_full_and_for_a_lost_parcel_never_twice() {
    let (app, fake) = stripe_app().await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    assert_eq!(app.wait_for_final_order(&id).await["status"], "completed");
    let intent = fake.intents_of(&id)[0].id.clone();

    refund_and_wait(&app, &id, 1_000, 1).await;
    // The rest, through an outage (a 500) and then a lost answer (the refund done, the
    // response dropped): the activity's retries replay the first refund's key.
    fake.fail_next(1);
    fake.drop_next(1);
    refund_and_wait(&app, &id, 1_500, 2).await;

    assert_eq!(fake.refunded(&intent), 2_500, "all of it, once");
    let amounts: Vec<i64> = fake.refunds().iter().map(|r| r.amount).collect();
    assert_eq!(amounts, [1_000, 1_500]);
    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            &format!("/orders/{id}/refunds"),
            &json!({"amount_minor": 1, "reason": "again"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("refund_exceeds_captured"))
    );

    // A parcel the carrier loses is refunded in full, through Stripe, once.
    let lost = app.place_order_to("MUG", 1, "00404").await;
    assert_eq!(app.wait_for_final_order(&lost).await["status"], "refunded");
    let lost_intent = fake.intents_of(&lost)[0].id.clone();
    let lost_refunds: Vec<i64> = fake
        .refunds()
        .iter()
        .filter(|r| r.payment_intent == lost_intent)
        .map(|r| r.amount)
        .collect();
    assert_eq!(lost_refunds, [1_250]);
    let stored = activities::payments::queries::refunds_of(&app.db, order_id(&lost))
        .await
        .expect("refunds");
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.amount_minor, r.status.as_str()))
            .collect::<Vec<_>>(),
        [(1_250, "succeeded")]
    );
}
