//! `emporium api`: the HTTP API alone.

use anyhow::Context as _;
use contracts::TaskQueues;
use platform::Settings;

pub(crate) async fn run(settings: Settings) -> anyhow::Result<()> {
    let db = platform::db::connect(&settings.database.url, settings.database.max_connections)
        .await
        .context("connecting to the database")?;
    let temporal =
        platform::temporal::connect(&settings.temporal.address, &settings.temporal.namespace)
            .await
            .context("connecting to Temporal")?;
    let listener = tokio::net::TcpListener::bind(settings.api.bind)
        .await
        .with_context(|| format!("binding {}", settings.api.bind))?;
    let shutdown = super::shutdown_on_signal();
    let state = api::AppState {
        db,
        temporal,
        queues: TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone()),
    };
    let config = api::ApiConfig {
        max_body_bytes: settings.api.max_body_bytes,
        stripe_webhook_secret: settings.payments.stripe.webhook_secret.clone(),
        carrier_webhook_secrets: settings
            .shipping
            .http_carrier
            .iter()
            .map(|carrier| (carrier.name.clone(), carrier.webhook_secret.clone()))
            .collect(),
    };
    api::serve(listener, state, config, async move {
        shutdown.cancelled().await
    })
    .await
    .context("serving the API")
}
