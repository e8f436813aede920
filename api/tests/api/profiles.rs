//! Accounts beyond logging in, over HTTP against real parts: a forgotten password reset by a
//! link read from the real SMTP server's mailbox (and the old tokens refused after it), a
//! password and an email changed, a profile with saved addresses, one of which a checkout
//! uses.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{TestApp, TestAppOptions};

/// The token of the link in the `seen.len() + 1`th message to `address` whose subject has
/// `subject`: the one token not `seen` before (the mailbox does not keep their order).
async fn link_token(address: &str, subject: &str, seen: &mut Vec<String>) -> String {
    let count = seen.len() + 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let tokens: Vec<String> = testkit::smtp::smtp_server()
            .messages_to(address)
            .into_iter()
            .filter(|mail| mail.subject.contains(subject))
            .map(|mail| {
                let at = mail.body.find("token=").expect("a link with a token") + "token=".len();
                mail.body[at..at + 64].to_owned()
            })
            .collect();
        if tokens.len() >= count {
            let new = tokens
                .into_iter()
                .find(|t| !seen.contains(t))
                .expect("a new link");
            seen.push(new.clone());
            return new;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no link for {address}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status of `GET /cart` with `token` at the API `address`.
async fn status_there(address: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{address}/cart"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .status()
        .as_u16()
}

async fn confirm(app: &TestApp, email: &str, token: &str, password: &str) -> (u16, Value) {
    let body = json!({"email": email, "token": token, "password": password});
    app.post_json_as(None, "/auth/password-reset/confirm", &body)
        .await
}

/// The whole recovery: 202 for any email (no mail for an unknown one); a newer link
/// replaces the older; a link tried for another account is refused and spent; the right link
/// sets the password once, the old access token is then refused and the new one works; every
/// step is in the audit log.
#[tokio::test]
async fn a_forgotten_password_is_reset_by_email_and_old_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let second_api = app.another_api().await;
    let email = app.customer_email.clone();
    let (other, _) = app.another_customer("bob").await;
    let ask = |email: String| {
        let app = &app;
        async move {
            app.post_json_as(None, "/auth/password-reset", &json!({"email": email}))
                .await
        }
    };
    let (status, body) = ask("nobody-at-all@example.com".to_owned()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(ask(email.clone()).await.0, 202);
    let mut seen = Vec::new();
    let first = link_token(&email, "Set a new password", &mut seen).await;
    assert_eq!(ask(email.clone()).await.0, 202);
    let second = link_token(&email, "Set a new password", &mut seen).await;
    assert_ne!(first, second);
    assert!(
        testkit::smtp::smtp_server()
            .messages_to("nobody-at-all@example.com")
            .is_empty()
    );

    let (status, problem) = confirm(&app, &email, &first, "a brand new password").await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (409, &json!("token")),
        "a replaced link: {problem}"
    );
    let (status, _) = confirm(&app, &other.email, &second, "a brand new password").await;
    assert_eq!(status, 409, "someone else's link");
    let (status, _) = confirm(&app, &email, &second, "a brand new password").await;
    assert_eq!(status, 409, "spent by the try above");

    assert_eq!(ask(email.clone()).await.0, 202);
    let third = link_token(&email, "Set a new password", &mut seen).await;
    let (status, _) = app.get_json("/cart").await;
    assert_eq!(status, 200, "the old token works until the reset");
    assert_eq!(
        status_there(&second_api, &app.token).await,
        200,
        "there too"
    );
    let (status, reset) = confirm(&app, &email, &third, "a brand new password").await;
    assert_eq!(status, 200, "{reset}");
    let (status, problem) = app.get_json("/cart").await;
    assert_eq!(
        (status, &problem["code"]),
        (401, &json!("token_revoked")),
        "{problem}"
    );
    // Another instance hears of it from the database (its own copy of the versions).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status_there(&second_api, &app.token).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second instance still takes the old token"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = reset["access_token"].as_str().expect("a token");
    assert_eq!(app.get_json_as(Some(fresh), "/cart").await.0, 200);
    let (status, _) = app
        .post_json_as(
            None,
            "/auth/login",
            &json!({"email": email, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 200, "the new password logs in");
    let (status, _) = confirm(&app, &email, &third, "yet another password").await;
    assert_eq!(status, 409, "a used link");

    let (_, audit) = app
        .get_json_as(Some(&app.admin_token), "/audit/logs?per_page=100")
        .await;
    let actions: Vec<_> = audit["items"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("auth.password_reset"))
        .collect();
    for action in [
        "auth.password_reset_requested",
        "auth.password_reset_refused",
        "auth.password_reset",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// A link works only for as long as the setting says.
#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let app = TestApp::spawn_with(TestAppOptions {
        password_reset_valid_for: Duration::from_secs(1),
        ..TestAppOptions::default()
    })
    .await;
    let email = app.customer_email.clone();
    app.post_json_as(None, "/auth/password-reset", &json!({"email": email}))
        .await;
    let token = link_token(&email, "Set a new password", &mut Vec::new()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, problem) = confirm(&app, &email, &token, "a brand new password").await;
    assert_eq!(
        (status, &problem["code"]),
        (409, &json!("invalid_link")),
        "{problem}"
    );
    assert_eq!(app.get_json("/cart").await.0, 200, "nothing changed");
}

/// Reset requests are limited per email, so nobody floods an inbox.
#[tokio::test]
async fn reset_requests_are_rate_limited() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "flood@example.com"});
    let mut statuses = Vec::new();
    for _ in 0..=api::auth::RESETS_PER_ACCOUNT_PER_HOUR {
        statuses.push(
            app.post_json_as(None, "/auth/password-reset", &body)
                .await
                .0,
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 202));
}

