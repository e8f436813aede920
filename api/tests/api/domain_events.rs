//! Domain events out, against the machine's real NATS JetStream and a local webhook receiver:
//! the outbox relays publish each event of an order once, in order, as its schema says; a
//! rolled-back change emits nothing; merchant webhooks arrive signed as Standard Webhooks
//! (verified with the specification's own library), are retried, disable an endpoint that
//! never answers, and refuse private addresses.

use activities::events::relay::Relay;
use activities::notifications::webhooks::{Destinations, WebhookPolicy};
use contracts::Service;
use contracts::events::EventType;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::events::{EventTap, WebhookReceiver, test_stream};
use testkit::{TestApp, TestAppOptions};

/// Publishing on, to a stream of the test's own; webhooks may go to this machine, and retry
/// every second.
pub(crate) fn with_events(disable_after: Duration) -> TestAppOptions {
    TestAppOptions {
        events: Some(test_stream()),
        webhooks: WebhookPolicy {
            destinations: Destinations::new(&["127.0.0.1".to_owned()]),
            timeout: Duration::from_secs(5),
            disable_after,
            retry_schedule_secs: vec![1; 6],
        },
        ..TestAppOptions::default()
    }
}

fn types(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, envelope)| envelope["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// One order, from `order.created` to `order.completed`: each of its events arrives once, in
/// order, on `<prefix>.<aggregate>.<event>`, and each envelope's `data` is valid against the
/// schema `GET /events/schemas` publishes. Relaying the outbox again (as a relay that died
/// before marking what it published would) adds nothing to the stream.
#[tokio::test]
async fn an_order_publishes_each_event_once_in_order_as_its_schema_says() {
    let options = with_events(Duration::from_secs(3600));
    let stream = options.events.clone().expect("events on");
    let app = TestApp::spawn_with(options).await;
    let mut tap = EventTap::open(&stream).await;
    app.seed_product("MUG", 1250, 10).await;
    let order_id = app.place_order("MUG", 2, "pm_card_visa").await;
    let order = app.wait_for_final_order(&order_id).await;
    assert_eq!(order["status"], "completed");

    let mut seen = Vec::new();
    while let Some(event) = tap.next(Duration::from_secs(3)).await {
        seen.push(event);
    }
    let about_order: Vec<_> = seen
        .iter()
        .filter(|(_, e)| e["data"]["order_id"] == order_id.as_str())
        .cloned()
        .collect();
    let order_events: Vec<String> = types(&about_order)
        .into_iter()
        .filter(|t| t.starts_with("order."))
        .collect();
    assert_eq!(
        order_events,
        ["order.created", "order.confirmed", "order.completed"]
    );
    let all = types(&about_order);
    for expected in [
        "payment.authorized",
        "payment.captured",
        "shipment.label_created",
        "shipment.status_updated",
    ] {
        assert!(all.contains(&expected.to_owned()), "{expected} in {all:?}");
    }
    let position = |t: &str| all.iter().position(|seen| seen == t).expect(t);
    assert!(position("payment.authorized") < position("payment.captured"));
    assert!(position("shipment.label_created") < position("shipment.status_updated"));

    let (_, schemas) = app.get_json("/events/schemas").await;
    let mut ids = std::collections::HashSet::new();
    for (subject, envelope) in &seen {
        let name = envelope["type"].as_str().expect("a type");
        assert_eq!(subject, &format!("{}.{name}", stream.subject_prefix));
        assert!(ids.insert(envelope["id"].clone()), "{name} arrived twice");
        assert_eq!(envelope["version"], 1);
        let schema = &schemas[name]["schema"];
        let validator = jsonschema::draft202012::new(schema).expect("a valid JSON Schema");
        let errors: Vec<String> = validator
            .iter_errors(&envelope["data"])
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: {errors:?} in {}",
            envelope["data"]
        );
    }
    // The stock went from 10 to 8: above the threshold (5), so no `stock.low` yet.
    assert!(!seen.iter().any(|(_, e)| e["type"] == "stock.low"));

    // Three more leave 5 available: at the threshold, `stock.low` (once, not again below).
    let second = app.place_order("MUG", 3, "pm_card_visa").await;
    let third = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&second).await;
    app.wait_for_final_order(&third).await;
    let mut low = Vec::new();
    while let Some((subject, envelope)) = tap.next(Duration::from_secs(3)).await {
        if envelope["type"] == "stock.low" {
            low.push((subject, envelope));
        }
    }
    assert_eq!(low.len(), 1, "{low:?}");
    let (subject, envelope) = &low[0];
    assert_eq!(subject, &format!("{}.stock.low", stream.subject_prefix));
    assert_eq!(envelope["aggregate_id"], "MUG");
    assert_eq!(envelope["data"]["threshold"], 5);
    assert!(
        envelope["data"]["available"]
            .as_i64()
            .is_some_and(|n| n <= 5)
    );
    let validator = jsonschema::draft202012::new(&schemas["stock.low"]["schema"]).expect("schema");
    assert!(
        validator.is_valid(&envelope["data"]),
        "{}",
        envelope["data"]
    );
    assert!(envelope["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let republished = republish_everything(&app, &stream).await;
    assert!(republished > 0, "the outbox had events to publish again");
    assert_eq!(
        tap.next(Duration::from_secs(2))
            .await
            .map(|(_, e)| e["type"].clone()),
        None,
        "the stream drops what it was sent again"
    );
}

/// Marks every event of the orders and payments outboxes unpublished and relays them again.
async fn republish_everything(
    app: &TestApp,
    stream: &activities::events::relay::StreamConfig,
) -> usize {
    use sea_orm::ConnectionTrait as _;
    let mut total = 0;
    for service in [Service::Orders, Service::Payments] {
        app.db
            .execute_unprepared(&format!("UPDATE {service}.outbox SET published_at = NULL"))
            .await
            .expect("forgetting what was published");
        let jetstream = activities::events::relay::connect(stream)
            .await
            .expect("NATS");
        let db = app
            .test_db
            .connect_as(platform::db::service_role(service))
            .await;
        let relay = Relay::new(db, service, jetstream, &stream.subject_prefix);
        total += relay.publish_pending().await.expect("a relay pass");
    }
    total
}

/// A change that rolls back leaves no event behind; the same change committed leaves one.
#[tokio::test]
async fn a_rolled_back_change_emits_nothing() {
    use sea_orm::TransactionTrait as _;
    let app = TestApp::spawn_with(TestAppOptions {
        services: vec![],
        ..TestAppOptions::default()
    })
    .await;
    let orders = app
        .test_db
        .connect_as(platform::db::service_role(Service::Orders))
        .await;
    let data = json!({"order_id": uuid::Uuid::now_v7(), "status": "confirmed", "reason": null});
    let txn = orders.begin().await.expect("a transaction");
    activities::events::record(&txn, Service::Orders, EventType::OrderConfirmed, "x", &data)
        .await
        .expect("recorded in the transaction");
    txn.rollback().await.expect("rolled back");
    assert_eq!(outbox_rows(&app).await, 0);

    let txn = orders.begin().await.expect("a transaction");
    activities::events::record(&txn, Service::Orders, EventType::OrderConfirmed, "x", &data)
        .await
        .expect("recorded in the transaction");
    txn.commit().await.expect("committed");
    assert_eq!(outbox_rows(&app).await, 1);

    // Published events leave the outbox a day later; what waits stays whatever its age.
    use sea_orm::ConnectionTrait as _;
    let stream = test_stream();
    let jetstream = activities::events::relay::connect(&stream)
        .await
        .expect("NATS");
    let relay = Relay::new(orders, Service::Orders, jetstream, &stream.subject_prefix);
    app.db
        .execute_unprepared("UPDATE orders.outbox SET recorded_at = now() - interval '3 days'")
        .await
        .expect("an old event");
    assert_eq!(relay.prune().await.expect("pruned"), 0, "not published yet");
    app.db
        .execute_unprepared("UPDATE orders.outbox SET published_at = now() - interval '2 days'")
        .await
        .expect("published long ago");
    assert_eq!(relay.prune().await.expect("pruned"), 1);
    assert_eq!(outbox_rows(&app).await, 0);

    // A deployment that does not publish discards day-old events, published or not.
    let orders = app
        .test_db
        .connect_as(platform::db::service_role(Service::Orders))
        .await;
    for _ in 0..2 {
        activities::events::record(
            &orders,
            Service::Orders,
            EventType::OrderConfirmed,
            "x",
            &data,
        )
        .await
        .expect("recorded");
    }
    app.db
        .execute_unprepared(
            "UPDATE orders.outbox SET recorded_at = now() - interval '2 days'
              WHERE seq = (SELECT min(seq) FROM orders.outbox)",
        )
        .await
        .expect("one old event");
    let discarded = activities::events::discard_stale(&orders, Service::Orders).await;
    assert_eq!(discarded.expect("discarded"), 1);
    assert_eq!(outbox_rows(&app).await, 1, "the recent one stays");
}

async fn outbox_rows(app: &TestApp) -> i64 {
    use sea_orm::{ConnectionTrait as _, Statement};
    app.db
        .query_one(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM orders.outbox",
        ))
        .await
        .expect("counting")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count")
}

