//! No overselling under load: many customers race for the last units over HTTP, with the
//! workers caching the tests' usual 100 runs each, or only two.

use std::time::{Duration, Instant};

use activities::inventory::queries::stock_level;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use testkit::{TestApp, TestAppOptions};

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty() {
    let app = TestApp::spawn().await;
    race_for_the_last_units(&app, 200, 50).await;
}

/// Every worker caches two runs while thirty orders are in flight: runs are evicted in the
/// middle of their steps (local activities included) and replayed from history, and each
/// order still ends once, with the stock exact. This is where the Temporal SDK's core 0.10.1
/// loses the output of an evicted run that waits on a local activity (Cargo.toml's
/// `[profile.dev.package.temporalio-sdk-core]`): its workflow task is retried after the task
/// timeout, so the orders finish, late.
#[tokio::test]
async fn orders_end_once_when_the_workers_cache_far_fewer_runs_than_are_in_flight() {
    let app = TestApp::spawn_with(TestAppOptions {
        max_cached_workflows: 2,
        ..TestAppOptions::default()
    })
    .await;
    let started = Instant::now();
    race_for_the_last_units(&app, 30, 20).await;
    assert!(
        started.elapsed() < Duration::from_secs(240),
        "took {:?}",
        started.elapsed()
    );
}

/// `orders` customers each order one of `units` units at once: exactly `units` orders
/// complete, the rest are rejected, and no stock stays on hand, reserved or held.
async fn race_for_the_last_units(app: &TestApp, orders: usize, units: i64) {
    app.seed_product("LAST", 1_000, units).await;
    let placing = (0..orders).map(|_| async move {
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
    });
    let ids = futures::future::join_all(placing).await;
    let mut outcomes = Vec::new();
    for id in &ids {
        let order = app.wait_for_final_order(id).await;
        outcomes.push(order["status"].as_str().unwrap_or_default().to_owned());
    }
    let completed = outcomes.iter().filter(|s| *s == "completed").count();
    let rejected = outcomes.iter().filter(|s| *s == "rejected").count();
    let sold = usize::try_from(units).expect("units");
    assert_eq!((completed, rejected), (sold, orders - sold));
    let stock = stock_level(&app.db, "LAST")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((stock.on_hand, stock.reserved), (0, 0));
    assert_eq!(
        held_reservations(app).await,
        0,
        "no reservation left behind"
    );
}

async fn held_reservations(app: &TestApp) -> i64 {
    app.db
        .query_one(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT count(*) AS held FROM inventory.reservations WHERE status = 'held'",
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get::<i64>("", "held")
        .expect("a number")
}
