//! Operator control: the live status query, manual review, cancellation, search attributes for
//! the Web UI, and the read model's list and history.

use crate::{order_id, statuses};
use activities::payments::RiskPolicy;
use activities::payments::queries::payments_of;
use contracts::Money;
use contracts::orders::{OrderStatus, memo, search};
use serde_json::json;
use std::time::Duration;
use testkit::{TestApp, TestAppOptions};

/// Orders above 50.00 wait for review, for `timeout`.
pub(crate) async fn reviewing_app(timeout: Duration) -> TestApp {
    let app = TestApp::spawn_with(TestAppOptions {
        risk: RiskPolicy {
            review_threshold_minor: 5_000,
            review_timeout: timeout,
        },
        ..TestAppOptions::default()
    })
    .await;
    app.seed_product("LAMP", 8_000, 10).await;
    app.seed_product("MUG", 1_250, 10).await;
    app
}

#[tokio::test]
async fn an_order_above_the_threshold_waits_for_review_and_operators_can_find_it() {
    let app = reviewing_app(Duration::from_secs(3600)).await;

    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    let waiting = app.wait_for_status(&id, "awaiting_review").await;

    assert!(
        waiting["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("review threshold")
    );
    let live = app.live_state(&id).await;
    assert_eq!(live.status, OrderStatus::AwaitingReview);
    assert_eq!(
        app.stock("LAMP").await.reserved,
        1,
        "the stock is held while it waits"
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        payments[0].status.as_str(),
        "authorized",
        "the card is good; nothing captured yet"
    );

    let found = app
        .wait_for_workflows_matching(r#"OrderStatus = "awaiting_review""#, 1)
        .await;
    let attributes = found[0].search_attributes();
    assert_eq!(
        attributes.get(&search::CUSTOMER_ID),
        Some(app.customer.id.to_string()),
        "the customer's id, as the API set it at the start"
    );
    assert_eq!(attributes.get(&search::ORDER_TOTAL_CENTS), Some(8_000));
    let memo = found[0].memo();
    assert_eq!(
        memo.get::<String>(memo::CUSTOMER_EMAIL)
            .expect("memo")
            .as_deref(),
        Some(app.customer_email.as_str())
    );
    let total: Money = memo.get(memo::TOTAL).expect("memo").expect("a total");
    assert_eq!(total.amount_minor, 8_000);
    assert!(
        app.workflows_matching(r#"OrderStatus = "completed""#)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_approved_order_completes() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;

    let (status, answer) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{id}/review"),
            &json!({"decision": "approve", "reviewer": "grace", "note": "known customer"}),
        )
        .await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "approve");
    let order = app.wait_for_final_order(&id).await;
    assert_eq!(order["status"], "completed");
    assert_eq!(
        statuses(&order),
        [
            "pending",
            "reserved",
            "awaiting_review",
            "confirmed",
            "label_created",
            "shipped",
            "out_for_delivery",
            "delivered",
            "completed"
        ]
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].captured_minor, 8_000);
    // The search attribute followed the order.
    app.wait_for_workflows_matching(r#"OrderStatus = "completed""#, 1)
        .await;
}

#[tokio::test]
async fn an_operator_finds_an_order_by_its_parcels_tracking_number() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1_250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    let (_, parcel) = app.get_json(&format!("/shipping/track/{id}")).await;
    let tracking_number = parcel["tracking_number"]
        .as_str()
        .expect("a tracking number");

    let by_tracking = format!(r#"TrackingNumber = "{tracking_number}""#);
    let found = app.wait_for_workflows_matching(&by_tracking, 1).await;

    assert_eq!(found[0].id(), format!("order-{id}"));
    assert_eq!(
        found[0].search_attributes().get(&search::TRACKING_NUMBER),
        Some(tracking_number.to_owned())
    );
    let other = app.place_order("MUG", 1, "pm_card_visa").await;
    let by_number = format!("/orders?tracking={tracking_number}");
    let (_, listed) = app.get_json_as(Some(&app.operator_token), &by_number).await;
    assert_eq!(
        (&listed["total"], &listed["items"][0]["id"]),
        (&json!(1), &json!(id)),
        "the console finds it too, and only it (not {other}): {listed}"
    );
    let (_, none) = app
        .get_json_as(Some(&app.operator_token), "/orders?tracking=NO-SUCH-PARCEL")
        .await;
    assert_eq!(none["total"], 0);
}

#[tokio::test]
async fn a_rejected_order_voids_its_payment_and_releases_its_stock() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    let id = app.place_order("LAMP", 2, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;

    let (status, _) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{id}/review"),
            &json!({"decision": "reject", "reviewer": "grace", "note": "mismatched address"}),
        )
        .await;

    assert_eq!(status, 200);
    let order = app.wait_for_final_order(&id).await;
    assert_eq!(order["status"], "rejected");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("grace: mismatched address")
    );
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        (payments[0].status.as_str(), payments[0].captured_minor),
        ("voided", 0)
    );
    assert_eq!(app.stock("LAMP").await.reserved, 0);
}

#[tokio::test]
async fn a_review_that_never_comes_rejects_the_order_on_timeout() {
    let app = reviewing_app(Duration::from_secs(2)).await;

    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    let order = app.wait_for_final_order(&id).await;

    assert_eq!(order["status"], "rejected");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no review decision within 2s")
    );
    assert_eq!(app.stock("LAMP").await.reserved, 0);
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(payments[0].status.as_str(), "voided");
}

