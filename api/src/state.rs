//! What every handler shares ([`AppState`]) and how the API is configured ([`ApiConfig`]).

use contracts::TaskQueues;
use sea_orm::DatabaseConnection;
use temporalio_client::Client;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database, read through each service's own query functions.
    pub db: DatabaseConnection,
    /// The Temporal client that starts and asks workflows.
    pub temporal: Client,
    /// Task-queue names of this deployment.
    pub queues: TaskQueues,
    /// Tokens and login limits.
    pub auth: crate::auth::Auth,
    /// After how long an idle cart reminds its customer.
    pub cart_reminder_after: std::time::Duration,
    /// After how long an idle cart closes.
    pub cart_expire_after: std::time::Duration,
    /// This instance's ear on the change feed, for live streams.
    pub feed: crate::feed::FeedHub,
    /// The links emailed to change credentials.
    pub links: AccountLinks,
    /// Where merchant webhooks may go, and how a re-sent delivery is retried.
    pub webhooks: activities::notifications::webhooks::WebhookPolicy,
    /// The orders this instance placed a moment ago, shown until the read model has them.
    pub recent: crate::recent::RecentOrders,
    /// The orders' views this instance holds, kept current by [`Self::feed`].
    pub views: crate::views::OrderViews,
    /// Cancelled when the instance starts shutting down: live streams and sockets end then
    /// (they would otherwise hold a graceful shutdown open forever).
    pub stopping: tokio_util::sync::CancellationToken,
}

/// The one-time links emailed to change credentials: where they point and how long they work.
#[derive(Debug, Clone)]
pub struct AccountLinks {
    /// The web app's address, which the links open (`/shop/reset-password`,
    /// `/shop/confirm-email`).
    pub public_url: String,
    /// How long a password-reset link works.
    pub reset_valid_for: std::time::Duration,
    /// How long a link confirming a new email works.
    pub email_change_valid_for: std::time::Duration,
}

impl AccountLinks {
    /// Links to `public_url`, working for the default times (30 minutes, a day).
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into(),
            reset_valid_for: std::time::Duration::from_secs(30 * 60),
            email_change_valid_for: std::time::Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// API configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// The signing secret of the Stripe webhook endpoint; the endpoint answers 404 without one.
    pub stripe_webhook_secret: Option<secrecy::SecretString>,
    /// The shared webhook secrets of HTTP carriers, by carrier name.
    pub carrier_webhook_secrets: std::collections::HashMap<String, secrecy::SecretString>,
    /// The web app's build (`web/dist`), served at `/`, `/shop/…`, `/console/…` and `/docs`.
    pub web_dir: std::path::PathBuf,
}
