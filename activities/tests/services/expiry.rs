//! Reservations carry an expiry; the sweep gives expired holds back, and a late commit takes
//! the stock again if it is still there.

use activities::inventory::queries::{create_stock, reservations_of, stock_level};
use activities::{InventoryActivities, InventoryError};
use contracts::inventory::{ReserveStock, StockLine};
use contracts::{OrderId, Sku};
use std::time::Duration;
use testkit::TestDb;

fn one(order_id: OrderId, sku: &str, quantity: u32) -> ReserveStock {
    ReserveStock {
        order_id,
        lines: vec![StockLine {
            sku: Sku::from(sku),
            quantity,
        }],
    }
}

async fn levels(test_db: &TestDb, sku: &str) -> (i64, i64) {
    let level = stock_level(&test_db.db, sku)
        .await
        .expect("read")
        .expect("exists");
    (level.on_hand, level.reserved)
}

#[tokio::test]
async fn the_sweep_releases_expired_holds_and_only_those() {
    let test_db = TestDb::create().await;
    create_stock(&test_db.db, "MUG", 10).await.expect("stock");
    let expiring = InventoryActivities::new(test_db.db.clone(), Duration::ZERO);
    let lasting = InventoryActivities::new(test_db.db.clone(), Duration::from_secs(3600));
    let stale = OrderId::new();
    let fresh = OrderId::new();
    expiring.reserve(&one(stale, "MUG", 3)).await.expect("held");
    lasting.reserve(&one(fresh, "MUG", 2)).await.expect("held");
    tokio::time::sleep(Duration::from_millis(20)).await;

    let released = lasting.release_expired().await.expect("swept");

    assert_eq!(released, 1);
    assert_eq!(levels(&test_db, "MUG").await, (10, 2));
    assert_eq!(
        reservations_of(&test_db.db, stale).await.expect("rows")[0].status,
        "released"
    );
    assert_eq!(
        reservations_of(&test_db.db, fresh).await.expect("rows")[0].status,
        "held"
    );
    assert_eq!(lasting.release_expired().await.expect("swept again"), 0);
}

#[tokio::test]
async fn a_commit_after_expiry_takes_the_stock_again_or_reports_it_lost() {
    let test_db = TestDb::create().await;
    create_stock(&test_db.db, "MUG", 3).await.expect("stock");
    let expiring = InventoryActivities::new(test_db.db.clone(), Duration::ZERO);
    let lasting = InventoryActivities::new(test_db.db.clone(), Duration::from_secs(3600));
    let late = OrderId::new();
    let lost = OrderId::new();
    expiring.reserve(&one(late, "MUG", 1)).await.expect("held");
    expiring.reserve(&one(lost, "MUG", 2)).await.expect("held");
    tokio::time::sleep(Duration::from_millis(20)).await;
    lasting.release_expired().await.expect("swept");
    // Meanwhile someone else buys two.
    lasting
        .reserve(&one(OrderId::new(), "MUG", 2))
        .await
        .expect("held");

    lasting.commit(late).await.expect("one mug was still there");
    let gone = lasting.commit(lost).await;

    assert!(
        matches!(gone, Err(InventoryError::ReservationLost(id)) if id == lost),
        "{gone:?}"
    );
    assert_eq!(levels(&test_db, "MUG").await, (2, 2), "never oversold");
}
