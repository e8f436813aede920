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
    /// Shipping and carriers.
    #[serde(default)]
    pub shipping: ShippingSettings,
    /// Notifications: email, SMS.
    #[serde(default)]
    pub notifications: NotificationSettings,
    /// Accounts and tokens.
    #[serde(default)]
    pub auth: AuthSettings,
    /// Carts.
    #[serde(default)]
    pub cart: CartSettings,
    /// Orders.
    #[serde(default)]
    pub orders: OrderSettings,
    /// Worker processes.
    #[serde(default)]
    pub worker: WorkerSettings,
    /// The daily sales report.
    #[serde(default)]
    pub reports: ReportSettings,
    /// Domain events out to NATS JetStream.
    #[serde(default)]
    pub events: EventSettings,
    /// Merchant webhooks.
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

/// Domain events: the outbox relays publish to NATS JetStream when `nats_url` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    /// The NATS server (`nats://127.0.0.1:4222`); publishing is off without one.
    /// `emporium dev` sets it when NATS answers on the local default port.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// The JetStream stream events are kept in.
    #[serde(default = "defaults::event_stream")]
    pub stream: String,
    /// The first token of every subject: events go to `<prefix>.<aggregate>.<event>`.
    #[serde(default = "defaults::event_subject_prefix")]
    pub subject_prefix: String,
    /// How long the stream remembers an event id, dropping a second publication of it.
    #[serde(default = "defaults::event_duplicate_window_secs")]
    pub duplicate_window_secs: u64,
    /// How long the stream keeps an event.
    #[serde(default = "defaults::event_max_age_secs")]
    pub max_age_secs: u64,
}

/// Merchant webhooks: how deliveries are retried, when an endpoint is disabled, where they may
/// go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Waits between attempts, in seconds (`[5, 300, 1800, 7200, 18000, 36000, 36000]`: eight
    /// attempts over about 28 hours).
    #[serde(default = "defaults::webhook_retry_schedule_secs")]
    pub retry_schedule_secs: Vec<u64>,
    /// An endpoint whose every attempt failed for this long is disabled, and the admins are
    /// told.
    #[serde(default = "defaults::webhook_disable_after_secs")]
    pub disable_after_secs: u64,
    /// How long one attempt may take.
    #[serde(default = "defaults::webhook_timeout_secs")]
    pub timeout_secs: u64,
    /// Hosts (names or IP addresses) endpoints may use although they resolve to private,
    /// loopback or link-local addresses; empty by default, so webhooks reach only the
    /// public internet.
    #[serde(default)]
    pub allowed_private_hosts: Vec<String>,
}

/// Worker process settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Where a worker process answers `/healthz`, `/readyz` and `/metrics`.
    #[serde(default = "defaults::worker_ops_bind")]
    pub ops_bind: SocketAddr,
    /// Workflow runs each worker keeps in memory between their tasks (the sticky cache). A run
    /// that is not cached is replayed from its history at its next task: fewer cached runs
    /// cost memory less and the Temporal server and CPU more. See docs/OPERATIONS.md.
    #[serde(default = "defaults::max_cached_workflows")]
    pub max_cached_workflows: usize,
    /// On shutdown, how long activities in flight may run on before they are cancelled (their
    /// retries go to another worker). Without a bound, one stuck activity would keep a stopping
    /// process alive for ever.
    #[serde(default = "defaults::shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
}

/// Daily sales report settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// When the DailySalesReport schedule runs, as a cron expression in UTC (it reports the day
    /// before).
    #[serde(default = "defaults::daily_report_cron")]
    pub daily_cron: String,
}

/// Token and login settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Secret the access tokens are signed with (`JWT_SECRET`); `emporium dev` generates one
    /// into its data folder when unset, `emporium api` refuses to start without one.
    #[serde(default)]
    pub jwt_secret: Option<SecretString>,
    /// How long an access token is valid, in seconds.
    #[serde(default = "defaults::token_ttl_secs")]
    pub token_ttl_secs: u64,
    /// Login attempts allowed per account per minute.
    #[serde(default = "defaults::logins_per_account")]
    pub logins_per_account_per_minute: u32,
    /// Login attempts allowed per client address per minute.
    #[serde(default = "defaults::logins_per_address")]
    pub logins_per_address_per_minute: u32,
    /// How long a password-reset link works, in seconds.
    #[serde(default = "defaults::password_reset_valid_secs")]
    pub password_reset_valid_secs: u64,
    /// How long a link confirming a new email address works, in seconds.
    #[serde(default = "defaults::email_change_valid_secs")]
    pub email_change_valid_secs: u64,
}