/// Registers an endpoint for `types` as the admin; answers its id and secret.
pub(crate) async fn register(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let body = json!({"url": url, "event_types": types, "description": "the ERP"});
    let (status, endpoint) = app
        .post_json_as(Some(&app.admin_token), "/webhooks/endpoints", &body)
        .await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!(endpoint["enabled"], true);
    let secret = endpoint["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    (endpoint["id"].as_str().expect("an id").to_owned(), secret)
}

/// An app that disables an endpoint after `disable_after` of failures, a receiver that answers
/// `answers` and then `otherwise`, an endpoint there for `order.created`, and one order placed:
/// the app, the receiver, the endpoint's id and secret, and the order's id.
async fn an_order_for_an_endpoint(
    disable_after: Duration,
    answers: &[u16],
    otherwise: u16,
) -> (TestApp, WebhookReceiver, (String, String), String) {
    let app = TestApp::spawn_with(with_events(disable_after)).await;
    let receiver = WebhookReceiver::start(answers, otherwise).await;
    let endpoint = register(&app, &receiver.url, &["order.created"]).await;
    app.seed_product("MUG", 1250, 10).await;
    let order_id = app.place_order("MUG", 1, "pm_card_visa").await;
    (app, receiver, endpoint, order_id)
}

/// `POST /webhooks/deliveries/{id}/resend` as an admin.
async fn resend(app: &TestApp, delivery_id: impl std::fmt::Display) -> (u16, Value) {
    app.post_json_as(
        Some(&app.admin_token),
        &format!("/webhooks/deliveries/{delivery_id}/resend"),
        &json!({}),
    )
    .await
}

/// Verifies a request as a receiver's Standard Webhooks library does; answers the envelope.
fn verified(secret: &str, received: &testkit::events::Received) -> Value {
    let webhook = standardwebhooks::Webhook::new(secret).expect("a Standard Webhooks secret");
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let value = received
            .headers
            .get(name)
            .expect(name)
            .to_str()
            .expect("ASCII");
        headers.insert(name, value.parse().expect("a header value"));
    }
    webhook
        .verify(&received.body, &headers)
        .expect("the signature verifies");
    serde_json::from_slice(&received.body).expect("the envelope")
}