/// Changing the password needs the current one and revokes the old tokens; changing the
/// email needs the current password and a link sent to the new address.
#[tokio::test]
async fn a_password_and_an_email_change_with_the_current_password() {
    let app = TestApp::spawn().await;
    let me = format!("/customers/{}", app.customer.id);
    let (status, problem) = app
        .post_json(
            &format!("{me}/password"),
            &json!({"current_password": "wrong one", "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (409, &json!("current_password"))
    );
    let (status, changed) = app
        .post_json(
            &format!("{me}/password"),
            &json!({"current_password": app.password, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        app.get_json("/cart").await.0,
        401,
        "the old token is revoked"
    );
    let token = changed["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let new_email = format!("renamed-{}@example.com", uuid::Uuid::new_v4().simple());
    let ask = json!({"new_email": new_email, "current_password": "a brand new password"});
    let (status, body) = app
        .post_json_as(Some(&token), &format!("{me}/email"), &ask)
        .await;
    assert_eq!(status, 202, "{body}");
    let link = link_token(&new_email, "Confirm your new email", &mut Vec::new()).await;
    let (status, confirmed) = app
        .post_json_as(None, "/auth/email-change/confirm", &json!({"token": link}))
        .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["customer"]["email"], json!(new_email));
    let (status, _) = app
        .post_json_as(
            None,
            "/auth/login",
            &json!({"email": new_email, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 200, "the new address logs in");
    let (status, _) = app
        .post_json_as(None, "/auth/email-change/confirm", &json!({"token": link}))
        .await;
    assert_eq!(status, 409, "a used link");
}

/// A profile: name, phone (E.164) and up to ten saved addresses, each kept by its id; a
/// checkout ships to a saved address; another customer's profile is 404.
#[tokio::test]
async fn a_profile_keeps_addresses_that_a_checkout_can_use() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let me = format!("/customers/{}", app.customer.id);
    let home = json!({"label": "Home", "address": TestApp::address()});
    let patch = |body: Value| {
        let (app, me) = (&app, me.clone());
        async move {
            app.send_json_as(reqwest::Method::PATCH, Some(&app.token), &me, &body)
                .await
        }
    };
    let (status, profile) =
        patch(json!({"name": "Ada K.", "phone": "+442071838750", "addresses": [home]})).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(
        (&profile["name"], &profile["phone"]),
        (&json!("Ada K."), &json!("+442071838750"))
    );
    let home_id = profile["addresses"][0]["id"].clone();

    let (status, problem) = patch(json!({"phone": "020 7183 8750"})).await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("phone")),
        "{problem}"
    );
    let eleven: Vec<_> = (0..11)
        .map(|_| json!({"address": TestApp::address()}))
        .collect();
    let (status, _) = patch(json!({"addresses": eleven})).await;
    assert_eq!(status, 422, "at most ten");
    let stranger = json!([{"id": uuid::Uuid::new_v4(), "address": TestApp::address()}]);
    let (status, problem) = patch(json!({"addresses": stranger})).await;
    assert_eq!(
        (status, &problem["code"]),
        (409, &json!("unknown_address")),
        "{problem}"
    );
    let (_, unchanged) = app.get_json(&me).await;
    assert_eq!(
        unchanged["addresses"][0]["id"], home_id,
        "a refused change changes nothing"
    );
    let (status, profile) = patch(json!({"phone": null})).await;
    assert_eq!((status, &profile["phone"]), (200, &Value::Null));

    let (_, stranger_token) = app.another_customer("eve").await;
    let (status, _) = app.get_json_as(Some(&stranger_token), &me).await;
    assert_eq!(status, 404, "another customer's profile");
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PATCH,
            Some(&stranger_token),
            &me,
            &json!({"name": "Eve"}),
        )
        .await;
    assert_eq!(status, 404);

    app.post_json("/cart/items", &json!({"sku": "MUG", "quantity": 1}))
        .await;
    let (status, problem) = app
        .post_json(
            "/cart/checkout",
            &json!({"address_id": uuid::Uuid::new_v4(), "payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (409, &json!("address_id")),
        "{problem}"
    );
    let (status, checked_out) = app
        .post_json(
            "/cart/checkout",
            &json!({"address_id": home_id, "payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(status, 202, "{checked_out}");
    let order = app
        .wait_for_status(
            checked_out["order_id"].as_str().expect("an order"),
            "confirmed",
        )
        .await;
    assert_eq!(
        order["shipping_address"]["city"],
        TestApp::address()["city"],
        "{order}"
    );
}
