//! The audit log: `audit.events`, append-only. A trigger refuses every `UPDATE`, `DELETE` and
//! `TRUNCATE`, whoever asks, so neither the services nor anyone using their database role can
//! rewrite what happened; `PUBLIC` also loses those privileges.

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
            CREATE TABLE audit.events (
                id       bigserial PRIMARY KEY,
                at       timestamptz NOT NULL DEFAULT now(),
                actor    text NOT NULL CHECK (length(actor) BETWEEN 1 AND 300),
                action   text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
                subject  text NOT NULL,
                order_id uuid,
                before   jsonb,
                after    jsonb
            );
            CREATE INDEX events_by_time ON audit.events (at DESC);
            CREATE INDEX events_by_action ON audit.events (action, at DESC);
            CREATE INDEX events_by_actor ON audit.events (actor, at DESC);
            CREATE INDEX events_by_order ON audit.events (order_id, at DESC) WHERE order_id IS NOT NULL;

            CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit.events is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$;
            CREATE TRIGGER events_are_append_only
                BEFORE UPDATE OR DELETE ON audit.events
                FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
            CREATE TRIGGER events_are_never_truncated
                BEFORE TRUNCATE ON audit.events
                FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
            REVOKE UPDATE, DELETE, TRUNCATE ON audit.events FROM PUBLIC;
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            DROP TABLE audit.events;
            DROP FUNCTION audit.refuse_change();
            ",
        )
        .await
    }
}