/// A receiver that answers 500 three times gets the event on the fourth attempt, each one
/// signed and verifiable, all with the event's id as `webhook-id`; the delivery lists its four
/// attempts, and a re-send delivers it once more.
#[tokio::test]
async fn a_webhook_is_retried_until_accepted_and_every_attempt_verifies() {
    let (app, receiver, (endpoint_id, secret), order_id) =
        an_order_for_an_endpoint(Duration::from_secs(3600), &[500, 500, 500], 200).await;

    let received = receiver.wait_for(4, Duration::from_secs(60)).await;
    let envelopes: Vec<Value> = received.iter().map(|r| verified(&secret, r)).collect();
    let first = &envelopes[0];
    assert_eq!(first["type"], "order.created");
    assert_eq!(first["data"]["order_id"], order_id.as_str());
    for (request, envelope) in received.iter().zip(&envelopes) {
        assert_eq!(envelope, first, "every attempt carries the same event");
        assert_eq!(
            request.headers["webhook-id"],
            first["id"].as_str().expect("an id")
        );
    }

    let deliveries = wait_for_delivery(&app, &endpoint_id, "delivered").await;
    let attempts: Vec<Value> = deliveries["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(attempts, [json!(500), json!(500), json!(500), json!(200)]);

    let delivery_id = deliveries["id"].as_str().expect("an id");
    let (status, body) = resend(&app, delivery_id).await;
    assert_eq!(status, 202, "{body}");
    let again = receiver.wait_for(5, Duration::from_secs(30)).await;
    assert_eq!(verified(&secret, &again[4]), *first);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        5,
        "order.created only, once per send"
    );
}

