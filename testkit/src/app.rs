//! `TestApp`: the real API on a random port and real workers, against a fresh database and the
//! test binary's Temporal server, on task queues private to the test.

use crate::gate::TcpGate;
use crate::shopper::Shopper;
use crate::{TestDb, temporal_address, temporal_client};
use activities::events::relay::StreamConfig;
use activities::inventory::queries::{StockLevel, create_stock, stock_level};
use activities::notifications::webhooks::WebhookPolicy;
use activities::notifications::{EmailSender, SmsGateway, SmtpConfig};
use activities::payments::sandbox::SandboxGateway;
use activities::payments::{PaymentGateway, RenewalSettings, RiskPolicy};
use activities::shipping::simulated::SimulatedCarrier;
use activities::shipping::simulated_webhooks::SimulatedWebhooks;
use activities::shipping::{Carriers, TrackingPolicy};
use contracts::orders::OrderTerms;
use contracts::orders::{OrderSnapshot, workflow_id};
use contracts::{Currency, Money, Service, TaskQueues};
use futures::StreamExt as _;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowCountOptions, WorkflowExecution, WorkflowListOptions, WorkflowQueryOptions,
};
use tokio_util::sync::CancellationToken;

/// What to run besides the API.
#[derive(Clone)]
pub struct TestAppOptions {
    /// Services whose workers run (all by default; none to test the API alone).
    pub services: Vec<Service>,
    /// The payment gateway the payments worker uses.
    pub payment_gateway: Arc<dyn PaymentGateway>,
    /// Which orders wait for review (by default: above 1000.00, for an hour).
    pub risk: RiskPolicy,
    /// How long reservations hold stock.
    pub reservation_ttl: Duration,
    /// How often expired reservations are reclaimed.
    pub sweep_interval: Duration,
    /// The Stripe webhook signing secret the API verifies with.
    pub stripe_webhook_secret: Option<String>,
    /// The carriers (by default the simulated one, whose parcels move every second).
    pub carriers: Carriers,
    /// The simulated carrier among them (the one whose webhooks `simulated_webhooks` sends).
    pub simulated_carrier: SimulatedCarrier,
    /// How parcels are followed (by default: polled every second).
    pub tracking: TrackingPolicy,
    /// The SMS gateway, if any.
    pub sms: Option<SmsGateway>,
    /// Shared webhook secrets of HTTP carriers, by name.
    pub carrier_webhook_secrets: HashMap<String, String>,
    /// Send email to this port instead of the test SMTP server (to make email fail).
    pub smtp_port: Option<u16>,
    /// How long access tokens are valid.
    pub token_ttl: Duration,
    /// After how long an idle cart reminds its customer.
    pub cart_reminder_after: Duration,
    /// After how long an idle cart closes.
    pub cart_expire_after: Duration,
    /// How long a password-reset link works.
    pub password_reset_valid_for: Duration,
    /// What orders do before their authorisation lapses.
    pub renewal: RenewalSettings,
    /// The orders service's terms (how long an order waits for an operator's attention).
    pub order_terms: OrderTerms,
    /// The simulated carrier posts its events to the test API's carrier webhook, as
    /// `emporium dev`'s does (with the carriers' own simulated carrier, if there is one).
    pub simulated_webhooks: bool,
    /// More for the workers to serve (the benchmark's ceiling).
    pub extra: Option<workers::ExtraRegistrations>,
    /// Login attempts per account per minute.
    pub logins_per_account_per_minute: u32,
    /// Login attempts per client address per minute.
    pub logins_per_address_per_minute: u32,
    /// Where the outbox relays publish domain events (off by default; see
    /// [`crate::events::test_stream`]).
    pub events: Option<StreamConfig>,
    /// How merchant webhooks are delivered.
    pub webhooks: WebhookPolicy,
    /// Workflow runs each worker keeps cached (sticky); fewer than the runs in flight makes
    /// the workers evict and replay them.
    pub max_cached_workflows: usize,
    /// The API reaches Temporal through a [`TcpGate`] ([`TestApp::gate`]), so that a test can
    /// take Temporal away from the API alone.
    pub api_behind_gate: bool,
}

