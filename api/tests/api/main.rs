//! The API against real parts: a real Temporal dev server, real Postgres, real workers.
//! Every test checks what a customer or an operator would notice: status, money, stock.

use activities::inventory::queries::reservations_of;
use activities::payments::queries::payments_of;
use contracts::OrderId;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::TestApp;

mod accounts;
mod cart;
mod catalog;
mod concurrency;
mod contract;
mod domain_events;
mod events;
mod fulfilment;
mod histories;
mod idempotency;
mod intake;
mod live;
mod operations;
mod operator;
mod profiles;
mod reviews;
mod saga;
mod support;
mod webhooks;
mod weeks;

pub(crate) fn statuses(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|change| change["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub(crate) fn order_id(id: &str) -> OrderId {
    id.parse().expect("order ids are UUIDs")
}

/// What the intake would hand PlaceOrder for one 12.50 mug ordered by `app`'s customer, for
/// tests that start the workflow or write the read model themselves.
pub(crate) fn one_mug(app: &TestApp, order_id: OrderId) -> contracts::orders::PlaceOrderInput {
    let mug = json!({"amount_minor": 1_250, "currency": "EUR"});
    serde_json::from_value(json!({
        "order_id": order_id,
        "customer_id": app.customer.id,
        "customer_email": app.customer_email,
        "customer_phone": null,
        "shipping_address": TestApp::address(),
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": mug,
                   "line_total": mug}],
        "discount": null,
        "total": mug,
        "payment_method": "pm_card_visa",
    }))
    .expect("an order")
}

#[tokio::test]
async fn an_order_for_stocked_products_completes_and_takes_the_money() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 3, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "completed");
    assert_eq!(statuses(&order), testkit::shopper::DELIVERED_ORDER_STATUSES);
    assert_eq!(
        order["total"],
        json!({"amount_minor": 3750, "currency": "EUR"})
    );
    assert_eq!(order["lines"][0]["quantity"], 3);
    let stock = app.stock("MUG").await;
    assert_eq!(
        (stock.on_hand, stock.reserved),
        (7, 0),
        "three mugs left the warehouse"
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments.len(), 1, "one payment, charged once");
    assert_eq!(payments[0].status.as_str(), "captured");
    assert_eq!(payments[0].captured_minor, 3750);
}

#[tokio::test]
async fn lines_of_the_same_product_are_one_line_with_their_quantities_added_up() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("CAP", 500, 10).await;

    let (status, accepted) = app
        .post_json(
            "/orders",
            &json!({
                "shipping_address": TestApp::address(),
                "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "CAP", "quantity": 1},
                          {"sku": "MUG", "quantity": 2}],
                "payment_method": "pm_card_visa",
            }),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["order_id"]
        .as_str()
        .expect("an order id")
        .to_owned();
    let order = app.wait_for_final_order(&id).await;

    let mut lines: Vec<(&str, i64)> = order["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap_or_default(),
                l["quantity"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, [("CAP", 1), ("MUG", 3)], "{order}");
    assert_eq!(order["total"]["amount_minor"], 3 * 1250 + 500);
    assert_eq!(app.stock("MUG").await.on_hand, 7);
}

#[tokio::test]
async fn a_declined_card_releases_the_stock_and_takes_no_money() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app
        .place_order("MUG", 4, "pm_card_chargeDeclinedInsufficientFunds")
        .await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "payment_failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("insufficient_funds"),
        "the reason says why: {order}"
    );
    assert_eq!(statuses(&order), ["pending", "reserved", "payment_failed"]);
    let stock = app.stock("MUG").await;
    assert_eq!(
        (stock.on_hand, stock.reserved),
        (10, 0),
        "the reservation was released"
    );
    let reservations = reservations_of(&app.db, order_id(&id))
        .await
        .expect("reservations");
    assert_eq!(reservations.len(), 1);
    assert_eq!(reservations[0].status, "released");
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].status.as_str(), "declined");
    assert_eq!(payments[0].captured_minor, 0);
}

#[tokio::test]
async fn a_declined_test_card_number_is_accepted_as_its_token_and_declined() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 1, "4000 0000 0000 0002").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "payment_failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("card_declined")
    );
    assert_eq!(app.stock("MUG").await.reserved, 0);
}

#[tokio::test]
async fn insufficient_stock_rejects_the_order_without_any_payment_call() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 2).await;

    let id = app.place_order("MUG", 3, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "rejected");
    assert_eq!(statuses(&order), ["pending", "rejected"]);
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("3 requested, 2 available")
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert!(
        payments.is_empty(),
        "payments was never called: {payments:?}"
    );
    let stock = app.stock("MUG").await;
    assert_eq!((stock.on_hand, stock.reserved), (2, 0));
}

#[tokio::test]
async fn a_multi_line_order_reserves_all_lines_or_none() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 5).await;
    app.seed_product("CAP", 1800, 0).await;

    let id = app
        .place_lines(&[("MUG", 2), ("CAP", 1)], "pm_card_visa")
        .await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "rejected");
    assert_eq!(app.stock("MUG").await.reserved, 0, "the mugs were not held");
    assert!(
        reservations_of(&app.db, order_id(&id))
            .await
            .expect("rows")
            .is_empty()
    );
}

