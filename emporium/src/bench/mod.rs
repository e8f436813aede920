//! `emporium bench`: drives a running platform over HTTP the way shops would, and measures it
//! against what Temporal alone can do on the same server and workers.
//!
//! 1. **Set-up**, over the API as an admin: a few products with enough stock for the run, and
//!    distinct customers who register and log in.
//! 2. **Orders**: `concurrency` clients, each placing an order (`POST /orders` with an
//!    `Idempotency-Key`, a small share with a declined card), then polling `GET /orders/{id}`
//!    until it is confirmed (or refused), then placing the next; `--rate` caps how many start
//!    per second. Placed → confirmed is read from the order's own status history (server
//!    clocks), not from the polling.
//! 3. **Completion**: the orders go on to the carrier and delivery on their own; the bench waits
//!    for them (`GET /orders?status=completed`) to report completions per second.
//! 4. **Ceiling** (`--baseline`): the same number of clients run BenchBaseline, a no-op
//!    workflow that makes the same activity calls on the same task queues as PlaceOrder makes
//!    before confirming an order (read from a real order's history), on the same Temporal
//!    server and workers. The ratio of confirmed orders per second to ceiling workflows per
//!    second is what our own code costs on top of Temporal.
//!
//! Meanwhile the memory and CPU of the platform's processes (found in `/proc`) are sampled.
//! The report is printed as a table and written as JSON.

mod processes;
mod stats;

use anyhow::{Context as _, bail};
use contracts::bench::{BaselineInput, BaselineOutcome};
use contracts::{Service, TaskQueues};
use indicatif::{ProgressBar, ProgressStyle};
use processes::{Sampler, Usage};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use stats::{Percentiles, per_second, round};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use temporalio_client::{Client, WorkflowStartOptions};
use tokio::sync::Mutex;
use workflows::BenchBaseline;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Orders to place.
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// Clients placing orders at the same time.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// At most this many orders started per second (default: as fast as the clients go).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Also run the ceiling: a no-op workflow with PlaceOrder's activity calls.
    #[arg(long)]
    pub baseline: bool,
    /// The API's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// An admin account, to create the run's products and stock.
    #[arg(long, default_value = "admin@emporium.localhost")]
    pub admin_email: String,
    /// Its password (default: the one `emporium dev` wrote into the data folder).
    #[arg(long, env = "EMPORIUM_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Percentage of orders paid with a card that is declined.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub declined_percent: u8,
    /// Distinct customers (default: one per client).
    #[arg(long)]
    pub customers: Option<usize>,
    /// How long to wait for the orders to be delivered and completed, seconds (0: do not wait).
    #[arg(long, default_value_t = 300)]
    pub completion_timeout_secs: u64,
    /// Where to write the JSON report (default: `<data dir>/bench-<time>.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Orders it was asked to place.
    pub orders_requested: usize,
    /// Clients at once.
    pub concurrency: usize,
    /// Start-rate cap, if any.
    pub rate: Option<f64>,
    /// The machine.
    pub machine: Machine,
    /// What happened to the orders.
    pub orders: OrderCounts,
    /// Per second.
    pub throughput: Throughput,
    /// Latencies.
    pub latency: Latencies,
    /// History events per PlaceOrder (a completed order's full history), mean over a sample.
    pub history_events_per_order: Option<f64>,
    /// The ceiling run, with `--baseline`.
    pub baseline: Option<Baseline>,
    /// Confirmed orders per second ÷ ceiling workflows per second.
    pub ratio: Option<f64>,
    /// The platform's processes from the first order to the last delivery.
    pub processes: Vec<Usage>,
}

/// Where it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs available.
    pub cpus: usize,
    /// Total memory, MiB.
    pub memory_mib: Option<u64>,
    /// Whether the bench itself is a release build (the platform's build is its own).
    pub bench_build: &'static str,
}