impl Default for TestAppOptions {
    fn default() -> Self {
        Self {
            services: Service::ALL.to_vec(),
            payment_gateway: Arc::new(SandboxGateway::default()),
            risk: RiskPolicy {
                review_threshold_minor: 100_000,
                review_timeout: Duration::from_secs(3600),
            },
            reservation_ttl: Duration::from_secs(3 * 3600),
            sweep_interval: Duration::from_secs(3600),
            stripe_webhook_secret: None,
            carriers: Carriers::default()
                .with(Arc::new(SimulatedCarrier::new(Duration::from_secs(1)))),
            simulated_carrier: SimulatedCarrier::new(Duration::from_secs(1)),
            tracking: TrackingPolicy {
                poll_interval: Duration::from_secs(1),
                poll_max_interval: Duration::from_secs(1),
                delivery_deadline: Duration::from_secs(3600),
            },
            sms: None,
            carrier_webhook_secrets: HashMap::new(),
            smtp_port: None,
            token_ttl: Duration::from_secs(3600),
            cart_reminder_after: Duration::from_secs(3600),
            cart_expire_after: Duration::from_secs(30 * 24 * 3600),
            password_reset_valid_for: Duration::from_secs(30 * 60),
            renewal: RenewalSettings::default(),
            order_terms: activities::orders::DEFAULT_TERMS,
            simulated_webhooks: false,
            extra: None,
            logins_per_account_per_minute: 5,
            logins_per_address_per_minute: 1000,
            events: None,
            webhooks: WebhookPolicy::default(),
            max_cached_workflows: 100,
            api_behind_gate: false,
        }
    }
}

impl TestAppOptions {
    /// With the simulated carrier moving parcels every `step` as the only carrier.
    #[must_use]
    pub fn with_simulated_carrier(mut self, step: Duration) -> Self {
        self.simulated_carrier = SimulatedCarrier::new(step);
        self.carriers = Carriers::default().with(Arc::new(self.simulated_carrier.clone()));
        self
    }
}

/// The API's Temporal client: `temporal`, or a client of its own behind a fresh gate.
async fn api_temporal(behind_gate: bool, temporal: &Client) -> (Option<TcpGate>, Client) {
    if !behind_gate {
        return (None, temporal.clone());
    }
    let gate = TcpGate::to(temporal_address()).await;
    let settings = platform::settings::TemporalSettings::at(gate.address());
    let client = platform::temporal::connect(&settings)
        .await
        .expect("connecting to Temporal through the gate");
    (Some(gate), client)
}

/// A running app for one test.
pub struct TestApp {
    /// Base URL of the API, such as `http://127.0.0.1:41234`.
    pub address: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The test's database.
    pub db: DatabaseConnection,
    /// The test database (URL and helpers).
    pub test_db: TestDb,
    /// A Temporal client.
    pub temporal: Client,
    /// The test's private task queues.
    pub queues: TaskQueues,
    /// The email of this app's customer (an address of its own, so tests sharing the SMTP
    /// server see only theirs).
    pub customer_email: String,
    /// This app's customer.
    pub customer: activities::customers::Customer,
    /// The customer's access token; the request helpers send it.
    pub token: String,
    /// An admin's access token.
    pub admin_token: String,
    /// An operator's access token.
    pub operator_token: String,
    /// The password every test account has.
    pub password: String,
    /// Issues tokens like the API does.
    pub auth: api::auth::Auth,
    /// The gate between the API and Temporal, with [`TestAppOptions::api_behind_gate`].
    pub gate: Option<TcpGate>,
    /// What the API was started with, for [`TestApp::another_api`].
    api: (api::AppState, api::ApiConfig),
    shutdown: CancellationToken,
}

impl TestApp {
    /// API and every worker.
    pub async fn spawn() -> Self {
        Self::spawn_with(TestAppOptions::default()).await
    }

