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
//! Meanwhile the memory and CPU of the platform's processes are sampled: only those of the
//! platform under test, found by the ports it serves and uses ([`processes`]). Then a sample of
//! delivered orders is read back from their histories: every event of every workflow run an
//! order made ([`histories`]). The report is printed as a table and written as JSON.
//!
//! This crate is the benchmark and nothing else: the `emporium` binary carries it behind its
//! `bench` feature (on by default, off in production images), and its workers then also serve
//! the ceiling ([`ceiling::register`]).

pub mod ceiling;
pub mod histories;
mod load;
pub mod processes;
mod report;
pub mod stats;

pub use report::{Report, TemporalCpu, table};

use anyhow::bail;
use ceiling::{BaselineInput, BaselineOutcome, BenchBaseline};
use contracts::{Service, TaskQueues};
use histories::{OrderCost, activities_until_confirmed};
use load::{Api, PRODUCTS, Placed, Shop, closed_loop, completed_count, finish, place_one, set_up};
use processes::{Platform, Sampler};
use report::{Baseline, Latencies, Machine, OrderCounts, Paced, Throughput};
use serde_json::Value;
use stats::{Percentiles, per_second, round};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::{Client, WorkflowStartOptions};
use tokio::sync::Mutex;

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
    /// Lines in each order, each a different product (1 to 50).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=50))]
    pub lines: u8,
    /// Before the capacity run, this many orders at a pace the machine sustains
    /// (`--paced-rate`), for the latencies a shop sees when it is not saturated.
    #[arg(long, default_value_t = 0)]
    pub paced_orders: usize,
    /// Orders started per second in the paced run.
    #[arg(long, default_value_t = 2.0)]
    pub paced_rate: f64,
    /// Where to write the JSON report (default: `<data dir>/bench-<time>.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the benchmark against the platform at `options.api`, whose workers poll `queues` on
/// `temporal`; `platform` says which processes are the platform's.
pub async fn run(
    options: &BenchOptions,
    admin_password: &str,
    temporal: Client,
    queues: TaskQueues,
    platform: &Platform,
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
    let products = PRODUCTS.max(usize::from(options.lines));
    eprintln!("setting up {products} products and the customers (run {run})");
    let shop = Arc::new(set_up(&api, options, admin_password, &run).await?);
    let paced = paced_phase(&api, &shop, options, &run, platform).await?;
    let completed_before = completed_count(&api, &shop.admin).await?;
    let sampler = Arc::new(Mutex::new(Sampler::start(processes::find(platform))));

    let first_order = Instant::now();
    let (placed, order_phase) = place_orders(&api, &shop, options, &run, &sampler, None).await;
    let (mut counts, latency) = tally(&placed);
    let mut throughput = Throughput {
        accepted_per_sec: per_second(counts.accepted, order_phase),
        confirmed_per_sec: per_second(counts.confirmed, order_phase),
        completed_per_sec: None,
    };
    if options.completion_timeout_secs > 0 && counts.confirmed > 0 {
        counts.completed = wait_for_deliveries(
            &api,
            &shop,
            options,
            counts.confirmed,
            completed_before,
            &sampler,
            "delivered",
        )
        .await?;
        throughput.completed_per_sec = Some(per_second(counts.completed, first_order.elapsed()));
    }
    // The orders' usage ends here, with their deliveries; the ceiling is measured on its own.
    let processes = finish(sampler).await;

    let confirmed: Vec<String> = placed
        .iter()
        .filter(|p| p.final_status.as_deref() == Some("confirmed"))
        .filter_map(|p| p.order_id.clone())
        .collect();
    let sample = read_back(&temporal, &confirmed).await?;
    let baseline = match (options.baseline, &sample.history) {
        (false, _) => None,
        (true, None) => bail!("no order was confirmed, so there is no history to mirror"),
        (true, Some(history)) => {
            Some(ceiling_phase(options, &temporal, &queues, &run, history, platform).await)
        }
    };
    let ratio = baseline
        .as_ref()
        .filter(|b| b.per_sec > 0.0)
        .map(|b| round(throughput.confirmed_per_sec / b.per_sec));
    let temporal_cpu = baseline
        .as_ref()
        .and_then(|b| TemporalCpu::of(&processes, counts.accepted, &b.processes, b.workflows));

    Ok(Report {
        started_at,
        orders_requested: options.orders,
        concurrency: options.concurrency,
        rate: options.rate,
        machine: Machine::this(),
        orders: counts,
        throughput,
        latency,
        paced,
        lines: options.lines,
        history_events_per_order: sample.place_order_events,
        cost_per_delivered_order: sample.cost,
        temporal_cpu,
        baseline,
        ratio,
        processes,
    })
}

