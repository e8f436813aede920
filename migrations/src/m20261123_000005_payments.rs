//! `payments.payments`.
//!
//! `(order_id, attempt)` is a payment's natural key and `idempotency_key` is what the provider
//! sees: both unique, so a retried activity finds the row its earlier attempt wrote. Captured
//! money can never exceed the authorised amount.

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
            CREATE TABLE payments.payments (
                id              uuid PRIMARY KEY,
                order_id        uuid NOT NULL,
                attempt         integer NOT NULL CHECK (attempt >= 1),
                provider        text NOT NULL,
                provider_ref    text,
                idempotency_key text NOT NULL UNIQUE,
                amount_minor    bigint NOT NULL CHECK (amount_minor >= 0),
                captured_minor  bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
                currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                status          text NOT NULL
                    CHECK (status IN ('pending', 'authorized', 'declined', 'captured', 'voided')),
                decline_code    text,
                decline_message text,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now(),
                UNIQUE (order_id, attempt),
                CONSTRAINT captured_within_authorized CHECK (captured_minor <= amount_minor)
            );
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, "DROP TABLE IF EXISTS payments.payments").await
    }
}
