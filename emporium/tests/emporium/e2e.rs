//! End to end, over HTTP only: the real `emporium` binary runs the API and each service's
//! worker as separate processes against real Postgres, a real Temporal server and a real SMTP
//! server, and the test talks to nothing but the API (and reads the customer's mailbox).

use super::free_port;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const JWT_SECRET: &str = "e2e-test-secret-0123456789";
const PASSWORD: &str = "a long enough password";

struct Platform {
    database_url: String,
    smtp_port: u16,
    temporal_address: String,
    queue_prefix: String,
    api_port: u16,
    logs: PathBuf,
}

impl Platform {
    fn command(&self, args: &[&str], log_name: &str) -> Command {
        // Standard error holds the logs; standard output a command's answer.
        let log =
            std::fs::File::create(self.logs.join(format!("{log_name}.log"))).expect("log file");
        let out =
            std::fs::File::create(self.logs.join(format!("{log_name}.out"))).expect("output file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_emporium"));
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("TEMPORAL_ADDRESS", &self.temporal_address)
            .env("EMPORIUM_TEMPORAL__TASK_QUEUE_PREFIX", &self.queue_prefix)
            .env("EMPORIUM_API__BIND", format!("127.0.0.1:{}", self.api_port))
            .env("EMPORIUM_NOTIFICATIONS__SMTP__HOST", "127.0.0.1")
            .env(
                "EMPORIUM_NOTIFICATIONS__SMTP__PORT",
                self.smtp_port.to_string(),
            )
            .env("EMPORIUM_SHIPPING__SIMULATED_STEP_SECS", "2")
            .env("EMPORIUM_SHIPPING__POLL_INTERVAL_SECS", "1")
            .env("RUST_LOG", "info,temporalio_sdk_core=warn")
            .env("EMPORIUM_LOG__JSON", "true")
            .env("JWT_SECRET", JWT_SECRET)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .kill_on_drop(true);
        command
    }

    fn spawn(&self, args: &[&str], log_name: &str) -> Child {
        self.command(args, log_name)
            .spawn()
            .expect("emporium starts")
    }

    /// A worker of one service, answering `/healthz`, `/readyz` and `/metrics` on `ops_port`.
    fn spawn_worker(&self, service: &str, ops_port: u16, log_name: &str) -> Child {
        self.command(&["worker", "--service", service], log_name)
            .env("EMPORIUM_WORKER__OPS_BIND", format!("127.0.0.1:{ops_port}"))
            .spawn()
            .expect("emporium starts")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }
}

