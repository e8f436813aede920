//! The load: an HTTP client for the API, the run's shop (products, customers), one order
//! placed and followed to confirmation, and closed-loop clients that run jobs at a given
//! concurrency and rate while the processes are sampled.

use crate::BenchOptions;
use crate::processes::{Sampler, Usage};
use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};

/// Statuses an order has reached once it is confirmed.
pub(crate) const CONFIRMED_OR_LATER: [&str; 7] = [
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
/// Products the orders are spread over (more when an order has more lines).
pub(crate) const PRODUCTS: usize = 3;

/// An HTTP client for the API.
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Api {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }

    /// Sends, waiting out `429`s as `Retry-After` says (login limits).
    pub(crate) async fn send(
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
pub(crate) struct Shop {
    pub(crate) skus: Vec<String>,
    pub(crate) customers: Vec<String>,
    pub(crate) admin: String,
}

pub(crate) async fn set_up(
    api: &Api,
    options: &BenchOptions,
    admin_password: &str,
    run: &str,
) -> anyhow::Result<Shop> {
    let admin = api.login(&options.admin_email, admin_password).await?;
    let mut skus = Vec::new();
    for n in 0..PRODUCTS.max(usize::from(options.lines)) {
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
            &json!({"sku": sku, "delta": options.orders + options.paced_orders + 10,
                    "reason": "emporium bench"}),
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

#[derive(Debug, Default)]
pub(crate) struct Placed {
    pub(crate) post: Option<Duration>,
    pub(crate) gets: Vec<Duration>,
    pub(crate) accepted: bool,
    pub(crate) final_status: Option<String>,
    pub(crate) placed_to_confirmed: Option<Duration>,
    pub(crate) order_id: Option<String>,
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

pub(crate) async fn place_one(
    api: &Api,
    shop: &Shop,
    options: &BenchOptions,
    run: &str,
    n: usize,
) -> Placed {
    let mut placed = Placed::default();
    let token = &shop.customers[n % shop.customers.len()];
    let declined = (n * 37 + 11) % 100 < usize::from(options.declined_percent);
    let body = json!({
        "shipping_address": {"name": "Bench Customer", "line1": "1 Main St", "city": "London",
                             "postal_code": "N1", "country": "GB"},
        "lines": (0..usize::from(options.lines))
            .map(|line| json!({"sku": shop.skus[(n + line) % shop.skus.len()], "quantity": 1}))
            .collect::<Vec<_>>(),
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

/// `GET /healthz`, which does no work, every [`POLL_EVERY`] until `stop` turns true: how long
/// the machine and the HTTP path alone make any answer take, the floor under the latencies
/// the platform's own work adds to.
pub(crate) async fn floor(api: Arc<Api>, mut stop: watch::Receiver<bool>) -> Vec<Duration> {
    let mut took = Vec::new();
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => continue,
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
        let asked = Instant::now();
        if let Ok(response) = api.http.get(api.url("/healthz")).send().await
            && response.status() == StatusCode::OK
            && response.bytes().await.is_ok()
        {
            took.push(asked.elapsed());
        }
    }
    took
}

pub(crate) fn bar(length: usize, label: &str) -> ProgressBar {
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
pub(crate) async fn closed_loop<T, F, Fut>(
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
                sample(&sampler).await;
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

/// Takes one sample on a blocking thread: reading `/proc` for every process takes a
/// millisecond or two, which on a runtime thread would delay the clients' responses and so
/// show up in the very latencies the bench measures.
pub(crate) async fn sample(sampler: &Arc<Mutex<Sampler>>) {
    let mut sampler = sampler.clone().lock_owned().await;
    let _ = tokio::task::spawn_blocking(move || sampler.sample()).await;
}

pub(crate) async fn completed_count(api: &Api, admin: &str) -> anyhow::Result<u64> {
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

/// Stops sampling and reports what each process used.
pub(crate) async fn finish(sampler: Arc<Mutex<Sampler>>) -> Vec<Usage> {
    match Arc::try_unwrap(sampler) {
        Ok(sampler) => sampler.into_inner().finish(),
        Err(shared) => {
            let mut guard = shared.lock().await;
            std::mem::replace(&mut *guard, Sampler::start(Vec::new())).finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
