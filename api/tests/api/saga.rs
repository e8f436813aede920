//! Compensation: a failure after any step undoes what was done, in reverse order, and the
//! compensations retry until they succeed. Each test checks stock and money afterwards.

use crate::{order_id, statuses};
use activities::inventory::queries::reservations_of;
use activities::payments::queries::payments_of;
use activities::payments::sandbox::SandboxGateway;
use activities::shipping::Carriers;
use std::sync::Arc;
use testkit::gateways::{Script, ScriptedGateway};
use testkit::{TestApp, TestAppOptions};

async fn app_with(script: Script) -> (TestApp, Arc<ScriptedGateway>) {
    let gateway = ScriptedGateway::new(Arc::new(SandboxGateway::default()), script);
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: gateway.clone(),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;
    (app, gateway)
}

#[tokio::test]
async fn a_refused_authorisation_releases_the_stock_and_fails_the_order() {
    let (app, gateway) = app_with(Script {
        refuse_authorize: true,
        ..Script::default()
    })
    .await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("authorising payment failed")
    );
    assert_eq!(statuses(&order), ["pending", "reserved", "failed"]);
    let stock = app.stock("MUG").await;
    assert_eq!((stock.on_hand, stock.reserved), (10, 0));
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].status.as_str(), "failed");
    assert_eq!(payments[0].captured_minor, 0);
    assert_eq!(
        gateway.calls(),
        ["authorize!"],
        "no void: nothing was authorised"
    );
}

#[tokio::test]
async fn a_parcel_no_carrier_can_ship_voids_the_payment_then_releases_the_stock() {
    let gateway = ScriptedGateway::new(Arc::new(SandboxGateway::default()), Script::default());
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: gateway.clone(),
        carriers: Carriers::default(),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no carrier"),
        "{order}"
    );
    assert_eq!(
        statuses(&order),
        ["pending", "reserved", "confirmed", "failed"]
    );
    assert_eq!(
        gateway.calls(),
        ["authorize", "void"],
        "the void came after the failure"
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        (payments[0].status.as_str(), payments[0].captured_minor),
        ("voided", 0)
    );
    let stock = app.stock("MUG").await;
    assert_eq!((stock.on_hand, stock.reserved), (10, 0));
    let reservations = reservations_of(&app.db, order_id(&id)).await.expect("rows");
    assert_eq!(reservations[0].status, "released");
}

#[tokio::test]
async fn compensations_retry_until_they_succeed() {
    let gateway = ScriptedGateway::new(
        Arc::new(SandboxGateway::default()),
        Script {
            void_outages: 2,
            ..Script::default()
        },
    );
    let app = TestApp::spawn_with(TestAppOptions {
        payment_gateway: gateway.clone(),
        carriers: Carriers::default(),
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("MUG", 1250, 10).await;

    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "failed");
    assert_eq!(gateway.calls(), ["authorize", "void!", "void!", "void"]);
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].status.as_str(), "voided");
    assert_eq!(app.stock("MUG").await.reserved, 0);
}

#[tokio::test]
async fn a_capture_failing_after_pickup_leaves_the_goods_shipped_and_the_order_failed_loudly() {
    let (app, gateway) = app_with(Script {
        refuse_capture: true,
        ..Script::default()
    })
    .await;

    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "failed");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("capturing the payment failed")
    );
    assert_eq!(
        gateway.calls(),
        ["authorize", "capture!"],
        "nothing is voided once goods left"
    );
    let stock = app.stock("MUG").await;
    assert_eq!(
        (stock.on_hand, stock.reserved),
        (8, 0),
        "the goods left the warehouse"
    );
    app.wait_for_workflow_end(&id).await;
    // The workflow failed, for an operator to see.
    app.wait_for_workflows_matching("ExecutionStatus = 'Failed'", 1)
        .await;
}
