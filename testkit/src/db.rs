//! A fresh, migrated Postgres database per test.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

const PREFIX: &str = "emporium_t_";
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// A database of its own for one test.
pub struct TestDb {
    /// Its URL.
    pub url: SecretString,
    /// A connection pool to it as the schemas' owner, for a test's fixtures and checks (as an
    /// operator seeds and inspects with `emporium seed` or psql). The API and the workers of a
    /// `TestApp` work as their own roles instead ([`TestDb::connect_as`]).
    pub db: DatabaseConnection,
}

fn base_url() -> Url {
    let raw = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    Url::parse(&raw).expect("DATABASE_URL must be a URL")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl TestDb {
    /// Creates and migrates a new database.
    pub async fn create() -> Self {
        static CLEANUP: Once = Once::new();
        let mut cleanup_due = false;
        CLEANUP.call_once(|| cleanup_due = true);
        if cleanup_due {
            drop_stale_databases().await;
        }

        let name = format!(
            "{PREFIX}{}_{}",
            now_secs(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut url = base_url();
        url.set_path(&format!("/{name}"));
        let url = SecretString::from(url.to_string());
        platform::db::ensure_database(&url).await.expect(
            "creating the test database (is Postgres running? scripts/bootstrap starts it)",
        );
        let owner = platform::db::connect(&url, 10)
            .await
            .expect("connecting to the test database");
        platform::db::migrate(&owner)
            .await
            .expect("migrating the test database");
        Self { url, db: owner }
    }

    /// Another pool to the same database, working as `role` (as the API or a service's
    /// worker does).
    pub async fn connect_as(&self, role: platform::db::DbRole) -> DatabaseConnection {
        platform::db::connect_as(&self.url, role, 10)
            .await
            .expect("connecting to the test database as a service's role")
    }

    /// A pool working as the schemas' owner (the URL's user), as migrations do.
    pub async fn connect_as_owner(&self) -> DatabaseConnection {
        platform::db::connect(&self.url, 2)
            .await
            .expect("connecting to the test database as its owner")
    }

    /// Drops the database now, with whatever is connected to it (a test of what happens when
    /// Postgres loses it).
    pub async fn drop_now(&self) {
        let name = Url::parse(self.url.expose_secret())
            .ok()
            .map(|url| url.path().trim_start_matches('/').to_owned())
            .expect("the test database's URL names it");
        let admin = admin().await.expect("connecting to the postgres database");
        drop_named(&admin, &name)
            .await
            .expect("dropping the test database");
        let _ = admin.close().await;
    }

    /// Its URL as text (for child processes).
    pub fn url_text(&self) -> String {
        self.url.expose_secret().to_owned()
    }
}

/// A connection to the server's `postgres` database, to create and drop others from.
async fn admin() -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut url = base_url();
    url.set_path("/postgres");
    Database::connect(url.as_str()).await
}

/// Drops database `name` (one of ours: a plain name), disconnecting whoever uses it.
async fn drop_named(admin: &DatabaseConnection, name: &str) -> Result<(), sea_orm::DbErr> {
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .map(|_| ())
}

/// Drops test databases created by runs that ended more than an hour ago.
async fn drop_stale_databases() {
    let Ok(admin) = admin().await else {
        return;
    };
    let Ok(rows) = admin
        .query_all(Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
        ))
        .await
    else {
        return;
    };
    let cutoff = now_secs().saturating_sub(STALE_AFTER.as_secs());
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|secs| secs < cutoff) {
            let _ = drop_named(&admin, &name).await;
        }
    }
    let _ = admin.close().await;
}
