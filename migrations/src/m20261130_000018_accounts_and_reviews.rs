//! What the seeds still asked of accounts and the catalog (issue 19).
//!
//! - `customers.customers` gains a phone (E.164), saved addresses (a JSON array of at most 10)
//!   and a `token_version`: access tokens carry the version they were issued under, and a
//!   password reset or change bumps it, which refuses every token issued before. Each bump is
//!   announced on [`TOKENS_CHANNEL`] so that every API instance forgets the old tokens at once.
//! - `customers.one_time_tokens`: a password reset or an email change waiting for its link,
//!   one per customer and purpose (a new request replaces the old), kept as a SHA-256 hash.
//! - `catalog.products` gains typed specifications (a JSON array of `{key, value, unit}`) and
//!   its visible reviews' count and rating sum, kept in step by the review writes.
//! - `catalog.reviews`: one review per product and customer, hidden by an admin or not.

use crate::run_sql;
use sea_orm_migration::prelude::*;

/// The channel API instances `LISTEN` on for token versions.
pub const TOKENS_CHANNEL: &str = "emporium_tokens";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, &format!(r"
            ALTER TABLE customers.customers
                ADD COLUMN token_version integer NOT NULL DEFAULT 0 CHECK (token_version >= 0),
                ADD COLUMN phone text CHECK (phone ~ '^\+[1-9][0-9]{{6,14}}$'),
                ADD COLUMN addresses jsonb NOT NULL DEFAULT '[]'
                    CHECK (jsonb_typeof(addresses) = 'array' AND jsonb_array_length(addresses) <= 10);

            CREATE TABLE customers.one_time_tokens (
                customer_id uuid NOT NULL REFERENCES customers.customers (id) ON DELETE CASCADE,
                purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'email_change')),
                token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
                new_email   text CHECK (new_email = lower(new_email)),
                expires_at  timestamptz NOT NULL,
                created_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (customer_id, purpose),
                CHECK ((purpose = 'email_change') = (new_email IS NOT NULL))
            );

            CREATE FUNCTION customers.announce_token_version() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{TOKENS_CHANNEL}', json_build_object(
                    'customer_id', NEW.id, 'version', NEW.token_version)::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER announce_token_version
                AFTER UPDATE OF token_version ON customers.customers
                FOR EACH ROW WHEN (NEW.token_version <> OLD.token_version)
                EXECUTE FUNCTION customers.announce_token_version();

            ALTER TABLE catalog.products
                ADD COLUMN specifications jsonb NOT NULL DEFAULT '[]'
                    CHECK (jsonb_typeof(specifications) = 'array'),
                ADD COLUMN review_count integer NOT NULL DEFAULT 0 CHECK (review_count >= 0),
                ADD COLUMN rating_sum integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0);
            CREATE INDEX products_by_specification ON catalog.products
                USING gin (specifications jsonb_path_ops);

            CREATE TABLE catalog.reviews (
                id            uuid PRIMARY KEY,
                product_id    uuid NOT NULL REFERENCES catalog.products (id) ON DELETE CASCADE,
                customer_id   uuid NOT NULL,
                author_name   text NOT NULL CHECK (length(author_name) BETWEEN 1 AND 200),
                rating        smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
                body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now(),
                hidden_at     timestamptz,
                hidden_by     text,
                hidden_reason text,
                UNIQUE (product_id, customer_id),
                CHECK ((hidden_at IS NULL) = (hidden_by IS NULL))
            );
            CREATE INDEX reviews_newest ON catalog.reviews (product_id, created_at DESC, id DESC);
            CREATE INDEX reviews_all_newest ON catalog.reviews (created_at DESC, id DESC);
            "))
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            DROP TABLE IF EXISTS catalog.reviews;
            DROP INDEX IF EXISTS catalog.products_by_specification;
            ALTER TABLE catalog.products
                DROP COLUMN IF EXISTS specifications,
                DROP COLUMN IF EXISTS review_count,
                DROP COLUMN IF EXISTS rating_sum;
            DROP TRIGGER IF EXISTS announce_token_version ON customers.customers;
            DROP FUNCTION IF EXISTS customers.announce_token_version();
            DROP TABLE IF EXISTS customers.one_time_tokens;
            ALTER TABLE customers.customers
                DROP COLUMN IF EXISTS token_version,
                DROP COLUMN IF EXISTS phone,
                DROP COLUMN IF EXISTS addresses;
            ",
        )
        .await
    }
}
