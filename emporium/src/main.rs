//! The `emporium` binary: parse the command line, load settings, start telemetry, hand over to
//! [`emporium::run`]. A failure after telemetry started is logged (as JSON when logs are), then
//! the process exits with status 1.

use clap::Parser as _;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: glibc raises its mmap threshold after the first large
/// free, then keeps every later argon2 buffer (19 MiB per password hash) in per-thread arenas,
/// so an API that had served a burst of logins held hundreds of MiB it no longer used.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = emporium::Cli::parse();
    let settings = platform::Settings::load()?;
    platform::telemetry::init(&settings.log);
    match emporium::run(cli, settings).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "emporium failed");
            Ok(ExitCode::FAILURE)
        }
    }
}
