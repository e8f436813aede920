//! The services against a real Postgres database: idempotency, concurrency and the failures
//! Temporal sees. Plus the rule that each service touches only its own schema.

use activities::inventory::queries::{create_stock, reservations_of, stock_level};
use activities::orders::queries::get_order;
use activities::payments::queries::payments_of;
use activities::payments::sandbox::SandboxGateway;
use activities::payments::{
    AuthorizeRequest, GatewayError, PaymentGateway, PaymentsError, RiskPolicy,
};
use activities::{InventoryActivities, InventoryError, OrdersActivities, PaymentsActivities};
use async_trait::async_trait;
use contracts::inventory::{OUT_OF_STOCK, OutOfStock, ReserveStock, StockLine};
use contracts::orders::{OrderLine, OrderStatus, PlaceOrderInput, StatusChange};
use contracts::payments::{AuthorizePayment, PAYMENT_DECLINED, SettlePayment};
use contracts::{Currency, Money, OrderId, Sku};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::testing::{ActivityEnvironment, ActivityEnvironmentError};
use testkit::TestDb;

mod expiry;
mod fulfilment;
mod intake;
mod roles;
mod stripe;

pub(crate) const RISK: RiskPolicy = RiskPolicy {
    review_threshold_minor: 100_000,
    review_timeout: Duration::from_secs(3600),
};

pub(crate) fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::new("EUR").expect("EUR"))
}

fn reserve_request(order_id: OrderId, sku: &str, quantity: u32) -> ReserveStock {
    ReserveStock {
        order_id,
        lines: vec![StockLine {
            sku: Sku::from(sku),
            quantity,
        }],
    }
}

async fn inventory(stock: &[(&str, i64)]) -> (TestDb, InventoryActivities) {
    let test_db = TestDb::create().await;
    for &(sku, on_hand) in stock {
        create_stock(&test_db.db, sku, on_hand)
            .await
            .expect("stock");
    }
    let service = InventoryActivities::new(test_db.db.clone(), Duration::from_secs(600));
    (test_db, service)
}

async fn levels(test_db: &TestDb, sku: &str) -> (i64, i64) {
    let level = stock_level(&test_db.db, sku)
        .await
        .expect("read")
        .expect("exists");
    (level.on_hand, level.reserved)
}

#[tokio::test]
async fn reserving_an_order_twice_holds_its_stock_once() {
    let (test_db, inventory) = inventory(&[("MUG", 10)]).await;
    let order = OrderId::new();

    let first = inventory
        .reserve(&reserve_request(order, "MUG", 3))
        .await
        .expect("reserved");
    let again = inventory
        .reserve(&reserve_request(order, "MUG", 3))
        .await
        .expect("reserved");

    assert_eq!(first, again);
    assert_eq!(levels(&test_db, "MUG").await, (10, 3));
}

#[tokio::test]
async fn releasing_twice_or_releasing_nothing_changes_nothing() {
    let (test_db, inventory) = inventory(&[("MUG", 10)]).await;
    let order = OrderId::new();
    inventory
        .reserve(&reserve_request(order, "MUG", 4))
        .await
        .expect("reserved");

    inventory.release(order).await.expect("released");
    inventory.release(order).await.expect("released again");
    inventory
        .release(OrderId::new())
        .await
        .expect("nothing to release");

    assert_eq!(levels(&test_db, "MUG").await, (10, 0));
    let rows = reservations_of(&test_db.db, order).await.expect("rows");
    assert_eq!(rows[0].status, "released");
}

#[tokio::test]
async fn committing_moves_held_stock_out_of_the_warehouse_once() {
    let (test_db, inventory) = inventory(&[("MUG", 10), ("CAP", 5)]).await;
    let order = OrderId::new();
    let request = ReserveStock {
        order_id: order,
        lines: vec![
            StockLine {
                sku: Sku::from("MUG"),
                quantity: 2,
            },
            StockLine {
                sku: Sku::from("CAP"),
                quantity: 1,
            },
        ],
    };
    inventory.reserve(&request).await.expect("reserved");

    inventory.commit(order).await.expect("committed");
    inventory.commit(order).await.expect("committed again");
    inventory
        .release(order)
        .await
        .expect("release after commit is a no-op");

    assert_eq!(levels(&test_db, "MUG").await, (8, 0));
    assert_eq!(levels(&test_db, "CAP").await, (4, 0));
}