/// What happened to the orders.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderCounts {
    /// Answered 202.
    pub accepted: usize,
    /// Answered anything else.
    pub refused: usize,
    /// Reached `confirmed`.
    pub confirmed: usize,
    /// Ended `payment_failed` (the declined share).
    pub payment_failed: usize,
    /// Ended otherwise before confirmation (`rejected`, `failed`, ...).
    pub other_failures: usize,
    /// Neither confirmed nor refused within the deadline.
    pub stuck: usize,
    /// Reached `completed` (delivered) before the completion timeout.
    pub completed: usize,
}

/// Per second.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Throughput {
    /// Orders accepted (202) per second, over the order phase.
    pub accepted_per_sec: f64,
    /// Orders confirmed per second, over the order phase.
    pub confirmed_per_sec: f64,
    /// Orders completed per second, from the first order to the last completion.
    pub completed_per_sec: Option<f64>,
}

/// Latencies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies {
    /// `POST /orders`, as the client saw it.
    pub post_orders: Percentiles,
    /// `GET /orders/{id}`, as the client saw it.
    pub get_order: Percentiles,
    /// Placed (`pending`) → `confirmed`, from the order's status history.
    pub placed_to_confirmed: Percentiles,
}

/// The ceiling run.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// Workflows run.
    pub workflows: usize,
    /// The task queue of each activity call (PlaceOrder's, up to confirmation).
    pub task_queues: Vec<String>,
    /// Completed per second.
    pub per_sec: f64,
    /// Start → result.
    pub latency: Percentiles,
    /// History events of one workflow.
    pub history_events: Option<usize>,
    /// The platform's processes during the ceiling run.
    pub processes: Vec<Usage>,
}

/// Statuses an order has reached once it is confirmed.
const CONFIRMED_OR_LATER: [&str; 7] = [
    "confirmed",
    "label_created",
    "shipped",
    "out_for_delivery",
    "delivered",
    "completed",
    "refunded",
];
/// How often a client asks whether its order is confirmed: a shop's status page polling four
/// times a second. (Placed → confirmed is read from the order's history, so this does not
/// blur the latency; polling harder only adds load a real shop would not.)
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long an order may take to be confirmed or refused before it counts as stuck.
const CONFIRM_DEADLINE: Duration = Duration::from_secs(120);
/// Products the orders are spread over.
const PRODUCTS: usize = 3;

/// An HTTP client for the API.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }

    /// Sends, waiting out `429`s as `Retry-After` says (login limits).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        loop {
            let mut request = self.http.request(method.clone(), self.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {path}"))?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                tracing::warn!(
                    path,
                    wait,
                    "rate-limited; waiting (raise EMPORIUM_AUTH__LOGINS_PER_ADDRESS_PER_MINUTE for big runs)"
                );
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let body = response.json().await.unwrap_or(Value::Null);
            return Ok((status, body));
        }
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
        wanted: StatusCode,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.send(method.clone(), path, token, Some(body)).await?;
        if status != wanted {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let answer = self
            .expect(
                reqwest::Method::POST,
                "/auth/login",
                None,
                &json!({"email": email, "password": password}),
                StatusCode::OK,
            )
            .await
            .with_context(|| format!("logging in as {email}"))?;
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("a token in the login answer")
    }
}

/// What the set-up made.
struct Shop {
    skus: Vec<String>,
    customers: Vec<String>,
    admin: String,
}

