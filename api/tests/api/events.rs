//! An order's changes, live over server-sent events (`GET /orders/{id}/events`), from the
//! change feed the services append to in their own transactions.

use serde_json::json;
use std::time::Duration;
use testkit::TestApp;
use testkit::shopper::{OrderEvent, Shopper};

fn statuses(events: &[OrderEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.kind == "status")
        .map(|event| {
            event.data["body"]["status"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

/// The order is placed through one API instance and followed through another: every status
/// from `pending` to `completed` arrives live, in order, numbered 1, 2, 3… without gaps, with
/// the parcel's tracking (where it is) and the customer's messages between them.
#[tokio::test]
async fn a_customer_follows_an_order_to_completed_through_another_api_instance() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let elsewhere = Shopper::new(app.http.clone(), app.another_api().await, app.token.clone());

    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "pending").await;
    let (status, events) = elsewhere.follow(&id, None).await;
    assert_eq!(status, 200);
    let events = events.expect("a stream").until_status("completed").await;

    assert_eq!(
        statuses(&events),
        testkit::shopper::DELIVERED_ORDER_STATUSES
    );
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as i64).collect::<Vec<_>>(),
        "1, 2, 3… without gaps"
    );
    let places: Vec<&str> = events
        .iter()
        .filter(|event| event.kind == "tracking")
        .filter_map(|event| event.data["body"]["location"]["name"].as_str())
        .collect();
    assert_eq!(
        places,
        [
            "Emporium warehouse, Leipzig, DE",
            "Parcel hub, Coventry, GB",
            "The recipient's address, GB"
        ],
        "the parcel moves from the warehouse to the address (in GB): {events:?}"
    );
    assert!(
        events.iter().any(|event| event.kind == "notification"),
        "the customer's messages: {events:?}"
    );
    assert!(
        events
            .iter()
            .all(|event| event.data["order_id"] == json!(id))
    );
}

/// A client that comes back with the last id it saw gets what it missed, once, then the
/// rest live; another customer cannot follow the order at all.
#[tokio::test]
async fn a_reconnect_resumes_after_the_last_id_and_strangers_are_refused() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let customer = app.shopper();
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    let (_, events) = customer.follow(&id, None).await;
    let first = events.expect("a stream").until_status("confirmed").await;
    let last = first.last().expect("events").id;

    app.wait_for_final_order(&id).await;
    let (_, events) = customer.follow(&id, Some(last)).await;
    let mut events = events.expect("a stream");
    let rest = events.until_status("completed").await;
    assert_eq!(rest[0].id, last + 1, "resumed right after {last}");
    let all: Vec<i64> = first.iter().chain(&rest).map(|event| event.id).collect();
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "nothing lost or repeated"
    );
    assert_eq!(
        statuses(&first).last().map(String::as_str),
        Some("confirmed")
    );
    // After `completed` only the last messages may still come, in sequence.
    let mut next = rest.last().map_or(last, |event| event.id) + 1;
    while let Some(event) = events.next_within(Duration::from_secs(1)).await {
        assert_eq!((event.id, event.kind.as_str()), (next, "notification"));
        next += 1;
    }

    let (_, stranger) = app.another_customer("stranger").await;
    let stranger = Shopper::new(app.http.clone(), app.address.clone(), stranger);
    let (status, _) = stranger.follow(&id, None).await;
    assert_eq!(status, 404, "refused as GET /orders/{{id}} refuses it");
    let (status, _) = customer.follow(&id, Some(-1)).await;
    assert_eq!(status, 422, "a Last-Event-ID that is no event's");
}
