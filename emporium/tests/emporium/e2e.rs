//! End to end, over HTTP only: the real `emporium` binary runs the API and each service's
//! worker as separate processes against real Postgres, a real Temporal server and a real SMTP
//! server, and the test talks to nothing but the API (and reads the customer's mailbox).

use super::free_port;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use testkit::shopper::Shopper;
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
    /// The test's own event stream on the machine's NATS.
    events: activities::events::relay::StreamConfig,
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
            .env("EMPORIUM_EVENTS__NATS_URL", &self.events.url)
            .env("EMPORIUM_EVENTS__STREAM", &self.events.stream)
            .env(
                "EMPORIUM_EVENTS__SUBJECT_PREFIX",
                &self.events.subject_prefix,
            )
            .env("EMPORIUM_EVENTS__MAX_AGE_SECS", "3600")
            .env("EMPORIUM_EVENTS__DUPLICATE_WINDOW_SECS", "600")
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

    /// Runs a command of the binary to its end; whether it succeeded.
    async fn succeeds(&self, args: &[&str], log_name: &str) -> bool {
        self.command(args, log_name)
            .status()
            .await
            .expect("emporium runs")
            .success()
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let response = http.get(url).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

/// The processes the journey runs: the API and a worker per service, each service's worker
/// killable and restartable on its own.
struct Processes {
    _api: Child,
    _others: Vec<Child>,
    orders: Child,
    orders_ops: u16,
    payments_ops: u16,
    inventory: Child,
    shipping: Child,
    notifications: Child,
}

impl Processes {
    fn spawn(platform: &Platform) -> Self {
        let (orders_ops, payments_ops) = (free_port(), free_port());
        Self {
            _api: platform.spawn(&["api"], "api"),
            _others: vec![platform.spawn_worker("payments", payments_ops, "worker-payments")],
            orders: platform.spawn_worker("orders", orders_ops, "worker-orders"),
            orders_ops,
            payments_ops,
            inventory: platform.spawn_worker("inventory", free_port(), "worker-inventory"),
            shipping: platform.spawn_worker("shipping", free_port(), "worker-shipping"),
            notifications: platform.spawn_worker(
                "notifications",
                free_port(),
                "worker-notifications",
            ),
        }
    }
}

/// One customer's journey through the platform, step by step.
struct Journey {
    platform: Platform,
    http: reqwest::Client,
    shopper: Shopper,
    customer: String,
    /// Mugs available before the journey.
    mugs: i64,
}

impl Journey {
    /// Waits for the API, then registers and logs a customer in, over HTTP like everything
    /// else.
    async fn begin(platform: Platform) -> Self {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&http, &platform.url("/healthz")).await.is_none() {
            assert!(Instant::now() < deadline, "the API never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let customer = format!("grace-{}@example.com", &platform.queue_prefix);
        let shopper = Shopper::register(http.clone(), &platform.url(""), &customer, PASSWORD).await;
        let mugs = shopper.available(MUG).await;
        Self {
            platform,
            http,
            shopper,
            customer,
            mugs,
        }
    }

    /// The happy path, with the orders (and its outbox relay), shipping and notifications
    /// workers killed in the middle of the order and brought back: the parcel is followed to
    /// the door.
    async fn completes_through_worker_restarts(&self, processes: &mut Processes) -> String {
        let id = self.shopper.place_order(MUG, 2, "pm_card_visa").await;
        self.shopper.wait_for_status(&id, "label_created").await;
        processes
            .orders
            .kill()
            .await
            .expect("orders worker stopped");
        processes
            .shipping
            .kill()
            .await
            .expect("shipping worker stopped");
        processes
            .notifications
            .kill()
            .await
            .expect("notifications worker stopped");
        tokio::time::sleep(Duration::from_secs(3)).await;
        processes.orders =
            self.platform
                .spawn_worker("orders", processes.orders_ops, "worker-orders-2");
        processes.shipping =
            self.platform
                .spawn_worker("shipping", free_port(), "worker-shipping-2");
        processes.notifications =
            self.platform
                .spawn_worker("notifications", free_port(), "worker-notifications-2");
        let order = self.shopper.wait_for_status(&id, "completed").await;
        assert_eq!(
            order["total"],
            json!({"amount_minor": 2400, "currency": "EUR"})
        );
        assert_eq!(self.shopper.available(MUG).await, self.mugs - 2);
        id
    }

    /// The order's history, through two worker restarts, exports and replays against this
    /// build; a garbled one does not.
    async fn its_history_exports_and_replays(&self, id: &str) {
        let file = self.platform.logs.join(format!("order-{id}.json"));
        let file_arg = file.to_str().expect("a UTF-8 path");
        let workflow = format!("order-{id}");
        let export = ["history", "export", &workflow, "--out", file_arg];
        assert!(
            self.platform.succeeds(&export, "history-export").await,
            "emporium history export failed"
        );
        assert!(
            self.platform
                .succeeds(&["history", "replay", file_arg], "history-replay")
                .await,
            "emporium history replay failed"
        );
        let history = std::fs::read_to_string(&file).expect("the exported history");
        assert!(history.contains("PlaceOrder") && history.len() > 10_000);
        let garbled = self.platform.logs.join("garbled-history.json");
        std::fs::write(&garbled, history.replacen("PlaceOrder", "PlaceOrderX", 1)).expect("a copy");
        let garbled = garbled.to_str().expect("UTF-8");
        assert!(
            !self
                .platform
                .succeeds(&["history", "replay", garbled], "history-replay-garbled")
                .await,
            "a history of an unknown workflow type does not replay"
        );
    }

    /// Every message of the order arrived, each under one Message-ID, despite the restarts.
    /// A worker killed after the SMTP server took a message but before the delivery was
    /// recorded sends it again when the activity is retried (no SMTP client can close that
    /// window): the repeat carries the same Message-ID, so a mail client shows it once.
    async fn each_message_arrives_once(&self, id: &str) {
        let smtp = testkit::smtp::smtp_server();
        smtp.wait_for(&self.customer, testkit::smtp::MESSAGES_PER_DELIVERED_ORDER)
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut by_message_id: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for mail in smtp.messages_to(&self.customer) {
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
        assert_eq!(subjects, testkit::smtp::delivered_order_subjects(id));
    }

    /// The order's events reached the stream once each and in order, though the orders
    /// worker, which relays its outbox, was killed in the middle and started again.
    async fn its_events_arrive_once_in_order(&self, id: &str) {
        let mut tap = testkit::events::EventTap::open(&self.platform.events).await;
        let mut seen = Vec::new();
        while let Some((_, envelope)) = tap.next(Duration::from_secs(5)).await {
            seen.push(envelope);
        }
        let ids: std::collections::HashSet<_> = seen.iter().map(|e| e["id"].clone()).collect();
        assert_eq!(ids.len(), seen.len(), "no event arrived twice");
        let of_order: Vec<&str> = seen
            .iter()
            .filter(|e| e["aggregate_id"] == id && e["aggregate"] == "order")
            .map(|e| e["type"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            of_order,
            ["order.created", "order.confirmed", "order.completed"]
        );
        let tracking = seen
            .iter()
            .filter(|e| e["aggregate_id"] == id && e["type"] == "shipment.status_updated")
            .count();
        assert!(tracking >= 3, "the parcel's news went out too ({tracking})");

        // `emporium events tail` prints them, one `<subject> <event>` per line.
        let mut tail = self.platform.spawn(
            &["events", "tail", "--from-start", "--filter", "order.>"],
            "events-tail",
        );
        let out = self.platform.logs.join("events-tail.out");
        let completed = format!("{}.order.completed ", self.platform.events.subject_prefix);
        let deadline = Instant::now() + Duration::from_secs(20);
        let printed = loop {
            let printed = std::fs::read_to_string(&out).unwrap_or_default();
            if printed
                .lines()
                .any(|l| l.starts_with(&completed) && l.contains(id))
            {
                break printed;
            }
            assert!(Instant::now() < deadline, "events tail printed:\n{printed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tail.kill().await.expect("the tail stops");
        assert!(
            printed.lines().all(|l| l.contains(".order.")),
            "only order events"
        );
    }

    /// A declined card gives the stock back.
    async fn a_declined_card_gives_the_stock_back(&self) {
        let id = self
            .shopper
            .place_order(MUG, 3, "pm_card_chargeDeclined")
            .await;
        self.shopper.wait_for_status(&id, "payment_failed").await;
        assert_eq!(self.shopper.available(MUG).await, self.mugs - 2);
    }

    /// An order placed while the inventory worker is down waits for it, then completes.
    async fn an_order_waits_for_a_stopped_inventory_worker(&self, processes: &mut Processes) {
        processes
            .inventory
            .kill()
            .await
            .expect("inventory worker stopped");
        let id = self.shopper.place_order(MUG, 1, "pm_card_visa").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, waiting) = self.shopper.get_json(&format!("/orders/{id}")).await;
        assert_eq!(
            waiting["status"], "pending",
            "nothing reserves stock while inventory is down"
        );
        processes.inventory =
            self.platform
                .spawn_worker("inventory", free_port(), "worker-inventory-2");
        self.shopper.wait_for_status(&id, "completed").await;
        assert_eq!(self.shopper.available(MUG).await, self.mugs - 3);
    }

    /// A raw card number is refused (and [`check_logs`] finds it in no log either).
    async fn a_raw_card_number_is_refused(&self) {
        let refused = self
            .shopper
            .post_order(&json!({
                "shipping_address": testkit::shopper::address(),
                "lines": [{"sku": MUG, "quantity": 1}],
                "payment_method": CARD_NUMBER,
            }))
            .await;
        assert_eq!(refused.status(), 422);
    }

    /// Each worker answers for itself on its own port: alive, ready, and its metrics (its
    /// business counters and the Temporal SDK's own, which the dashboard charts).
    async fn workers_answer_for_themselves(&self, processes: &Processes) {
        for port in [processes.orders_ops, processes.payments_ops] {
            let ops = |path: &str| format!("http://127.0.0.1:{port}{path}");
            let (status, _) = get(&self.http, &ops("/healthz")).await.expect("healthz");
            assert_eq!(status, 200);
            let (status, ready) = get(&self.http, &ops("/readyz")).await.expect("readyz");
            assert_eq!(
                (status, &ready["status"]),
                (200, &json!("ready")),
                "{ready}"
            );
        }
        // The orders worker was started again after the first order was placed: it counted
        // the two placed since, and the two it saw complete.
        let orders_metrics = self.metrics_of(processes.orders_ops).await;
        assert!(
            orders_metrics.contains("emporium_orders_placed_total 2"),
            "the orders worker counted its orders:\n{orders_metrics}"
        );
        assert!(orders_metrics.contains(r#"emporium_orders_finished_total{status="completed"} 2"#));
        assert!(
            orders_metrics.contains("temporal_workflow_task_execution_latency"),
            "the SDK's metrics are served too"
        );
        let payments_metrics = self.metrics_of(processes.payments_ops).await;
        assert!(payments_metrics.contains(r#"emporium_payments_total{outcome="declined"} 1"#));
        for name in crate::dashboard::dashboard_metrics() {
            if name.starts_with("temporal_") {
                assert!(
                    orders_metrics.contains(&name) || payments_metrics.contains(&name),
                    "the dashboard charts {name}, which no worker exports"
                );
            }
        }
    }

    async fn metrics_of(&self, port: u16) -> String {
        self.http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

/// The product the journey buys (seeded by `emporium seed`).
const MUG: &str = "MUG-CLASSIC";

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
        events: testkit::events::test_stream(),
    };
    let _ = std::fs::remove_dir_all(&platform.logs);
    std::fs::create_dir_all(&platform.logs).expect("log folder");
    assert!(
        platform.succeeds(&["seed"], "seed").await,
        "emporium seed failed; see {}",
        platform.logs.display()
    );
    let mut processes = Processes::spawn(&platform);
    let journey = Journey::begin(platform).await;

    let id = journey
        .completes_through_worker_restarts(&mut processes)
        .await;
    journey.its_history_exports_and_replays(&id).await;
    journey.its_events_arrive_once_in_order(&id).await;
    journey.each_message_arrives_once(&id).await;
    journey.a_declined_card_gives_the_stock_back().await;
    journey
        .an_order_waits_for_a_stopped_inventory_worker(&mut processes)
        .await;
    journey.a_raw_card_number_is_refused().await;
    journey.workers_answer_for_themselves(&processes).await;

    let secrets = [
        PASSWORD,
        JWT_SECRET,
        journey.shopper.token(),
        CARD_NUMBER,
        "4111111111111111",
    ];
    check_logs(&journey.platform.logs, &secrets);
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
