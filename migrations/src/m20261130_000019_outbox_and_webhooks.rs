//! Domain events out: an outbox in each schema whose changes are published, and the merchants'
//! webhook endpoints with their deliveries.
//!
//! - `<schema>.outbox` in [`OUTBOX_SCHEMAS`]: each domain event, written in the transaction of
//!   the change it reports by the service that owns that change, numbered by `seq` (the order
//!   the relay publishes in) and marked `published_at` once NATS JetStream acknowledged it.
//!   After each insert commits, `pg_notify('emporium_outbox', '<schema>')` wakes the relay.
//! - `inventory.stock.low_stock_threshold`: a SKU whose availability falls from above it to at
//!   or below it emits `stock.low`, from a trigger, so that every path that moves stock
//!   (reservations, releases, adjustments) reports it in its own transaction.
//! - `notifications.webhook_endpoints`, `webhook_deliveries` and `webhook_attempts`: merchant
//!   webhooks. Admins edit the endpoints through the API, which is why the API's role may write
//!   that one table of the notifications schema (and only its subscription columns matter to
//!   it); the notifications worker delivers and records each attempt.

use crate::m20261130_000013_service_roles::API_ROLE;
use crate::run_sql;
use sea_orm_migration::prelude::*;

/// The channel the outbox relays `LISTEN` on (payload: the schema that has news).
pub const OUTBOX_CHANNEL: &str = "emporium_outbox";

/// The schemas that keep an outbox: the services whose changes become domain events.
pub const OUTBOX_SCHEMAS: [&str; 4] = ["orders", "payments", "shipping", "inventory"];

/// Tables outside the API role's own schemas that it writes: the admins' webhook endpoints,
/// and since migration 20 the order intake (`orders.intake`).
pub const API_ALSO_WRITES: [&str; 2] = ["notifications.webhook_endpoints", "orders.intake"];

/// The availability at or below which a SKU is low, unless set per SKU.
pub const DEFAULT_LOW_STOCK_THRESHOLD: i64 = 5;

fn outbox(schema: &str) -> String {
    format!(
        r"
        CREATE TABLE {schema}.outbox (
            seq          bigserial PRIMARY KEY,
            id           uuid NOT NULL UNIQUE,
            event_type   text NOT NULL,
            aggregate_id text NOT NULL,
            envelope     jsonb NOT NULL,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX outbox_unpublished ON {schema}.outbox (seq) WHERE published_at IS NULL;
        CREATE FUNCTION {schema}.announce_outbox() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{OUTBOX_CHANNEL}', '{schema}');
            RETURN NULL;
        END $$;
        CREATE TRIGGER announce_outbox AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.announce_outbox();
        "
    )
}

/// `stock.low` v1, in the envelope `contracts::events::Event` publishes (the contract test of
/// the relay holds what it writes to the published schema).
const STOCK_LOW: &str = r#"
    ALTER TABLE inventory.stock
        ADD COLUMN low_stock_threshold bigint NOT NULL DEFAULT 5 -- DEFAULT_LOW_STOCK_THRESHOLD
        CHECK (low_stock_threshold >= 0);
    CREATE FUNCTION inventory.report_low_stock() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        event_id uuid := gen_random_uuid();
        available bigint := NEW.on_hand - NEW.reserved;
    BEGIN
        IF available <= NEW.low_stock_threshold
           AND (TG_OP = 'INSERT' OR OLD.on_hand - OLD.reserved > NEW.low_stock_threshold) THEN
            INSERT INTO inventory.outbox (id, event_type, aggregate_id, envelope)
            VALUES (event_id, 'stock.low', NEW.sku, jsonb_build_object(
                'id', event_id, 'type', 'stock.low', 'version', 1,
                'time', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'aggregate', 'stock', 'aggregate_id', NEW.sku,
                'data', jsonb_build_object(
                    'sku', NEW.sku, 'available', available,
                    'threshold', NEW.low_stock_threshold)));
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER report_low_stock
        AFTER INSERT OR UPDATE OF on_hand, reserved, low_stock_threshold ON inventory.stock
        FOR EACH ROW EXECUTE FUNCTION inventory.report_low_stock();
"#;

const WEBHOOKS: &str = r"
    CREATE TABLE notifications.webhook_endpoints (
        id              uuid PRIMARY KEY,
        url             text NOT NULL,
        event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0),
        description     text,
        secret          text NOT NULL,
        enabled         boolean NOT NULL DEFAULT true,
        disabled_reason text,
        failing_since   timestamptz,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX webhook_endpoints_types ON notifications.webhook_endpoints
        USING gin (event_types) WHERE enabled;
    CREATE TABLE notifications.webhook_deliveries (
        id          uuid PRIMARY KEY,
        endpoint_id uuid NOT NULL
                    REFERENCES notifications.webhook_endpoints (id) ON DELETE CASCADE,
        event_id    uuid NOT NULL,
        event_type  text NOT NULL,
        envelope    jsonb NOT NULL,
        status      text NOT NULL
                    CHECK (status IN ('pending', 'delivered', 'failed', 'abandoned')),
        attempts    integer NOT NULL DEFAULT 0,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (endpoint_id, event_id)
    );
    CREATE INDEX webhook_deliveries_by_endpoint
        ON notifications.webhook_deliveries (endpoint_id, created_at DESC);
    CREATE TABLE notifications.webhook_attempts (
        delivery_id uuid NOT NULL
                    REFERENCES notifications.webhook_deliveries (id) ON DELETE CASCADE,
        number      integer NOT NULL CHECK (number > 0),
        at          timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        error       text,
        duration_ms integer NOT NULL,
        PRIMARY KEY (delivery_id, number)
    );
";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for schema in OUTBOX_SCHEMAS {
            run_sql(manager, &outbox(schema)).await?;
        }
        run_sql(manager, STOCK_LOW).await?;
        run_sql(manager, WEBHOOKS).await?;
        let api = API_ROLE.name;
        run_sql(
            manager,
            &format!("GRANT INSERT, UPDATE, DELETE ON notifications.webhook_endpoints TO {api};"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "DROP TABLE IF EXISTS notifications.webhook_attempts,
                 notifications.webhook_deliveries, notifications.webhook_endpoints;
             DROP TRIGGER IF EXISTS report_low_stock ON inventory.stock;
             DROP FUNCTION IF EXISTS inventory.report_low_stock();
             ALTER TABLE inventory.stock DROP COLUMN IF EXISTS low_stock_threshold;",
        )
        .await?;
        for schema in OUTBOX_SCHEMAS {
            run_sql(
                manager,
                &format!(
                    "DROP TABLE IF EXISTS {schema}.outbox;
                     DROP FUNCTION IF EXISTS {schema}.announce_outbox();"
                ),
            )
            .await?;
        }
        Ok(())
    }
}
