//! `emporium migrate`: create the database if missing, run pending migrations.

use anyhow::Context as _;
use platform::Settings;
use sea_orm::DatabaseConnection;

/// Migrates and returns the connection for commands that go on using it.
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
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