/// A request the API must refuse, and how.
struct BadInput {
    what: &'static str,
    content_type: &'static str,
    body: String,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

/// A valid `POST /orders` body: every bad input below is it with one thing changed.
fn valid_order() -> Value {
    json!({
        "shipping_address": TestApp::address(),
        "lines": [{"sku": "MUG", "quantity": 1}],
        "payment_method": "pm_card_visa",
    })
}

/// The valid body with the member at `pointer` set to `value` (added if missing).
fn with(pointer: &str, value: Value) -> String {
    let mut body = valid_order();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object to set in")
        .insert(key.to_owned(), value);
    body.to_string()
}

/// The valid body without the member at `pointer`.
fn without(pointer: &str) -> String {
    let mut body = valid_order();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(key))
        .expect("a member to remove");
    body.to_string()
}

fn bad_inputs() -> Vec<BadInput> {
    let json = |what, body, status, code, field| BadInput {
        what,
        content_type: "application/json",
        body,
        status,
        code,
        field,
    };
    let valid = valid_order().to_string();
    vec![
        json(
            "malformed JSON",
            valid[..valid.len() / 2].to_owned(),
            400,
            "malformed_json",
            None,
        ),
        json(
            "unknown product",
            with("/lines/0/sku", json!("NOPE")),
            409,
            "unknown_product",
            Some("lines[0].sku"),
        ),
        json(
            "quantity zero",
            with("/lines/0/quantity", json!(0)),
            422,
            "validation_failed",
            Some("lines[0].quantity"),
        ),
        json(
            "negative quantity",
            with("/lines/0/quantity", json!(-2)),
            422,
            "validation_failed",
            Some("lines[0].quantity"),
        ),
        json(
            "empty order",
            with("/lines", json!([])),
            422,
            "validation_failed",
            Some("lines"),
        ),
        json(
            "missing lines",
            without("/lines"),
            422,
            "invalid_field",
            Some("lines"),
        ),
        json(
            "missing quantity",
            without("/lines/0/quantity"),
            422,
            "invalid_field",
            Some("lines[0].quantity"),
        ),
        json(
            "missing payment method",
            without("/payment_method"),
            422,
            "invalid_field",
            Some("payment_method"),
        ),
        json(
            "unknown field",
            with("/discount", json!(100)),
            422,
            "invalid_field",
            Some("discount"),
        ),
        json(
            "wrong type",
            with("/lines/0/quantity", json!("two")),
            422,
            "invalid_field",
            Some("lines[0].quantity"),
        ),
        json(
            "a customer email in the body (it comes from the token)",
            with("/customer_email", json!("not-an-email")),
            422,
            "invalid_field",
            Some("customer_email"),
        ),
        json(
            "raw card number",
            with("/payment_method", json!("4111 1111 1111 1111")),
            422,
            "raw_card_number",
            Some("payment_method"),
        ),
        json(
            "missing shipping address",
            without("/shipping_address"),
            422,
            "invalid_field",
            Some("shipping_address"),
        ),
        json(
            "bad country",
            with("/shipping_address/country", json!("England")),
            422,
            "validation_failed",
            Some("shipping_address.country"),
        ),
        json(
            "bad phone",
            with("/customer_phone", json!("0151 123")),
            422,
            "validation_failed",
            Some("customer_phone"),
        ),
        BadInput {
            what: "not JSON",
            content_type: "text/plain",
            body: "customer_email=ada@example.com".to_owned(),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
    ]
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_no_workflow_started() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    for BadInput {
        what,
        content_type,
        body,
        status,
        code,
        field,
    } in bad_inputs()
    {
        let response = app.post_raw("/orders", content_type, &body).await;
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.expect("problem body");
        assert_eq!(problem["status"], status, "{what}: {problem}");
        assert_eq!(problem["code"], code, "{what}: {problem}");
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{what}"
        );
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{what}: {problem}");
        }
    }

    let oversized = with("/pad", json!("x".repeat(100 * 1024)));
    let response = app
        .post_raw("/orders", "application/json", &oversized)
        .await;
    assert_eq!(response.status(), 413, "oversized body");

    assert_eq!(
        app.workflows_started().await,
        0,
        "no bad input started a workflow"
    );
    assert_eq!(app.stock("MUG").await.reserved, 0);

    // The check above can fail: a good order does show up.
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.workflows_started().await != 1 {
        assert!(
            Instant::now() < deadline,
            "the good order's workflow is visible"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn unknown_and_malformed_order_ids_are_problems() {
    let app = TestApp::spawn().await;

    let (status, problem) = app.get_json(&format!("/orders/{}", OrderId::new())).await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "not_found");

    let (status, problem) = app.get_json("/orders/not-a-uuid").await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "id");

    let (status, problem) = app.get_json("/no/such/route").await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "not_found");
}

#[tokio::test]
async fn products_are_listed_with_price_and_available_stock() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("CAP", 1800, 0).await;
    app.seed_product("GONE", 900, 5).await;
    let gone = product_id(&app, "GONE").await;
    let (status, _) = app
        .send_json_as(
            reqwest::Method::DELETE,
            Some(&app.admin_token),
            &format!("/products/{gone}"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 204, "an admin deletes GONE");

    let (status, products) = app.get_json("/products").await;

    assert_eq!(status, 200);
    let mug = products["items"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["sku"] == "MUG")
        .expect("the mug is listed");
    assert_eq!(
        mug["price"],
        json!({"amount_minor": 1250, "currency": "EUR"})
    );
    assert_eq!(mug["available"], 10);
    assert!(
        products["items"]
            .as_array()
            .expect("a list")
            .iter()
            .all(|p| p["sku"] != "GONE"),
        "inactive products are not listed"
    );
    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
}

/// The id of the listed product with `sku`.
async fn product_id(app: &TestApp, sku: &str) -> String {
    let (_, products) = app.get_json("/products").await;
    products["items"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["sku"] == sku)
        .and_then(|p| p["id"].as_str())
        .expect("the product is listed")
        .to_owned()
}
