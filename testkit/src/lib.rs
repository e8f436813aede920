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
//! - [`shopper::Shopper`]: a customer of a running API over HTTP only (placing orders, waiting
//!   for their statuses), for [`TestApp`] and for tests of separate processes alike.
//! - [`gate::TcpGate`]: a TCP gate that takes a server away from one client (the API's view
//!   of a Temporal outage).
//! - [`events`]: a NATS JetStream stream per test, a tap that reads it, and a scripted local
//!   webhook receiver.
//! - [`smtp::smtp_server`]: a real SMTP server (aiosmtpd) per test binary, read back from its
//!   Maildir.
//!
//! Tests panic on setup failures: that is what a failed precondition should do in a test.

mod app;
mod db;
pub mod events;
pub mod fake_carrier;
pub mod fake_sms;
pub mod fake_stripe;
pub mod gate;
pub mod gateways;
pub mod shopper;
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

/// A free TCP port on 127.0.0.1 for a server another process will bind. It is taken from below
/// the kernel's ephemeral range (Linux: 32768 and up), from which outgoing connections get
/// their ports: one of the many connections a test makes could otherwise take the port in the
/// moment between this check and the server's bind. Falls back to any free port; panics
/// when there is none (a test cannot run without it).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or_default();
    let start = std::process::id().wrapping_mul(7_919) ^ nanos;
    for _ in 0..64 {
        let offset = start.wrapping_add(NEXT.fetch_add(97, Ordering::Relaxed)) % COUNT;
        let port = u16::try_from(FIRST + offset).unwrap_or(u16::MAX);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}
