//! The Postgres connection: create the database when it is missing, connect, migrate.
//!
//! Two kinds of pool: [`connect`] works as the user in the URL (the schemas' owner, for
//! migrations and seeding), [`connect_as`] as a restricted role ([`DbRole`]): the API's
//! ([`migrations::API_ROLE`]) or a service's ([`service_role`]). A service's role reads and
//! writes only its own schema and appends to the audit log; none can alter a table.

use contracts::Service;
pub use migrations::{API_ROLE, DbRole};
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbErr, RuntimeErr, SqlxPostgresConnector,
    Statement,
};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use url::Url;

/// Why the database could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// The URL is not a usable Postgres URL.
    #[error("DATABASE_URL is not a valid postgres URL: {0}")]
    InvalidUrl(String),
    /// Postgres refused or failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// The database name in a Postgres URL, checked to be a plain identifier so it can be quoted
/// safely in `CREATE DATABASE`.
fn database_name(url: &Url) -> Result<String, DbSetupError> {
    let name = url.path().trim_start_matches('/');
    let plain = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        Ok(name.to_owned())
    } else {
        Err(DbSetupError::InvalidUrl(format!(
            "database name `{name}` must be 1-63 letters, digits, `_` or `-`"
        )))
    }
}

fn parse(url: &SecretString) -> Result<Url, DbSetupError> {
    let parsed =
        Url::parse(url.expose_secret()).map_err(|e| DbSetupError::InvalidUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(DbSetupError::InvalidUrl(format!(
            "scheme `{}` is not postgres",
            parsed.scheme()
        )));
    }
    Ok(parsed)
}

/// Creates the database named in `url` unless it exists.
pub async fn ensure_database(url: &SecretString) -> Result<(), DbSetupError> {
    let target = parse(url)?;
    let name = database_name(&target)?;
    let mut admin_url = target.clone();
    admin_url.set_path("/postgres");
    let admin = Database::connect(admin_url.as_str()).await?;
    let exists = admin
        .query_one(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        tracing::info!(database = %name, "creating database");
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await;
        // Another process may have created it in the meantime; that is fine.
        if let Err(err) = created
            && !err.to_string().contains("already exists")
        {
            return Err(err.into());
        }
    }
    admin.close().await?;
    Ok(())
}

/// Connects a pool of at most `max_connections` to the database, as the URL's user.
pub async fn connect(
    url: &SecretString,
    max_connections: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    pool(url, None, max_connections).await
}

/// Connects a pool whose every connection works as `role` (set at connection start-up). The
/// URL's user must be a member of it (the migrations make the migrating user one, and
/// [`migrations::SERVICE_ROLE`]'s members are) or a superuser.
pub async fn connect_as(
    url: &SecretString,
    role: DbRole,
    max_connections: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    pool(url, Some(role), max_connections).await
}

/// The role `service`'s worker works as.
pub fn service_role(service: Service) -> DbRole {
    let [
        orders,
        inventory,
        payments,
        shipping,
        notifications,
        reporting,
    ] = migrations::WORKER_ROLES;
    match service {
        Service::Orders => orders,
        Service::Inventory => inventory,
        Service::Payments => payments,
        Service::Shipping => shipping,
        Service::Notifications => notifications,
        Service::Reporting => reporting,
    }
}

/// One pool per service a process runs, each working as that service's role.
#[derive(Clone, Debug, Default)]
pub struct ServicePools(Vec<(Service, DatabaseConnection)>);

impl ServicePools {
    /// Connects a pool for each of `services`, sharing `max_connections` among them (at least 2
    /// each), so a process running several services holds no more than one running one.
    pub async fn connect(
        url: &SecretString,
        services: &[Service],
        max_connections: u32,
    ) -> Result<Self, DbSetupError> {
        let count = u32::try_from(services.len()).unwrap_or(u32::MAX).max(1);
        let each = (max_connections / count).max(2);
        let mut pools = Vec::with_capacity(services.len());
        for &service in services {
            let pool = connect_as(url, service_role(service), each).await?;
            pools.push((service, pool));
        }
        Ok(Self(pools))
    }

    /// The pool of `service`, if this process runs it.
    pub fn of(&self, service: Service) -> Option<&DatabaseConnection> {
        self.0
            .iter()
            .find_map(|(s, pool)| (*s == service).then_some(pool))
    }

    /// Any one of the pools (for a readiness check), if there is one.
    pub fn any(&self) -> Option<&DatabaseConnection> {
        self.0.first().map(|(_, pool)| pool)
    }
}

/// How long a connection may sit idle in a pool before it is checked with a round trip when
/// it is next taken. sqlx checks every connection as it goes back to the pool, and by default
/// again every time it is taken: for a connection used a moment ago that second check is one
/// more round trip, and one more wake-up of the server process, before each query.
const PING_IDLE_AFTER: Duration = Duration::from_secs(30);

/// A pool of at most `max_connections`, each working as `role` when given.
async fn pool(
    url: &SecretString,
    role: Option<DbRole>,
    max_connections: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    parse(url)?;
    let mut connect: PgConnectOptions = url
        .expose_secret()
        .parse()
        .map_err(|err: sqlx::Error| DbSetupError::InvalidUrl(err.to_string()))?;
    connect = connect.disable_statement_logging();
    if let Some(role) = role {
        connect = connect.options([("role", role.name)]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(connect)
        .await
        .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// Brings every schema up to date.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbSetupError> {
    Migrator::up(db, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_database_names_are_accepted() {
        let ok = Url::parse("postgres://u@h/emporium_test-1").expect("url");
        assert_eq!(database_name(&ok).expect("plain"), "emporium_test-1");
        for bad in [
            "postgres://u@h/",
            "postgres://u@h/a%22b",
            "postgres://u@h/a;drop",
        ] {
            let url = Url::parse(bad).expect("url");
            assert!(database_name(&url).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn every_service_with_a_worker_has_its_own_role() {
        let names: std::collections::HashSet<_> = Service::ALL
            .into_iter()
            .map(|s| service_role(s).name)
            .collect();
        assert_eq!(names.len(), Service::ALL.len());
        for service in Service::ALL {
            assert_eq!(service_role(service).name, format!("emporium_{service}"));
        }
        assert!(!names.contains(migrations::API_ROLE.name));
    }

    #[test]
    fn non_postgres_urls_are_refused() {
        let url = SecretString::from("mysql://u@h/db");
        assert!(matches!(parse(&url), Err(DbSetupError::InvalidUrl(_))));
    }
}
