//! Accounts and access: registration, login (with its limits), tokens, roles, and orders that
//! belong to their customer.

use serde_json::{Value, json};
use testkit::{TestApp, TestAppOptions};

async fn register(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post_json_as(
        None,
        "/auth/register",
        &json!({"email": email, "name": "Grace", "password": password}),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post_json_as(
        None,
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

#[tokio::test]
async fn a_customer_registers_logs_in_and_reads_their_own_account() {
    let app = TestApp::spawn().await;
    let email = format!(
        "grace+{}@example.com",
        app.queues.prefix().trim_end_matches('-')
    );

    let (status, account) = register(&app, &email.to_uppercase(), "a long enough password").await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(
        account["email"],
        json!(email),
        "emails are stored lower-case"
    );
    assert_eq!(account["role"], "customer");
    assert!(account.get("password_hash").is_none());
    let (status, problem) = register(&app, &email, "another long password").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("email_taken"))
    );
    let (status, problem) = register(&app, "x@example.com", "short").await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "password");
    // Any 1 to 200 characters are a name, as the document says, even white space alone (the
    // fuzzer's "\r" was a 500 when the name was trimmed to nothing).
    let (status, spaced) = app
        .post_json(
            "/auth/register",
            &json!({"email": format!("cr+{email}"), "name": "\r", "password": "a long enough password"}),
        )
        .await;
    assert_eq!((status, &spaced["name"]), (201, &json!("\r")), "{spaced}");

    let (status, token) = login(&app, &email, "a long enough password").await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().expect("a token");
    let id = account["id"].as_str().expect("an id");
    let (status, me) = app
        .get_json_as(Some(access), &format!("/customers/{id}"))
        .await;
    assert_eq!((status, &me["email"]), (200, &json!(email)));

    let (status, problem) = login(&app, &email, "the wrong password").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, problem) = login(&app, "nobody@example.com", "whatever it is").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_credentials")),
        "the same answer"
    );
}

#[tokio::test]
async fn logins_are_rate_limited_per_account() {
    let app = TestApp::spawn_with(TestAppOptions {
        logins_per_account_per_minute: 3,
        ..TestAppOptions::default()
    })
    .await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(login(&app, &app.customer_email, "a wrong password").await.0);
    }
    let response = app
        .http
        .post(format!("{}/auth/login", app.address))
        .json(&json!({"email": app.customer_email, "password": app.password}))
        .send()
        .await
        .expect("POST");

    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(response.status(), 429, "even the right password waits");
    assert!(response.headers().contains_key("retry-after"));
    let (status, _) = login(
        &app,
        &format!("someone-else+{}@example.com", app.queues.prefix()),
        "x",
    )
    .await;
    assert_eq!(status, 401, "another account is not limited");
}

#[tokio::test]
async fn logins_are_rate_limited_per_client_address_across_accounts() {
    let app = TestApp::spawn_with(TestAppOptions {
        logins_per_address_per_minute: 4,
        ..TestAppOptions::default()
    })
    .await;

    let mut statuses = Vec::new();
    for n in 0..4 {
        let email = format!("guess-{n}+{}@example.com", app.queues.prefix());
        statuses.push(login(&app, &email, "a guess").await.0);
    }
    let (status, problem) = login(&app, &app.customer_email, &app.password).await;

    assert_eq!(
        statuses,
        [401, 401, 401, 401],
        "each account on its own is under its limit"
    );
    assert_eq!(
        status, 429,
        "the address is over its limit, whatever the account"
    );
    assert_eq!(problem["code"], "too_many_requests");
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_refused_with_401() {
    let app = TestApp::spawn_with(TestAppOptions {
        token_ttl: std::time::Duration::from_secs(1),
        ..TestAppOptions::default()
    })
    .await;

    let (status, problem) = app.get_json_as(None, "/orders").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("missing_token"))
    );
    let (status, problem) = app.get_json_as(Some("not.a.token"), "/orders").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _) = app.get_json("/orders").await;
    assert_eq!(status, 200, "a fresh token works");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, problem) = app.get_json("/orders").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("token_expired"))
    );
}

