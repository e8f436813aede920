//! Test support against real parts, shared by every crate's integration tests.
//!
//! - [`TestDb`]: a fresh, migrated Postgres database per test (named with its creation time, so
//!   databases left by earlier runs are dropped once they are an hour old).
//! - [`temporal_address`]: one real Temporal CLI dev server per test binary, started through
//!   the SDK's test environment with the installed CLI, on a free port, with lowered history
//!   limits ([`HISTORY_LIMITS`]); it dies with the test process. A binary that calls
//!   [`use_time_skipping_server`] first gets Temporal's time-skipping test server instead.
//! - [`TestApp`]: the real API router on a random port, plus real workers for every service,
//!   on task queues private to the test, against the test's own database.
//! - [`fake_stripe::FakeStripe`], [`fake_carrier::FakeCarrier`], [`fake_sms::FakeSms`]: local
//!   fakes of the outside services we cannot reach, for the real clients to run against.
//! - [`smtp::smtp_server`]: a real SMTP server (aiosmtpd) per test binary, read back from its
//!   Maildir.
//!
//! Tests panic on setup failures: that is what a failed precondition should do in a test.

mod app;
mod db;
pub mod fake_carrier;
pub mod fake_sms;
pub mod fake_stripe;
pub mod gateways;
pub mod smtp;
mod temporal;
pub mod time_machine;

pub use app::{TestApp, TestAppOptions};
pub use db::TestDb;
pub use temporal::{
    HISTORY_LIMITS, server_time, sleep_skipping, temporal_address, temporal_client,
    use_time_skipping_server,
};

/// Installs a test log subscriber when `EMPORIUM_TEST_LOG` is set (to a `tracing` filter).
pub fn init_logs() {
    if let Ok(filter) = std::env::var("EMPORIUM_TEST_LOG") {
        platform::telemetry::init(&platform::settings::LogSettings {
            json: false,
            filter,
        });
    }
}
