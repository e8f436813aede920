//! Support conversations (`support`), and a change feed a customer can follow as a whole.
//!
//! - **`support`**: one conversation per order between its customer and the operators, and
//!   its messages, numbered per conversation. The API runs the support service (it has no
//!   worker), so the API's role writes this schema.
//! - **The feed per customer**: `feed.orders` says whose each order is (the orders service
//!   writes it with the order's first entry), and every entry now also carries its customer
//!   and a `customer_seq`, numbered `1, 2, 3…` per customer as `seq` is per order, so a client
//!   can follow all of a customer's orders and notifications and resume by one number. An
//!   entry may now be about a customer and no order (a cart reminder, a message from the
//!   shop), and the kind `support` reports a conversation's messages and its closing.
//! - **`feed.connections`**: the live connections each API instance holds, refreshed by their
//!   heartbeats, so any instance can tell whether a customer is connected (if not, an
//!   operator's answer is also emailed).

use crate::run_sql;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The support schema, written by the API's role.
const SUPPORT: &str = r"
    CREATE SCHEMA IF NOT EXISTS support;
    CREATE TABLE support.conversations (
        order_id    uuid PRIMARY KEY,
        customer_id uuid NOT NULL,
        status      text NOT NULL CHECK (status IN ('open', 'closed')),
        waiting_on  text NOT NULL CHECK (waiting_on IN ('operator', 'customer')),
        messages    integer NOT NULL DEFAULT 0 CHECK (messages >= 0),
        opened_at   timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        closed_at   timestamptz,
        closed_by   uuid,
        CHECK ((status = 'closed') = (closed_at IS NOT NULL))
    );
    CREATE INDEX conversations_inbox ON support.conversations (status, updated_at DESC);
    CREATE TABLE support.messages (
        id          uuid PRIMARY KEY,
        order_id    uuid NOT NULL REFERENCES support.conversations (order_id),
        seq         integer NOT NULL CHECK (seq > 0),
        author_id   uuid NOT NULL,
        author_role text NOT NULL CHECK (author_role IN ('customer', 'operator')),
        body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
        sent_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (order_id, seq)
    );
    GRANT USAGE ON SCHEMA support TO emporium_api;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA support TO emporium_api;
";

/// The feed, per customer as well as per order.
const FEED: &str = r"
    CREATE TABLE feed.orders (
        order_id    uuid PRIMARY KEY,
        customer_id uuid NOT NULL
    );
    INSERT INTO feed.orders (order_id, customer_id)
        SELECT id, customer_id FROM orders.orders WHERE customer_id IS NOT NULL
        ON CONFLICT DO NOTHING;

    ALTER TABLE feed.entries
        ALTER COLUMN order_id DROP NOT NULL,
        ALTER COLUMN seq DROP NOT NULL,
        ADD COLUMN customer_id uuid,
        ADD COLUMN customer_seq integer CHECK (customer_seq > 0),
        DROP CONSTRAINT entries_kind_check,
        ADD CONSTRAINT entries_kind_check
            CHECK (kind IN ('status', 'tracking', 'refund', 'notification', 'support'));

    ALTER TABLE feed.entries DISABLE TRIGGER append_only;
    UPDATE feed.entries e SET customer_id = o.customer_id
      FROM feed.orders o WHERE o.order_id = e.order_id;
    UPDATE feed.entries e SET customer_seq = n.seq
      FROM (SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY id) AS seq
              FROM feed.entries WHERE customer_id IS NOT NULL) n
     WHERE n.id = e.id;
    ALTER TABLE feed.entries ENABLE TRIGGER append_only;

    ALTER TABLE feed.entries
        ADD CONSTRAINT entries_about CHECK (order_id IS NOT NULL OR customer_id IS NOT NULL),
        ADD CONSTRAINT entries_order_seq CHECK ((order_id IS NULL) = (seq IS NULL)),
        ADD CONSTRAINT entries_customer_seq CHECK ((customer_id IS NULL) = (customer_seq IS NULL)),
        ADD CONSTRAINT entries_customer_place UNIQUE (customer_id, customer_seq);

    -- Numbers an entry in its order's feed and in its customer's: one writer per customer,
    -- then per order, at a time (always in that order, so two writers never wait on each other).
    CREATE OR REPLACE FUNCTION feed.number_entry() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, feed AS $$
    BEGIN
        IF NEW.customer_id IS NULL AND NEW.order_id IS NOT NULL THEN
            SELECT customer_id INTO NEW.customer_id FROM feed.orders WHERE order_id = NEW.order_id;
        END IF;
        NEW.seq := NULL;
        NEW.customer_seq := NULL;
        IF NEW.customer_id IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtextextended('feed:customer:' || NEW.customer_id::text, 0));
            SELECT coalesce(max(customer_seq), 0) + 1 INTO NEW.customer_seq
              FROM feed.entries WHERE customer_id = NEW.customer_id;
        END IF;
        IF NEW.order_id IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtextextended('feed:' || NEW.order_id::text, 0));
            SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq
              FROM feed.entries WHERE order_id = NEW.order_id;
        END IF;
        RETURN NEW;
    END $$;

    CREATE TABLE feed.connections (
        id          uuid PRIMARY KEY,
        customer_id uuid NOT NULL,
        seen_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX connections_customer ON feed.connections (customer_id);
    CREATE INDEX connections_seen ON feed.connections (seen_at);

    GRANT INSERT ON feed.orders TO emporium_orders;
    GRANT INSERT ON feed.entries TO emporium_api;
    GRANT SELECT, INSERT, UPDATE, DELETE ON feed.connections TO emporium_api;
";

/// Back to the feed of migration 14: entries about no order, and support entries, go.
const DOWN: &str = r"
    DROP TABLE IF EXISTS support.messages, support.conversations;
    DROP TABLE IF EXISTS feed.connections, feed.orders;
    ALTER TABLE feed.entries DISABLE TRIGGER append_only;
    DELETE FROM feed.entries WHERE order_id IS NULL OR kind = 'support';
    ALTER TABLE feed.entries ENABLE TRIGGER append_only;
    ALTER TABLE feed.entries
        DROP CONSTRAINT entries_about,
        DROP CONSTRAINT entries_order_seq,
        DROP CONSTRAINT entries_customer_seq,
        DROP CONSTRAINT entries_customer_place,
        DROP COLUMN customer_seq,
        DROP COLUMN customer_id,
        ALTER COLUMN order_id SET NOT NULL,
        ALTER COLUMN seq SET NOT NULL,
        DROP CONSTRAINT entries_kind_check,
        ADD CONSTRAINT entries_kind_check
            CHECK (kind IN ('status', 'tracking', 'refund', 'notification'));
    CREATE OR REPLACE FUNCTION feed.number_entry() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, feed AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('feed:' || NEW.order_id::text, 0));
        SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq
          FROM feed.entries WHERE order_id = NEW.order_id;
        RETURN NEW;
    END $$;
    REVOKE INSERT ON feed.entries FROM emporium_api;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, SUPPORT).await?;
        run_sql(manager, FEED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The `support` schema itself is migration 1's (it creates every schema of SCHEMAS).
        run_sql(manager, DOWN).await
    }
}
