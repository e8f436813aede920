//! Reviews, ratings and technical specifications over HTTP against real parts: only a
//! customer who received a product reviews it, once, and may edit it; the product shows the
//! average; an admin hides a review (audited); products are filtered by specifications.

use serde_json::{Value, json};
use testkit::TestApp;

async fn product_id(app: &TestApp, sku: &str) -> String {
    let (_, found) = app
        .get_json_as(None, &format!("/products?q={}", sku.to_lowercase()))
        .await;
    found["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["sku"] == sku))
        .and_then(|p| p["id"].as_str())
        .expect("the product")
        .to_owned()
}

#[tokio::test]
async fn a_customer_who_received_a_mug_reviews_it_and_one_who_did_not_cannot() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("CAP", 900, 10).await;
    let (mug, cap) = (product_id(&app, "MUG").await, product_id(&app, "CAP").await);
    let review = |product: &str, body: Value| {
        let (app, path) = (&app, format!("/products/{product}/reviews"));
        async move { app.post_json(&path, &body).await }
    };
    let good = json!({"rating": 4, "body": "Keeps the tea hot."});
    let (status, problem) = review(&mug, good.clone()).await;
    assert_eq!(
        (status, &problem["code"]),
        (403, &json!("not_received")),
        "before delivery"
    );

    let order = app.place_order("MUG", 1, "pm_card_visa").await;
    assert_eq!(
        app.wait_for_final_order(&order).await["status"],
        "completed"
    );
    let (status, problem) = review(&cap, good.clone()).await;
    assert_eq!(
        (status, &problem["code"]),
        (403, &json!("not_received")),
        "never ordered"
    );
    for (bad, field) in [
        (json!({"rating": 6, "body": "Great"}), "rating"),
        (json!({"rating": 0, "body": "Great"}), "rating"),
        (json!({"rating": 5, "body": "   "}), "body"),
        (json!({"rating": 5, "body": ""}), "body"),
    ] {
        let (status, problem) = review(&mug, bad).await;
        assert_eq!(
            (status, &problem["errors"][0]["field"]),
            (422, &json!(field)),
            "{problem}"
        );
    }
    let (_, unrated) = app.get_json_as(None, &format!("/products/{mug}")).await;
    assert_eq!(unrated["rating"], json!({"average": null, "count": 0}));

    let (status, written) = review(&mug, good.clone()).await;
    assert_eq!(status, 201, "{written}");
    let (status, problem) = review(&mug, good).await;
    assert_eq!(
        (status, &problem["code"]),
        (409, &json!("already_reviewed"))
    );
    let id = written["id"].as_str().expect("an id").to_owned();
    let (status, edited) = app
        .send_json_as(
            reqwest::Method::PATCH,
            Some(&app.token),
            &format!("/reviews/{id}"),
            &json!({"rating": 5}),
        )
        .await;
    assert_eq!(
        (status, &edited["rating"], &edited["body"]),
        (200, &json!(5), &json!("Keeps the tea hot."))
    );
    let (_, rated) = app.get_json_as(None, &format!("/products/{mug}")).await;
    assert_eq!(rated["rating"], json!({"average": 5.0, "count": 1}));

    let (_, stranger) = app.another_customer("mallory").await;
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PATCH,
            Some(&stranger),
            &format!("/reviews/{id}"),
            &json!({"rating": 1}),
        )
        .await;
    assert_eq!(status, 404, "someone else's review");
    let (_, listed) = app
        .get_json_as(Some(&stranger), &format!("/products/{mug}/reviews"))
        .await;
    assert_eq!(
        (&listed["total"], &listed["may_review"], &listed["mine"]),
        (&json!(1), &json!(false), &Value::Null)
    );
    let (_, mine) = app.get_json(&format!("/products/{mug}/reviews")).await;
    assert_eq!(mine["mine"]["id"], json!(id));
}

