//! One module per subcommand, plus what they share.

pub(crate) mod api;
#[cfg(feature = "bench")]
pub(crate) mod bench;
pub(crate) mod dev;
pub(crate) mod events;
pub(crate) mod history;
pub(crate) mod migrate;
pub(crate) mod seed;
pub(crate) mod worker;

use tokio_util::sync::CancellationToken;

/// Starts the SDK's metrics exporter and the workers' operations endpoint
/// (`/healthz`, `/readyz`, `/metrics` on `EMPORIUM_WORKER__OPS_BIND`), which stops with
/// `shutdown`. Returns the SDK metrics to hand to `workers::run`.
pub(crate) async fn start_worker_ops(
    settings: &platform::Settings,
    db: sea_orm::DatabaseConnection,
    temporal: temporalio_client::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<workers::ops::SdkMetrics> {
    use anyhow::Context as _;
    let sdk = workers::ops::start_sdk_metrics().context("starting the SDK's metrics exporter")?;
    let listener = tokio::net::TcpListener::bind(settings.worker.ops_bind)
        .await
        .with_context(|| {
            format!(
                "binding the worker operations endpoint (/healthz, /readyz, /metrics) to {}; \
                 each worker process on a host needs its own: set EMPORIUM_WORKER__OPS_BIND, \
                 such as 127.0.0.1:9091",
                settings.worker.ops_bind
            )
        })?;
    let served = sdk.clone();
    tokio::spawn(async move {
        if let Err(err) = workers::ops::serve(listener, db, temporal, Some(&served), shutdown).await
        {
            tracing::error!(%err, "the worker operations endpoint stopped");
        }
    });
    Ok(sdk)
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub(crate) fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops this process");
                let _ = ctrl_c.await;
                cancel.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down (again to stop at once)");
        cancel.cancel();
        // A second Ctrl-C does not wait for the graceful stop.
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("stopping at once");
            std::process::exit(130);
        }
    });
    token
}

/// The API's state and configuration, from the settings. `jwt_secret` is the secret the tokens
/// are signed with (the settings' own, or one `emporium dev` generated).
pub(crate) fn api_parts(
    settings: &platform::Settings,
    db: sea_orm::DatabaseConnection,
    temporal: temporalio_client::Client,
    jwt_secret: secrecy::SecretString,
) -> (::api::AppState, ::api::ApiConfig) {
    let auth = ::api::auth::Auth::new(&::api::auth::AuthConfig {
        jwt_secret,
        token_ttl: std::time::Duration::from_secs(settings.auth.token_ttl_secs),
        logins_per_account_per_minute: settings.auth.logins_per_account_per_minute,
        logins_per_address_per_minute: settings.auth.logins_per_address_per_minute,
    });
    let feed = ::api::feed::FeedHub::start(&db);
    let state = ::api::AppState {
        views: ::api::views::OrderViews::start(&db, &feed),
        feed,
        links: ::api::AccountLinks {
            public_url: settings.api.public_url.clone(),
            reset_valid_for: std::time::Duration::from_secs(
                settings.auth.password_reset_valid_secs,
            ),
            email_change_valid_for: std::time::Duration::from_secs(
                settings.auth.email_change_valid_secs,
            ),
        },
        stopping: tokio_util::sync::CancellationToken::new(),
        recent: ::api::RecentOrders::default(),
        webhooks: workers::webhook_policy(settings),
        db,
        temporal,
        queues: contracts::TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone()),
        auth,
        cart_reminder_after: std::time::Duration::from_secs(settings.cart.reminder_after_secs),
        cart_expire_after: std::time::Duration::from_secs(settings.cart.expire_after_secs),
    };
    let config = ::api::ApiConfig {
        max_body_bytes: settings.api.max_body_bytes,
        web_dir: settings.api.web_dir.clone(),
        stripe_webhook_secret: settings.payments.stripe.webhook_secret.clone(),
        carrier_webhook_secrets: settings
            .shipping
            .http_carrier
            .iter()
            .map(|carrier| (carrier.name.clone(), carrier.webhook_secret.clone()))
            .chain(
                settings
                    .shipping
                    .simulated_webhooks
                    .iter()
                    .map(|hooks| ("simulated".to_owned(), hooks.secret.clone())),
            )
            .collect(),
    };
    (state, config)
}
