//! `inventory.stock` and `inventory.reservations`.
//!
//! The checks are the last line of defence against overselling: `reserved` can never exceed
//! `on_hand`, and neither can go negative, whatever the code above does.

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
            CREATE TABLE inventory.stock (
                sku        text PRIMARY KEY,
                on_hand    bigint NOT NULL CHECK (on_hand >= 0),
                reserved   bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT reserved_within_on_hand CHECK (reserved <= on_hand)
            );

            CREATE TABLE inventory.reservations (
                order_id   uuid NOT NULL,
                sku        text NOT NULL REFERENCES inventory.stock (sku),
                quantity   bigint NOT NULL CHECK (quantity > 0),
                status     text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
                expires_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (order_id, sku)
            );

            CREATE INDEX reservations_held_expiry
                ON inventory.reservations (expires_at) WHERE status = 'held';
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "DROP TABLE IF EXISTS inventory.reservations; DROP TABLE IF EXISTS inventory.stock;",
        )
        .await
    }
}