#[tokio::test]
async fn an_admin_hides_a_review_and_the_rating_leaves_with_it() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let mug = product_id(&app, "MUG").await;
    let order = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&order).await;
    let (_, written) = app
        .post_json(
            &format!("/products/{mug}/reviews"),
            &json!({"rating": 1, "body": "Buy my mugs instead: example.com"}),
        )
        .await;
    let id = written["id"].as_str().expect("an id").to_owned();
    let hide = json!({"hidden": true, "reason": "advertising"});
    let visibility = format!("/reviews/{id}/visibility");
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.operator_token),
            &visibility,
            &hide,
        )
        .await;
    assert_eq!(status, 403, "hiding needs an admin");
    let (status, hidden) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.admin_token),
            &visibility,
            &hide,
        )
        .await;
    assert_eq!((status, &hidden["hidden"]), (200, &json!(true)), "{hidden}");

    let (_, product) = app.get_json_as(None, &format!("/products/{mug}")).await;
    assert_eq!(product["rating"], json!({"average": null, "count": 0}));
    let (_, listed) = app
        .get_json_as(None, &format!("/products/{mug}/reviews"))
        .await;
    assert_eq!(listed["total"], 0);
    let (_, queue) = app
        .get_json_as(Some(&app.operator_token), "/reviews?hidden=true")
        .await;
    assert_eq!(queue["items"][0]["id"], json!(id), "{queue}");
    let (_, audit) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!("/audit/logs?subject=review:{id}"),
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "review.hidden", "{audit}");

    let show = json!({"hidden": false, "reason": "the seller explained"});
    app.send_json_as(
        reqwest::Method::PUT,
        Some(&app.admin_token),
        &visibility,
        &show,
    )
    .await;
    let (_, product) = app.get_json_as(None, &format!("/products/{mug}")).await;
    assert_eq!(product["rating"], json!({"average": 1.0, "count": 1}));
}

#[tokio::test]
async fn products_carry_typed_specifications_and_are_filtered_by_them() {
    let app = TestApp::spawn().await;
    let create = |sku: &str, specifications: Value| {
        let app = &app;
        let body = json!({"sku": sku, "name": format!("Mug {sku}"), "price": {"amount_minor": 1000, "currency": "EUR"}, "specifications": specifications});
        async move {
            app.post_json_as(Some(&app.admin_token), "/products", &body)
                .await
        }
    };
    let (status, big) = create(
        "BIG",
        json!([
            {"key": "capacity", "value": 450, "unit": "ml"},
            {"key": "material", "value": "stoneware"},
            {"key": "dishwasher_safe", "value": true},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{big}");
    assert_eq!(
        big["specifications"][0],
        json!({"key": "capacity", "value": 450.0, "unit": "ml"})
    );
    let (_, small) = create("SMALL", json!([{"key": "capacity", "value": 250, "unit": "ml"}, {"key": "material", "value": "glass"}, {"key": "material", "value": "porcelain"}])).await;
    assert_eq!(
        small["specifications"][1],
        json!({"key": "material", "value": "porcelain"}),
        "the last of a key given twice"
    );
    for (bad, field) in [
        (
            json!([{"key": "Capacity", "value": 1}]),
            "specifications[0].key",
        ),
        (
            json!([{"key": "a", "value": 1e16}]),
            "specifications[0].value",
        ),
        (
            json!([{"key": "a", "value": ""}]),
            "specifications[0].value",
        ),
        (
            json!([{"key": "a", "value": [1]}]),
            "specifications[0].value",
        ),
    ] {
        let (status, problem) = create("BAD", bad).await;
        assert_eq!(
            (status, &problem["errors"][0]["field"]),
            (422, &json!(field)),
            "{problem}"
        );
    }

    let skus = |query: &'static str| {
        let app = &app;
        async move {
            let (status, page) = app
                .get_json_as(None, &format!("/products?spec={query}"))
                .await;
            assert_eq!(status, 200, "{page}");
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|p| p["sku"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(skus("material:stoneware").await, [json!("BIG")]);
    assert_eq!(skus("capacity%3E=300").await, [json!("BIG")]);
    assert_eq!(skus("capacity%3C=300").await, [json!("SMALL")]);
    assert_eq!(skus("capacity:250").await, [json!("SMALL")]);
    assert_eq!(
        skus("dishwasher_safe:true;material:stoneware").await,
        [json!("BIG")]
    );
    assert!(skus("material:glass").await.is_empty());
    assert!(
        skus("material:stoneware;capacity%3C=300").await.is_empty(),
        "every filter holds"
    );
    let (status, problem) = app
        .get_json_as(None, "/products?spec=capacity%3E=lots")
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("spec")),
        "{problem}"
    );
}