async fn set_up(
    api: &Api,
    options: &BenchOptions,
    admin_password: &str,
    run: &str,
) -> anyhow::Result<Shop> {
    let admin = api.login(&options.admin_email, admin_password).await?;
    let mut skus = Vec::new();
    for n in 0..PRODUCTS {
        let sku = format!("BENCH-{run}-{n}");
        api.expect(
            reqwest::Method::POST,
            "/products",
            Some(&admin),
            &json!({"sku": sku, "name": format!("Benchmark item {n}"),
                    "description": "Created by emporium bench.",
                    "price": {"amount_minor": 1500, "currency": "EUR"}}),
            StatusCode::CREATED,
        )
        .await?;
        api.expect(
            reqwest::Method::POST,
            "/inventory/adjustments",
            Some(&admin),
            &json!({"sku": sku, "delta": options.orders + 10, "reason": "emporium bench"}),
            StatusCode::OK,
        )
        .await?;
        skus.push(sku);
    }
    let count = options
        .customers
        .unwrap_or(options.concurrency)
        .clamp(1, options.orders.max(1));
    let password = format!("bench password {run}");
    let mut customers = Vec::new();
    for n in 0..count {
        let email = format!("bench-{run}-{n}@example.com");
        api.expect(
            reqwest::Method::POST,
            "/auth/register",
            None,
            &json!({"email": email, "name": format!("Bench customer {n}"), "password": password}),
            StatusCode::CREATED,
        )
        .await?;
        customers.push(api.login(&email, &password).await?);
    }
    Ok(Shop {
        skus,
        customers,
        admin,
    })
}

/// One order's fate.
#[derive(Debug, Default)]
struct Placed {
    post: Option<Duration>,
    gets: Vec<Duration>,
    accepted: bool,
    final_status: Option<String>,
    placed_to_confirmed: Option<Duration>,
    order_id: Option<String>,
}

/// The status history's `pending` → `confirmed` interval.
fn confirmation_time(order: &Value) -> Option<Duration> {
    let at = |status: &str| {
        order["history"].as_array()?.iter().find_map(|change| {
            (change["status"] == status)
                .then(|| change["at"].as_str())
                .flatten()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        })
    };
    (at("confirmed")? - at("pending")?).to_std().ok()
}

async fn place_one(api: &Api, shop: &Shop, options: &BenchOptions, run: &str, n: usize) -> Placed {
    let mut placed = Placed::default();
    let token = &shop.customers[n % shop.customers.len()];
    let declined = (n * 37 + 11) % 100 < usize::from(options.declined_percent);
    let body = json!({
        "shipping_address": {"name": "Bench Customer", "line1": "1 Main St", "city": "London",
                             "postal_code": "N1", "country": "GB"},
        "lines": [{"sku": shop.skus[n % shop.skus.len()], "quantity": 1}],
        "payment_method": if declined { "pm_card_chargeDeclined" } else { "pm_card_visa" },
    });
    let started = Instant::now();
    let response = api
        .http
        .post(api.url("/orders"))
        .bearer_auth(token)
        .header("idempotency-key", format!("bench-{run}-{n}"))
        .json(&body)
        .send()
        .await;
    placed.post = Some(started.elapsed());
    let Ok(response) = response else {
        return placed;
    };
    if response.status() != StatusCode::ACCEPTED {
        tracing::warn!(status = %response.status(), "an order was refused");
        return placed;
    }
    placed.accepted = true;
    let Some(id) = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v["order_id"].as_str().map(str::to_owned))
    else {
        return placed;
    };
    let deadline = Instant::now() + CONFIRM_DEADLINE;
    while Instant::now() < deadline {
        tokio::time::sleep(POLL_EVERY).await;
        let asked = Instant::now();
        let Ok(response) = api
            .http
            .get(api.url(&format!("/orders/{id}")))
            .bearer_auth(token)
            .send()
            .await
        else {
            continue;
        };
        let status = response.status();
        let order: Value = response.json().await.unwrap_or(Value::Null);
        placed.gets.push(asked.elapsed());
        if status != StatusCode::OK {
            continue;
        }
        let now = order["status"].as_str().unwrap_or_default().to_owned();
        if CONFIRMED_OR_LATER.contains(&now.as_str()) {
            placed.placed_to_confirmed = confirmation_time(&order);
            placed.final_status = Some("confirmed".to_owned());
            break;
        }
        if matches!(
            now.as_str(),
            "payment_failed" | "rejected" | "failed" | "cancelled"
        ) {
            placed.final_status = Some(now);
            break;
        }
    }
    placed.order_id = Some(id);
    placed
}

