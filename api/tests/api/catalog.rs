//! The catalog over HTTP: admin CRUD, search, categories, pages, availability, stock
//! adjustments, and a price change reaching the next order.

use serde_json::{Value, json};
use testkit::TestApp;

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_json_as(Some(&app.admin_token), "/products", &body)
        .await
}

#[tokio::test]
async fn admins_manage_products_and_shoppers_search_them() {
    let app = TestApp::spawn().await;
    for (slug, name) in [("kitchen", "Kitchen"), ("books", "Books")] {
        let (status, _) = app
            .post_json_as(
                Some(&app.admin_token),
                "/categories",
                &json!({"slug": slug, "name": name}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, mug) = create(
        &app,
        json!({"sku": "MUG-BLUE", "name": "Blue mug", "description": "Ceramic.", "price": {"amount_minor": 1400, "currency": "EUR"},
               "categories": ["kitchen"], "image_urls": ["https://img.example/mug.png"]}),
    )
    .await;
    assert_eq!(status, 201, "{mug}");
    create(&app, json!({"sku": "MUG-RED", "name": "Red mug", "price": {"amount_minor": 1400, "currency": "EUR"}, "categories": ["kitchen"]})).await;
    create(&app, json!({"sku": "BOOK-1", "name": "A book about mugs", "price": {"amount_minor": 2000, "currency": "EUR"}, "categories": ["books"]})).await;

    let (_, found) = app.get_json_as(None, "/products?q=MUG").await;
    assert_eq!(
        found["total"], 3,
        "name search is case-insensitive: {found}"
    );
    let (_, kitchen) = app
        .get_json_as(None, "/products?category=kitchen&per_page=1&page=2")
        .await;
    assert_eq!(
        (
            kitchen["total"].as_u64(),
            kitchen["items"].as_array().map(Vec::len)
        ),
        (Some(2), Some(1)),
        "{kitchen}"
    );
    assert_eq!(kitchen["items"][0]["sku"], "MUG-RED", "pages are by name");
    let id = mug["id"].as_str().expect("an id");
    let (_, one) = app.get_json_as(None, &format!("/products/{id}")).await;
    assert_eq!(one["categories"], json!(["kitchen"]));
    assert_eq!(one["image_urls"], json!(["https://img.example/mug.png"]));
    assert_eq!(one["available"], 0);

    let (status, problem) = create(&app, json!({"sku": "MUG-BLUE", "name": "Again", "price": {"amount_minor": 1, "currency": "EUR"}})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("sku_taken")));
    let (status, problem) = create(
        &app,
        json!({"sku": "bad sku", "name": "x", "price": {"amount_minor": 1, "currency": "EUR"}}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("sku"))
    );
    let (status, problem) = create(
        &app,
        json!({"sku": "X-1", "name": "x", "price": {"amount_minor": 1, "currency": "euro"}}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("price.currency"))
    );
    let (status, problem) = create(&app, json!({"sku": "X-2", "name": "x", "price": {"amount_minor": 1, "currency": "EUR"}, "categories": ["nope"]})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("unknown_category"))
    );

    let (status, _) = app
        .send_json_as(
            reqwest::Method::DELETE,
            Some(&app.admin_token),
            &format!("/products/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 204);
    let (_, after) = app.get_json_as(None, "/products?q=mug").await;
    assert_eq!(after["total"], 2, "inactive products are not listed");
    let (status, _) = app.get_json_as(None, &format!("/products/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stock_is_adjusted_by_admins_never_below_what_is_reserved() {
    let app = TestApp::spawn().await;
    let (_, product) = create(&app, json!({"sku": "LAMP-1", "name": "Lamp", "price": {"amount_minor": 5000, "currency": "EUR"}})).await;
    let id = product["id"].as_str().expect("id").to_owned();

    let (status, level) = app
        .post_json_as(
            Some(&app.admin_token),
            "/inventory/adjustments",
            &json!({"sku": "LAMP-1", "delta": 3, "reason": "delivery"}),
        )
        .await;
    assert_eq!((status, &level["on_hand"]), (200, &json!(3)));
    let (_, check) = app
        .get_json_as(None, &format!("/inventory/check/{id}"))
        .await;
    assert_eq!(
        (check["available"].as_i64(), check["in_stock"].as_bool()),
        (Some(3), Some(true))
    );

    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            "/inventory/adjustments",
            &json!({"sku": "LAMP-1", "delta": -4, "reason": "broken"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("below_reserved"))
    );
    let (status, problem) = app
        .post_json_as(
            Some(&app.admin_token),
            "/inventory/adjustments",
            &json!({"sku": "LAMP-1", "delta": 0, "reason": "nothing"}),
        )
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("delta"))
    );
    assert_eq!(app.stock("LAMP-1").await.on_hand, 3);
    let (status, _) = app
        .get_json_as(
            None,
            &format!("/inventory/check/{}", contracts::OrderId::new()),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_price_change_applies_to_the_next_order_not_the_last() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1000, 10).await;
    let first = app.place_order("MUG", 1, "pm_card_visa").await;
    let (_, page) = app.get_json_as(None, "/products?q=MUG").await;
    let id = page["items"][0]["id"].as_str().expect("id").to_owned();

    let (status, updated) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.admin_token),
            &format!("/products/{id}"),
            &json!({"sku": "MUG", "name": "Product MUG", "price": {"amount_minor": 1500, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(
        (status, &updated["price"]["amount_minor"]),
        (200, &json!(1500))
    );
    let second = app.place_order("MUG", 1, "pm_card_visa").await;

    assert_eq!(
        app.wait_for_final_order(&first).await["total"]["amount_minor"],
        1000
    );
    assert_eq!(
        app.wait_for_final_order(&second).await["total"]["amount_minor"],
        1500
    );
}