/// A 429 (or 408) is retried like a 5xx; any other 4xx is a refusal, not tried again.
#[tokio::test]
async fn too_many_requests_is_retried_and_gone_is_not() {
    let app = TestApp::spawn_with(with_events(Duration::from_secs(3600))).await;
    let busy = WebhookReceiver::start(&[429], 200).await;
    let gone = WebhookReceiver::start(&[], 410).await;
    let (busy_id, _) = register(&app, &busy.url, &["order.created"]).await;
    let (gone_id, _) = register(&app, &gone.url, &["order.created"]).await;
    app.seed_product("MUG", 1250, 10).await;
    app.place_order("MUG", 1, "pm_card_visa").await;

    let delivered = wait_for_delivery(&app, &busy_id, "delivered").await;
    let codes = |delivery: &Value| -> Vec<Value> {
        let attempts = delivery["attempts"].as_array().expect("attempts");
        attempts.iter().map(|a| a["status_code"].clone()).collect()
    };
    assert_eq!(codes(&delivered), [json!(429), json!(200)]);
    let refused = wait_for_delivery(&app, &gone_id, "failed").await;
    assert_eq!(codes(&refused), [json!(410)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gone.received().len(), 1, "a refusal is not retried");
}

/// Waits until the endpoint's first delivery has `status`; answers it.
pub(crate) async fn wait_for_delivery(app: &TestApp, endpoint_id: &str, status: &str) -> Value {
    let path = format!("/webhooks/endpoints/{endpoint_id}/deliveries");
    for _ in 0..300 {
        let (code, list) = app.get_json_as(Some(&app.admin_token), &path).await;
        assert_eq!(code, 200, "{list}");
        if let Some(delivery) = list["items"].as_array().and_then(|items| items.first())
            && delivery["status"] == status
        {
            return delivery.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no delivery became {status}");
}

/// An endpoint that fails every attempt for longer than allowed is disabled, its delivery
/// abandoned, and every admin is told by email.
#[tokio::test]
async fn an_endpoint_that_always_fails_is_disabled_and_the_admins_are_told() {
    let (app, receiver, (endpoint_id, _), _) =
        an_order_for_an_endpoint(Duration::from_secs(2), &[], 503).await;

    wait_for_delivery(&app, &endpoint_id, "abandoned").await;
    let (_, endpoint) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!("/webhooks/endpoints/{endpoint_id}"),
        )
        .await;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("failed"))
    );
    let attempts = receiver.received().len();
    assert!(attempts >= 2, "it was tried more than once ({attempts})");

    let tag = app.queues.prefix().trim_end_matches('-').to_owned();
    let admin = format!("admin+{tag}@example.com");
    let mut told = Vec::new();
    for _ in 0..100 {
        told = testkit::smtp::smtp_server().messages_to(&admin);
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(told.len(), 1, "the admin is told once");
    assert_eq!(told[0].subject, "A webhook endpoint was disabled");

    let (status, _) = app
        .send_json_as(
            reqwest::Method::PATCH,
            Some(&app.admin_token),
            &format!("/webhooks/endpoints/{endpoint_id}"),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, endpoint) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!("/webhooks/endpoints/{endpoint_id}"),
        )
        .await;
    assert_eq!(endpoint["enabled"], true);
    assert_eq!(endpoint["disabled_reason"], Value::Null);
}

