//! `emporium dev`, the first command a newcomer runs, as they run it: from an empty data folder
//! it starts its own Temporal dev server, takes an order over HTTP to `completed`, and stops on
//! Ctrl-C with its Temporal; started again on the same folder it keeps its history, its order,
//! its demo admin and its secrets. With NATS up, it publishes the order's events from
//! `order.created` to `order.completed`, and a webhook endpoint gets them signed after an
//! outage of its own.

use super::free_port;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testkit::events::WebhookReceiver;
use tokio::process::{Child, Command};

/// One `emporium dev` set-up: its folder, database and ports.
struct Dev {
    data: PathBuf,
    database_url: String,
    temporal_port: u16,
    ui_port: u16,
    api_port: u16,
    ops_port: u16,
    /// Its stream's name and subjects (its own, so that it shares nothing on the machine's
    /// NATS); the URL it finds by itself.
    events: activities::events::relay::StreamConfig,
}

impl Dev {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }

    /// Starts `emporium dev` and waits until its API is ready.
    async fn start(&self, http: &reqwest::Client, run: &str) -> Child {
        let log = std::fs::File::create(self.data.with_extension(format!("{run}.log")))
            .expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_emporium"))
            .arg("dev")
            .env("EMPORIUM_DATA_DIR", &self.data)
            .env("DATABASE_URL", &self.database_url)
            .env(
                "TEMPORAL_ADDRESS",
                format!("127.0.0.1:{}", self.temporal_port),
            )
            .env("EMPORIUM_TEMPORAL__UI_PORT", self.ui_port.to_string())
            .env("EMPORIUM_API__BIND", format!("127.0.0.1:{}", self.api_port))
            .env(
                "EMPORIUM_WORKER__OPS_BIND",
                format!("127.0.0.1:{}", self.ops_port),
            )
            .env("EMPORIUM_SHIPPING__SIMULATED_STEP_SECS", "1")
            .env("EMPORIUM_EVENTS__STREAM", &self.events.stream)
            .env(
                "EMPORIUM_EVENTS__SUBJECT_PREFIX",
                &self.events.subject_prefix,
            )
            .env(
                "EMPORIUM_WEBHOOKS__ALLOWED_PRIVATE_HOSTS",
                r#"["127.0.0.1"]"#,
            )
            .env("EMPORIUM_WEBHOOKS__RETRY_SCHEDULE_SECS", "[1,1,1,1,1,1]")
            .env("RUST_LOG", "info,temporalio_sdk_core=warn")
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("emporium dev starts");
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(response) = http.get(self.url("/readyz")).send().await
                && response.status() == 200
            {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        panic!(
            "emporium dev was not ready within 2 minutes; see {}",
            self.data.display()
        );
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn temporal_answers(&self) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", self.temporal_port)).is_ok()
    }
}