fn bar(length: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(length as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}

/// Runs `count` jobs on `concurrency` tasks, at most `rate` starts per second, sampling the
/// processes meanwhile; returns the results in job order and how long it took.
async fn closed_loop<T, F, Fut>(
    count: usize,
    concurrency: usize,
    rate: Option<f64>,
    label: &str,
    sampler: &Arc<Mutex<Sampler>>,
    job: F,
) -> (Vec<T>, Duration)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let pacer = rate.filter(|r| *r > 0.0).map(|r| {
        Arc::new(Mutex::new(tokio::time::interval(Duration::from_secs_f64(
            1.0 / r,
        ))))
    });
    let progress = bar(count, label);
    let started = Instant::now();
    let sampling = {
        let sampler = sampler.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                sampler.lock().await.sample();
            }
        })
    };
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (job, next, pacer, progress) =
                (job.clone(), next.clone(), pacer.clone(), progress.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return done;
                    }
                    if let Some(pacer) = &pacer {
                        pacer.lock().await.tick().await;
                    }
                    done.push((n, job(n).await));
                    progress.inc(1);
                }
            })
        })
        .collect();
    let mut results: Vec<(usize, T)> = Vec::with_capacity(count);
    for task in tasks {
        if let Ok(done) = task.await {
            results.extend(done);
        }
    }
    let elapsed = started.elapsed();
    sampling.abort();
    progress.finish_and_clear();
    results.sort_by_key(|(n, _)| *n);
    (results.into_iter().map(|(_, r)| r).collect(), elapsed)
}

/// The task queue of each activity call PlaceOrder makes to confirm an order, up to and
/// including the confirmation notice (a `NotifyCustomer` activity; for orders from before the
/// weeks-long patch, the first child workflow, their SendNotification), from a real order's
/// history: activities scheduled through the server on their queue, local activities
/// (markers) on the workflow's own queue; the label, bought alongside, is not part of it. The
/// ceiling makes all of them as plain activities, so work PlaceOrder saves by running some
/// locally shows in the ratio.
fn activities_until_confirmed(history: &Value) -> Vec<String> {
    let mut own_queue = String::new();
    let mut queues = Vec::new();
    for event in history["events"].as_array().into_iter().flatten() {
        let attributes = &event["attributes"];
        if let Some(queue) =
            attributes["WorkflowExecutionStartedEventAttributes"]["task_queue"]["name"].as_str()
        {
            own_queue = queue.to_owned();
        }
        if attributes
            .get("StartChildWorkflowExecutionInitiatedEventAttributes")
            .is_some()
        {
            break;
        }
        if let Some(queue) =
            attributes["ActivityTaskScheduledEventAttributes"]["task_queue"]["name"].as_str()
        {
            if queue.ends_with(Service::Shipping.as_str()) {
                continue;
            }
            queues.push(queue.to_owned());
            if queue.ends_with(Service::Notifications.as_str()) {
                break;
            }
        }
        if attributes["MarkerRecordedEventAttributes"]["marker_name"] == "core_local_activity" {
            queues.push(own_queue.clone());
        }
    }
    queues
}

async fn history_events(temporal: &Client, workflow_id: &str) -> Option<(usize, Value)> {
    let json = workers::history::export(temporal, workflow_id).await.ok()?;
    let history: Value = serde_json::from_str(&json).ok()?;
    Some((history["events"].as_array()?.len(), history))
}

async fn completed_count(api: &Api, admin: &str) -> anyhow::Result<u64> {
    let (_, page) = api
        .send(
            reqwest::Method::GET,
            "/orders?status=completed&per_page=1",
            Some(admin),
            None,
        )
        .await?;
    page["total"].as_u64().context("a total in the order list")
}