/// Cart settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartSettings {
    /// After how long without a change a cart with items sends a reminder, in seconds.
    #[serde(default = "defaults::cart_reminder_after_secs")]
    pub reminder_after_secs: u64,
    /// After how long without a change a cart closes, in seconds.
    #[serde(default = "defaults::cart_expire_after_secs")]
    pub expire_after_secs: u64,
}

/// Order settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSettings {
    /// How long an order that needs attention (its shipment ended abnormally after pickup)
    /// waits for an operator before it is refunded in full, in seconds.
    #[serde(default = "defaults::attention_timeout_secs")]
    pub attention_timeout_secs: u64,
}

/// Shipping settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingSettings {
    /// Offer the built-in simulated carrier.
    #[serde(default = "defaults::yes")]
    pub simulated: bool,
    /// How long each step of a simulated parcel takes, in seconds.
    #[serde(default = "defaults::simulated_step_secs")]
    pub simulated_step_secs: u64,
    /// A carrier speaking the HTTP carrier API.
    #[serde(default)]
    pub http_carrier: Option<HttpCarrierSettings>,
    /// Where the simulated carrier posts its tracking events, like a real carrier's
    /// webhooks; without it, simulated parcels are only polled. `emporium dev` points it at
    /// its own API.
    #[serde(default)]
    pub simulated_webhooks: Option<SimulatedWebhookSettings>,
    /// How long the first poll of a parcel waits, in seconds (webhooks come first; polling is
    /// the fallback). The wait doubles after each quiet poll, and starts over after news.
    #[serde(default = "defaults::poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// The longest wait between two polls of a parcel, in seconds.
    #[serde(default = "defaults::poll_max_interval_secs")]
    pub poll_max_interval_secs: u64,
    /// After how many days without delivery a parcel is presumed lost.
    #[serde(default = "defaults::delivery_deadline_days")]
    pub delivery_deadline_days: u64,
    /// The same in seconds, when set (tests compress weeks into minutes with it).
    #[serde(default)]
    pub delivery_deadline_secs: Option<u64>,
}

impl ShippingSettings {
    /// After how long without delivery a parcel is presumed lost.
    pub fn delivery_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.delivery_deadline_secs
                .unwrap_or(self.delivery_deadline_days * 24 * 60 * 60),
        )
    }
}

/// Where the simulated carrier's webhooks go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedWebhookSettings {
    /// The shop's carrier webhook, such as `http://127.0.0.1:8080/webhooks/carrier/simulated`.
    pub url: String,
    /// The secret the events are signed with (HMAC-SHA256 of the body).
    pub secret: SecretString,
}

/// An HTTP carrier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCarrierSettings {
    /// Its name (in rates, labels and its webhook URL `/webhooks/carrier/{name}`).
    pub name: String,
    /// Base URL of its API.
    pub base_url: String,
    /// API key.
    pub api_key: SecretString,
    /// Shared secret its webhooks are signed with (HMAC-SHA256 of the body).
    pub webhook_secret: SecretString,
}

/// Notification settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The sender of every email.
    #[serde(default = "defaults::mail_from")]
    pub from: String,
    /// The SMTP server; without one, emails are written as files into `<data_dir>/mail`.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// The SMS gateway, for the SMS channel.
    #[serde(default)]
    pub sms: Option<SmsSettings>,
}

/// An SMTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Host.
    pub host: String,
    /// Port.
    #[serde(default = "defaults::smtp_port")]
    pub port: u16,
    /// Require STARTTLS.
    #[serde(default)]
    pub starttls: bool,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<SecretString>,
}

