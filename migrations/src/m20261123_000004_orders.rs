//! `orders.orders`, `orders.order_lines` and `orders.status_history`.

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
            CREATE TABLE orders.orders (
                id             uuid PRIMARY KEY,
                customer_email text NOT NULL,
                status         text NOT NULL,
                reason         text,
                total_minor    bigint NOT NULL CHECK (total_minor >= 0),
                currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                created_at     timestamptz NOT NULL DEFAULT now(),
                updated_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX orders_by_status ON orders.orders (status, created_at DESC);
            CREATE INDEX orders_by_customer ON orders.orders (customer_email, created_at DESC);

            CREATE TABLE orders.order_lines (
                order_id         uuid NOT NULL REFERENCES orders.orders (id) ON DELETE CASCADE,
                line_no          integer NOT NULL CHECK (line_no >= 0),
                sku              text NOT NULL,
                name             text NOT NULL,
                quantity         integer NOT NULL CHECK (quantity > 0),
                unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
                line_total_minor bigint NOT NULL CHECK (line_total_minor >= 0),
                currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                PRIMARY KEY (order_id, line_no)
            );

            CREATE TABLE orders.status_history (
                order_id    uuid NOT NULL REFERENCES orders.orders (id) ON DELETE CASCADE,
                seq         integer NOT NULL CHECK (seq >= 0),
                status      text NOT NULL,
                reason      text,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (order_id, seq)
            );
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "DROP TABLE IF EXISTS orders.status_history; \
             DROP TABLE IF EXISTS orders.order_lines; \
             DROP TABLE IF EXISTS orders.orders;",
        )
        .await
    }
}
