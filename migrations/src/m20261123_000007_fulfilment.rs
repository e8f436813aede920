//! Fulfilment: the order's shipping address and phone, `shipping.shipments` and
//! `shipping.tracking_events`, `payments.refunds`, `inventory.restocks`,
//! `notifications.notifications` and `notifications.attempts`.

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
            ALTER TABLE orders.orders
                ADD COLUMN customer_phone text,
                ADD COLUMN shipping_address jsonb;

            CREATE TABLE shipping.shipments (
                order_id        uuid PRIMARY KEY,
                carrier         text NOT NULL,
                service         text NOT NULL,
                label_id        text NOT NULL,
                tracking_number text NOT NULL,
                label_url       text NOT NULL,
                rate_minor      bigint NOT NULL CHECK (rate_minor >= 0),
                currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                status          text NOT NULL CHECK (status IN
                    ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'cancelled')),
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now(),
                UNIQUE (carrier, tracking_number)
            );

            CREATE TABLE shipping.tracking_events (
                order_id    uuid NOT NULL REFERENCES shipping.shipments (order_id),
                event_id    text NOT NULL,
                status      text NOT NULL,
                description text NOT NULL,
                occurred_at text NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (order_id, event_id)
            );

            CREATE TABLE payments.refunds (
                id             uuid PRIMARY KEY,
                order_id       uuid NOT NULL,
                payment_id     uuid NOT NULL REFERENCES payments.payments (id),
                amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
                currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
                provider_ref   text,
                reason         text NOT NULL,
                created_at     timestamptz NOT NULL DEFAULT now(),
                updated_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX refunds_by_order ON payments.refunds (order_id);

            CREATE TABLE inventory.restocks (
                refund_id  uuid NOT NULL,
                sku        text NOT NULL REFERENCES inventory.stock (sku),
                quantity   bigint NOT NULL CHECK (quantity > 0),
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (refund_id, sku)
            );

            CREATE TABLE notifications.notifications (
                id             text PRIMARY KEY,
                template       text NOT NULL,
                customer_email text,
                phone          text,
                order_id       uuid,
                status         text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
                channel        text,
                reference      text,
                subject        text NOT NULL,
                failure        text,
                created_at     timestamptz NOT NULL DEFAULT now(),
                sent_at        timestamptz
            );
            CREATE INDEX notifications_by_customer
                ON notifications.notifications (customer_email, created_at DESC);

            CREATE TABLE notifications.attempts (
                id              bigserial PRIMARY KEY,
                notification_id text NOT NULL REFERENCES notifications.notifications (id),
                channel         text NOT NULL,
                attempt         integer NOT NULL,
                succeeded       boolean NOT NULL,
                error           text,
                attempted_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX attempts_by_notification ON notifications.attempts (notification_id, id);
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            DROP TABLE IF EXISTS notifications.attempts;
            DROP TABLE IF EXISTS notifications.notifications;
            DROP TABLE IF EXISTS inventory.restocks;
            DROP TABLE IF EXISTS payments.refunds;
            DROP TABLE IF EXISTS shipping.tracking_events;
            DROP TABLE IF EXISTS shipping.shipments;
            ALTER TABLE orders.orders DROP COLUMN IF EXISTS shipping_address,
                                      DROP COLUMN IF EXISTS customer_phone;
            ",
        )
        .await
    }
}
