//! Worker wiring: which service's activities and workflows poll which task queue.
//!
//! Each [`Service`] gets one Temporal worker on its own task queue, so any service can run in
//! its own process and be scaled alone (`emporium worker --service inventory`), or all of them
//! can share one process (`emporium dev`). Nothing here decides business behaviour; it only
//! connects implementations to queues.

use activities::payments::{PaymentGateway, sandbox::SandboxGateway};
use activities::{InventoryActivities, OrdersActivities, PaymentsActivities};
use anyhow::Context as _;
use contracts::{Service, TaskQueues};
use platform::Settings;
use platform::settings::PaymentProvider;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::Client;
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use workflows::PlaceOrder;

/// What the services' activities need from the outside world.
#[derive(Clone)]
pub struct ServiceDeps {
    /// The database (each service touches only its own schema).
    pub db: DatabaseConnection,
    /// The payment provider.
    pub payment_gateway: Arc<dyn PaymentGateway>,
    /// How long a reservation holds stock.
    pub reservation_ttl: Duration,
}

impl ServiceDeps {
    /// The dependencies the settings ask for.
    pub fn from_settings(db: DatabaseConnection, settings: &Settings) -> Self {
        let payment_gateway: Arc<dyn PaymentGateway> = match settings.payments.provider {
            PaymentProvider::Sandbox => Arc::new(SandboxGateway),
        };
        Self {
            db,
            payment_gateway,
            reservation_ttl: Duration::from_secs(settings.inventory.reservation_ttl_secs),
        }
    }
}

/// The worker options of one service: its queue, its workflows, its activities.
pub fn worker_options(
    service: Service,
    queues: &TaskQueues,
    deps: &ServiceDeps,
) -> anyhow::Result<WorkerOptions> {
    let builder = WorkerOptions::new(queues.of(service));
    let options = match service {
        Service::Orders => builder
            .register_workflow::<PlaceOrder>()
            .context("registering PlaceOrder")?
            .register_activities(OrdersActivities::new(deps.db.clone()))
            .build(),
        Service::Inventory => builder
            .register_activities(InventoryActivities::new(
                deps.db.clone(),
                deps.reservation_ttl,
            ))
            .build(),
        Service::Payments => builder
            .register_activities(PaymentsActivities::new(
                deps.db.clone(),
                deps.payment_gateway.clone(),
            ))
            .build(),
    };
    Ok(options)
}

/// Runs one worker per service until `shutdown` is cancelled, then drains them.
///
/// The returned future is not `Send` (workflow state lives in `Rc`s): await it from `main`, a
/// `LocalSet`, or a current-thread runtime.
pub async fn run(
    client: Client,
    services: &[Service],
    queues: &TaskQueues,
    deps: &ServiceDeps,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())
        .context("creating the Temporal runtime")?;
    let mut workers = services
        .iter()
        .map(|&service| {
            let options = worker_options(service, queues, deps)?;
            Worker::new(&runtime, client.clone(), options)
                .with_context(|| format!("creating the {service} worker"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stop_handles: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    for worker in &workers {
        tracing::info!(task_queue = worker.task_queue(), "worker started");
    }

    let running = futures::future::try_join_all(workers.iter_mut().map(Worker::run));
    tokio::pin!(running);
    let result = tokio::select! {
        result = &mut running => result,
        () = shutdown.cancelled() => {
            tracing::info!("stopping workers");
            for stop in &stop_handles {
                stop();
            }
            running.await
        }
    };
    result.context("worker failed")?;
    tracing::info!("workers stopped");
    Ok(())
}