async fn get_as(http: &reqwest::Client, token: &str, url: &str) -> Option<(u16, Value)> {
    let response = http.get(url).bearer_auth(token).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

async fn get(http: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let response = http.get(url).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

async fn wait_for_status(
    http: &reqwest::Client,
    platform: &Platform,
    token: &str,
    id: &str,
    wanted: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, order)) =
            get_as(http, token, &platform.url(&format!("/orders/{id}"))).await
            && order["status"] == wanted
        {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became {wanted}; logs in {}",
            platform.logs.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn available(http: &reqwest::Client, platform: &Platform, sku: &str) -> i64 {
    let (_, products) = get(http, &platform.url("/products"))
        .await
        .expect("products");
    products["items"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["sku"] == sku)
        .and_then(|p| p["available"].as_i64())
        .expect("the product is listed")
}

async fn place(
    http: &reqwest::Client,
    platform: &Platform,
    token: &str,
    sku: &str,
    quantity: u32,
    card: &str,
) -> String {
    let response = http
        .post(platform.url("/orders"))
        .bearer_auth(token)
        .json(&json!({
            "shipping_address": testkit::TestApp::address(),
            "lines": [{"sku": sku, "quantity": quantity}],
            "payment_method": card,
        }))
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let body: Value = response.json().await.expect("body");
    assert_eq!(location, body["status_url"]);
    body["order_id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn separate_api_and_worker_processes_carry_orders_through_over_http_only() {
    let test_db = testkit::TestDb::create().await;
    let platform = Platform {
        database_url: test_db.url_text(),
        smtp_port: testkit::smtp::smtp_server().port,
        temporal_address: testkit::temporal_address().to_owned(),
        queue_prefix: format!("e2e{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        api_port: free_port(),
        logs: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-logs"),
    };
    let _ = std::fs::remove_dir_all(&platform.logs);
    std::fs::create_dir_all(&platform.logs).expect("log folder");

    let seeded = platform
        .command(&["seed"], "seed")
        .status()
        .await
        .expect("seed runs");
    assert!(
        seeded.success(),
        "emporium seed failed; see {}",
        platform.logs.display()
    );
    let _api = platform.spawn(&["api"], "api");
    let orders_ops = free_port();
    let _orders = platform.spawn_worker("orders", orders_ops, "worker-orders");
    let payments_ops = free_port();
    let _payments = platform.spawn_worker("payments", payments_ops, "worker-payments");
    let mut inventory = platform.spawn_worker("inventory", free_port(), "worker-inventory");
    let mut shipping = platform.spawn_worker("shipping", free_port(), "worker-shipping");
    let mut notifications =
        platform.spawn_worker("notifications", free_port(), "worker-notifications");
    let customer = format!("grace-{}@example.com", &platform.queue_prefix);

    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&http, &platform.url("/healthz")).await.is_none() {
        assert!(Instant::now() < deadline, "the API never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mugs = available(&http, &platform, "MUG-CLASSIC").await;

    // A customer registers and logs in, over HTTP like everything else.
    let registered = http
        .post(platform.url("/auth/register"))
        .json(&json!({"email": customer, "name": "Grace", "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let login: Value = http
        .post(platform.url("/auth/login"))
        .json(&json!({"email": customer, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("a token");
    let token = login["access_token"].as_str().expect("a token").to_owned();

    // The happy path.
    let id = place(&http, &platform, &token, "MUG-CLASSIC", 2, "pm_card_visa").await;
    // Kill the shipping and notifications workers in the middle of the order, and bring them
    // back: the parcel is followed to the door and each message still arrives exactly once.
    wait_for_status(&http, &platform, &token, &id, "label_created").await;
    shipping.kill().await.expect("shipping worker stopped");
    notifications
        .kill()
        .await
        .expect("notifications worker stopped");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _shipping = platform.spawn_worker("shipping", free_port(), "worker-shipping-2");
    let _notifications =
        platform.spawn_worker("notifications", free_port(), "worker-notifications-2");
    let order = wait_for_status(&http, &platform, &token, &id, "completed").await;
    assert_eq!(
        order["total"],
        json!({"amount_minor": 2400, "currency": "EUR"})
    );
    assert_eq!(available(&http, &platform, "MUG-CLASSIC").await, mugs - 2);

    // Its history, through two worker restarts, exports and replays against this build.
    let file = platform.logs.join(format!("order-{id}.json"));
    let file_arg = file.to_str().expect("a UTF-8 path");
    let exported = platform
        .command(
            &[
                "history",
                "export",
                &format!("order-{id}"),
                "--out",
                file_arg,
            ],
            "history-export",
        )
        .status()
        .await
        .expect("export runs");
    assert!(exported.success(), "emporium history export failed");
    let replayed = platform
        .command(&["history", "replay", file_arg], "history-replay")
        .status()
        .await
        .expect("replay runs");
    assert!(replayed.success(), "emporium history replay failed");
    let history = std::fs::read_to_string(&file).expect("the exported history");
    assert!(history.contains("PlaceOrder") && history.len() > 10_000);
    let garbled = platform.logs.join("garbled-history.json");
    std::fs::write(&garbled, history.replacen("PlaceOrder", "PlaceOrderX", 1)).expect("a copy");
    let refused = platform
        .command(
            &["history", "replay", garbled.to_str().expect("UTF-8")],
            "history-replay-garbled",
        )
        .status()
        .await
        .expect("replay runs");
    assert!(
        !refused.success(),
        "a history of an unknown workflow type does not replay"
    );

    // A declined card gives the stock back.
    let smtp = testkit::smtp::smtp_server();
    smtp.wait_for(&customer, 5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A worker killed after the SMTP server took a message but before the delivery was
    // recorded sends it again when the activity is retried (no SMTP client can close that
    // window): the repeat carries the same Message-ID, so a mail client shows it once.
    let mut by_message_id: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for mail in smtp.messages_to(&customer) {
        by_message_id
            .entry(mail.message_id)
            .or_default()
            .push(mail.subject);
    }
    assert!(
        by_message_id
            .values()
            .all(|copies| copies.iter().all(|subject| subject == &copies[0])),
        "a repeat is the same message: {by_message_id:?}"
    );
    let mut subjects: Vec<String> = by_message_id
        .values()
        .map(|copies| copies[0].clone())
        .collect();
    subjects.sort();
    let short = id.rsplit('-').next().unwrap_or_default();
    let mut expected = vec![
        format!("Order {short} has shipped"),
        format!("Order {short} is being packed"),
        format!("Order {short} is out for delivery"),
        format!("Order {short} was delivered"),
        format!("Your order {short} is confirmed"),
    ];
    expected.sort();
    assert_eq!(
        subjects, expected,
        "every message, each under one Message-ID, despite the restarts"
    );

    let id = place(
        &http,
        &platform,
        &token,
        "MUG-CLASSIC",
        3,
        "pm_card_chargeDeclined",
    )
    .await;
    wait_for_status(&http, &platform, &token, &id, "payment_failed").await;
    assert_eq!(available(&http, &platform, "MUG-CLASSIC").await, mugs - 2);

    // An order placed while the inventory worker is down waits for it, then completes.
    inventory.kill().await.expect("inventory worker stopped");
    let id = place(&http, &platform, &token, "MUG-CLASSIC", 1, "pm_card_visa").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, waiting) = get_as(&http, &token, &platform.url(&format!("/orders/{id}")))
        .await
        .expect("order");
    assert_eq!(
        waiting["status"], "pending",
        "nothing reserves stock while inventory is down"
    );
    let _inventory = platform.spawn_worker("inventory", free_port(), "worker-inventory-2");
    wait_for_status(&http, &platform, &token, &id, "completed").await;
    assert_eq!(available(&http, &platform, "MUG-CLASSIC").await, mugs - 3);

    // A raw card number is refused, and must not reach any log either.
    let refused = http
        .post(platform.url("/orders"))
        .bearer_auth(&token)
        .json(&json!({
            "shipping_address": testkit::TestApp::address(),
            "lines": [{"sku": "MUG-CLASSIC", "quantity": 1}],
            "payment_method": CARD_NUMBER,
        }))
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(refused.status(), 422);

    // Each worker answers for itself on its own port: alive, ready, and its metrics (its
    // business counters and the Temporal SDK's own).
    for port in [orders_ops, payments_ops] {
        let ops = |path: &str| format!("http://127.0.0.1:{port}{path}");
        let (status, _) = get(&http, &ops("/healthz")).await.expect("healthz");
        assert_eq!(status, 200);
        let (status, ready) = get(&http, &ops("/readyz")).await.expect("readyz");
        assert_eq!(
            (status, &ready["status"]),
            (200, &json!("ready")),
            "{ready}"
        );
    }
    let metrics_of = |port: u16| {
        let http = http.clone();
        async move {
            http.get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text")
        }
    };
    let orders_metrics = metrics_of(orders_ops).await;
    assert!(
        orders_metrics.contains("emporium_orders_placed_total 3"),
        "the orders worker counted its orders:\n{orders_metrics}"
    );
    assert!(orders_metrics.contains(r#"emporium_orders_finished_total{status="completed"} 2"#));
    assert!(
        orders_metrics.contains("temporal_workflow_task_execution_latency"),
        "the SDK's metrics are served too"
    );
    let payments_metrics = metrics_of(payments_ops).await;
    assert!(payments_metrics.contains(r#"emporium_payments_total{outcome="declined"} 1"#));
    // What the Grafana dashboard charts from the SDK is what the SDK really exports.
    for name in crate::deployment::dashboard_metrics() {
        if name.starts_with("temporal_") {
            assert!(
                orders_metrics.contains(&name) || payments_metrics.contains(&name),
                "the dashboard charts {name}, which no worker exports"
            );
        }
    }

    check_logs(
        &platform.logs,
        &[
            PASSWORD,
            JWT_SECRET,
            &token,
            CARD_NUMBER,
            "4111111111111111",
        ],
    );
}

/// A real card number (not one of the sandbox's test cards): the API must refuse it without
/// logging it.
const CARD_NUMBER: &str = "4111 1111 1111 1111";

/// Every log line of every process is one JSON object; none holds a secret; and every line
/// written inside an activity names its workflow, and the order when the workflow is one.
fn check_logs(folder: &std::path::Path, secrets: &[&str]) {
    let mut activity_lines = 0;
    for entry in std::fs::read_dir(folder).expect("the logs") {
        let path = entry.expect("a log").path();
        let extension = path.extension().and_then(|e| e.to_str());
        if !matches!(extension, Some("log" | "out")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{} holds a secret ({}…)",
                path.display(),
                &secret[..4]
            );
        }
        if extension != Some("log") {
            continue;
        }
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Ok(json) = serde_json::from_str::<Value>(line) else {
                panic!("{}: not a JSON line: {line}", path.display());
            };
            let spans = json["spans"].as_array().cloned().unwrap_or_default();
            let Some(activity) = spans.iter().find(|s| s["name"] == "RunActivity") else {
                continue;
            };
            activity_lines += 1;
            let workflow = activity["temporalWorkflowID"]
                .as_str()
                .unwrap_or_else(|| panic!("no workflow id: {line}"));
            if let Some(order) = workflow.strip_prefix("order-") {
                assert!(
                    spans.iter().any(|s| s["order.id"] == order),
                    "no order id: {line}"
                );
            }
        }
    }
    assert!(
        activity_lines > 20,
        "the activities logged ({activity_lines} lines)"
    );
}