#[tokio::test]
async fn a_short_line_fails_the_whole_reservation_and_holds_nothing() {
    let (test_db, inventory) = inventory(&[("MUG", 10), ("CAP", 1)]).await;
    let order = OrderId::new();
    let request = ReserveStock {
        order_id: order,
        lines: vec![
            StockLine {
                sku: Sku::from("MUG"),
                quantity: 2,
            },
            StockLine {
                sku: Sku::from("CAP"),
                quantity: 2,
            },
            StockLine {
                sku: Sku::from("GHOST"),
                quantity: 1,
            },
        ],
    };

    let refused = inventory.reserve(&request).await;

    match refused {
        Err(InventoryError::OutOfStock(short)) => {
            assert_eq!(
                short,
                OutOfStock {
                    sku: Sku::from("CAP"),
                    requested: 2,
                    available: 1
                }
            );
        }
        other => panic!("expected out of stock, got {other:?}"),
    }
    assert_eq!(levels(&test_db, "MUG").await, (10, 0));
    assert!(
        reservations_of(&test_db.db, order)
            .await
            .expect("rows")
            .is_empty()
    );
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() {
    let (test_db, inventory) = inventory(&[("LAST", 15)]).await;
    let inventory = Arc::new(inventory);

    let attempts = (0..40).map(|_| {
        let inventory = inventory.clone();
        tokio::spawn(async move {
            inventory
                .reserve(&reserve_request(OrderId::new(), "LAST", 1))
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;

    let held = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(InventoryError::OutOfStock(_)))))
        .count();
    assert_eq!((held, refused), (15, 25));
    assert_eq!(levels(&test_db, "LAST").await, (15, 15));
}

#[tokio::test]
async fn out_of_stock_reaches_temporal_as_a_non_retryable_typed_failure() {
    let (_test_db, inventory) = inventory(&[("MUG", 1)]).await;
    let env = ActivityEnvironment::builder()
        .register_activities(inventory)
        .build();

    let outcome = env
        .run(
            InventoryActivities::reserve_stock,
            reserve_request(OrderId::new(), "MUG", 2),
        )
        .await;

    let Err(ActivityEnvironmentError::Activity(ActivityError::Application(failure))) = outcome
    else {
        panic!("expected an application failure, got {outcome:?}");
    };
    assert_eq!(failure.type_name(), Some(OUT_OF_STOCK));
    assert!(failure.is_non_retryable());
}

/// A gateway that counts the calls reaching the provider.
struct CountingGateway {
    inner: SandboxGateway,
    authorizations: AtomicUsize,
    captures: AtomicUsize,
}

impl CountingGateway {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: SandboxGateway::default(),
            authorizations: AtomicUsize::new(0),
            captures: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl PaymentGateway for CountingGateway {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn authorization_validity(&self) -> std::time::Duration {
        self.inner.authorization_validity()
    }
    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<String, GatewayError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        self.inner.authorize(request).await
    }
    async fn capture(
        &self,
        provider_ref: &str,
        amount: &Money,
        key: &str,
    ) -> Result<(), GatewayError> {
        self.captures.fetch_add(1, Ordering::SeqCst);
        self.inner.capture(provider_ref, amount, key).await
    }
    async fn void(&self, provider_ref: &str, key: &str) -> Result<(), GatewayError> {
        self.inner.void(provider_ref, key).await
    }
    async fn refund(
        &self,
        provider_ref: &str,
        amount: &Money,
        key: &str,
    ) -> Result<String, GatewayError> {
        self.inner.refund(provider_ref, amount, key).await
    }
}

fn authorize_request(order_id: OrderId, cents: i64, payment_method: &str) -> AuthorizePayment {
    AuthorizePayment {
        order_id,
        attempt: 1,
        amount: eur(cents),
        payment_method: payment_method.parse().expect("a token"),
        idempotency_key: format!("order-{order_id}/authorize/1"),
    }
}

#[test]
fn the_risk_policy_sends_orders_above_the_threshold_to_review() {
    assert!(
        !RISK.assess(&eur(100_000)).review_required,
        "at the threshold: no review"
    );
    let above = RISK.assess(&eur(100_001));
    assert!(above.review_required);
    assert_eq!(above.review_timeout_secs, 3600);
    assert!(above.reason.unwrap_or_default().contains("1000.01 EUR"));
}

#[tokio::test]
async fn authorising_and_capturing_twice_charges_once() {
    let test_db = TestDb::create().await;
    let gateway = CountingGateway::new();
    let payments = PaymentsActivities::new(test_db.db.clone(), gateway.clone(), RISK);
    let order = OrderId::new();

    let first = payments
        .authorize(&authorize_request(order, 2500, "pm_card_visa"))
        .await
        .expect("ok");
    let again = payments
        .authorize(&authorize_request(order, 2500, "pm_card_visa"))
        .await
        .expect("ok");
    let settle = SettlePayment {
        authorization: first.clone(),
        idempotency_key: "k/capture".into(),
    };
    payments.capture(&settle).await.expect("captured");
    payments.capture(&settle).await.expect("captured again");

    assert_eq!(first, again);
    assert_eq!(gateway.authorizations.load(Ordering::SeqCst), 1);
    assert_eq!(gateway.captures.load(Ordering::SeqCst), 1);
    let rows = payments_of(&test_db.db, order).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].captured_minor),
        ("captured", 2500)
    );

    let void = payments.void(&settle).await;
    assert!(
        matches!(void, Err(PaymentsError::State { .. })),
        "captured money is refunded, not voided"
    );
}

