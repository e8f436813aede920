//! Schema `reporting`: the views the reporting service reads, and nothing else.
//!
//! Reporting owns no data. It reads the other services' tables only through these views, which
//! it owns: they are the one place that knows how orders, payments, refunds and accounts fit
//! together for a report, and the services' tables can change shape behind them. The services'
//! role may only read them.

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
            CREATE SCHEMA IF NOT EXISTS reporting;

            -- One row per order: its money and when it reached each milestone. Money counts as
            -- sold once captured; refunds are what succeeded.
            CREATE VIEW reporting.orders AS
            SELECT o.id AS order_id,
                   o.customer_id,
                   o.status,
                   o.total_minor,
                   o.currency,
                   o.created_at AS placed_at,
                   coalesce((SELECT sum(l.quantity) FROM orders.order_lines l
                              WHERE l.order_id = o.id), 0)::bigint AS units,
                   (SELECT min(h.recorded_at) FROM orders.status_history h
                     WHERE h.order_id = o.id AND h.status = 'confirmed') AS confirmed_at,
                   (SELECT min(h.recorded_at) FROM orders.status_history h
                     WHERE h.order_id = o.id AND h.status = 'shipped') AS shipped_at,
                   (SELECT min(h.recorded_at) FROM orders.status_history h
                     WHERE h.order_id = o.id AND h.status = 'delivered') AS delivered_at,
                   coalesce((SELECT sum(p.captured_minor) FROM payments.payments p
                              WHERE p.order_id = o.id), 0)::bigint AS captured_minor,
                   coalesce((SELECT sum(r.amount_minor) FROM payments.refunds r
                              WHERE r.order_id = o.id AND r.status = 'succeeded'), 0)::bigint
                       AS refunded_minor
              FROM orders.orders o;

            -- One row per order line, with whether its order was paid for.
            CREATE VIEW reporting.order_lines AS
            SELECT l.order_id,
                   l.sku,
                   l.name,
                   l.quantity,
                   l.line_total_minor,
                   l.currency,
                   o.placed_at,
                   o.captured_minor > 0 AS paid
              FROM orders.order_lines l
              JOIN reporting.orders o ON o.order_id = l.order_id;

            -- Every payment authorisation attempt and how it ended.
            CREATE VIEW reporting.payment_attempts AS
            SELECT order_id, attempt, status, amount_minor, currency, created_at
              FROM payments.payments;

            -- Who receives the daily report.
            CREATE VIEW reporting.admins AS
            SELECT id, email, name FROM customers.customers WHERE role = 'admin';
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            DROP VIEW IF EXISTS reporting.admins;
            DROP VIEW IF EXISTS reporting.payment_attempts;
            DROP VIEW IF EXISTS reporting.order_lines;
            DROP VIEW IF EXISTS reporting.orders;
            ",
        )
        .await
    }
}