/// An SMS gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// Base URL.
    pub base_url: String,
    /// API key.
    pub api_key: SecretString,
}

/// Postgres connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user[:password]@host:port/database`. The database is created if missing.
    #[serde(default = "defaults::database_url")]
    pub url: SecretString,
    /// Upper bound of one process's connections to the database, shared by its pools (one per
    /// database role it works as).
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
    /// gRPC compression to the frontend: `none` (the default) or `gzip`. The SDK's own
    /// default is gzip, which makes the Temporal server compress every response, CPU it spends
    /// for nothing on a local network (docs/BENCHMARKS.md measured it); `gzip` pays off only on
    /// a slow or metered link, such as to Temporal Cloud from outside its region.
    #[serde(default)]
    pub grpc_compression: GrpcCompression,
}

/// gRPC compression to the Temporal frontend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrpcCompression {
    /// Plain messages.
    #[default]
    None,
    /// Gzip both ways.
    Gzip,
}

impl TemporalSettings {
    /// The default settings for the server at `address` (the tests' servers).
    pub fn at(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            namespace: defaults::namespace(),
            task_queue_prefix: String::new(),
            cli: None,
            ui_port: defaults::ui_port(),
            grpc_compression: GrpcCompression::None,
        }
    }
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
    /// The web app's build, served at `/`, `/console` and `/docs` (`web/dist`, from the
    /// directory the process starts in).
    #[serde(default = "defaults::web_dir")]
    pub web_dir: std::path::PathBuf,
    /// Where people reach the web app, for the links in emails (a password reset, an email
    /// to confirm).
    #[serde(default = "defaults::public_url")]
    pub public_url: String,
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
    /// Stripe, with the key in `payments.stripe.secret_key`.
    Stripe,
}

/// Payment settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// The gateway.
    #[serde(default)]
    pub provider: PaymentProvider,
    /// Stripe's settings (used when `provider` is `stripe`, and by the webhook endpoint).
    #[serde(default)]
    pub stripe: StripeSettings,
    /// Orders above this total (minor units) wait for a manual review before payment.
    #[serde(default = "defaults::review_threshold_minor")]
    pub review_threshold_minor: i64,
    /// How long an order waits for a review decision before it is rejected, in seconds.
    #[serde(default = "defaults::review_timeout_secs")]
    pub review_timeout_secs: u64,
    /// How long the sandbox holds an authorisation before it lapses, in seconds (Stripe's
    /// is fixed: 7 days).
    #[serde(default = "defaults::sandbox_authorization_validity_secs")]
    pub sandbox_authorization_validity_secs: u64,
    /// How long before an authorisation lapses an order still waiting for pickup acts, in
    /// seconds.
    #[serde(default = "defaults::renew_before_lapse_secs")]
    pub renew_before_lapse_secs: u64,
    /// What it does then: `reauthorize` (a new authorisation replaces the old; if the card
    /// refuses, the old one is captured while it holds) or `capture`.
    #[serde(default)]
    pub authorization_renewal: AuthorizationRenewal,
}

/// What an order waiting for pickup does before its authorisation lapses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationRenewal {
    /// Authorise again and void the old authorisation.
    #[default]
    Reauthorize,
    /// Capture the authorised amount.
    Capture,
}

/// Stripe settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// Secret API key (`sk_live_…`/`sk_test_…`); `STRIPE_SECRET_KEY`.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// Base URL of the API.
    #[serde(default = "defaults::stripe_api_base")]
    pub api_base: String,
    /// Signing secret of the webhook endpoint (`whsec_…`); `STRIPE_WEBHOOK_SECRET`.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
}

/// How long Stripe holds an uncaptured online card payment, in seconds (7 days).
pub const STRIPE_AUTHORIZATION_VALIDITY_SECS: u64 = 7 * 24 * 60 * 60;

