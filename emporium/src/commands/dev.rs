//! `emporium dev`: the whole platform in one process, for a laptop.
//!
//! Connects to Temporal at `TEMPORAL_ADDRESS` or, when nothing answers there and the address is
//! local, starts the Temporal CLI dev server (Web UI included, history kept in a SQLite file in
//! the data folder so it survives a restart). Creates and migrates the database, loads the demo
//! catalog, creates the daily sales report's schedule, then runs every worker and the API until
//! Ctrl-C, which stops all of it, the dev server included.

use anyhow::{Context as _, bail};
use contracts::{Service, TaskQueues};
use platform::Settings;
use platform::settings::SimulatedWebhookSettings;
use platform::temporal::{DevServer, DevServerOptions, find_cli, target_url, try_connect};
use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

pub(crate) async fn run(mut settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    // The simulated carrier tells this very API about its parcels, as a real carrier would.
    if settings.shipping.simulated && settings.shipping.simulated_webhooks.is_none() {
        settings.shipping.simulated_webhooks = Some(SimulatedWebhookSettings {
            url: format!(
                "http://127.0.0.1:{}/webhooks/carrier/simulated",
                settings.api.bind.port()
            ),
            secret: local_secret(&settings.data_dir.join("carrier-webhook-secret"))?,
        });
    }
    // Domain events go to the local NATS server when one answers, as they would in production.
    if settings.events.nats_url.is_none() && local_nats_answers().await {
        settings.events.nats_url = Some(LOCAL_NATS.to_owned());
    }
    let owner = super::migrate::database(&settings).await?;
    crate::demo::seed(&owner).await?;
    let _ = owner.close().await;
    let url = &settings.database.url;
    let max = settings.database.max_connections;
    // One process, one budget of connections: half for the API, half shared by the workers.
    let db = platform::db::connect_as(url, platform::db::API_ROLE, (max / 2).max(2))
        .await
        .context("connecting to the database as the API's role")?;
    let dbs = platform::db::ServicePools::connect(url, &Service::ALL, (max / 2).max(2))
        .await
        .context("connecting to the database as the services' roles")?;

    let address = settings.temporal.address.clone();
    let (temporal, dev_server) = match try_connect(&settings.temporal, Duration::from_secs(3)).await
    {
        Some(client) => {
            tracing::info!(%address, "using the Temporal server already running");
            (client, None)
        }
        None => {
            let url = target_url(&address)?;
            let local = matches!(
                url.host_str(),
                Some("127.0.0.1" | "localhost" | "::1" | "[::1]")
            );
            if !local {
                bail!(
                    "nothing answers at TEMPORAL_ADDRESS={address}; start that cluster, or unset \
                     TEMPORAL_ADDRESS to let `emporium dev` start a local dev server"
                );
            }
            let cli = find_cli(settings.temporal.cli.as_deref())?;
            let db_file = settings.data_dir.join("temporal.sqlite");
            tracing::info!(cli = %cli.display(), history = %db_file.display(), "starting the Temporal dev server");
            let server = DevServer::start(DevServerOptions {
                cli,
                port: url.port().unwrap_or(7233),
                ui_port: Some(settings.temporal.ui_port),
                db_file: Some(db_file),
                namespace: settings.temporal.namespace.clone(),
                quiet: false,
                search_attributes: search_attributes(),
                dynamic_config: Vec::new(),
            })
            .await?;
            (server.client().clone(), Some(server))
        }
    };
    platform::temporal::ensure_search_attributes(&temporal, &contracts::orders::search::ALL)
        .await?;

    let queues = TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone());
    workers::schedules::ensure_daily_sales_report(&temporal, &queues, &settings.reports.daily_cron)
        .await
        .context("creating the daily sales report's schedule")?;
    let mut deps = workers::ServiceDeps::from_settings(dbs, &settings)?;
    deps.extra = crate::extra_registrations();
    let shutdown = super::shutdown_on_signal();

    let jwt_secret = match settings.auth.jwt_secret.clone() {
        Some(secret) => secret,
        None => local_secret(&settings.data_dir.join("jwt-secret"))?,
    };
    let admin_password = local_secret(&settings.data_dir.join("admin-password"))?;
    activities::customers::ensure_account(
        &db,
        DEMO_ADMIN,
        "Demo admin",
        admin_password.expose_secret(),
        activities::customers::Role::Admin,
    )
    .await
    .context("creating the demo admin")?;

    let sdk_metrics =
        super::start_worker_ops(&settings, db.clone(), temporal.clone(), shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(settings.api.bind)
        .await
        .with_context(|| format!("binding the API to {}", settings.api.bind))?;
    let (state, config) = super::api_parts(&settings, db, temporal.clone(), jwt_secret);
    let api_stopped = shutdown.clone();
    let api = tokio::spawn(api::serve(listener, state, config, async move {
        api_stopped.cancelled().await;
    }));

    print_banner(
        &settings,
        dev_server.is_some(),
        admin_password.expose_secret(),
    );
    let workers_result = workers::run(
        temporal,
        &Service::ALL,
        &queues,
        &deps,
        shutdown.clone(),
        Some(&sdk_metrics),
    )
    .await;
    // Whatever stopped the workers stops the rest.
    shutdown.cancel();
    let api_result = api.await.context("API task panicked")?;
    if let Some(server) = dev_server {
        server.shutdown().await?;
        tracing::info!("Temporal dev server stopped");
    }
    workers_result?;
    api_result.context("serving the API")?;
    Ok(())
}

