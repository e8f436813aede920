//! The report: what a run measured, as JSON for the record and as a table for people.

use crate::histories::OrderCost;
use crate::processes::Usage;
use crate::stats::{Percentiles, round};
use serde::Serialize;

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
    /// The paced run (`--paced-orders`), if there was one.
    pub paced: Option<Paced>,
    /// Lines per order.
    pub lines: u8,
    /// History events per PlaceOrder (a completed order's full history), mean over a sample.
    pub history_events_per_order: Option<f64>,
    /// Everything a delivered order asked of Temporal (every run of every workflow it made),
    /// mean over a sample.
    pub cost_per_delivered_order: Option<OrderCost>,
    /// The Temporal server's CPU per order (orders and their deliveries) and per ceiling
    /// workflow, and the first divided by the second.
    pub temporal_cpu: Option<TemporalCpu>,
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

/// The paced run: orders at a rate the machine sustains, before the capacity run.
#[derive(Debug, Clone, Serialize)]
pub struct Paced {
    /// Orders started per second.
    pub rate: f64,
    /// What happened to them.
    pub orders: OrderCounts,
    /// Their latencies.
    pub latency: Latencies,
    /// `GET /healthz`, which does no work, asked every 250 ms meanwhile: the part of any
    /// answer's time that is the machine's and HTTP's, under what the platform's work adds.
    pub floor: Percentiles,
    /// The platform's processes during the paced run, until its orders were delivered.
    pub processes: Vec<Usage>,
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

/// The Temporal server's CPU, per order and per ceiling workflow.
#[derive(Debug, Clone, Serialize)]
pub struct TemporalCpu {
    /// Milliseconds per accepted order, from the first order to the last delivery.
    pub per_order_ms: f64,
    /// Milliseconds per ceiling workflow.
    pub per_ceiling_workflow_ms: f64,
    /// `per_order_ms / per_ceiling_workflow_ms`.
    pub ratio: f64,
}

impl TemporalCpu {
    /// From the processes' usage in both phases.
    pub fn of(
        orders: &[Usage],
        accepted: usize,
        ceiling: &[Usage],
        workflows: usize,
    ) -> Option<Self> {
        let temporal = |usage: &[Usage]| {
            usage
                .iter()
                .find(|u| u.role == "temporal")
                .map(|u| u.cpu_secs * 1000.0)
        };
        #[expect(clippy::cast_precision_loss, reason = "counts are small")]
        let per_order_ms = temporal(orders)? / accepted.max(1) as f64;
        #[expect(clippy::cast_precision_loss, reason = "counts are small")]
        let per_ceiling_workflow_ms = temporal(ceiling)? / workflows.max(1) as f64;
        (per_ceiling_workflow_ms > 0.0).then(|| Self {
            per_order_ms: round(per_order_ms),
            per_ceiling_workflow_ms: round(per_ceiling_workflow_ms),
            ratio: round(per_order_ms / per_ceiling_workflow_ms),
        })
    }
}

impl Machine {
    /// This machine.
    pub fn this() -> Self {
        Self {
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            memory_mib: memory_mib(),
            bench_build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

fn memory_mib() -> Option<u64> {
    use procfs::Current as _;
    procfs::Meminfo::current()
        .ok()
        .map(|meminfo| meminfo.mem_total / (1024 * 1024))
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
        "\n{} orders of {} line(s), {} clients{} on {} CPUs",
        report.orders_requested,
        report.lines,
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
    if let Some(paced) = &report.paced {
        let p = &paced.latency;
        line(
            &format!("paced {}/s: POST /orders", paced.rate),
            &p.post_orders,
        );
        line(
            &format!("paced {}/s: GET /orders/{{id}}", paced.rate),
            &p.get_order,
        );
        line(
            &format!("paced {}/s: placed -> confirmed", paced.rate),
            &p.placed_to_confirmed,
        );
        line("paced: GET /healthz (floor)", &paced.floor);
    }
    if let Some(events) = report.history_events_per_order {
        let _ = writeln!(out, "\n  history events per PlaceOrder {events}");
    }
    if let Some(cost) = &report.cost_per_delivered_order {
        let _ = writeln!(
            out,
            "  per delivered order           {} events in {} workflow runs (mean of {})",
            cost.events, cost.runs, cost.orders
        );
    }
    if let Some(cpu) = &report.temporal_cpu {
        let _ = writeln!(
            out,
            "  Temporal CPU per order        {} ms, per ceiling workflow {} ms: {}x",
            cpu.per_order_ms, cpu.per_ceiling_workflow_ms, cpu.ratio
        );
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
            "\n  {:<34} {:>8} {:>12} {:>11} {:>13} {:>9} {:>11}",
            title, "pid", "RSS peak MiB", "RSS end MiB", "anon peak MiB", "CPU s", "CPU ms/each"
        );
        for p in processes {
            #[expect(clippy::cast_precision_loss, reason = "counts are small")]
            let each = round(p.cpu_secs * 1000.0 / per.max(1) as f64);
            let _ = writeln!(
                out,
                "  {:<34} {:>8} {:>12} {:>11} {:>13} {:>9} {:>11}",
                p.role, p.pid, p.rss_peak_mib, p.rss_end_mib, p.anon_peak_mib, p.cpu_secs, each
            );
        }
    };
    if let Some(paced) = &report.paced {
        usage("paced: process", &paced.processes, paced.orders.accepted);
    }
    usage("orders: process", &report.processes, report.orders.accepted);
    if let Some(b) = &report.baseline {
        usage("ceiling: process", &b.processes, b.workflows);
    }
    out
}