/// The paced run, if asked for: `paced_orders` orders at `paced_rate` per second, then a wait
/// for their deliveries, so that the capacity run starts on a quiet platform.
async fn paced_phase(
    api: &Arc<Api>,
    shop: &Arc<Shop>,
    options: &BenchOptions,
    run: &str,
    platform: &Platform,
) -> anyhow::Result<Option<Paced>> {
    if options.paced_orders == 0 {
        return Ok(None);
    }
    let sampler = Arc::new(Mutex::new(Sampler::start(processes::find(platform))));
    let completed_before = completed_count(api, &shop.admin).await?;
    let pace = Some((options.paced_orders, options.paced_rate));
    let paced_run = format!("{run}-paced");
    let (stop_floor, floor_stops) = tokio::sync::watch::channel(false);
    let floor = tokio::spawn(load::floor(api.clone(), floor_stops));
    let (placed, _) = place_orders(api, shop, options, &paced_run, &sampler, pace).await;
    let _ = stop_floor.send(true);
    let floor = floor.await.unwrap_or_default();
    let (orders, latency) = tally(&placed);
    if options.completion_timeout_secs > 0 && orders.confirmed > 0 {
        let (confirmed, label) = (orders.confirmed, "paced, delivered");
        wait_for_deliveries(
            api,
            shop,
            options,
            confirmed,
            completed_before,
            &sampler,
            label,
        )
        .await?;
    }
    Ok(Some(Paced {
        rate: options.paced_rate,
        orders,
        latency,
        floor: Percentiles::of(&floor),
        processes: finish(sampler).await,
    }))
}

/// The order phase: `concurrency` clients placing and following orders; `pace` overrides the
/// count and the rate (the paced run).
async fn place_orders(
    api: &Arc<Api>,
    shop: &Arc<Shop>,
    options: &BenchOptions,
    run: &str,
    sampler: &Arc<Mutex<Sampler>>,
    pace: Option<(usize, f64)>,
) -> (Vec<Placed>, Duration) {
    let (api, shop, options, run) = (api.clone(), shop.clone(), options.clone(), run.to_owned());
    let (count, rate) = pace.map_or((options.orders, options.rate), |(n, r)| (n, Some(r)));
    let label = if pace.is_some() { "paced" } else { "orders" };
    closed_loop(count, options.concurrency, rate, label, sampler, move |n| {
        let (api, shop, options, run) = (api.clone(), shop.clone(), options.clone(), run.clone());
        async move { place_one(&api, &shop, &options, &run, n).await }
    })
    .await
}

