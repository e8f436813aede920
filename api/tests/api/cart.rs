//! The Cart workflow over HTTP: validated updates, coupons, checkout into an order at today's
//! prices, a declined card that keeps the cart, and the abandoned-cart reminder.

use serde_json::json;
use std::time::Duration;
use testkit::{TestApp, TestAppOptions};

#[tokio::test]
async fn a_cart_takes_items_and_refuses_what_does_not_fit() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("CAP", 1800, 10).await;

    let (status, cart) = app.get_json("/cart").await;
    assert_eq!(
        (status, cart["lines"].as_array().map(Vec::len)),
        (200, Some(0)),
        "no cart yet is an empty cart"
    );
    let (status, cart) = app
        .post_json("/cart/items", &json!({"sku": "MUG", "quantity": 2}))
        .await;
    assert_eq!(status, 200, "{cart}");
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    let (_, cart) = app
        .post_json("/cart/items", &json!({"sku": "CAP", "quantity": 1}))
        .await;
    assert_eq!(cart["lines"][0]["quantity"], 3);
    assert_eq!(cart["subtotal"]["amount_minor"], 3 * 1250 + 1800);

    let (status, problem) = app
        .post_json("/cart/items", &json!({"sku": "NOPE", "quantity": 1}))
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (409, &json!("sku")),
        "a valid request the catalog cannot serve"
    );
    let (status, problem) = app
        .post_json("/cart/items", &json!({"sku": "MUG", "quantity": 0}))
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("quantity"))
    );
    let (status, problem) = app
        .post_json("/cart/items", &json!({"sku": "MUG", "quantity": 998}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("cart_refused")),
        "3 + 998 > 1000: {problem}"
    );

    let (status, cart) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.token),
            "/cart/items/MUG",
            &json!({"quantity": 1}),
        )
        .await;
    assert_eq!((status, &cart["lines"][0]["quantity"]), (200, &json!(1)));
    let (status, cart) = app
        .send_json_as(
            reqwest::Method::DELETE,
            Some(&app.token),
            "/cart/items/CAP",
            &json!(null),
        )
        .await;
    assert_eq!(
        (status, cart["lines"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.token),
            "/cart/items/CAP",
            &json!({"quantity": 1}),
        )
        .await;
    assert_eq!(status, 409, "not in the cart");
    let (_, bobs) = app
        .get_json_as(Some(&app.another_customer("bob").await.1), "/cart")
        .await;
    assert_eq!(
        bobs["lines"].as_array().map(Vec::len),
        Some(0),
        "a cart is its customer's own"
    );
}

#[tokio::test]
async fn checkout_places_the_order_at_todays_prices_with_the_coupon_and_empties_the_cart() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1000, 10).await;
    let in_a_day = (chrono_now() + 86_400).to_string();
    let (status, _) = app
        .post_json_as(Some(&app.admin_token), "/coupons", &json!({"code": "TENOFF", "percent_off": 10, "expires_at": rfc3339(in_a_day.parse().unwrap_or_default())}))
        .await;
    assert_eq!(status, 201);
    app.post_json_as(
        Some(&app.admin_token),
        "/coupons",
        &json!({"code": "OLD", "percent_off": 50, "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 3}))
        .await;

    let (status, problem) = app.post_json("/cart/coupon", &json!({"code": "OLD"})).await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (409, &json!("code")),
        "expired"
    );
    let (status, cart) = app
        .post_json("/cart/coupon", &json!({"code": "tenoff"}))
        .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(
        (
            cart["discount"]["amount_minor"].as_i64(),
            cart["total"]["amount_minor"].as_i64()
        ),
        (Some(300), Some(2700))
    );
    app.seed_product("MUG", 1200, 10).await; // the price goes up before checkout

    let (status, checked_out) = app
        .post_json(
            "/cart/checkout",
            &json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(status, 202, "{checked_out}");
    let order_id = checked_out["order_id"]
        .as_str()
        .expect("an order")
        .to_owned();
    let order = app.wait_for_final_order(&order_id).await;

    assert_eq!(order["status"], "completed");
    assert_eq!(order["total"]["amount_minor"], 3240, "3 × 12.00 less 10%");
    let payments =
        activities::payments::queries::payments_of(&app.db, order_id.parse().expect("id"))
            .await
            .expect("rows");
    assert_eq!(payments[0].captured_minor, 3240);
    let (_, cart) = app.get_json("/cart").await;
    assert_eq!(
        cart["lines"].as_array().map(Vec::len),
        Some(0),
        "the cart was emptied"
    );
    let (status, _) = app
        .post_json(
            "/cart/checkout",
            &json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(status, 409, "nothing to check out");
}

/// A declined card keeps the cart: the order ends `payment_failed`, and by then the cart holds
/// its lines and its coupon again, beside what was added after the checkout; a good card then
/// places the order.
#[tokio::test]
async fn a_declined_card_keeps_the_cart_with_its_coupon() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1000, 10).await;
    app.seed_product("CAP", 1500, 10).await;
    let in_a_day = rfc3339(chrono_now() + 86_400);
    app.post_json_as(
        Some(&app.admin_token),
        "/coupons",
        &json!({"code": "TENOFF", "percent_off": 10, "expires_at": in_a_day}),
    )
    .await;
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 2}))
        .await;
    app.post_json("/cart/coupon", &json!({"code": "TENOFF"}))
        .await;
    let declined =
        json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_chargeDeclined"});
    let (status, checked_out) = app.post_json("/cart/checkout", &declined).await;
    assert_eq!(status, 202, "{checked_out}");
    let (_, cart) = app.get_json("/cart").await;
    assert_eq!(cart["lines"], json!([]), "checked out, the cart is empty");
    let (status, cart) = app
        .post_json("/cart/items", &json!({"sku": "CAP", "quantity": 1}))
        .await;
    assert_eq!(status, 200, "the emptied cart takes new items: {cart}");

    let order_id = checked_out["order_id"].as_str().expect("an order");
    let order = app.wait_for_final_order(order_id).await;
    assert_eq!(order["status"], "payment_failed");
    let (_, cart) = app.get_json("/cart").await;
    let lines: Vec<_> = cart["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (l["product"]["sku"].clone(), l["quantity"].clone()))
        .collect();
    assert_eq!(
        lines,
        [(json!("CAP"), json!(1)), (json!("MUG"), json!(2))],
        "{cart}"
    );
    assert_eq!(cart["coupon"]["code"], "TENOFF", "{cart}");

    let approved =
        json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"});
    let (status, checked_out) = app.post_json("/cart/checkout", &approved).await;
    assert_eq!(status, 202, "{checked_out}");
    let order = app
        .wait_for_final_order(checked_out["order_id"].as_str().expect("an order"))
        .await;
    assert_eq!(
        (&order["status"], &order["total"]["amount_minor"]),
        (&json!("completed"), &json!(3150)),
        "(2 × 10.00 + 15.00) less 10%"
    );
}

