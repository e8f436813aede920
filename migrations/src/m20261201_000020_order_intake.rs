//! The order intake (`orders.intake`): every order the API accepts, written before its
//! workflow starts.
//!
//! `POST /orders` and a cart's checkout write the priced order here and answer; the order's
//! PlaceOrder is started from the row, at once by the instance that wrote it and, should
//! that fail or the instance die first, by any instance's relay (`api::intake`), which marks
//! `started_at` once Temporal has the workflow. The row is also the order's idempotency
//! record: its id is derived from an `Idempotency-Key` (or reserved by a cart), and a second
//! request under the same id finds the row instead of placing another order.
//!
//! The API's role inserts and marks rows (`migrations::API_ALSO_WRITES`); the orders
//! service's role owns the schema. Orders placed before this migration get a row without
//! `input`, already started, so that a repeated request for one of them is still answered
//! from its workflow's memo, as it was then.

use crate::m20261130_000013_service_roles::API_ROLE;
use crate::run_sql;
use sea_orm_migration::prelude::*;

const INTAKE: &str = r"
    CREATE TABLE orders.intake (
        order_id       uuid PRIMARY KEY,
        customer_id    uuid,
        request_sha256 text CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
        input          jsonb,
        accepted_at    timestamptz NOT NULL DEFAULT now(),
        started_at     timestamptz,
        CHECK (input IS NOT NULL OR started_at IS NOT NULL)
    );
    CREATE INDEX intake_waiting ON orders.intake (accepted_at) WHERE started_at IS NULL;
    INSERT INTO orders.intake (order_id, customer_id, accepted_at, started_at)
        SELECT id, customer_id, created_at, created_at FROM orders.orders
        ON CONFLICT DO NOTHING;
";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, INTAKE).await?;
        let api = API_ROLE.name;
        run_sql(
            manager,
            &format!("GRANT SELECT, INSERT, UPDATE ON orders.intake TO {api};"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, "DROP TABLE IF EXISTS orders.intake;").await
    }
}
