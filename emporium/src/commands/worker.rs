//! `emporium worker --service <name>`: one or more services' workers, with their operations
//! endpoint (`/healthz`, `/readyz`, `/metrics`).

use anyhow::Context as _;
use contracts::{Service, TaskQueues};
use platform::Settings;

pub(crate) async fn run(settings: Settings, services: &[Service]) -> anyhow::Result<()> {
    let dbs = platform::db::ServicePools::connect(
        &settings.database.url,
        services,
        settings.database.max_connections,
    )
    .await
    .context("connecting to the database as the services' roles")?;
    let db = dbs.any().cloned().context("no service to run")?;
    let temporal = platform::temporal::connect(&settings.temporal)
        .await
        .context("connecting to Temporal")?;
    let shutdown = super::shutdown_on_signal();
    let sdk_metrics =
        super::start_worker_ops(&settings, db.clone(), temporal.clone(), shutdown.clone()).await?;
    let mut deps = workers::ServiceDeps::from_settings(dbs, &settings)?;
    deps.extra = crate::extra_registrations();
    let queues = TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone());
    workers::run(
        temporal,
        services,
        &queues,
        &deps,
        shutdown,
        Some(&sdk_metrics),
    )
    .await
}
