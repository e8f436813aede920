//! Support conversations about an order (the support service), over real HTTP and WebSocket
//! connections: live both ways, kept as a paged history, audited, emailed to a customer who
//! is not connected, and refusing bad input without changing anything.

use crate::live::Live;
use serde_json::{Value, json};
use testkit::TestApp;

/// An app with a placed, confirmed order; its id.
async fn app_with_order() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "confirmed").await;
    (app, id)
}

async fn write(app: &TestApp, token: &str, order: &str, body: Value) -> (u16, Value) {
    app.post_json_as(Some(token), &format!("/orders/{order}/messages"), &body)
        .await
}

/// The next support event the socket gets (skipping the order's other news).
async fn next_message(live: &mut Live) -> Value {
    loop {
        let message = live.next().await.expect("a support event");
        assert_eq!(message["type"], "event", "{message}");
        if message["entry"]["kind"] == "support" {
            return message["entry"]["body"].clone();
        }
    }
}

/// The support answers emailed to the app's customer, once there is one (a minute at most).
async fn emailed_answers(app: &TestApp) -> Vec<testkit::smtp::ReceivedMail> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answers: Vec<_> = app
            .mailbox()
            .into_iter()
            .filter(|mail| mail.subject.contains("we answered"))
            .collect();
        if !answers.is_empty() || std::time::Instant::now() > deadline {
            return answers;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The customer writes and the operator's inbox connection hears it live; the operator
/// answers and the customer's connection hears that live, with no email while connected.
/// Once the customer has left, an answer is emailed. The history keeps every message in
/// pages, and the audit log has each.
#[tokio::test]
async fn a_conversation_goes_back_and_forth_live_and_leaves_its_history() {
    let (app, id) = app_with_order().await;
    let mut operator = Live::ready(&app.address, &app.operator_token).await;
    operator
        .subscribe(json!({"topic": "support_inbox"}), 0)
        .await;
    let mut customer = Live::with_header(&app.address, &app.token).await;
    customer.subscribe(json!({"order_id": id}), 0).await;

    let (status, sent) = write(&app, &app.token, &id, json!({"body": "Where is my mug?"})).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        (&sent["author"], &sent["seq"]),
        (&json!("customer"), &json!(1))
    );
    let heard = next_message(&mut operator).await;
    assert_eq!(
        (&heard["event"], &heard["message"]["body"]),
        (&json!("message"), &json!("Where is my mug?")),
        "the operator hears it live"
    );
    let (status, inbox) = app
        .get_json_as(Some(&app.operator_token), "/support/conversations")
        .await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(
        (
            &inbox["items"][0]["order_id"],
            &inbox["items"][0]["waiting_on"]
        ),
        (&json!(id), &json!("operator")),
        "{inbox}"
    );

    let answer = json!({"body": "On its way: it ships today."});
    let (status, answered) = write(&app, &app.operator_token, &id, answer).await;
    assert_eq!(status, 201, "{answered}");
    assert_eq!(answered["author"], "operator");
    let heard = loop {
        let body = next_message(&mut customer).await;
        if body["message"]["author"] == "operator" {
            break body;
        }
    };
    assert_eq!(
        heard["message"]["body"], "On its way: it ships today.",
        "the customer hears it live"
    );

    customer.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = json!({"body": "It was handed to the carrier."});
    let (status, _) = write(&app, &app.operator_token, &id, later).await;
    assert_eq!(status, 201);
    let answers = emailed_answers(&app).await;
    assert_eq!(
        answers.len(),
        1,
        "only the answer sent while away is emailed: {answers:?}"
    );
    assert!(
        answers[0].body.contains("It was handed to the carrier."),
        "{}",
        answers[0].body
    );

    let (status, page) = app
        .get_json(&format!("/orders/{id}/messages?limit=2"))
        .await;
    assert_eq!(status, 200, "{page}");
    let bodies = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|message| message["body"].as_str().expect("a body").to_owned())
            .collect()
    };
    assert_eq!(
        bodies(&page),
        [
            "On its way: it ships today.",
            "It was handed to the carrier."
        ]
    );
    let before = page["before"].as_i64().expect("an older page");
    let (_, older) = app
        .get_json(&format!("/orders/{id}/messages?limit=2&before={before}"))
        .await;
    assert_eq!(bodies(&older), ["Where is my mug?"]);
    assert!(older["before"].is_null(), "the oldest page: {older}");

    let (_, audit) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!("/audit/logs?action=support.message_sent&order_id={id}"),
        )
        .await;
    assert_eq!(audit["total"], 3, "every message is audited: {audit}");
}

