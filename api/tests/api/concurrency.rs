//! No overselling under load: many customers race for the last units over HTTP.

use activities::inventory::queries::stock_level;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use testkit::TestApp;

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty() {
    let app = TestApp::spawn().await;
    app.seed_product("LAST", 1_000, 50).await;

    let placing = (0..200).map(|_| {
        let app = &app;
        async move {
            let response = app
                .post_order(&json!({
                    "shipping_address": TestApp::address(),
                    "lines": [{"sku": "LAST", "quantity": 1}],
                    "payment_method": "pm_card_visa",
                }))
                .await;
            assert_eq!(response.status(), 202);
            response.json::<serde_json::Value>().await.expect("body")["order_id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    });
    let ids = futures::future::join_all(placing).await;
    let mut outcomes = Vec::new();
    for id in &ids {
        outcomes.push(
            app.wait_for_final_order(id).await["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }

    let completed = outcomes.iter().filter(|s| *s == "completed").count();
    let rejected = outcomes.iter().filter(|s| *s == "rejected").count();
    assert_eq!((completed, rejected), (50, 150));
    let stock = stock_level(&app.db, "LAST")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((stock.on_hand, stock.reserved), (0, 0));
    let held = app
        .db
        .query_one(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT count(*) AS held FROM inventory.reservations WHERE status = 'held'",
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get::<i64>("", "held")
        .expect("a number");
    assert_eq!(held, 0, "no reservation left behind");
}