#[tokio::test]
async fn a_decline_is_remembered_and_the_provider_is_not_asked_again() {
    let test_db = TestDb::create().await;
    let gateway = CountingGateway::new();
    let payments = PaymentsActivities::new(test_db.db.clone(), gateway.clone(), RISK);
    let order = OrderId::new();
    let request = authorize_request(order, 2500, "pm_card_chargeDeclined");

    let first = payments.authorize(&request).await;
    let again = payments.authorize(&request).await;

    assert!(
        matches!(first, Err(PaymentsError::Declined { ref code, .. }) if code == "card_declined")
    );
    assert!(
        matches!(again, Err(PaymentsError::Declined { ref code, .. }) if code == "card_declined")
    );
    assert_eq!(gateway.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_payment_request_contradicting_the_stored_one_is_refused() {
    let test_db = TestDb::create().await;
    let payments = PaymentsActivities::new(
        test_db.db.clone(),
        Arc::new(SandboxGateway::default()),
        RISK,
    );
    let order = OrderId::new();
    payments
        .authorize(&authorize_request(order, 2500, "pm_card_visa"))
        .await
        .expect("ok");

    let other_amount = payments
        .authorize(&authorize_request(order, 9900, "pm_card_visa"))
        .await;

    assert!(matches!(other_amount, Err(PaymentsError::Conflict { .. })));
    assert_eq!(
        payments_of(&test_db.db, order).await.expect("rows")[0].amount_minor,
        2500
    );
}

#[tokio::test]
async fn a_declined_payment_reaches_temporal_as_a_non_retryable_typed_failure() {
    let test_db = TestDb::create().await;
    let env = ActivityEnvironment::builder()
        .register_activities(PaymentsActivities::new(
            test_db.db.clone(),
            Arc::new(SandboxGateway::default()),
            RISK,
        ))
        .build();

    let outcome = env
        .run(
            PaymentsActivities::authorize_payment,
            authorize_request(OrderId::new(), 100, "pm_card_chargeDeclinedExpiredCard"),
        )
        .await;

    let Err(ActivityEnvironmentError::Activity(ActivityError::Application(failure))) = outcome
    else {
        panic!("expected an application failure, got {outcome:?}");
    };
    assert_eq!(failure.type_name(), Some(PAYMENT_DECLINED));
    assert!(failure.is_non_retryable());
}

/// An order of two mugs for Ada, as PlaceOrder gets it.
pub(crate) fn an_order(order_id: OrderId) -> PlaceOrderInput {
    PlaceOrderInput {
        order_id,
        customer_id: contracts::CustomerId(contracts::Uuid::now_v7()),
        discount: None,
        customer_email: "ada@example.com".into(),
        customer_phone: None,
        shipping_address: contracts::shipping::Address {
            name: "Ada".into(),
            line1: "1 Street".into(),
            line2: None,
            city: "London".into(),
            postal_code: "N1".into(),
            country: "GB".into(),
        },
        lines: vec![OrderLine {
            sku: Sku::from("MUG"),
            name: "Mug".into(),
            quantity: 2,
            unit_price: eur(1200),
            line_total: eur(2400),
        }],
        total: eur(2400),
        payment_method: "pm_card_visa".parse().expect("a token"),
    }
}

#[tokio::test]
async fn the_read_model_ignores_replayed_and_stale_status_changes() {
    let test_db = TestDb::create().await;
    let orders = OrdersActivities::new(test_db.db.clone());
    let order_id = OrderId::new();
    let input = an_order(order_id);
    let change = |seq, status| StatusChange {
        order_id,
        seq,
        status,
        reason: None,
    };

    orders.record(&input).await.expect("recorded");
    orders.record(&input).await.expect("recorded again");
    orders
        .set_status(&change(1, OrderStatus::Reserved))
        .await
        .expect("ok");
    orders
        .set_status(&change(2, OrderStatus::Confirmed))
        .await
        .expect("ok");
    // A late retry of change 1 must not move the order back.
    orders
        .set_status(&change(1, OrderStatus::Reserved))
        .await
        .expect("ok");

    let view = get_order(&test_db.db, order_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(view.status, "confirmed");
    let history: Vec<_> = view.history.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(history, ["pending", "reserved", "confirmed"]);
    assert_eq!(view.lines.len(), 1);
}

/// Each service module may use only its own schema's entities; the API none at all.
#[test]
fn each_service_touches_only_its_own_schema() {
    fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }
    fn schemas_used(source: &str) -> Vec<String> {
        source
            .match_indices("entities::")
            .map(|(at, _)| {
                source[at + "entities::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect()
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for service in [
        "audit",
        "catalog",
        "customers",
        "inventory",
        "orders",
        "payments",
        "shipping",
        "notifications",
    ] {
        for file in rust_files(&root.join("src").join(service)) {
            let source = std::fs::read_to_string(&file).expect("readable");
            for schema in schemas_used(&source) {
                assert_eq!(
                    schema,
                    service,
                    "{} uses the {schema} schema",
                    file.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "the scan found the services' own entity uses");
    for file in rust_files(&root.join("../api/src")) {
        let source = std::fs::read_to_string(&file).expect("readable");
        assert!(
            schemas_used(&source).is_empty(),
            "{} uses entities directly",
            file.display()
        );
    }
}

#[tokio::test]
async fn a_stock_adjustment_applies_once_per_id_and_never_below_what_is_reserved() {
    use contracts::inventory::{AdjustStock, StockAdjustment};
    let test_db = TestDb::create().await;
    let inventory = InventoryActivities::new(
        test_db
            .connect_as(platform::db::service_role(contracts::Service::Inventory))
            .await,
        Duration::from_secs(3600),
    );
    let adjustment = |delta| AdjustStock {
        adjustment_id: uuid::Uuid::now_v7(),
        sku: Sku("NEW-1".to_owned()),
        delta,
        reason: "delivery".to_owned(),
        actor: "admin@example.com".to_owned(),
    };
    let delivery = adjustment(5);
    for _ in 0..2 {
        assert_eq!(
            inventory.adjust(&delivery).await.expect("adjusted"),
            StockAdjustment::Adjusted {
                on_hand: 5,
                reserved: 0
            },
            "a repeated adjustment answers the stock as it stands"
        );
    }
    inventory
        .reserve(&reserve_request(OrderId::new(), "NEW-1", 2))
        .await
        .expect("reserved");
    assert_eq!(
        inventory.adjust(&adjustment(-4)).await.expect("answered"),
        StockAdjustment::BelowReserved {
            on_hand: 5,
            reserved: 2
        }
    );
    assert_eq!(
        inventory.adjust(&adjustment(-3)).await.expect("adjusted"),
        StockAdjustment::Adjusted {
            on_hand: 2,
            reserved: 2
        }
    );
    let level = stock_level(&test_db.db, "NEW-1").await.expect("read");
    assert_eq!(level.map(|l| l.on_hand), Some(2));
}