/// Ctrl-C, then the exit status, within `limit`.
async fn interrupt(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    tokio::time::timeout(limit, child.wait())
        .await
        .expect("emporium dev stopped within the limit")
        .expect("its status")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn login(http: &reqwest::Client, dev: &Dev, email: &str, password: &str) -> String {
    let (status, body) = send(
        http.post(dev.url("/auth/login"))
            .json(&json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("a token").to_owned()
}

async fn status_of(http: &reqwest::Client, dev: &Dev, token: &str, id: &str) -> String {
    let (_, order) = send(
        http.get(dev.url(&format!("/orders/{id}")))
            .bearer_auth(token),
    )
    .await;
    order["status"].as_str().unwrap_or_default().to_owned()
}

async fn place_and_complete(http: &reqwest::Client, dev: &Dev, token: &str) -> String {
    let (status, placed) = send(
        http.post(dev.url("/orders"))
            .bearer_auth(token)
            .header("idempotency-key", "dev-test-first-order")
            .json(&json!({
                "shipping_address": testkit::TestApp::address(),
                "lines": [{"sku": "MUG-CLASSIC", "quantity": 1}],
                "payment_method": "pm_card_visa",
            })),
    )
    .await;
    assert_eq!(status, 202, "{placed}");
    let id = placed["order_id"].as_str().expect("an id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = status_of(http, dev, token, &id).await;
        if now == "completed" {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} still {now} after 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The three order events an ERP wants, at `url`; answers the endpoint's secret.
async fn register_endpoint(http: &reqwest::Client, dev: &Dev, admin: &str, url: &str) -> String {
    let types = ["order.created", "order.confirmed", "order.completed"];
    let (status, endpoint) = send(
        http.post(dev.url("/webhooks/endpoints"))
            .bearer_auth(admin)
            .json(&json!({"url": url, "event_types": types})),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    endpoint["secret"].as_str().expect("the secret").to_owned()
}

/// The order's events reached NATS once each and in order, and the endpoint, down for its
/// first three requests, got each of them signed and verifiable.
async fn its_events_went_out(dev: &Dev, order: &str, receiver: &WebhookReceiver, secret: &str) {
    let mut tap = testkit::events::EventTap::open(&dev.events).await;
    let mut published = Vec::new();
    while let Some((_, envelope)) = tap.next(Duration::from_secs(3)).await {
        if envelope["aggregate"] == "order" && envelope["aggregate_id"] == order {
            published.push(envelope);
        }
    }
    let types: Vec<&str> = published
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        ["order.created", "order.confirmed", "order.completed"]
    );

    let received = receiver.wait_for(6, Duration::from_secs(60)).await;
    let webhook = standardwebhooks::Webhook::new(secret).expect("a Standard Webhooks secret");
    let mut accepted = std::collections::BTreeSet::new();
    for (n, request) in received.iter().enumerate() {
        let mut headers = http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, request.headers[name].clone());
        }
        webhook
            .verify(&request.body, &headers)
            .expect("every delivery verifies");
        if n >= 3 {
            accepted.insert(
                request.headers["webhook-id"]
                    .to_str()
                    .expect("ASCII")
                    .to_owned(),
            );
        }
    }
    let ids: std::collections::BTreeSet<String> = published
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(accepted, ids, "each event arrived after the outage");
}

fn empty_folder(name: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&folder);
    folder
}

#[tokio::test]
async fn emporium_dev_starts_from_nothing_completes_an_order_and_stops_then_starts_again_as_it_was()
{
    let database = testkit::TestDb::create().await;
    let dev = Dev {
        data: empty_folder(&format!("dev-{}", uuid::Uuid::new_v4().simple())),
        database_url: database.url.expose_secret().to_owned(),
        temporal_port: free_port(),
        ui_port: free_port(),
        api_port: free_port(),
        ops_port: free_port(),
        events: testkit::events::test_stream(),
    };
    let http = reqwest::Client::new();

    let mut first = dev.start(&http, "first").await;
    let (admin_password, jwt_secret) = (dev.read("admin-password"), dev.read("jwt-secret"));
    assert!(
        dev.data.join("temporal.sqlite").exists(),
        "history is kept in the data folder"
    );
    let admin = login(
        &http,
        &dev,
        "admin@emporium.localhost",
        admin_password.trim(),
    )
    .await;
    let (status, _) = send(http.post(dev.url("/auth/register")).json(&json!({
        "email": "newcomer@example.com", "name": "Newcomer", "password": "a long enough password"
    })))
    .await;
    assert_eq!(status, 201);
    let customer = login(
        &http,
        &dev,
        "newcomer@example.com",
        "a long enough password",
    )
    .await;
    let receiver = WebhookReceiver::start(&[503, 503, 503], 200).await;
    let secret = register_endpoint(&http, &dev, &admin, &receiver.url).await;
    let order = place_and_complete(&http, &dev, &customer).await;
    its_events_went_out(&dev, &order, &receiver, &secret).await;

    let stopped = interrupt(&mut first, Duration::from_secs(45)).await;
    assert!(stopped.success(), "Ctrl-C is a clean stop: {stopped:?}");
    assert!(
        !dev.temporal_answers(),
        "its Temporal dev server stopped with it"
    );

    let mut second = dev.start(&http, "second").await;
    assert_eq!(
        dev.read("admin-password"),
        admin_password,
        "the demo admin is made once"
    );
    assert_eq!(
        dev.read("jwt-secret"),
        jwt_secret,
        "the secret is made once"
    );
    assert_eq!(
        status_of(&http, &dev, &customer, &order).await,
        "completed",
        "the token from before the restart still works, and the order is there"
    );
    let temporal = platform::temporal::connect(&platform::settings::TemporalSettings::at(
        &format!("127.0.0.1:{}", dev.temporal_port),
    ))
    .await
    .expect("the restarted Temporal");
    let workflow_id = contracts::orders::workflow_id(order.parse().expect("an order id"));
    let history = workers::history::export(&temporal, &workflow_id)
        .await
        .expect("the order's workflow history survived the restart");
    assert!(
        history.contains("WorkflowExecutionCompletedEventAttributes"),
        "the completed run is in the kept history"
    );
    let (status, _) = send(http.get(dev.url("/audit/logs")).bearer_auth(&admin)).await;
    assert_eq!(
        status, 200,
        "the admin's token from before the restart still works"
    );

    let stopped = interrupt(&mut second, Duration::from_secs(45)).await;
    assert!(stopped.success(), "{stopped:?}");
    assert!(!dev.temporal_answers());
}
