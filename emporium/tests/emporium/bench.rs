//! `emporium bench` cannot rot: the real binary runs a handful of orders and the ceiling against
//! a running platform (the test's API and workers) and its report adds up. No timing is
//! asserted: this machine's speed is not the test's business, the report's soundness is.

use serde_json::Value;
use testkit::{TestApp, TestAppOptions};

#[tokio::test]
async fn the_bench_places_orders_runs_the_ceiling_and_writes_a_report_that_adds_up() {
    // The workers serve the ceiling, as `emporium dev`'s and `emporium worker`'s do, and the
    // simulated carrier tells the API by webhook, as it does under `emporium dev`.
    let app = TestApp::spawn_with(TestAppOptions {
        extra: Some(bench::ceiling::register),
        simulated_webhooks: true,
        ..TestAppOptions::default()
    })
    .await;
    let report_file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "bench-{}.json",
        app.queues.prefix().trim_end_matches('-')
    ));
    let admin = format!(
        "admin+{}@example.com",
        app.queues.prefix().trim_end_matches('-')
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emporium"))
        .args(["bench", "--orders", "6", "--concurrency", "3", "--baseline"])
        .args(["--paced-orders", "2", "--paced-rate", "4", "--lines", "2"])
        .args([
            "--declined-percent",
            "20",
            "--completion-timeout-secs",
            "120",
        ])
        .args(["--api", &app.address, "--admin-email", &admin])
        .arg("--out")
        .arg(&report_file)
        .env("EMPORIUM_BENCH_ADMIN_PASSWORD", &app.password)
        .env("TEMPORAL_ADDRESS", app.temporal_address())
        .env("EMPORIUM_TEMPORAL__TASK_QUEUE_PREFIX", app.queues.prefix())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("emporium bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "emporium bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("POST /orders") && stdout.contains("ratio"),
        "{stdout}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).expect("the report"))
            .expect("JSON");
    let orders = &report["orders"];
    assert_eq!(orders["accepted"], 6, "{report:#}");
    assert_eq!(orders["refused"], 0);
    // One order in five pays with a declined card (order 0 of these six).
    assert_eq!(orders["payment_failed"], 1);
    assert_eq!(orders["confirmed"], 5);
    assert_eq!(orders["stuck"], 0);
    assert_eq!(
        orders["completed"], 5,
        "the confirmed orders were delivered"
    );
    assert_eq!(report["latency"]["post_orders"]["count"], 6);
    assert_eq!(report["lines"], 2);
    let paced = &report["paced"];
    assert_eq!(paced["rate"], 4.0, "{paced}");
    assert_eq!(paced["orders"]["accepted"], 2, "{paced}");
    assert_eq!(
        paced["orders"]["payment_failed"], 1,
        "order 0 of the paced run too"
    );
    assert_eq!(paced["latency"]["post_orders"]["count"], 2);
    let floor = &paced["floor"];
    assert!(
        floor["count"].as_u64() >= Some(1),
        "GET /healthz asked: {floor}"
    );
    assert!(floor["p50_ms"].as_f64() > Some(0.0), "{floor}");
    assert_eq!(report["latency"]["placed_to_confirmed"]["count"], 5);
    let events = report["history_events_per_order"].as_f64().expect("events");
    assert!(
        events > 50.0,
        "a completed order's history is long: {events}"
    );

    let baseline = &report["baseline"];
    assert_eq!(baseline["workflows"], 6);
    let queues: Vec<&str> = baseline["task_queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q.as_str().unwrap_or_default())
        .collect();
    let of = |service: &str| format!("{}{service}", app.queues.prefix());
    assert_eq!(
        queues,
        [
            of("orders"),
            of("inventory"),
            of("orders"),
            of("payments"),
            of("inventory"),
            of("orders"),
            of("notifications")
        ],
        "the ceiling mirrors PlaceOrder's calls up to confirmation"
    );
    assert!(baseline["history_events"].as_u64().expect("events") > 20);
    assert!(report["ratio"].as_f64().expect("a ratio") > 0.0);

    // What a delivered order asked of Temporal: every run of every workflow it made.
    let cost = &report["cost_per_delivered_order"];
    let runs = cost["runs"].as_f64().expect("runs");
    let all_events = cost["events"].as_f64().expect("events");
    assert!(
        (2.0..=3.0).contains(&runs),
        "PlaceOrder and its shipment: {cost}"
    );
    assert!(
        all_events > events,
        "the shipment's events count too: {cost}"
    );
    let by_kind: f64 = cost["events_by_kind"]
        .as_object()
        .expect("kinds")
        .values()
        .filter_map(Value::as_f64)
        .sum();
    assert!(
        (by_kind - all_events).abs() < 0.5,
        "the kinds add up: {cost}"
    );
    // The test's Temporal server is this process's, so no Temporal row: no CPU ratio.
    assert!(report["temporal_cpu"].is_null() || report["temporal_cpu"]["ratio"].as_f64().is_some());

    // Only the run's own data: its products were made by the admin, its stock adjusted.
    let (status, products) = app.get_json("/products?q=Benchmark").await;
    assert_eq!(status, 200);
    assert_eq!(products["total"], 3, "{products}");
}
