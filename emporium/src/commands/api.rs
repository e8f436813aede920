//! `emporium api`: the HTTP API alone.

use anyhow::Context as _;
use platform::Settings;

pub(crate) async fn run(settings: Settings) -> anyhow::Result<()> {
    let jwt_secret = settings
        .auth
        .jwt_secret
        .clone()
        .context("set JWT_SECRET: the secret access tokens are signed with")?;
    let db = platform::db::connect_as(
        &settings.database.url,
        platform::db::API_ROLE,
        settings.database.max_connections,
    )
    .await
    .context("connecting to the database as the API's role")?;
    let temporal = platform::temporal::connect(&settings.temporal)
        .await
        .context("connecting to Temporal")?;
    let listener = tokio::net::TcpListener::bind(settings.api.bind)
        .await
        .with_context(|| format!("binding {}", settings.api.bind))?;
    let shutdown = super::shutdown_on_signal();
    let (state, config) = super::api_parts(&settings, db, temporal, jwt_secret);
    api::serve(listener, state, config, async move {
        shutdown.cancelled().await
    })
    .await
    .context("serving the API")
}
