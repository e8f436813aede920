//! Customers and a fuller catalog: `customers.customers` (argon2 hashes, roles), orders owned by
//! a customer, product categories and images, coupons, and stock adjustments.

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
            CREATE TABLE customers.customers (
                id            uuid PRIMARY KEY,
                email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
                name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                password_hash text NOT NULL,
                role          text NOT NULL CHECK (role IN ('customer', 'operator', 'admin')),
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now(),
                UNIQUE (email)
            );

            ALTER TABLE orders.orders ADD COLUMN customer_id uuid;
            CREATE INDEX orders_by_customer_id ON orders.orders (customer_id, created_at DESC);

            ALTER TABLE catalog.products ADD COLUMN image_urls jsonb NOT NULL DEFAULT '[]';
            CREATE TABLE catalog.categories (
                slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
                name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
            );
            CREATE TABLE catalog.product_categories (
                product_id uuid NOT NULL REFERENCES catalog.products (id) ON DELETE CASCADE,
                category   text NOT NULL REFERENCES catalog.categories (slug) ON DELETE CASCADE,
                PRIMARY KEY (product_id, category)
            );
            CREATE TABLE catalog.coupons (
                code       text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{2,31}$'),
                kind       text NOT NULL CHECK (kind IN ('percent', 'fixed')),
                value      bigint NOT NULL CHECK (value > 0),
                currency   text CHECK (currency ~ '^[A-Z]{3}$'),
                expires_at timestamptz NOT NULL,
                active     boolean NOT NULL DEFAULT true,
                CHECK (kind <> 'percent' OR value <= 100),
                CHECK (kind <> 'fixed' OR currency IS NOT NULL)
            );

            CREATE TABLE inventory.adjustments (
                id         bigserial PRIMARY KEY,
                sku        text NOT NULL REFERENCES inventory.stock (sku),
                delta      bigint NOT NULL CHECK (delta <> 0),
                reason     text NOT NULL,
                actor      text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            DROP TABLE IF EXISTS inventory.adjustments;
            DROP TABLE IF EXISTS catalog.coupons;
            DROP TABLE IF EXISTS catalog.product_categories;
            DROP TABLE IF EXISTS catalog.categories;
            ALTER TABLE catalog.products DROP COLUMN IF EXISTS image_urls;
            ALTER TABLE orders.orders DROP COLUMN IF EXISTS customer_id;
            DROP TABLE IF EXISTS customers.customers;
            ",
        )
        .await
    }
}