/// Only staff close a conversation; a closed one leaves the open inbox, and the customer's
/// next message opens it again. A message sent twice with its id is stored once.
#[tokio::test]
async fn operators_close_conversations_and_a_resent_message_is_stored_once() {
    let (app, id) = app_with_order().await;
    let message_id = uuid::Uuid::now_v7();
    let first = json!({"id": message_id, "body": "Can I change the address?"});
    let (status, sent) = write(&app, &app.token, &id, first.clone()).await;
    assert_eq!(status, 201, "{sent}");
    let (status, again) = write(&app, &app.token, &id, first).await;
    assert_eq!(
        (status, &again),
        (200, &sent),
        "sent again: the same message"
    );
    let reused = json!({"id": message_id, "body": "Something else"});
    let (status, refused) = write(&app, &app.token, &id, reused).await;
    assert_eq!(
        (status, &refused["code"]),
        (409, &json!("message_id_taken")),
        "{refused}"
    );

    let close = format!("/orders/{id}/conversation/close");
    let (status, _) = app.post_json_as(Some(&app.token), &close, &json!({})).await;
    assert_eq!(status, 403, "customers do not close");
    let (status, closed) = app
        .post_json_as(Some(&app.operator_token), &close, &json!({}))
        .await;
    assert_eq!(
        (status, &closed["status"]),
        (200, &json!("closed")),
        "{closed}"
    );
    let (_, open) = app
        .get_json_as(Some(&app.operator_token), "/support/conversations")
        .await;
    assert_eq!(open["total"], 0, "{open}");

    let (status, _) = write(&app, &app.token, &id, json!({"body": "Still there?"})).await;
    assert_eq!(status, 201);
    let (_, conversation) = app.get_json(&format!("/orders/{id}/conversation")).await;
    assert_eq!(
        (
            &conversation["status"],
            &conversation["messages"],
            &conversation["waiting_on"]
        ),
        (&json!("open"), &json!(2), &json!("operator")),
        "{conversation}"
    );
}

/// An empty or blank message, one too long, an unknown field, someone else's order: each is
/// refused with a problem naming what is wrong, and nothing is stored.
#[tokio::test]
async fn bad_messages_are_refused_and_change_nothing() {
    let (app, id) = app_with_order().await;
    for (body, field) in [
        (json!({"body": ""}), "/body"),
        (json!({"body": " \n\t "}), "/body"),
        (json!({"body": "x".repeat(4001)}), "/body"),
        (json!({"body": "hi", "mood": "cross"}), ""),
        (json!({"id": "not-a-uuid", "body": "hi"}), ""),
        (json!({}), ""),
    ] {
        let (status, problem) = write(&app, &app.token, &id, body.clone()).await;
        assert!(matches!(status, 400 | 422), "{body}: {status} {problem}");
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["pointer"], field, "{body}: {problem}");
        }
    }
    let (_, stranger) = app.another_customer("nosy").await;
    let (status, problem) = write(&app, &stranger, &id, json!({"body": "hello"})).await;
    assert_eq!((status, &problem["code"]), (404, &json!("not_found")));
    let (status, _) = app
        .get_json_as(Some(&stranger), &format!("/orders/{id}/messages"))
        .await;
    assert_eq!(status, 404, "nor read it");
    let (status, _) = app
        .get_json_as(Some(&stranger), "/support/conversations")
        .await;
    assert_eq!(status, 403);

    let (_, page) = app.get_json(&format!("/orders/{id}/messages")).await;
    assert_eq!(page["items"], json!([]), "nothing was stored: {page}");
    let (status, _) = app.get_json(&format!("/orders/{id}/conversation")).await;
    assert_eq!(status, 404, "no conversation was opened");
}