/// A checkout holds the cart, reserves the order's id and places the order through the same
/// intake as `POST /orders`. Here the API is taken to have died after holding the cart: the
/// customer's next checkout places the order under the id reserved first, once. A checkout the
/// catalog refuses opens the cart again.
#[tokio::test]
async fn a_checkout_tried_again_places_the_order_the_cart_reserved_once() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("CAP", 1800, 10).await;
    let checkout =
        json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"});
    for sku in ["MUG", "CAP"] {
        app.post_json("/cart/items", &json!({"sku": sku, "quantity": 1}))
            .await;
    }
    app.withdraw_product("CAP").await;
    let (status, problem) = app.post_json("/cart/checkout", &checkout).await;
    assert_eq!(
        (status, &problem["code"]),
        (409, &json!("unknown_product")),
        "{problem}"
    );
    let (status, cart) = app
        .send_json_as(
            reqwest::Method::DELETE,
            Some(&app.token),
            "/cart/items/CAP",
            &json!({}),
        )
        .await;
    assert_eq!(
        status, 200,
        "the refused checkout opened the cart again: {cart}"
    );

    let reserved = contracts::OrderId::new();
    let cart = app
        .temporal
        .get_workflow_handle::<workflows::Cart>(contracts::cart::workflow_id(app.customer.id))
        .execute_update(
            workflows::Cart::begin_checkout,
            contracts::cart::BeginCheckout { order_id: reserved },
            temporalio_client::WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .expect("the cart is held");
    assert_eq!(cart.order_id, reserved);
    let (status, problem) = app
        .post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    assert_eq!(status, 409, "a held cart does not change: {problem}");

    let (status, checked_out) = app.post_json("/cart/checkout", &checkout).await;
    assert_eq!(status, 202, "{checked_out}");
    assert_eq!(
        checked_out["order_id"],
        json!(reserved),
        "the id reserved first"
    );
    let order = app.wait_for_final_order(&reserved.to_string()).await;
    assert_eq!(
        (&order["status"], &order["total"]["amount_minor"]),
        (&json!("completed"), &json!(1250))
    );
    let query = format!(
        "WorkflowType = 'PlaceOrder' AND CustomerId = '{}'",
        app.customer.id
    );
    app.wait_for_workflows_matching(&query, 1).await; // one order
    let (_, cart) = app.get_json("/cart").await;
    assert_eq!(cart["lines"].as_array().map(Vec::len), Some(0), "closed");
}

#[tokio::test]
async fn an_abandoned_cart_reminds_its_customer_once_per_idle_spell() {
    let app = TestApp::spawn_with(TestAppOptions {
        cart_reminder_after: Duration::from_secs(2),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1000, 10).await;
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 2}))
        .await;

    let smtp = testkit::smtp::smtp_server();
    let reminders = smtp.wait_for(&app.customer_email, 1).await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    assert_eq!(
        smtp.messages_to(&app.customer_email).len(),
        1,
        "one reminder while nothing changes"
    );
    assert_eq!(reminders[0].subject, "Your cart is waiting");
    assert!(reminders[0].body.contains("20.00 EUR"));
    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    smtp.wait_for(&app.customer_email, 2).await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
        .unwrap_or_default()
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}