/// Runs the benchmark against the platform at `options.api`, whose workers poll `queues` on
/// `temporal`.
pub async fn run(
    options: &BenchOptions,
    admin_password: &str,
    temporal: Client,
    queues: TaskQueues,
) -> anyhow::Result<Report> {
    if options.orders == 0 {
        bail!("--orders must be at least 1");
    }
    // Upper-case: it goes into SKUs.
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(options.concurrency.max(1))
            .timeout(Duration::from_secs(30))
            .build()?,
        base: options.api.clone(),
    });
    let started_at = chrono::Utc::now().to_rfc3339();
    eprintln!("setting up {PRODUCTS} products and the customers (run {run})");
    let shop = Arc::new(set_up(&api, options, admin_password, &run).await?);
    let completed_before = completed_count(&api, &shop.admin).await?;
    let sampler = Arc::new(Mutex::new(Sampler::start(processes::find())));

    let first_order = Instant::now();
    let (placed, order_phase) = {
        let (api, shop, options, run) = (api.clone(), shop.clone(), options.clone(), run.clone());
        closed_loop(
            options.orders,
            options.concurrency,
            options.rate,
            "orders",
            &sampler,
            move |n| {
                let (api, shop, options, run) =
                    (api.clone(), shop.clone(), options.clone(), run.clone());
                async move { place_one(&api, &shop, &options, &run, n).await }
            },
        )
        .await
    };

    let mut counts = OrderCounts::default();
    let mut latency = Latencies::default();
    let (mut posts, mut gets, mut confirmations) = (Vec::new(), Vec::new(), Vec::new());
    for order in &placed {
        posts.extend(order.post);
        gets.extend(order.gets.iter().copied());
        confirmations.extend(order.placed_to_confirmed);
        if !order.accepted {
            counts.refused += 1;
            continue;
        }
        counts.accepted += 1;
        match order.final_status.as_deref() {
            Some("confirmed") => counts.confirmed += 1,
            Some("payment_failed") => counts.payment_failed += 1,
            Some(_) => counts.other_failures += 1,
            None => counts.stuck += 1,
        }
    }
    latency.post_orders = Percentiles::of(&posts);
    latency.get_order = Percentiles::of(&gets);
    latency.placed_to_confirmed = Percentiles::of(&confirmations);
    let mut throughput = Throughput {
        accepted_per_sec: per_second(counts.accepted, order_phase),
        confirmed_per_sec: per_second(counts.confirmed, order_phase),
        completed_per_sec: None,
    };

    if options.completion_timeout_secs > 0 && counts.confirmed > 0 {
        let progress = bar(counts.confirmed, "delivered");
        let deadline = Instant::now() + Duration::from_secs(options.completion_timeout_secs);
        loop {
            let done = usize::try_from(
                completed_count(&api, &shop.admin)
                    .await?
                    .saturating_sub(completed_before),
            )
            .unwrap_or(usize::MAX);
            progress.set_position(done as u64);
            sampler.lock().await.sample();
            if done >= counts.confirmed || Instant::now() >= deadline {
                counts.completed = done.min(counts.confirmed);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        progress.finish_and_clear();
        throughput.completed_per_sec = Some(per_second(counts.completed, first_order.elapsed()));
    }

    let confirmed_ids: Vec<String> = placed
        .iter()
        .filter(|p| p.final_status.as_deref() == Some("confirmed"))
        .filter_map(|p| p.order_id.clone())
        .collect();
    let mut sizes = Vec::new();
    let mut sample_history = None;
    for id in confirmed_ids.iter().take(10) {
        if let Some((events, history)) =
            history_events(&temporal, &contracts::orders::workflow_id(id.parse()?)).await
        {
            sizes.push(events);
            sample_history.get_or_insert(history);
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "event counts are small")]
    let history_events_per_order =
        (!sizes.is_empty()).then(|| round(sizes.iter().sum::<usize>() as f64 / sizes.len() as f64));

    // The orders' usage ends here, with their deliveries; the ceiling is measured on its own.
    let processes = finish(sampler).await;

    let baseline = match (options.baseline, &sample_history) {
        (false, _) => None,
        (true, None) => bail!("no order was confirmed, so there is no history to mirror"),
        (true, Some(history)) => {
            let task_queues = activities_until_confirmed(history);
            let input = BaselineInput {
                task_queues: task_queues.clone(),
            };
            let sampler = Arc::new(Mutex::new(Sampler::start(processes::find())));
            let (results, elapsed) = {
                let (temporal, queue, run, input) = (
                    temporal.clone(),
                    queues.of(Service::Orders),
                    run.clone(),
                    input.clone(),
                );
                closed_loop(
                    options.orders,
                    options.concurrency,
                    options.rate,
                    "ceiling",
                    &sampler,
                    move |n| {
                        let (temporal, queue, run, input) =
                            (temporal.clone(), queue.clone(), run.clone(), input.clone());
                        async move { ceiling_one(&temporal, &queue, &run, n, input).await }
                    },
                )
                .await
            };
            let latencies: Vec<Duration> = results
                .iter()
                .filter_map(|r| r.as_ref().ok().copied())
                .collect();
            if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
                tracing::warn!(error = %first, "some ceiling workflows failed");
            }
            let history_events = history_events(&temporal, &format!("bench-baseline-{run}-0"))
                .await
                .map(|(events, _)| events);
            Some(Baseline {
                workflows: latencies.len(),
                task_queues,
                per_sec: per_second(latencies.len(), elapsed),
                latency: Percentiles::of(&latencies),
                history_events,
                processes: finish(sampler).await,
            })
        }
    };
    let ratio = baseline
        .as_ref()
        .filter(|b| b.per_sec > 0.0)
        .map(|b| round(throughput.confirmed_per_sec / b.per_sec));

    Ok(Report {
        started_at,
        orders_requested: options.orders,
        concurrency: options.concurrency,
        rate: options.rate,
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            memory_mib: memory_mib(),
            bench_build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        },
        orders: counts,
        throughput,
        latency,
        history_events_per_order,
        baseline,
        ratio,
        processes,
    })
}