/// Inventory settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySettings {
    /// How long a reservation holds stock before the sweep may reclaim it, in seconds. Must
    /// be longer than an order can wait between reserving and committing (the review timeout
    /// plus the payment steps).
    #[serde(default = "defaults::reservation_ttl_secs")]
    pub reservation_ttl_secs: u64,
    /// How often the inventory worker reclaims expired reservations, in seconds.
    #[serde(default = "defaults::sweep_interval_secs")]
    pub sweep_interval_secs: u64,
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
    pub(super) fn worker_ops_bind() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 9090))
    }
    pub(super) fn max_cached_workflows() -> usize {
        200
    }
    pub(super) fn shutdown_grace_secs() -> u64 {
        10
    }
    pub(super) fn daily_report_cron() -> String {
        "0 6 * * *".to_owned()
    }
    pub(super) fn api_bind() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 8080))
    }
    pub(super) fn max_body_bytes() -> usize {
        64 * 1024
    }
    pub(super) fn web_dir() -> std::path::PathBuf {
        std::path::PathBuf::from("web/dist")
    }
    pub(super) fn log_filter() -> String {
        "info,temporalio_sdk_core=warn,temporalio_client=warn,sqlx=warn".to_owned()
    }
    pub(super) fn reservation_ttl_secs() -> u64 {
        3 * 60 * 60
    }
    pub(super) fn sweep_interval_secs() -> u64 {
        60
    }
    pub(super) fn review_threshold_minor() -> i64 {
        100_000
    }
    pub(super) fn review_timeout_secs() -> u64 {
        60 * 60
    }
    pub(super) fn token_ttl_secs() -> u64 {
        60 * 60
    }
    pub(super) fn password_reset_valid_secs() -> u64 {
        30 * 60
    }
    pub(super) fn email_change_valid_secs() -> u64 {
        24 * 60 * 60
    }
    pub(super) fn public_url() -> String {
        "http://localhost:8080".to_owned()
    }
    pub(super) fn logins_per_account() -> u32 {
        5
    }
    pub(super) fn logins_per_address() -> u32 {
        30
    }
    pub(super) fn cart_reminder_after_secs() -> u64 {
        60 * 60
    }
    pub(super) fn cart_expire_after_secs() -> u64 {
        30 * 24 * 60 * 60
    }
    pub(super) fn attention_timeout_secs() -> u64 {
        7 * 24 * 60 * 60
    }
    pub(super) fn sandbox_authorization_validity_secs() -> u64 {
        7 * 24 * 60 * 60
    }
    pub(super) fn renew_before_lapse_secs() -> u64 {
        24 * 60 * 60
    }
    pub(super) fn poll_max_interval_secs() -> u64 {
        6 * 60 * 60
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn simulated_step_secs() -> u64 {
        5
    }
    pub(super) fn poll_interval_secs() -> u64 {
        60
    }
    pub(super) fn delivery_deadline_days() -> u64 {
        30
    }
    pub(super) fn mail_from() -> String {
        "Emporium <orders@emporium.localhost>".to_owned()
    }
    pub(super) fn smtp_port() -> u16 {
        25
    }
    pub(super) fn stripe_api_base() -> String {
        "https://api.stripe.com/".to_owned()
    }
    pub(super) fn event_stream() -> String {
        "EMPORIUM_EVENTS".to_owned()
    }
    pub(super) fn event_subject_prefix() -> String {
        "emporium".to_owned()
    }
    pub(super) fn event_duplicate_window_secs() -> u64 {
        24 * 3600
    }
    pub(super) fn event_max_age_secs() -> u64 {
        7 * 24 * 3600
    }
    pub(super) fn webhook_retry_schedule_secs() -> Vec<u64> {
        contracts::webhooks::DEFAULT_RETRY_SCHEDULE_SECS.to_vec()
    }
    pub(super) fn webhook_disable_after_secs() -> u64 {
        5 * 24 * 3600
    }
    pub(super) fn webhook_timeout_secs() -> u64 {
        15
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
    WorkerSettings,
    ReportSettings,
    LogSettings,
    PaymentSettings,
    StripeSettings,
    InventorySettings,
    ShippingSettings,
    NotificationSettings,
    AuthSettings,
    CartSettings,
    OrderSettings,
    EventSettings,
    WebhookSettings
);

/// Settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A source could not be read or a value has the wrong shape.
    #[error("invalid settings: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// Values that are fine alone contradict each other.
    #[error("inconsistent settings: {0}")]
    Inconsistent(String),
}