#[tokio::test]
async fn cancelling_an_order_before_payment_undoes_everything() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;

    let (status, outcome) = app
        .post_json(
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "changed my mind"}),
        )
        .await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        outcome["status"], "cancelled",
        "the answer comes once it is done"
    );
    let order = app.wait_for_status(&id, "cancelled").await;
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("changed my mind")
    );
    assert_eq!(app.stock("LAMP").await.reserved, 0);
    let payments = payments_of(&app.db, order_id(&id)).await.expect("payments");
    assert_eq!(
        (payments[0].status.as_str(), payments[0].captured_minor),
        ("voided", 0)
    );
}

#[tokio::test]
async fn cancelling_or_reviewing_too_late_is_refused_with_a_reason() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;

    let (status, problem) = app
        .post_json(
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "cancel_refused");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("completed"),
        "{problem}"
    );

    let (status, problem) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{id}/review"),
            &json!({"decision": "approve", "reviewer": "grace"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "review_refused");

    let (status, problem) = app
        .post_json(&format!("/orders/{id}/cancel"), &json!({"reason": ""}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "reason");

    let unknown = contracts::OrderId::new();
    let (status, _) = app
        .post_json(
            &format!("/orders/{unknown}/cancel"),
            &json!({"reason": "?"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_running_order_refuses_a_review_it_is_not_waiting_for() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    let id = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "awaiting_review").await;
    app.post_json_as(
        Some(&app.operator_token),
        &format!("/orders/{id}/review"),
        &json!({"decision": "approve", "reviewer": "a"}),
    )
    .await;

    let (status, problem) = app
        .post_json_as(
            Some(&app.operator_token),
            &format!("/orders/{id}/review"),
            &json!({"decision": "reject", "reviewer": "b"}),
        )
        .await;

    assert_eq!(status, 409, "a second decision is refused: {problem}");
    assert_eq!(app.wait_for_final_order(&id).await["status"], "completed");
}

#[tokio::test]
async fn orders_are_listed_newest_first_filtered_and_paged() {
    let app = reviewing_app(Duration::from_secs(3600)).await;
    app.seed_product("CAP", 1_800, 0).await;
    let mut completed = Vec::new();
    for _ in 0..3 {
        let id = app.place_order("MUG", 1, "pm_card_visa").await;
        app.wait_for_final_order(&id).await;
        completed.push(id);
    }
    let rejected = app.place_order("CAP", 1, "pm_card_visa").await;
    app.wait_for_final_order(&rejected).await;

    let (status, page) = app.get_json("/orders?status=completed&per_page=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["total_pages"].as_u64()),
        (Some(3), Some(2))
    );
    let first: Vec<_> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(
        first,
        [json!(completed[2]), json!(completed[1])],
        "newest first"
    );
    let (_, second) = app
        .get_json("/orders?status=completed&per_page=2&page=2")
        .await;
    assert_eq!(second["items"][0]["id"], json!(completed[0]));

    let (_, all) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!(
                "/orders?customer={}",
                app.customer_email.replace('+', "%2B")
            ),
        )
        .await;
    assert_eq!(all["total"], 4);
    let (_, nobody) = app
        .get_json_as(Some(&app.admin_token), "/orders?customer=bob@example.com")
        .await;
    assert_eq!(nobody["total"], 0);

    let (_, first) = app.get_json("/orders?per_page=100").await;
    let oldest = first["items"][3]["created_at"]
        .as_str()
        .expect("a time")
        .to_owned();
    let newest = first["items"][0]["created_at"]
        .as_str()
        .expect("a time")
        .to_owned();
    let encode = |time: &str| time.replace('+', "%2B");
    let since = format!("/orders?from={}", encode(&newest));
    let (_, latest) = app.get_json(&since).await;
    assert_eq!(
        latest["total"], 1,
        "placed at or after the newest: {latest}"
    );
    let until = format!("/orders?to={}", encode(&newest));
    let (_, earlier) = app.get_json(&until).await;
    assert_eq!(earlier["total"], 3, "placed before the newest: {earlier}");
    let window = format!("/orders?from={}&to={}", encode(&oldest), encode(&newest));
    let (_, between) = app.get_json(&window).await;
    assert_eq!(between["total"], 3, "{between}");
    let (status, problem) = app.get_json("/orders?from=yesterday").await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("from"))
    );

    let (status, problem) = app.get_json("/orders?status=shipped-ish").await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "status");
    let (status, problem) = app.get_json("/orders?per_page=0").await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "per_page");
    let (status, problem) = app.get_json("/orders?page=two").await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "page");
}

/// An order started without its first search attributes (by an API from before the intake set
/// them, during a rolling deploy) upserts them itself, so operators find it all the same.
#[tokio::test]
async fn an_order_started_without_its_search_attributes_sets_them_itself() {
    use contracts::orders::workflow_id;
    use temporalio_client::WorkflowStartOptions;
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1_250, 10).await;
    let order_id = contracts::OrderId(uuid::Uuid::now_v7());
    let input = crate::one_mug(&app, order_id);
    let options = WorkflowStartOptions::new(
        app.queues.of(contracts::Service::Orders),
        workflow_id(order_id),
    )
    .build();
    app.temporal
        .start_workflow(workflows::PlaceOrder::run, input, options)
        .await
        .expect("started without search attributes");

    let found = app
        .wait_for_workflows_matching(&format!(r#"CustomerId = "{}""#, app.customer.id), 1)
        .await;
    let attributes = found[0].search_attributes();
    assert_eq!(attributes.get(&search::ORDER_TOTAL_CENTS), Some(1_250));
    let order = app.wait_for_final_order(&order_id.to_string()).await;
    assert_eq!(order["status"], "completed", "{order}");
}