    /// API and the workers `options` asks for.
    pub async fn spawn_with(options: TestAppOptions) -> Self {
        crate::init_logs();
        let test_db = TestDb::create().await;
        let temporal = temporal_client().await;
        let queues = TaskQueues::with_prefix(format!(
            "t{}-",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        let shutdown = CancellationToken::new();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a port for the API");
        let address = format!(
            "http://{}",
            listener.local_addr().expect("the listener has an address")
        );
        let carrier_secret = SecretString::from(format!("carrier-{}", uuid::Uuid::new_v4()));
        let simulated_webhooks = options.simulated_webhooks.then(|| SimulatedWebhooks {
            url: format!("{address}/webhooks/carrier/simulated"),
            secret: carrier_secret.clone(),
        });
        if !options.services.is_empty() {
            let workers = Workers {
                options: options.clone(),
                simulated_webhooks: simulated_webhooks.clone(),
            };
            spawn_workers(&test_db, &queues, workers, shutdown.clone()).await;
        }
        let auth = api::auth::Auth::new(&api::auth::AuthConfig {
            jwt_secret: secrecy::SecretString::from(format!(
                "test-secret-{}",
                uuid::Uuid::new_v4()
            )),
            token_ttl: options.token_ttl,
            logins_per_account_per_minute: options.logins_per_account_per_minute,
            logins_per_address_per_minute: options.logins_per_address_per_minute,
        });
        let (gate, api_temporal) = api_temporal(options.api_behind_gate, &temporal).await;
        let api_db = test_db.connect_as(platform::db::API_ROLE).await;
        let feed = api::feed::FeedHub::start(&api_db);
        let state = api::AppState {
            views: api::views::OrderViews::start(&api_db, &feed),
            feed,
            links: api::AccountLinks {
                reset_valid_for: options.password_reset_valid_for,
                ..api::AccountLinks::new(address.clone())
            },
            stopping: CancellationToken::new(),
            recent: api::RecentOrders::default(),
            webhooks: options.webhooks.clone(),
            db: api_db,
            temporal: api_temporal,
            queues: queues.clone(),
            auth: auth.clone(),
            cart_reminder_after: options.cart_reminder_after,
            cart_expire_after: options.cart_expire_after,
        };
        let config = api::ApiConfig {
            max_body_bytes: 64 * 1024,
            web_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist"),
            stripe_webhook_secret: options
                .stripe_webhook_secret
                .clone()
                .map(secrecy::SecretString::from),
            carrier_webhook_secrets: options
                .carrier_webhook_secrets
                .iter()
                .map(|(name, secret)| (name.clone(), secrecy::SecretString::from(secret.clone())))
                .chain(
                    simulated_webhooks
                        .iter()
                        .map(|_| ("simulated".to_owned(), carrier_secret.clone())),
                )
                .collect(),
        };
        let stop = shutdown.clone();
        let api = (state.clone(), config.clone());
        tokio::spawn(api::serve(listener, state, config, async move {
            stop.cancelled().await;
        }));

        let tag = queues.prefix().trim_end_matches('-').to_owned();
        let password = "correct horse battery staple".to_owned();
        let account = |who: &'static str, role| {
            let db = test_db.db.clone();
            let email = format!("{who}+{tag}@example.com");
            let password = password.clone();
            async move {
                activities::customers::ensure_account(&db, &email, who, &password, role)
                    .await
                    .expect("creating a test account")
            }
        };
        use activities::customers::Role;
        let customer = account("ada", Role::Customer).await;
        let admin = account("admin", Role::Admin).await;
        let operator = account("operator", Role::Operator).await;
        let token_of = |who| auth.issue(who).map(|(token, _)| token).expect("a token");
        Self {
            address,
            http: reqwest::Client::new(),
            db: test_db.db.clone(),
            test_db,
            temporal,
            queues,
            customer_email: customer.email.clone(),
            token: token_of(&customer),
            admin_token: token_of(&admin),
            operator_token: token_of(&operator),
            customer,
            password,
            auth,
            gate,
            api,
            shutdown,
        }
    }

    /// Starts a second API instance, as another process would be: its own connections and
    /// its own ear on the change feed, the same database, Temporal (never behind the first
    /// one's gate) and secrets. Answers its base URL; it stops with the app.
    pub async fn another_api(&self) -> String {
        let (state, config) = self.api.clone();
        let db = self.test_db.connect_as(platform::db::API_ROLE).await;
        let feed = api::feed::FeedHub::start(&db);
        let state = api::AppState {
            temporal: self.temporal.clone(),
            views: api::views::OrderViews::start(&db, &feed),
            feed,
            auth: state.auth.separate(),
            db,
            stopping: CancellationToken::new(),
            recent: api::RecentOrders::default(),
            ..state
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the second API");
        let address = format!("http://{}", listener.local_addr().expect("its address"));
        let stop = self.shutdown.clone();
        tokio::spawn(api::serve(listener, state, config, async move {
            stop.cancelled().await;
        }));
        address
    }

    /// Registers another customer and returns their access token.
    pub async fn another_customer(&self, name: &str) -> (activities::customers::Customer, String) {
        let email = format!(
            "{name}+{}@example.com",
            self.queues.prefix().trim_end_matches('-')
        );
        let customer = activities::customers::ensure_account(
            &self.db,
            &email,
            name,
            &self.password,
            activities::customers::Role::Customer,
        )
        .await
        .expect("another account");
        let token = self.auth.issue(&customer).map(|(t, _)| t).expect("a token");
        (customer, token)
    }

    /// `GET` a path with a token (or none), returning status and JSON body.
    pub async fn get_json_as(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends a JSON body with a method and a token (or none), returning status and JSON body.
    pub async fn send_json_as(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST` a JSON body with a token (or none).
    pub async fn post_json_as(
        &self,
        token: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        self.send_json_as(reqwest::Method::POST, token, path, body)
            .await
    }

    /// Messages the test SMTP server received for this app's customer.
    pub fn mailbox(&self) -> Vec<crate::smtp::ReceivedMail> {
        crate::smtp::smtp_server().messages_to(&self.customer_email)
    }

    /// Places an order shipping to `postal_code`.
    pub async fn place_order_to(&self, sku: &str, quantity: u32, postal_code: &str) -> String {
        let mut address = Self::address();
        address["postal_code"] = Value::from(postal_code);
        let response = self
            .post_order(&serde_json::json!({
                "shipping_address": address,
                "lines": [{ "sku": sku, "quantity": quantity }],
                "payment_method": "pm_card_visa",
            }))
            .await;
        assert_eq!(response.status().as_u16(), 202, "order accepted");
        let body: Value = response.json().await.expect("JSON body");
        body["order_id"].as_str().expect("an order id").to_owned()
    }

    /// A shipping address for test orders.
    pub fn address() -> Value {
        crate::shopper::address()
    }

    /// This app's customer, over HTTP.
    pub fn shopper(&self) -> Shopper {
        Shopper::new(self.http.clone(), self.address.clone(), self.token.clone())
    }

    /// Adds a product priced in EUR cents with `stock` units.
    pub async fn seed_product(&self, sku: &str, price_cents: i64, stock: i64) {
        let eur = Currency::new("EUR").expect("EUR is a currency");
        activities::catalog::upsert_product(
            &self.db,
            activities::catalog::ProductDraft {
                sku: sku.to_owned(),
                name: format!("Product {sku}"),
                description: String::new(),
                price: Money::new(price_cents, eur),
                active: true,
                specifications: Vec::new(),
            },
        )
        .await
        .expect("seeding a product");
        create_stock(&self.db, sku, stock)
            .await
            .expect("seeding stock");
    }

    /// Takes a product off sale, as an admin would between a customer's adding it to a cart
    /// and checking out.
    pub async fn withdraw_product(&self, sku: &str) {
        use sea_orm::ConnectionTrait as _;
        let withdrawn = self
            .db
            .execute(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "UPDATE catalog.products SET active = false WHERE sku = $1",
                [sku.into()],
            ))
            .await
            .expect("withdrawing a product");
        assert_eq!(withdrawn.rows_affected(), 1, "no product {sku} to withdraw");
    }

    /// The stock of a SKU.
    pub async fn stock(&self, sku: &str) -> StockLevel {
        stock_level(&self.db, sku)
            .await
            .expect("reading stock")
            .expect("the SKU has stock")
    }

    /// `POST /orders` with a JSON body.
    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.shopper().post_order(body).await
    }

    /// `POST /orders` with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("POST")
    }

    /// `GET` a path as this app's customer, returning status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        self.get_json_as(Some(&self.token), path).await
    }

    /// Places an order for one line and returns its id.
    pub async fn place_order(&self, sku: &str, quantity: u32, payment_method: &str) -> String {
        self.shopper()
            .place_order(sku, quantity, payment_method)
            .await
    }

    /// Polls `GET /orders/{id}` until the order reaches a final status, and returns it.
    pub async fn wait_for_final_order(&self, order_id: &str) -> Value {
        self.shopper().wait_for_final_order(order_id).await
    }

    /// `POST` a JSON body to a path as this app's customer, returning status and JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_json_as(Some(&self.token), path, body).await
    }

    /// Places an order with these lines (`(sku, quantity)`) and returns its id.
    pub async fn place_lines(&self, lines: &[(&str, u32)], payment_method: &str) -> String {
        self.shopper().place_lines(lines, payment_method).await
    }

    /// Polls `GET /orders/{id}` until the order has `status`, and returns it.
    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> Value {
        self.shopper().wait_for_status(order_id, status).await
    }

    /// Waits until the order's workflow has started: an accepted order's start follows the
    /// API's answer (`api::intake`).
    pub async fn wait_for_workflow(&self, order_id: &str) {
        let id: contracts::OrderId = order_id.parse().expect("an order id");
        let handle = self
            .temporal
            .get_workflow_handle::<workflows::PlaceOrder>(workflow_id(id));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Err(err) = handle
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id}'s workflow did not start: {err}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The order's live state, from its workflow's `status` query.
    pub async fn live_state(&self, order_id: &str) -> OrderSnapshot {
        self.wait_for_workflow(order_id).await;
        let id: contracts::OrderId = order_id.parse().expect("an order id");
        self.temporal
            .get_workflow_handle::<workflows::PlaceOrder>(workflow_id(id))
            .query(
                workflows::PlaceOrder::status,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
            .expect("querying the order")
    }

    /// Waits until the order's workflow has closed (whatever its result).
    pub async fn wait_for_workflow_end(&self, order_id: &str) {
        self.wait_for_workflow(order_id).await;
        let id: contracts::OrderId = order_id.parse().expect("an order id");
        let _ = tokio::time::timeout(
            Duration::from_secs(60),
            self.temporal
                .get_workflow_handle::<workflows::PlaceOrder>(workflow_id(id))
                .get_result(temporalio_client::WorkflowGetResultOptions::default()),
        )
        .await
        .expect("the workflow ends");
    }

    /// Workflows of this app matching a visibility query (combined with this app's queue).
    pub async fn workflows_matching(&self, query: &str) -> Vec<WorkflowExecution> {
        let query = format!(
            "TaskQueue = '{}' AND {query}",
            self.queues.of(Service::Orders)
        );
        self.temporal
            .list_workflows(query, WorkflowListOptions::default())
            .filter_map(|found| async move { found.ok() })
            .collect()
            .await
    }

    /// The workflows matching `query` once there are exactly `count` of them: the Web UI's
    /// search is eventually consistent (a search attribute is indexed a moment after the
    /// workflow upserts it), so this waits up to ten seconds, then fails the test.
    pub async fn wait_for_workflows_matching(
        &self,
        query: &str,
        count: usize,
    ) -> Vec<WorkflowExecution> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.workflows_matching(query).await;
            if found.len() == count {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} workflows match `{query}`, not {count}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every run of every workflow on this app's task queues, closed ones too (each run of a
    /// workflow that continued as new is one).
    pub async fn runs(&self) -> Vec<WorkflowExecution> {
        let query = Service::ALL
            .iter()
            .map(|&service| format!("TaskQueue = '{}'", self.queues.of(service)))
            .collect::<Vec<_>>()
            .join(" OR ");
        self.temporal
            .list_workflows(query, WorkflowListOptions::default())
            .filter_map(|found| async move { found.ok() })
            .collect()
            .await
    }

    /// Asserts that no workflow run of this app was terminated (the test server terminates a
    /// run that outgrows [`crate::HISTORY_LIMITS`]) and that every run stayed within
    /// `events_per_run`; answers `(workflow type, run id, events)` of every closed run, longest
    /// first. Terminations the test made itself are named in `terminated_on_purpose`.
    pub async fn assert_histories_bounded(
        &self,
        events_per_run: i64,
        terminated_on_purpose: &[&str],
    ) -> Vec<(String, String, i64)> {
        use temporalio_client::WorkflowExecutionStatus;
        // Visibility catches up with a run's close a moment later.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut lengths = Vec::new();
        for run in self.runs().await {
            let status = run.status();
            assert!(
                status != WorkflowExecutionStatus::Terminated
                    || terminated_on_purpose.contains(&run.id()),
                "{} {} was terminated (history length {})",
                run.workflow_type(),
                run.id(),
                run.history_length()
            );
            assert!(
                run.history_length() <= events_per_run,
                "{} {} has {} history events, over its budget of {events_per_run}",
                run.workflow_type(),
                run.id(),
                run.history_length()
            );
            if status != WorkflowExecutionStatus::Running {
                lengths.push((
                    run.workflow_type().to_owned(),
                    run.run_id().to_owned(),
                    run.history_length(),
                ));
            }
        }
        lengths.sort_by_key(|(_, _, events)| std::cmp::Reverse(*events));
        lengths
    }

    /// How many workflows were started on this app's task queues.
    pub async fn workflows_started(&self) -> usize {
        let query = format!("TaskQueue = '{}'", self.queues.of(Service::Orders));
        self.temporal
            .count_workflows(query, WorkflowCountOptions::default())
            .await
            .expect("counting workflows")
            .count()
    }

    /// The Temporal address the app uses.
    pub fn temporal_address(&self) -> &'static str {
        temporal_address()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What the test's workers run with.
struct Workers {
    options: TestAppOptions,
    simulated_webhooks: Option<SimulatedWebhooks>,
}

/// Runs the workers on a thread of their own (the worker future is not `Send`), with their own
/// runtime, database pool and Temporal client. Returns once they poll.
async fn spawn_workers(
    test_db: &TestDb,
    queues: &TaskQueues,
    workers: Workers,
    shutdown: CancellationToken,
) {
    let Workers {
        options,
        simulated_webhooks,
    } = workers;
    let url = test_db.url.clone();
    let queues = queues.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("test-workers".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for the workers");
            runtime.block_on(async move {
                let dbs = platform::db::ServicePools::connect(&url, &options.services, 4)
                    .await
                    .expect("connecting the workers to the test database");
                let client = temporal_client().await;
                let port = options
                    .smtp_port
                    .unwrap_or_else(|| crate::smtp::smtp_server().port);
                let email = EmailSender::smtp(
                    &SmtpConfig {
                        host: "127.0.0.1".to_owned(),
                        port,
                        starttls: false,
                        username: None,
                        password: None,
                    },
                    "Emporium <orders@emporium.test>",
                )
                .expect("an SMTP sender");
                let simulated =
                    simulated_webhooks.map(|hooks| (options.simulated_carrier.clone(), hooks));
                let deps = workers::ServiceDeps {
                    dbs,
                    payment_gateway: options.payment_gateway,
                    reservation_ttl: options.reservation_ttl,
                    sweep_interval: options.sweep_interval,
                    risk: options.risk,
                    renewal: options.renewal,
                    order_terms: options.order_terms,
                    carriers: options.carriers,
                    tracking: options.tracking,
                    simulated_webhooks: simulated,
                    email,
                    sms: options.sms,
                    extra: options.extra,
                    events: options.events,
                    webhooks: options.webhooks,
                    max_cached_workflows: options.max_cached_workflows,
                    shutdown_grace: Duration::from_secs(5),
                };
                let _ = ready_tx.send(());
                if let Err(err) =
                    workers::run(client, &options.services, &queues, &deps, shutdown, None).await
                {
                    tracing::error!(%err, "test workers failed");
                }
            });
        })
        .expect("spawning the worker thread");
    ready_rx.await.expect("the workers start");
}