/// The environment variables read without the `EMPORIUM_` prefix (conventional names); every
/// other setting is `EMPORIUM_<SECTION>__<KEY>`.
pub const RAW_ENV: [&str; 7] = [
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_CLI",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "JWT_SECRET",
];

impl Settings {
    /// Loads settings from the defaults, the config file and the environment.
    pub fn load() -> Result<Self, SettingsError> {
        let settings: Self = Self::figment().extract().map_err(Box::new)?;
        settings.check()?;
        Ok(settings)
    }

    /// Refuses settings that contradict each other.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.payments.provider == PaymentProvider::Stripe
            && self.payments.stripe.secret_key.is_none()
        {
            return Err(SettingsError::Inconsistent(
                "payments.provider is stripe but no STRIPE_SECRET_KEY is set".to_owned(),
            ));
        }
        // An order may hold stock through its review and the payment steps (each up to five
        // minutes); its hold must outlast that.
        let longest_hold = self.payments.review_timeout_secs + 15 * 60;
        let validity = match self.payments.provider {
            PaymentProvider::Sandbox => self.payments.sandbox_authorization_validity_secs,
            PaymentProvider::Stripe => STRIPE_AUTHORIZATION_VALIDITY_SECS,
        };
        if self.payments.renew_before_lapse_secs >= validity {
            return Err(SettingsError::Inconsistent(format!(
                "payments.renew_before_lapse_secs ({}) must be shorter than the provider's \
                 authorisation validity ({validity})",
                self.payments.renew_before_lapse_secs,
            )));
        }
        if self.events.duplicate_window_secs > self.events.max_age_secs {
            return Err(SettingsError::Inconsistent(format!(
                "events.duplicate_window_secs ({}) may not exceed events.max_age_secs ({}): \
                 JetStream refuses such a stream",
                self.events.duplicate_window_secs, self.events.max_age_secs
            )));
        }
        if self.inventory.reservation_ttl_secs <= longest_hold {
            return Err(SettingsError::Inconsistent(format!(
                "inventory.reservation_ttl_secs ({}) must exceed the review timeout plus 15 \
                 minutes of payment steps ({longest_hold})",
                self.inventory.reservation_ttl_secs
            )));
        }
        Ok(())
    }

    /// The layered sources [`Settings::load`] reads.
    pub fn figment() -> Figment {
        let file = std::env::var_os("EMPORIUM_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("emporium.toml"));
        Figment::new()
            .merge(Toml::file(file))
            .merge(Env::raw().only(&RAW_ENV).map(|key| match key.as_str() {
                "DATABASE_URL" => "database.url".into(),
                "TEMPORAL_ADDRESS" => "temporal.address".into(),
                "TEMPORAL_NAMESPACE" => "temporal.namespace".into(),
                "STRIPE_SECRET_KEY" => "payments.stripe.secret_key".into(),
                "STRIPE_WEBHOOK_SECRET" => "payments.stripe.webhook_secret".into(),
                "JWT_SECRET" => "auth.jwt_secret".into(),
                _ => "temporal.cli".into(),
            }))
            // EMPORIUM_CONFIG names the file; EMPORIUM_BENCH_ADMIN_PASSWORD is `emporium bench`'s own.
            .merge(
                Env::prefixed("EMPORIUM_")
                    .ignore(&["CONFIG", "BENCH_ADMIN_PASSWORD"])
                    .split("__"),
            )
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
    fn contradictions_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("EMPORIUM_PAYMENTS__PROVIDER", "stripe");
            assert!(matches!(
                Settings::load(),
                Err(SettingsError::Inconsistent(_))
            ));
            jail.set_env("STRIPE_SECRET_KEY", "sk_test_123");
            let settings = Settings::load().expect("stripe with a key is fine");
            assert!(!format!("{settings:?}").contains("sk_test_123"));
            jail.set_env("EMPORIUM_INVENTORY__RESERVATION_TTL_SECS", "600");
            assert!(matches!(
                Settings::load(),
                Err(SettingsError::Inconsistent(_))
            ));
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
