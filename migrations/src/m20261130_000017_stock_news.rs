//! Stock levels announced as they change, so a product page can show live availability.
//!
//! After each committed change of a SKU's `on_hand` or `reserved`, Postgres announces
//! `{"sku": …, "available": …}` on [`STOCK_CHANNEL`] to every listening API instance. A level
//! is a state, not a history: a client that missed some reads the current level again, so no
//! table keeps them.

use crate::run_sql;
use sea_orm_migration::prelude::*;

/// The channel API instances `LISTEN` on for stock levels.
pub const STOCK_CHANNEL: &str = "emporium_stock";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            &format!(
                r"
            CREATE FUNCTION inventory.announce_stock() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{STOCK_CHANNEL}', json_build_object(
                    'sku', NEW.sku, 'available', NEW.on_hand - NEW.reserved)::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER announce_stock
                AFTER INSERT OR UPDATE OF on_hand, reserved ON inventory.stock
                FOR EACH ROW EXECUTE FUNCTION inventory.announce_stock();
            "
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "DROP TRIGGER IF EXISTS announce_stock ON inventory.stock;
             DROP FUNCTION IF EXISTS inventory.announce_stock();",
        )
        .await
    }
}