fn search_attributes() -> Vec<(String, String)> {
    contracts::orders::search::ALL
        .iter()
        .map(|&(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect()
}

/// The demo admin `emporium dev` creates.
const DEMO_ADMIN: &str = "admin@emporium.localhost";

/// A random secret kept in a file of the data folder, created on first use, so it stays the
/// same across restarts.
fn local_secret(path: &std::path::Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && !existing.trim().is_empty()
    {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    std::fs::write(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(SecretString::from(secret))
}

/// Where `emporium dev` looks for NATS.
const LOCAL_NATS: &str = "nats://127.0.0.1:4222";

/// Whether a NATS server answers on the local default port.
async fn local_nats_answers() -> bool {
    let connecting = async_nats::connect(LOCAL_NATS);
    matches!(
        tokio::time::timeout(Duration::from_secs(2), connecting).await,
        Ok(Ok(_))
    )
}

fn print_banner(settings: &Settings, own_server: bool, admin_password: &str) {
    let port = settings.api.bind.port();
    let ui = if own_server {
        format!("http://localhost:{}", settings.temporal.ui_port)
    } else {
        format!("the Web UI of {}", settings.temporal.address)
    };
    let events = match &settings.events.nats_url {
        Some(url) => format!(
            "{url}, subjects {}.>   (emporium events tail)",
            settings.events.subject_prefix
        ),
        None => "off (no NATS answered on 127.0.0.1:4222)".to_owned(),
    };
    println!(
        "\n  Emporium is running.\n\
         \n  Storefront   http://localhost:{port}/\
         \n  Console      http://localhost:{port}/console   (operators and admins)\
         \n  API          http://localhost:{port}   (reference: http://localhost:{port}/docs)\
         \n  Temporal UI  {ui}\
         \n  Events       {events}\
         \n\n  Try:\
         \n    curl -s localhost:{port}/auth/register -H 'content-type: application/json' \\\
         \n      -d '{{\"email\":\"ada@example.com\",\"name\":\"Ada\",\"password\":\"correct horse battery\"}}'\
         \n    TOKEN=$(curl -s localhost:{port}/auth/login -H 'content-type: application/json' \\\
         \n      -d '{{\"email\":\"ada@example.com\",\"password\":\"correct horse battery\"}}' \\\
         \n      | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\
         \n    curl -s localhost:{port}/orders -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\
         \n      -d '{{\"shipping_address\":{{\"name\":\"Ada\",\"line1\":\"1 Main St\",\"city\":\"London\",\"postal_code\":\"N1\",\"country\":\"GB\"}},\"lines\":[{{\"sku\":\"MUG-CLASSIC\",\"quantity\":1}}],\"payment_method\":\"pm_card_visa\"}}'\
         \n\n  Emails are written to {mail}/ (set EMPORIUM_NOTIFICATIONS__SMTP__HOST to send them).\
         \n  Demo admin:  {DEMO_ADMIN} / {admin_password}\
         \n  Ctrl-C stops everything.\n",
        mail = settings.data_dir.join("mail").display()
    );
}
