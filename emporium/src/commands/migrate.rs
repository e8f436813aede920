//! `emporium migrate`: create the database if missing, run pending migrations, register the
//! search attributes the workflows use on the Temporal namespace, and create (or update) the
//! daily sales report's Temporal Schedule.

use anyhow::Context as _;
use platform::Settings;
use sea_orm::DatabaseConnection;

/// Migrates the database and registers the search attributes.
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = database(settings).await?;
    let temporal = platform::temporal::connect(&settings.temporal)
        .await
        .context("connecting to Temporal to register search attributes")?;
    platform::temporal::ensure_search_attributes(&temporal, &contracts::orders::search::ALL)
        .await?;
    tracing::info!("search attributes are registered");
    let queues = contracts::TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone());
    workers::schedules::ensure_daily_sales_report(&temporal, &queues, &settings.reports.daily_cron)
        .await
        .context("creating the daily sales report's schedule")?;
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