/// What happened to the orders, and how long it took.
fn tally(placed: &[Placed]) -> (OrderCounts, Latencies) {
    let mut counts = OrderCounts::default();
    let (mut posts, mut gets, mut confirmations) = (Vec::new(), Vec::new(), Vec::new());
    for order in placed {
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
    let latency = Latencies {
        post_orders: Percentiles::of(&posts),
        get_order: Percentiles::of(&gets),
        placed_to_confirmed: Percentiles::of(&confirmations),
    };
    (counts, latency)
}

/// Waits for the confirmed orders to be delivered; answers how many were.
async fn wait_for_deliveries(
    api: &Api,
    shop: &Shop,
    options: &BenchOptions,
    confirmed: usize,
    completed_before: u64,
    sampler: &Arc<Mutex<Sampler>>,
    label: &str,
) -> anyhow::Result<usize> {
    let progress = load::bar(confirmed, label);
    let deadline = Instant::now() + Duration::from_secs(options.completion_timeout_secs);
    loop {
        let done = usize::try_from(
            completed_count(api, &shop.admin)
                .await?
                .saturating_sub(completed_before),
        )
        .unwrap_or(usize::MAX);
        progress.set_position(done as u64);
        load::sample(sampler).await;
        if done >= confirmed || Instant::now() >= deadline {
            progress.finish_and_clear();
            return Ok(done.min(confirmed));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What a sample of confirmed orders left in history.
struct Sample {
    /// A PlaceOrder history, for the ceiling to mirror.
    history: Option<Value>,
    /// Mean events of a PlaceOrder run.
    place_order_events: Option<f64>,
    /// Mean cost of an order, every workflow it made.
    cost: Option<OrderCost>,
}

/// Reads back up to ten of the confirmed orders' histories.
async fn read_back(temporal: &Client, confirmed: &[String]) -> anyhow::Result<Sample> {
    let (mut sizes, mut costs, mut history) = (Vec::new(), Vec::new(), None);
    for id in confirmed.iter().take(10) {
        let workflow_id = contracts::orders::workflow_id(id.parse()?);
        if let Ok(json) = workers::history::export(temporal, &workflow_id).await
            && let Ok(value) = serde_json::from_str::<Value>(&json)
        {
            sizes.push(value["events"].as_array().map_or(0, Vec::len));
            history.get_or_insert(value);
        }
        costs.extend(histories::order_cost(temporal, &workflow_id).await);
    }
    #[expect(clippy::cast_precision_loss, reason = "event counts are small")]
    let place_order_events =
        (!sizes.is_empty()).then(|| round(sizes.iter().sum::<usize>() as f64 / sizes.len() as f64));
    Ok(Sample {
        history,
        place_order_events,
        cost: histories::mean(&costs),
    })
}

/// The ceiling phase: as many BenchBaseline workflows as orders, on the same clients.
async fn ceiling_phase(
    options: &BenchOptions,
    temporal: &Client,
    queues: &TaskQueues,
    run: &str,
    history: &Value,
    platform: &Platform,
) -> Baseline {
    let task_queues = activities_until_confirmed(history);
    let input = BaselineInput {
        task_queues: task_queues.clone(),
    };
    let sampler = Arc::new(Mutex::new(Sampler::start(processes::find(platform))));
    let (temporal_c, queue, run_c) = (temporal.clone(), queues.of(Service::Orders), run.to_owned());
    let (results, elapsed) = closed_loop(
        options.orders,
        options.concurrency,
        options.rate,
        "ceiling",
        &sampler,
        move |n| {
            let (temporal, queue, run, input) = (
                temporal_c.clone(),
                queue.clone(),
                run_c.clone(),
                input.clone(),
            );
            async move { ceiling_one(&temporal, &queue, &run, n, input).await }
        },
    )
    .await;
    let latencies: Vec<Duration> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
        tracing::warn!(error = %first, "some ceiling workflows failed");
    }
    let history_events = workers::history::export(temporal, &format!("bench-baseline-{run}-0"))
        .await
        .ok()
        .and_then(|json| serde_json::from_str::<Value>(&json).ok())
        .and_then(|value| value["events"].as_array().map(Vec::len));
    Baseline {
        workflows: latencies.len(),
        task_queues,
        per_sec: per_second(latencies.len(), elapsed),
        latency: Percentiles::of(&latencies),
        history_events,
        processes: finish(sampler).await,
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
