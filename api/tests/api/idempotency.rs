//! `POST /orders` with an `Idempotency-Key`: the same key and body give the same order; the
//! same key with another body is refused and starts nothing.

use serde_json::{Value, json};
use testkit::TestApp;

async fn post(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/orders", app.address))
        .header("idempotency-key", key)
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .expect("POST /orders")
}

#[tokio::test]
async fn the_same_key_and_body_give_the_same_order() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1_250, 10).await;
    let body = json!({
        "shipping_address": TestApp::address(),
        "lines": [{"sku": "MUG", "quantity": 2}],
        "payment_method": "pm_card_visa",
    });

    let first = post(&app, "checkout-7f3a", &body).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.expect("body");
    let id = first["order_id"].as_str().expect("id").to_owned();
    app.wait_for_final_order(&id).await;
    let again = post(&app, "checkout-7f3a", &body).await;

    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("body");
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(again["total"], first["total"]);
    assert_eq!(app.workflows_started().await, 1);
    assert_eq!(
        app.stock("MUG").await.on_hand,
        8,
        "charged and shipped once"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_starts_nothing() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1_250, 10).await;
    let body = json!({
        "shipping_address": TestApp::address(),
        "lines": [{"sku": "MUG", "quantity": 2}],
        "payment_method": "pm_card_visa",
    });
    let mut other = body.clone();
    other["lines"][0]["quantity"] = json!(5);
    let id = post(&app, "checkout-1", &body)
        .await
        .json::<Value>()
        .await
        .expect("body")["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.wait_for_final_order(&id).await;

    let refused = post(&app, "checkout-1", &other).await;

    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.workflows_started().await, 1);
    assert_eq!(app.stock("MUG").await.on_hand, 8);

    let bad = post(&app, "", &body).await;
    assert_eq!(bad.status(), 422, "an empty key is refused");
}