#[tokio::test]
async fn another_customers_order_is_invisible_and_untouchable() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    let (bob, bob_token) = app.another_customer("bob").await;

    let (status, _) = app
        .get_json_as(Some(&bob_token), &format!("/orders/{id}"))
        .await;
    assert_eq!(status, 404, "reading someone else's order");
    let (status, _) = app
        .post_json_as(
            Some(&bob_token),
            &format!("/orders/{id}/cancel"),
            &json!({"reason": "mine now"}),
        )
        .await;
    assert_eq!(status, 404, "cancelling someone else's order");
    let (status, _) = app
        .get_json_as(Some(&bob_token), &format!("/shipping/track/{id}"))
        .await;
    assert_eq!(status, 404, "tracking someone else's parcel");
    let (status, problem) = app
        .post_json_as(
            Some(&bob_token),
            &format!("/orders/{id}/refunds"),
            &json!({"reason": "please"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("forbidden")),
        "refunds are for admins"
    );
    let (_, list) = app.get_json_as(Some(&bob_token), "/orders").await;
    assert_eq!(list["total"], 0, "bob's list holds only bob's orders");
    let (status, _) = app
        .get_json_as(Some(&bob_token), &format!("/customers/{}", app.customer.id))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get_json_as(
            Some(&bob_token),
            &format!("/customers/{}/orders", app.customer.id),
        )
        .await;
    assert_eq!(status, 404);

    let (status, order) = app
        .get_json_as(Some(&app.operator_token), &format!("/orders/{id}"))
        .await;
    assert_eq!(
        (status, &order["id"]),
        (200, &json!(id)),
        "staff see every order"
    );
    let (status, mine) = app
        .get_json(&format!("/customers/{}/orders?per_page=1", app.customer.id))
        .await;
    assert_eq!((status, mine["total"].as_u64()), (200, Some(1)));
    let (status, _) = app
        .get_json_as(Some(&app.admin_token), &format!("/customers/{}", bob.id))
        .await;
    assert_eq!(status, 200, "admins read any account");
}

#[tokio::test]
async fn admin_only_endpoints_refuse_customers_and_operators() {
    let app = TestApp::spawn().await;
    let product =
        json!({"sku": "NEW-1", "name": "New", "price": {"amount_minor": 100, "currency": "EUR"}});

    for token in [&app.token, &app.operator_token] {
        let (status, _) = app.post_json_as(Some(token), "/products", &product).await;
        assert_eq!(status, 403);
        let (status, _) = app
            .post_json_as(Some(token), "/products", &json!({"sku": ""}))
            .await;
        assert_eq!(
            status, 403,
            "the role is checked before the body's rules are told"
        );
        let (status, _) = app
            .post_json_as(
                Some(token),
                "/inventory/adjustments",
                &json!({"sku": "NEW-1", "delta": 5, "reason": "count"}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = app
            .post_json_as(
                Some(token),
                "/notifications/send",
                &json!({"email": "a@example.com", "subject": "s", "body": "b"}),
            )
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = app
        .post_json_as(
            Some(&app.token),
            &format!("/orders/{}/review", contracts::OrderId::new()),
            &json!({"decision": "approve", "reviewer": "me"}),
        )
        .await;
    assert_eq!(status, 403, "customers do not review");
    let (status, _) = app.post_json_as(None, "/products", &product).await;
    assert_eq!(status, 401);

    let (status, account) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.admin_token),
            &format!("/customers/{}/role", app.customer.id),
            &json!({"role": "operator"}),
        )
        .await;
    assert_eq!((status, &account["role"]), (200, &json!("operator")));
    let (status, problem) = app.get_json("/cart").await;
    assert_eq!(
        (status, &problem["code"]),
        (401, &json!("token_revoked")),
        "the token with the old role is revoked"
    );
    let (status, login) = app
        .post_json_as(
            None,
            "/auth/login",
            &json!({"email": app.customer_email, "password": app.password}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let token = login["access_token"].as_str().expect("a token");
    let (status, _) = app.get_json_as(Some(token), "/orders?status=pending").await;
    assert_eq!(status, 200, "the new token works, as an operator");
}