/// Stops sampling and reports what each process used.
async fn finish(sampler: Arc<Mutex<Sampler>>) -> Vec<Usage> {
    match Arc::try_unwrap(sampler) {
        Ok(sampler) => sampler.into_inner().finish(),
        Err(shared) => {
            let mut guard = shared.lock().await;
            std::mem::replace(&mut *guard, Sampler::start(Vec::new())).finish()
        }
    }
}

/// One ceiling workflow, start to result.
async fn ceiling_one(
    temporal: &Client,
    queue: &str,
    run: &str,
    n: usize,
    input: BaselineInput,
) -> Result<Duration, String> {
    let started = Instant::now();
    let handle = temporal
        .start_workflow(
            BenchBaseline::run,
            input,
            WorkflowStartOptions::new(queue.to_owned(), format!("bench-baseline-{run}-{n}"))
                .build(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let _: BaselineOutcome = handle
        .get_result(Default::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

fn memory_mib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib / 1024)
}

/// The report as a table for people.
pub fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let o = &report.orders;
    let t = &report.throughput;
    let l = &report.latency;
    let _ = writeln!(
        out,
        "\n{} orders, {} clients{} on {} CPUs",
        report.orders_requested,
        report.concurrency,
        report
            .rate
            .map(|r| format!(", at most {r}/s"))
            .unwrap_or_default(),
        report.machine.cpus
    );
    let _ = writeln!(
        out,
        "  accepted {}  refused {}  confirmed {}  payment_failed {}  other failures {}  stuck {}  completed {}",
        o.accepted,
        o.refused,
        o.confirmed,
        o.payment_failed,
        o.other_failures,
        o.stuck,
        o.completed
    );
    let _ = writeln!(out, "\n  {:<28} {:>10}", "throughput", "per second");
    let _ = writeln!(out, "  {:<28} {:>10}", "accepted", t.accepted_per_sec);
    let _ = writeln!(out, "  {:<28} {:>10}", "confirmed", t.confirmed_per_sec);
    if let Some(completed) = t.completed_per_sec {
        let _ = writeln!(out, "  {:<28} {:>10}", "completed (delivered)", completed);
    }
    let _ = writeln!(
        out,
        "\n  {:<28} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "latency (ms)", "count", "p50", "p95", "p99", "max"
    );
    let mut line = |name: &str, p: &Percentiles| {
        let _ = writeln!(
            out,
            "  {:<28} {:>8} {:>8} {:>8} {:>8} {:>8}",
            name, p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
    };
    line("POST /orders", &l.post_orders);
    line("GET /orders/{id}", &l.get_order);
    line("placed -> confirmed", &l.placed_to_confirmed);
    if let Some(b) = &report.baseline {
        line("ceiling workflow", &b.latency);
    }
    if let Some(events) = report.history_events_per_order {
        let _ = writeln!(out, "\n  history events per order      {events}");
    }
    if let Some(b) = &report.baseline {
        let _ = writeln!(
            out,
            "  ceiling: {} activities/workflow, {} events, {} workflows/s",
            b.task_queues.len(),
            b.history_events.map_or("?".to_owned(), |e| e.to_string()),
            b.per_sec
        );
    }
    if let Some(ratio) = report.ratio {
        let _ = writeln!(out, "  ratio confirmed/s ÷ ceiling/s  {ratio}");
    }
    let mut usage = |title: &str, processes: &[Usage], per: usize| {
        if processes.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n  {:<34} {:>8} {:>12} {:>11} {:>9} {:>11}",
            title, "pid", "RSS peak MiB", "RSS end MiB", "CPU s", "CPU ms/each"
        );
        for p in processes {
            #[expect(clippy::cast_precision_loss, reason = "counts are small")]
            let each = round(p.cpu_secs * 1000.0 / per.max(1) as f64);
            let _ = writeln!(
                out,
                "  {:<34} {:>8} {:>12} {:>11} {:>9} {:>11}",
                p.role, p.pid, p.rss_peak_mib, p.rss_end_mib, p.cpu_secs, each
            );
        }
    };
    usage("orders: process", &report.processes, report.orders.accepted);
    if let Some(b) = &report.baseline {
        usage("ceiling: process", &b.processes, b.workflows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_mirrors_the_activities_before_the_first_child() {
        let history = json!({"events": [
            {"attributes": {"WorkflowExecutionStartedEventAttributes": {"task_queue": {"name": "orders"}}}},
            {"attributes": {"MarkerRecordedEventAttributes": {"marker_name": "core_patch"}}},
            {"attributes": {"MarkerRecordedEventAttributes": {"marker_name": "core_local_activity"}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "inventory"}}}},
            {"attributes": {"StartChildWorkflowExecutionInitiatedEventAttributes": {}}},
            {"attributes": {"ActivityTaskScheduledEventAttributes": {"task_queue": {"name": "payments"}}}},
        ]});
        assert_eq!(
            activities_until_confirmed(&history),
            ["orders", "inventory"],
            "local activities count, on the workflow's own queue; patch markers do not"
        );
    }

    #[test]
    fn confirmation_time_comes_from_the_status_history() {
        let order = json!({"history": [
            {"status": "pending", "at": "2026-11-25T10:00:00.000+00:00"},
            {"status": "reserved", "at": "2026-11-25T10:00:00.050+00:00"},
            {"status": "confirmed", "at": "2026-11-25T10:00:00.180+00:00"},
        ]});
        assert_eq!(confirmation_time(&order), Some(Duration::from_millis(180)));
        assert_eq!(confirmation_time(&json!({"history": []})), None);
    }
}
