//! Holds carry an expiry and the sweep gives expired ones back; a confirmed order's stock is
//! allocated and never expires; a late allocation or commit takes the stock again if it is
//! still there; the migration moves the holds of orders confirmed before allocations existed.

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

#[tokio::test]
async fn a_confirmed_orders_allocation_never_expires_and_the_last_unit_is_sold_once() {
    let test_db = TestDb::create().await;
    create_stock(&test_db.db, "MUG", 1).await.expect("stock");
    let expiring = InventoryActivities::new(test_db.db.clone(), Duration::ZERO);
    let first = OrderId::new();
    expiring.reserve(&one(first, "MUG", 1)).await.expect("held");
    expiring
        .allocate(first)
        .await
        .expect("the order is confirmed");
    expiring
        .allocate(first)
        .await
        .expect("allocating twice is a no-op");
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_eq!(expiring.release_expired().await.expect("swept"), 0);
    let second = expiring.reserve(&one(OrderId::new(), "MUG", 1)).await;
    assert!(
        matches!(second, Err(InventoryError::OutOfStock(_))),
        "the allocated unit is not for sale: {second:?}"
    );
    expiring.commit(first).await.expect("picked up");
    assert_eq!(levels(&test_db, "MUG").await, (0, 0));
    assert_eq!(
        reservations_of(&test_db.db, first).await.expect("rows")[0].status,
        "committed"
    );
}

#[tokio::test]
async fn an_allocation_after_the_hold_was_swept_takes_the_stock_again_or_reports_it_lost() {
    let test_db = TestDb::create().await;
    create_stock(&test_db.db, "MUG", 1).await.expect("stock");
    let expiring = InventoryActivities::new(test_db.db.clone(), Duration::ZERO);
    let lasting = InventoryActivities::new(test_db.db.clone(), Duration::from_secs(3600));
    let slow = OrderId::new();
    let slower = OrderId::new();
    expiring.reserve(&one(slow, "MUG", 1)).await.expect("held");
    tokio::time::sleep(Duration::from_millis(20)).await;
    lasting.release_expired().await.expect("swept");

    lasting
        .allocate(slow)
        .await
        .expect("the unit was still free");
    expiring
        .reserve(&one(slower, "MUG", 1))
        .await
        .expect_err("none left");
    assert_eq!(levels(&test_db, "MUG").await, (1, 1));
    lasting
        .release(slow)
        .await
        .expect("a compensation releases an allocation");
    assert_eq!(levels(&test_db, "MUG").await, (1, 0));
}

#[tokio::test]
async fn migrating_turns_holds_of_confirmed_orders_into_allocations_and_takes_swept_ones_back() {
    use migrations::MigratorTrait as _;
    use sea_orm::ConnectionTrait as _;
    let test_db = TestDb::create().await;
    let owner = test_db.connect_as_owner().await;
    // Back to before the allocations (and whatever came after them).
    let all = migrations::Migrator::migrations();
    let allocations = all
        .iter()
        .position(|m| m.name() == "m20261129_000012_allocations")
        .expect("the allocations migration");
    let steps = u32::try_from(all.len() - allocations).expect("a few");
    migrations::Migrator::down(&owner, Some(steps))
        .await
        .expect("back to before allocations");
    create_stock(&test_db.db, "MUG", 2).await.expect("stock");
    create_stock(&test_db.db, "CAP", 1).await.expect("stock");
    let (waiting, swept, sold_out, pending) = (
        OrderId::new(),
        OrderId::new(),
        OrderId::new(),
        OrderId::new(),
    );
    let sql = format!(
        "INSERT INTO orders.orders (id, customer_email, status, total_minor, currency) VALUES
           ('{waiting}', 'a@example.com', 'label_created', 100, 'EUR'),
           ('{swept}', 'b@example.com', 'confirmed', 100, 'EUR'),
           ('{sold_out}', 'c@example.com', 'label_created', 100, 'EUR'),
           ('{pending}', 'd@example.com', 'awaiting_review', 100, 'EUR');
         INSERT INTO inventory.reservations (order_id, sku, quantity, status, expires_at) VALUES
           ('{waiting}', 'MUG', 1, 'held', now() + interval '1 hour'),
           ('{swept}', 'MUG', 1, 'released', now() - interval '1 hour'),
           ('{sold_out}', 'CAP', 1, 'released', now() - interval '1 hour'),
           ('{pending}', 'CAP', 1, 'held', now() + interval '1 hour');
         UPDATE inventory.stock SET reserved = 1 WHERE sku IN ('MUG', 'CAP');"
    );
    owner.execute_unprepared(&sql).await.expect("the old rows");

    migrations::Migrator::up(&owner, None)
        .await
        .expect("migrated");

    let status = async |order| {
        reservations_of(&test_db.db, order).await.expect("rows")[0]
            .status
            .clone()
    };
    assert_eq!(status(waiting).await, "allocated");
    assert_eq!(status(swept).await, "allocated", "its unit was still free");
    assert_eq!(
        status(sold_out).await,
        "released",
        "the cap went to another order"
    );
    assert_eq!(
        status(pending).await,
        "held",
        "unconfirmed holds keep their expiry"
    );
    assert_eq!(levels(&test_db, "MUG").await, (2, 2));
    assert_eq!(levels(&test_db, "CAP").await, (1, 1));
}
