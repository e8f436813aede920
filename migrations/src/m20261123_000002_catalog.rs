//! `catalog.products`.

use crate::run_sql;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            CREATE TABLE catalog.products (
                id          uuid PRIMARY KEY,
                sku         text NOT NULL UNIQUE CHECK (sku ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'),
                name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                description text NOT NULL DEFAULT '',
                price_minor bigint NOT NULL CHECK (price_minor >= 0),
                currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                active      boolean NOT NULL DEFAULT true,
                created_at  timestamptz NOT NULL DEFAULT now(),
                updated_at  timestamptz NOT NULL DEFAULT now()
            );
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, "DROP TABLE IF EXISTS catalog.products").await
    }
}
