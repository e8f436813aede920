//! `emporium migrate`: create the database if missing, run pending migrations, and register
//! the search attributes the workflows use on the Temporal namespace.

use anyhow::Context as _;
use platform::Settings;
use sea_orm::DatabaseConnection;

/// Migrates the database and registers the search attributes.
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = database(settings).await?;
    let temporal =
        platform::temporal::connect(&settings.temporal.address, &settings.temporal.namespace)
            .await
            .context("connecting to Temporal to register search attributes")?;
    platform::temporal::ensure_search_attributes(&temporal, &contracts::orders::search::ALL)
        .await?;
    tracing::info!("search attributes are registered");
    Ok(db)
}

/// Creates the database if needed and brings every schema up to date.
pub(crate) async fn database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    platform::db::ensure_database(&settings.database.url)
        .await
        .context("creating the database")?;
    let db = platform::db::connect(&settings.database.url, settings.database.max_connections)
        .await
        .context("connecting to the database")?;
    platform::db::migrate(&db).await.context("migrating")?;
    tracing::info!("database is up to date");
    Ok(db)
}
