//! Database migrations (sea-orm-migration), one Postgres schema per service.
//!
//! The first migration creates every service's schema; each later one creates one service's
//! tables in its own schema. Tables are written in SQL so that the constraints that protect
//! money and stock (checks, unique natural keys) are plain to read.

use sea_orm_migration::prelude::*;

pub use sea_orm_migration::MigratorTrait;

mod m20261123_000001_schemas;
mod m20261123_000002_catalog;
mod m20261123_000003_inventory;
mod m20261123_000004_orders;
mod m20261123_000005_payments;
mod m20261123_000006_payment_failures;
mod m20261123_000007_fulfilment;
mod m20261123_000008_customers_catalog;
mod m20261123_000009_audit;
mod m20261125_000010_service_role;
mod m20261125_000011_reporting;
mod m20261129_000012_allocations;
mod m20261130_000013_service_roles;
mod m20261130_000014_feed;
mod m20261130_000015_tracking_locations;
mod m20261130_000016_support_and_live;
mod m20261130_000017_stock_news;
mod m20261130_000018_accounts_and_reviews;
mod m20261130_000019_outbox_and_webhooks;
mod m20261201_000020_order_intake;

pub use m20261125_000010_service_role::SERVICE_ROLE;
pub use m20261130_000013_service_roles::{API_ROLE, DbRole, WORKER_ROLES};
pub use m20261130_000014_feed::FEED_CHANNEL;
pub use m20261130_000017_stock_news::STOCK_CHANNEL;
pub use m20261130_000018_accounts_and_reviews::TOKENS_CHANNEL;
pub use m20261130_000019_outbox_and_webhooks::{
    API_ALSO_WRITES, DEFAULT_LOW_STOCK_THRESHOLD, OUTBOX_CHANNEL, OUTBOX_SCHEMAS,
};

/// Every schema a service owns, in the order the migrations create them.
pub const SCHEMAS: [&str; 10] = [
    "catalog",
    "inventory",
    "customers",
    "orders",
    "payments",
    "shipping",
    "notifications",
    "audit",
    "reporting",
    "support",
];

/// The migrator `emporium migrate` runs.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_schemas::Migration),
            Box::new(m20261123_000002_catalog::Migration),
            Box::new(m20261123_000003_inventory::Migration),
            Box::new(m20261123_000004_orders::Migration),
            Box::new(m20261123_000005_payments::Migration),
            Box::new(m20261123_000006_payment_failures::Migration),
            Box::new(m20261123_000007_fulfilment::Migration),
            Box::new(m20261123_000008_customers_catalog::Migration),
            Box::new(m20261123_000009_audit::Migration),
            Box::new(m20261125_000010_service_role::Migration),
            Box::new(m20261125_000011_reporting::Migration),
            Box::new(m20261129_000012_allocations::Migration),
            Box::new(m20261130_000013_service_roles::Migration),
            Box::new(m20261130_000014_feed::Migration),
            Box::new(m20261130_000015_tracking_locations::Migration),
            Box::new(m20261130_000016_support_and_live::Migration),
            Box::new(m20261130_000017_stock_news::Migration),
            Box::new(m20261130_000018_accounts_and_reviews::Migration),
            Box::new(m20261130_000019_outbox_and_webhooks::Migration),
            Box::new(m20261201_000020_order_intake::Migration),
        ]
    }
}

/// Runs each statement of an SQL script in turn.
pub(crate) async fn run_sql(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}
