//! Typed settings, loaded once at start-up and passed explicitly.
//!
//! Sources, later ones winning: built-in defaults (which run everything locally), the TOML file
//! named by `EMPORIUM_CONFIG` (or `emporium.toml` in the working directory, when present), the
//! conventional variables `DATABASE_URL`, `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE` and
//! `TEMPORAL_CLI`, then any `EMPORIUM_<SECTION>__<KEY>` variable (for example
//! `EMPORIUM_API__BIND=0.0.0.0:9090`). Secrets are [`SecretString`]s: their `Debug` prints
//! `[REDACTED]`, so a logged `Settings` never shows them.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Every setting of an Emporium process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where local state lives: the dev server's history file, generated secrets, mail files.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// The Postgres database.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// The Temporal cluster.
    #[serde(default)]
    pub temporal: TemporalSettings,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiSettings,
    /// Logging.
    #[serde(default)]
    pub log: LogSettings,
    /// Payments.
    #[serde(default)]
    pub payments: PaymentSettings,
    /// Inventory.
    #[serde(default)]
    pub inventory: InventorySettings,
}

/// Postgres connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user[:password]@host:port/database`. The database is created if missing.
    #[serde(default = "defaults::database_url")]
    pub url: SecretString,
    /// Upper bound of the connection pool of one process.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
}

/// Temporal connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalSettings {
    /// `host:port` (or `http://host:port`) of the Temporal frontend.
    #[serde(default = "defaults::temporal_address")]
    pub address: String,
    /// The namespace workflows run in.
    #[serde(default = "defaults::namespace")]
    pub namespace: String,
    /// Put in front of every task-queue name; empty in a normal deployment.
    #[serde(default)]
    pub task_queue_prefix: String,
    /// The Temporal CLI `emporium dev` starts when nothing answers at `address`; found on the
    /// `PATH` when unset.
    #[serde(default)]
    pub cli: Option<PathBuf>,
    /// Port of the Web UI of the dev server `emporium dev` starts.
    #[serde(default = "defaults::ui_port")]
    pub ui_port: u16,
}

/// HTTP API settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Address the API listens on.
    #[serde(default = "defaults::api_bind")]
    pub bind: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// One JSON object per line instead of human-readable text.
    #[serde(default)]
    pub json: bool,
    /// A `tracing` filter; `RUST_LOG` wins when set.
    #[serde(default = "defaults::log_filter")]
    pub filter: String,
}

/// Which payment gateway takes the money.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// The built-in sandbox: the payment method decides, like Stripe's test cards.
    #[default]
    Sandbox,
}

/// Payment settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// The gateway.
    #[serde(default)]
    pub provider: PaymentProvider,
}

/// Inventory settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySettings {
    /// How long a reservation holds stock before it may be reclaimed, in seconds.
    #[serde(default = "defaults::reservation_ttl_secs")]
    pub reservation_ttl_secs: u64,
}

mod defaults {
    use secrecy::SecretString;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub(super) fn data_dir() -> PathBuf {
        PathBuf::from(".emporium")
    }
    pub(super) fn database_url() -> SecretString {
        SecretString::from("postgres://postgres@127.0.0.1:5432/emporium")
    }
    pub(super) fn max_connections() -> u32 {
        20
    }
    pub(super) fn temporal_address() -> String {
        "127.0.0.1:7233".to_owned()
    }
    pub(super) fn namespace() -> String {
        "default".to_owned()
    }
    pub(super) fn ui_port() -> u16 {
        8233
    }
    pub(super) fn api_bind() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 8080))
    }
    pub(super) fn max_body_bytes() -> usize {
        64 * 1024
    }
    pub(super) fn log_filter() -> String {
        "info,temporalio_sdk_core=warn,temporalio_client=warn,sqlx=warn".to_owned()
    }
    pub(super) fn reservation_ttl_secs() -> u64 {
        30 * 60
    }
}

macro_rules! impl_default_from_serde {
    ($($ty:ty),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                Figment::new()
                    .extract()
                    .expect(concat!(stringify!($ty), " has a default for every field"))
            }
        }
    )*};
}
impl_default_from_serde!(
    Settings,
    DatabaseSettings,
    TemporalSettings,
    ApiSettings,
    LogSettings,
    InventorySettings
);

/// Settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(#[from] Box<figment::Error>);

impl Settings {
    /// Loads settings from the defaults, the config file and the environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::figment()
            .extract()
            .map_err(|e| SettingsError(Box::new(e)))
    }

    /// The layered sources [`Settings::load`] reads.
    pub fn figment() -> Figment {
        let file = std::env::var_os("EMPORIUM_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("emporium.toml"));
        Figment::new()
            .merge(Toml::file(file))
            .merge(
                Env::raw()
                    .only(&[
                        "DATABASE_URL",
                        "TEMPORAL_ADDRESS",
                        "TEMPORAL_NAMESPACE",
                        "TEMPORAL_CLI",
                    ])
                    .map(|key| match key.as_str() {
                        "DATABASE_URL" => "database.url".into(),
                        "TEMPORAL_ADDRESS" => "temporal.address".into(),
                        "TEMPORAL_NAMESPACE" => "temporal.namespace".into(),
                        _ => "temporal.cli".into(),
                    }),
            )
            .merge(Env::prefixed("EMPORIUM_").ignore(&["CONFIG"]).split("__"))
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closures return figment::Error"
)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_run_everything_locally() {
        let settings = Settings::default();
        assert_eq!(settings.temporal.address, "127.0.0.1:7233");
        assert_eq!(settings.api.bind.port(), 8080);
        assert_eq!(settings.payments.provider, PaymentProvider::Sandbox);
        assert!(settings.database.url.expose_secret().ends_with("/emporium"));
    }

    #[test]
    fn the_environment_overrides_the_file_and_secrets_stay_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("emporium.toml", "[api]\nbind = \"127.0.0.1:9000\"\n")?;
            jail.set_env("DATABASE_URL", "postgres://app:hunter2@db:5432/shop");
            jail.set_env("EMPORIUM_TEMPORAL__TASK_QUEUE_PREFIX", "staging-");
            let settings = Settings::load().expect("loads");
            assert_eq!(settings.api.bind.port(), 9000);
            assert_eq!(settings.temporal.task_queue_prefix, "staging-");
            assert_eq!(
                settings.database.url.expose_secret(),
                "postgres://app:hunter2@db:5432/shop"
            );
            assert!(!format!("{settings:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("emporium.toml", "[api]\nbnid = \"127.0.0.1:9000\"\n")?;
            assert!(Settings::load().is_err());
            Ok(())
        });
    }
}
