//! Operating the platform: readiness, metrics, the audit log (and that nobody can rewrite it),
//! sales reports, analytics, and the daily report that a Temporal Schedule emails to admins.

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use temporalio_client::schedules::ScheduleOverlapPolicy;
use testkit::TestApp;

/// The value of a Prometheus sample whose line starts with `series` (name and labels as
/// rendered, such as `emporium_orders_finished_total{status="completed"}`).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn metrics(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    response.text().await.expect("the metrics")
}

#[tokio::test]
async fn readiness_says_postgres_and_temporal_answer_and_metrics_count_requests_and_orders() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;

    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(
        ready,
        json!({"status": "ready", "postgres": {"status": "ok"}, "temporal": {"status": "ok"}})
    );
    let before = metrics(&app).await;

    let completed = app.place_order("MUG", 1, "pm_card_visa").await;
    let declined = app.place_order("MUG", 1, "pm_card_chargeDeclined").await;
    let short = app.place_order("MUG", 50, "pm_card_visa").await;
    for id in [&completed, &declined, &short] {
        app.wait_for_final_order(id).await;
    }
    let (status, _) = app.get_json("/orders/not-a-uuid").await;
    assert_eq!(status, 400);

    // The test binary runs every test's workers in one process, so counters only grow: each
    // must have grown by at least what this test did.
    let after = metrics(&app).await;
    let grew = |series: &str, by: f64| {
        let was = sample(&before, series).unwrap_or(0.0);
        let now = sample(&after, series).unwrap_or(0.0);
        assert!(now - was >= by, "{series} went from {was} to {now}");
    };
    grew(r#"emporium_orders_placed_total"#, 3.0);
    grew(r#"emporium_orders_finished_total{status="completed"}"#, 1.0);
    grew(
        r#"emporium_orders_finished_total{status="payment_failed"}"#,
        1.0,
    );
    grew(r#"emporium_orders_finished_total{status="rejected"}"#, 1.0);
    grew(r#"emporium_payments_total{outcome="declined"}"#, 1.0);
    grew(r#"emporium_payments_total{outcome="captured"}"#, 1.0);
    grew(r#"emporium_stock_outs_total{sku="MUG"}"#, 1.0);
    grew(
        r#"emporium_notifications_total{channel="email",outcome="sent"}"#,
        2.0,
    );
    grew(
        r#"http_requests_total{method="POST",route="/orders",status="202"}"#,
        3.0,
    );
    grew(
        r#"http_requests_total{method="GET",route="/orders/{id}",status="400"}"#,
        1.0,
    );
    assert!(
        after.contains(
            r#"http_request_duration_seconds_bucket{method="POST",route="/orders",le="0.025"}"#
        ),
        "a latency histogram per route"
    );
}

/// The API alone, no workers: for what needs no workflow.
async fn api_only() -> TestApp {
    TestApp::spawn_with(testkit::TestAppOptions {
        services: Vec::new(),
        ..testkit::TestAppOptions::default()
    })
    .await
}

#[tokio::test]
async fn readiness_fails_when_postgres_goes_away_and_says_which() {
    let app = api_only().await;
    app.test_db.drop_now().await;

    let (status, problem) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(problem["code"], "not_ready");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.starts_with("postgres: unavailable"), "{detail}");
    assert!(
        !detail.contains("temporal"),
        "Temporal still answers: {detail}"
    );
    assert!(
        !detail.contains("postgres://"),
        "no connection string: {detail}"
    );
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "alive all the same: do not restart it");
}

/// The audit entries an admin sees for a filter.
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json_as(Some(&app.admin_token), &format!("/audit/logs?{query}"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn every_critical_action_is_in_the_audit_log_with_its_actor_and_before_and_after() {
    let app = TestApp::spawn().await;
    let admin = format!(
        "admin+{}@example.com",
        app.queues.prefix().trim_end_matches('-')
    );

    // An admin creates a product, changes its price and stock; a customer orders it.
    let (status, product) = app
        .send_json_as(
            reqwest::Method::POST,
            Some(&app.admin_token),
            "/products",
            &json!({"sku": "LAMP", "name": "Lamp", "description": "A lamp",
                    "price": {"amount_minor": 3000, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_str().expect("an id");
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.admin_token),
            &format!("/products/{id}"),
            &json!({"sku": "LAMP", "name": "Lamp", "description": "A lamp",
                    "price": {"amount_minor": 3500, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send_json_as(
            reqwest::Method::POST,
            Some(&app.admin_token),
            "/inventory/adjustments",
            &json!({"sku": "LAMP", "delta": 5, "reason": "delivery from the supplier"}),
        )
        .await;
    assert_eq!(status, 200);
    let order = app.place_order("LAMP", 1, "pm_card_visa").await;
    app.wait_for_final_order(&order).await;

    // Logins, one refused; a role change.
    let (status, _) = app
        .post_json(
            "/auth/login",
            &json!({"email": app.customer_email, "password": "not the password at all"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post_json(
            "/auth/login",
            &json!({"email": app.customer_email, "password": app.password}),
        )
        .await;
    assert_eq!(status, 200);
    let (other, _) = app.another_customer("grace").await;
    let (status, _) = app
        .send_json_as(
            reqwest::Method::PUT,
            Some(&app.admin_token),
            &format!("/customers/{}/role", other.id),
            &json!({"role": "operator"}),
        )
        .await;
    assert_eq!(status, 200);

    let price = audit(&app, "action=product.price_changed").await;
    assert_eq!(price.len(), 1);
    assert_eq!(price[0]["actor"], admin);
    assert_eq!(price[0]["subject"], "product:LAMP");
    assert_eq!(price[0]["before"]["price"]["amount_minor"], 3000);
    assert_eq!(price[0]["after"]["price"]["amount_minor"], 3500);

    let stock = audit(&app, "action=stock.adjusted&subject=stock:LAMP").await;
    assert_eq!(stock.len(), 1);
    assert_eq!(stock[0]["before"]["on_hand"], 0);
    assert_eq!(stock[0]["after"]["on_hand"], 5);
    assert_eq!(stock[0]["after"]["reason"], "delivery from the supplier");

    // The order: placed by the customer, then every status change by its workflow, in order.
    let trail = audit(&app, &format!("order_id={order}&per_page=200")).await;
    let actions: Vec<&str> = trail
        .iter()
        .rev()
        .map(|entry| entry["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions[0], "order.placed");
    assert_eq!(trail.last().expect("entries")["actor"], app.customer_email);
    assert!(actions.contains(&"payment.authorized") && actions.contains(&"payment.captured"));
    let statuses: Vec<(Value, Value)> = trail
        .iter()
        .rev()
        .filter(|entry| entry["action"] == "order.status_changed")
        .map(|entry| {
            (
                entry["before"]["status"].clone(),
                entry["after"]["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        statuses.first(),
        Some(&(json!("pending"), json!("reserved")))
    );
    assert_eq!(
        statuses.last(),
        Some(&(json!("delivered"), json!("completed")))
    );
    assert!(
        trail
            .iter()
            .filter(|entry| entry["action"] == "order.status_changed")
            .all(|entry| entry["actor"] == format!("workflow order-{order}"))
    );
    let captured = trail
        .iter()
        .find(|entry| entry["action"] == "payment.captured")
        .expect("the capture");
    assert_eq!(captured["after"]["captured"]["amount_minor"], 3500);

    let email = app.customer_email.replace('+', "%2B").replace('@', "%40");
    let logins = audit(&app, &format!("action=auth.*&subject=account:{email}")).await;
    let kinds: Vec<&str> = logins
        .iter()
        .map(|entry| entry["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["auth.login_succeeded", "auth.login_failed"]);
    assert!(
        !serde_json::to_string(&logins)
            .expect("json")
            .contains("not the password"),
        "passwords never reach the log"
    );

    let roles = audit(&app, "action=account.role_changed").await;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["actor"], admin);
    assert_eq!(roles[0]["before"]["role"], "customer");
    assert_eq!(roles[0]["after"]["role"], "operator");

    // Only admins read it; bad filters are refused by name.
    let (status, _) = app.get_json("/audit/logs").await;
    assert_eq!(status, 403, "a customer may not read the audit log");
    let (status, problem) = app
        .get_json_as(Some(&app.admin_token), "/audit/logs?action=DROP%20TABLE")
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "action");
    // A window that ends before it starts is valid by the document, and matches nothing.
    let (status, page) = app
        .get_json_as(
            Some(&app.admin_token),
            "/audit/logs?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

#[tokio::test]
async fn the_database_roles_can_append_to_the_audit_log_but_never_rewrite_it() {
    use sea_orm::ConnectionTrait as _;
    let app = api_only().await;
    let (status, _) = app
        .post_json(
            "/auth/login",
            &json!({"email": app.customer_email, "password": app.password}),
        )
        .await;
    assert_eq!(status, 200);
    let count = |db: sea_orm::DatabaseConnection| async move {
        db.query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM audit.events",
        ))
        .await
        .expect("counting")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count")
    };
    let entries = count(app.db.clone()).await;
    assert!(entries >= 1);

    // What the API and each worker connect as.
    for role in platform::db::DbRole::all() {
        let db = app.test_db.connect_as(role).await;
        for attempt in [
            "UPDATE audit.events SET actor = 'someone else'",
            "DELETE FROM audit.events",
            "TRUNCATE audit.events",
            "ALTER TABLE audit.events DISABLE TRIGGER events_are_append_only",
            "SET session_replication_role = replica",
            "DROP TABLE audit.events",
        ] {
            let refused = db.execute_unprepared(attempt).await;
            assert!(refused.is_err(), "{} may: {attempt}", role.name);
        }
    }
    // Even the owner (who ran the migrations) is refused by the trigger.
    let owner = app.test_db.connect_as_owner().await;
    for attempt in [
        "UPDATE audit.events SET actor = 'someone else'",
        "DELETE FROM audit.events",
        "TRUNCATE audit.events",
    ] {
        let refused = owner.execute_unprepared(attempt).await;
        assert!(
            refused
                .expect_err("the trigger refuses")
                .to_string()
                .contains("append-only"),
            "{attempt}"
        );
    }
    assert_eq!(count(app.db.clone()).await, entries, "nothing was lost");
}

/// The backend serving `db`'s next query, and whom it works as.
async fn backend(db: &sea_orm::DatabaseConnection) -> Result<(i32, String), sea_orm::DbErr> {
    use sea_orm::ConnectionTrait as _;
    let row = db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_backend_pid() AS pid, current_user::text AS role",
        ))
        .await?
        .expect("a row");
    Ok((row.try_get("", "pid")?, row.try_get("", "role")?))
}

#[tokio::test]
async fn a_connection_used_a_moment_ago_is_taken_unchecked_so_a_closed_one_costs_one_query() {
    // A connection used a moment ago is not checked again when it is taken (platform::db):
    // no round trip before each query. If the server closed it meanwhile, the one query
    // that finds it fails, the connection is dropped, and the next query gets a new one,
    // still working as the pool's role.
    use sea_orm::ConnectionTrait as _;
    let test_db = testkit::TestDb::create().await;
    // One connection, so the next query cannot be served by another.
    let pool = platform::db::connect_as(&test_db.url, platform::db::API_ROLE, 1)
        .await
        .expect("a pool");
    let (first, role) = backend(&pool).await.expect("a first query");
    assert_eq!(role, platform::db::API_ROLE.name);
    // The connection goes back to the pool (checked on its way) a moment after the query.
    let idle = || pool.get_postgres_connection_pool().num_idle();
    let deadline = Instant::now() + Duration::from_secs(5);
    while idle() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(idle(), 1, "the connection is back in the pool");
    test_db
        .db
        .execute(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend($1, 5000)",
            [first.into()],
        ))
        .await
        .expect("terminating the pool's backend");

    let mut failed = Vec::new();
    let mut served = None;
    for _ in 0..3 {
        match backend(&pool).await {
            Ok(found) => {
                served = Some(found);
                break;
            }
            Err(err) => failed.push(api::ApiError::from(err).status()),
        }
    }
    assert_eq!(
        failed,
        [503],
        "the one query that met the closed connection, answered as unavailable for the moment"
    );
    let (next, role) = served.expect("the pool serves again");
    assert_ne!(next, first, "a new backend");
    assert_eq!(role, platform::db::API_ROLE.name);
}

#[tokio::test]
async fn sales_reports_and_analytics_count_captured_money_per_day_and_product() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    app.seed_product("LAMP", 3000, 10).await;

    let a = app
        .place_lines(&[("MUG", 2), ("LAMP", 1)], "pm_card_visa")
        .await;
    let b = app.place_order("MUG", 1, "pm_card_visa").await;
    let declined = app.place_order("LAMP", 1, "pm_card_chargeDeclined").await;
    for id in [&a, &b, &declined] {
        app.wait_for_final_order(id).await;
    }
    let today = chrono::Utc::now().date_naive().to_string();

    let (status, by_day) = app
        .get_json_as(
            Some(&app.operator_token),
            &format!("/report/sales?from={today}&to={today}"),
        )
        .await;
    assert_eq!(status, 200, "{by_day}");
    assert_eq!(by_day["group_by"], "day");
    assert_eq!(
        by_day["rows"],
        json!([{
            "key": today, "name": null, "orders": 3, "paid_orders": 2, "units": 4,
            "sales": {"amount_minor": 6750, "currency": "EUR"},
            "refunded": {"amount_minor": 0, "currency": "EUR"},
            "net": {"amount_minor": 6750, "currency": "EUR"},
        }])
    );

    let (status, by_product) = app
        .get_json_as(
            Some(&app.admin_token),
            &format!("/report/sales?from={today}&to={today}&group_by=product"),
        )
        .await;
    assert_eq!(status, 200);
    let rows = by_product["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            &rows[0]["key"],
            &rows[0]["units"],
            &rows[0]["sales"]["amount_minor"]
        ),
        (&json!("MUG"), &json!(3), &json!(3750)),
        "best seller first"
    );
    assert_eq!(
        (&rows[1]["key"], &rows[1]["units"], &rows[1]["orders"]),
        (&json!("LAMP"), &json!(1), &json!(1)),
        "the declined lamp is not a sale"
    );
    assert_eq!(by_product["totals"][0]["net"]["amount_minor"], 6750);

    // A refund lowers the net.
    let (status, _) = app
        .send_json_as(
            reqwest::Method::POST,
            Some(&app.admin_token),
            &format!("/orders/{b}/refunds"),
            &json!({"amount_minor": 250, "reason": "chipped"}),
        )
        .await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let overview = loop {
        let (status, overview) = app
            .get_json_as(Some(&app.admin_token), "/analytics/overview")
            .await;
        assert_eq!(status, 200);
        if overview["revenue"][0]["refunded"]["amount_minor"] == 250 {
            break overview;
        }
        assert!(
            Instant::now() < deadline,
            "the refund never showed: {overview}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(overview["orders"], 3);
    assert_eq!(overview["orders_by_status"]["completed"], 2);
    assert_eq!(overview["orders_by_status"]["payment_failed"], 1);
    assert_eq!(
        overview["revenue"][0],
        json!({
            "sales": {"amount_minor": 6750, "currency": "EUR"},
            "refunded": {"amount_minor": 250, "currency": "EUR"},
            "net": {"amount_minor": 6500, "currency": "EUR"},
            "paid_orders": 2,
            "average_order_value": {"amount_minor": 3375, "currency": "EUR"},
        })
    );
    assert_eq!(overview["payment_attempts"], 3);
    assert_eq!(overview["payments_declined"], 1);
    assert_eq!(overview["payment_failure_rate"], 0.3333);
    assert_eq!(overview["time_to_ship"]["count"], 2);
    assert_eq!(overview["time_to_deliver"]["count"], 2);
    assert!(
        overview["time_to_deliver"]["p50_secs"]
            .as_f64()
            .expect("a median")
            > overview["time_to_ship"]["p50_secs"]
                .as_f64()
                .expect("a median")
    );

    // Customers may not; bad periods are refused by name. Any two dates are a period: one
    // that ends before it starts has no sales, a long one all of them.
    let (status, _) = app.get_json("/report/sales").await;
    assert_eq!(status, 403);
    for query in [
        "from=2026-02-01&to=2026-01-01",
        "from=2020-01-01&to=2099-12-31",
    ] {
        let (status, report) = app
            .get_json_as(Some(&app.admin_token), &format!("/report/sales?{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {report}");
    }
    for (query, field) in [
        ("from=%2B12345-01-01", "from"),
        ("from=yesterday", "from"),
        ("group_by=week", "group_by"),
        ("currency=EUR", "currency"),
    ] {
        let (status, problem) = app
            .get_json_as(Some(&app.admin_token), &format!("/report/sales?{query}"))
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn the_daily_report_schedule_emails_yesterdays_sales_to_every_admin_once() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    let admin = format!(
        "admin+{}@example.com",
        app.queues.prefix().trim_end_matches('-')
    );

    let schedule =
        workers::schedules::ensure_daily_sales_report(&app.temporal, &app.queues, "0 6 * * *")
            .await
            .expect("the schedule");
    // Again, with another time: the same schedule, brought up to date.
    let schedule_again =
        workers::schedules::ensure_daily_sales_report(&app.temporal, &app.queues, "30 5 * * *")
            .await
            .expect("the schedule, again");
    assert_eq!(schedule.schedule_id(), schedule_again.schedule_id());
    let described = schedule
        .describe(Default::default())
        .await
        .expect("described");
    let spec = described
        .raw()
        .schedule
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .expect("a spec");
    // The server keeps a cron string as given or turns it into a calendar; either way it must
    // be 05:30 now.
    let at_0530 = spec.cron_string.iter().any(|cron| cron == "30 5 * * *")
        || spec.structured_calendar.iter().any(|calendar| {
            calendar.hour.first().map(|h| h.start) == Some(5)
                && calendar.minute.first().map(|m| m.start) == Some(30)
        });
    assert!(at_0530, "the schedule follows the new time: {spec:?}");
    assert!(!described.paused());
    match described.action() {
        temporalio_client::schedules::ScheduleDescriptionAction::StartWorkflow(action) => {
            assert_eq!(action.workflow_type(), "DailySalesReport");
            assert_eq!(
                action.task_queue(),
                app.queues.of(contracts::Service::Reporting)
            );
        }
        other => panic!("the schedule starts DailySalesReport, not {other:?}"),
    }

    // The schedule reports on the day before its run: today's orders are tomorrow's report.
    // Triggering it now proves the wiring (schedule → workflow → report → every admin's
    // mailbox); the report of today itself is asked for directly.
    schedule
        .trigger(ScheduleOverlapPolicy::AllowAll, Default::default())
        .await
        .expect("triggered");
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().expect("a day before");
    let subject = |day: &chrono::NaiveDate| format!("Emporium sales report for {day}");
    let mail = app_wait_for_subject(&app, &admin, &subject(&yesterday)).await;
    assert!(mail.body.contains("No orders were placed"), "{}", mail.body);

    let outcome = run_report(&app, &today.to_string(), "").await;
    assert_eq!(outcome.sent_to, std::slice::from_ref(&admin));
    let mail = app_wait_for_subject(&app, &admin, &subject(&today)).await;
    assert!(
        mail.body
            .contains("Orders placed: 1   paid: 1   units sold: 2"),
        "{}",
        mail.body
    );
    assert!(mail.body.contains("Sales: 25.00 EUR"), "{}", mail.body);
    assert!(mail.body.contains("MUG"), "{}", mail.body);

    // Sending today's report again mails nobody twice.
    run_report(&app, &today.to_string(), "-again").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reports = testkit::smtp::smtp_server()
        .messages_to(&admin)
        .into_iter()
        .filter(|m| m.subject == subject(&today))
        .count();
    assert_eq!(reports, 1, "one report per admin and day");
    schedule.delete(Default::default()).await.expect("deleted");
}

/// Runs DailySalesReport for `day` to its end, as an operator would from the CLI.
async fn run_report(
    app: &TestApp,
    day: &str,
    id_suffix: &str,
) -> contracts::reporting::DailyReportOutcome {
    app.temporal
        .start_workflow(
            workflows::DailySalesReport::run,
            contracts::reporting::DailyReportInput {
                day: Some(day.to_owned()),
            },
            temporalio_client::WorkflowStartOptions::new(
                app.queues.of(contracts::Service::Reporting),
                format!("{}daily-sales-report-{day}{id_suffix}", app.queues.prefix()),
            )
            .build(),
        )
        .await
        .expect("started")
        .get_result(Default::default())
        .await
        .expect("the report ran")
}

async fn app_wait_for_subject(
    app: &TestApp,
    to: &str,
    subject: &str,
) -> testkit::smtp::ReceivedMail {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(mail) = testkit::smtp::smtp_server()
            .messages_to(to)
            .into_iter()
            .find(|m| m.subject == subject)
        {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "no mail `{subject}` to {to}; got {:?}",
            app.mailbox().iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET /orders/{id}` with `token`, of the API instance at `api`.
async fn get_from(app: &TestApp, api: &str, token: &str, id: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{api}/orders/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /orders/{id}");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// An API without workers, an order of two mugs placed through it, and a second API instance:
/// the app, the order's id and the second instance's base URL.
async fn placed_without_workers() -> (TestApp, String, String) {
    let app = api_only().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 2, "pm_card_visa").await;
    app.wait_for_workflow(&id).await;
    let other = app.another_api().await;
    (app, id, other)
}

/// Deletes an order's workflow from Temporal, as an operator can.
async fn delete_workflow(app: &TestApp, id: &str) {
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DeleteWorkflowExecutionRequest;
    let request = DeleteWorkflowExecutionRequest {
        namespace: temporalio_client::NamespacedClient::namespace(&app.temporal),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: format!("{}{id}", contracts::orders::WORKFLOW_ID_PREFIX),
            run_id: String::new(),
        }),
    };
    app.temporal
        .connection()
        .workflow_service()
        .delete_workflow_execution(temporalio_client::tonic::Request::new(request))
        .await
        .expect("the workflow deleted");
}

#[tokio::test]
async fn an_order_placed_here_is_shown_from_memory_without_asking_temporal() {
    // No worker, so the read model never has the order. Its workflow and its intake row are
    // deleted: only the instance that placed it can still show it, from what it placed, with
    // no call to Temporal.
    let (app, id, other) = placed_without_workers().await;
    let (status, _) = get_from(&app, &other, &app.token, &id).await;
    assert_eq!(status, 200, "the other instance first finds the workflow");

    delete_workflow(&app, &id).await;
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM orders.intake WHERE order_id = '{id}'"
        ))
        .await
        .expect("the intake row deleted");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get_from(&app, &other, &app.token, &id).await.0 != 404 {
        assert!(Instant::now() < deadline, "the deleted workflow is gone");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, order) = app.get_json(&format!("/orders/{id}")).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["customer_email"], app.customer_email);
    assert_eq!(order["total"]["amount_minor"], 2500);
    assert_eq!(order["lines"][0]["sku"], "MUG");
    assert_eq!(order["history"], json!([]));

    let (_, stranger) = app.another_customer("Mallory").await;
    let (status, _) = app
        .get_json_as(Some(&stranger), &format!("/orders/{id}"))
        .await;
    assert_eq!(status, 404, "only its customer sees it, from memory too");
}

#[tokio::test]
async fn an_order_shows_from_its_workflow_before_any_worker_ran_it() {
    // No worker: the order's workflow has not run a single task, so only its description
    // (memo and search attributes) knows it; a query would wait for a worker.
    // Asked of another API instance: the one that placed it answers from its memory.
    let (app, id, other) = placed_without_workers().await;

    let asked = Instant::now();
    let (status, order) = get_from(&app, &other, &app.token, &id).await;
    assert_eq!(status, 200, "{order}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered without waiting for a worker"
    );
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"]["amount_minor"], 2500);
    assert_eq!(order["lines"][0]["sku"], "MUG");
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["history"], json!([]));

    let (_, stranger) = app.another_customer("Mallory").await;
    let (status, problem) = get_from(&app, &other, &stranger, &id).await;
    assert_eq!(
        status, 404,
        "another customer's order is not found: {problem}"
    );
}