/// URLs on private, loopback or link-local addresses are refused (unless allowed by name),
/// naming the field; nothing is registered; customers may not register at all.
#[tokio::test]
async fn private_destinations_are_refused_and_only_admins_register() {
    let app = TestApp::spawn_with(TestAppOptions {
        services: vec![],
        ..TestAppOptions::default()
    })
    .await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hooks",
        "http://[::1]/hooks",
        "http://localhost/hooks",
    ] {
        let body = json!({"url": url, "event_types": ["order.created"]});
        let (status, problem) = app
            .post_json_as(Some(&app.admin_token), "/webhooks/endpoints", &body)
            .await;
        assert_eq!(status, 409, "{url}: {problem}");
        assert_eq!(problem["code"], "destination_refused");
        assert_eq!(problem["errors"][0]["field"], "url");
    }
    let body = json!({"url": "https://example.com/hooks", "event_types": ["order.shipped"]});
    let (status, problem) = app
        .post_json_as(Some(&app.admin_token), "/webhooks/endpoints", &body)
        .await;
    assert_eq!(status, 422, "an unknown event type: {problem}");
    let body = json!({"url": "https://example.com/hooks", "event_types": ["order.created"]});
    let (status, _) = app
        .post_json_as(Some(&app.token), "/webhooks/endpoints", &body)
        .await;
    assert_eq!(status, 403);
    let (_, list) = app
        .get_json_as(Some(&app.admin_token), "/webhooks/endpoints")
        .await;
    assert_eq!(list["items"], json!([]));
}

/// An endpoint receives what happens after it is registered, never older events (which a
/// newly created consumer of the stream would otherwise hand it).
#[tokio::test]
async fn an_endpoint_receives_only_events_after_its_registration() {
    use activities::notifications::webhooks::record_deliveries;
    let app = TestApp::spawn_with(TestAppOptions {
        services: vec![],
        webhooks: with_events(Duration::from_secs(3600)).webhooks,
        ..TestAppOptions::default()
    })
    .await;
    register(&app, "http://127.0.0.1:9/hooks", &["order.created"]).await;
    let notifications = app
        .test_db
        .connect_as(platform::db::service_role(Service::Notifications))
        .await;
    let event = |time: &str| {
        json!({"id": uuid::Uuid::now_v7(), "type": "order.created", "version": 1, "time": time,
               "aggregate": "order", "aggregate_id": "x", "data": {}})
    };
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let older = record_deliveries(&notifications, &event(&an_hour_ago)).await;
    assert_eq!(older.expect("recorded").len(), 0);
    let now = chrono::Utc::now().to_rfc3339();
    let newer = record_deliveries(&notifications, &event(&now)).await;
    assert_eq!(newer.expect("recorded").len(), 1);
}

/// A re-send in the moment after a delivery's outcome is recorded, while the run that recorded
/// it is still closing, waits for that run to close instead of answering that the delivery is
/// being attempted. The closing run is stood in for by one no worker polls, ended after 1 s.
#[tokio::test]
async fn a_resend_waits_for_the_run_that_recorded_the_outcome_to_close() {
    use temporalio_client::{WorkflowStartOptions, WorkflowTerminateOptions};
    let (app, receiver, (endpoint_id, _), _) =
        an_order_for_an_endpoint(Duration::from_secs(3600), &[], 200).await;
    let delivery = wait_for_delivery(&app, &endpoint_id, "delivered").await;
    let delivery_id: uuid::Uuid = delivery["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a uuid");
    let workflow_id = contracts::webhooks::workflow_id(delivery_id);
    let first = app
        .temporal
        .get_workflow_handle::<workflows::DeliverWebhook>(workflow_id.clone());
    first
        .get_result(Default::default())
        .await
        .expect("the first run ends");

    let input = contracts::webhooks::DeliverWebhookInput {
        delivery_id,
        retry_schedule_secs: vec![1],
    };
    let unpolled = WorkflowStartOptions::new(format!("nobody-{delivery_id}"), workflow_id).build();
    let closing = app
        .temporal
        .start_workflow(workflows::DeliverWebhook::run, input, unpolled)
        .await
        .expect("a run that has not closed");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let reason = "test: the run closes".to_owned();
        let terminate = WorkflowTerminateOptions::builder().reason(reason).build();
        closing.terminate(terminate).await.expect("terminated");
    });

    let asked = std::time::Instant::now();
    let (status, body) = resend(&app, delivery_id).await;
    assert_eq!(status, 202, "{body}");
    assert!(
        asked.elapsed() >= Duration::from_millis(900),
        "it waited for the run to close"
    );
    receiver.wait_for(2, Duration::from_secs(30)).await;
}
