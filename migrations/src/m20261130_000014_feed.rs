//! The change feed (`feed.entries`): what happened to each order, for live clients.
//!
//! Each service appends an entry in the same transaction as the change it reports (a status
//! change, a tracking event, a refund, a sent notification), so an entry exists exactly when
//! its change committed. The database numbers each order's entries 1, 2, 3… with no gaps (a
//! trigger, serialised per order by an advisory lock) and gives every entry a globally ordered
//! `id`; after the insert commits, `pg_notify('emporium_feed', '<id>')` tells every listening
//! API instance. The services' roles may only append; the API's role only reads.

use crate::run_sql;
use sea_orm_migration::prelude::*;

/// The channel API instances `LISTEN` on; the payload is the new entry's id.
pub const FEED_CHANNEL: &str = "emporium_feed";

/// The roles that append to the feed: the services whose changes it reports.
const WRITERS: [&str; 4] = [
    "emporium_orders",
    "emporium_shipping",
    "emporium_payments",
    "emporium_notifications",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let grants: String = WRITERS
            .iter()
            .map(|role| {
                format!(
                    "GRANT USAGE ON SCHEMA feed TO {role};
                     GRANT INSERT ON feed.entries TO {role};"
                )
            })
            .collect();
        run_sql(
            manager,
            &format!(
                r"
            CREATE SCHEMA IF NOT EXISTS feed;
            CREATE TABLE feed.entries (
                id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                order_id    uuid NOT NULL,
                seq         integer NOT NULL CHECK (seq > 0),
                kind        text NOT NULL
                            CHECK (kind IN ('status', 'tracking', 'refund', 'notification')),
                body        jsonb NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (order_id, seq)
            );

            -- Numbers an order's entries without gaps: one writer per order at a time.
            CREATE FUNCTION feed.number_entry() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, feed AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtextextended('feed:' || NEW.order_id::text, 0));
                SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq
                  FROM feed.entries WHERE order_id = NEW.order_id;
                RETURN NEW;
            END $$;
            CREATE TRIGGER number_entry BEFORE INSERT ON feed.entries
                FOR EACH ROW EXECUTE FUNCTION feed.number_entry();

            -- Tells the listening API instances, when the change commits.
            CREATE FUNCTION feed.announce_entry() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{FEED_CHANNEL}', NEW.id::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER announce_entry AFTER INSERT ON feed.entries
                FOR EACH ROW EXECUTE FUNCTION feed.announce_entry();

            -- The log is append-only, for everyone.
            CREATE FUNCTION feed.refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the feed is append-only';
            END $$;
            CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON feed.entries
                FOR EACH ROW EXECUTE FUNCTION feed.refuse_change();

            {grants}
            GRANT USAGE ON SCHEMA feed TO emporium_api;
            GRANT SELECT ON feed.entries TO emporium_api;
            "
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, "DROP SCHEMA IF EXISTS feed CASCADE").await
    }
}
