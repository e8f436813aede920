//! The `emporium` binary: parse the command line, load settings, start telemetry, hand over to
//! [`emporium::run`]. A failure after telemetry started is logged (as JSON when logs are), then
//! the process exits with status 1.

use clap::Parser as _;
use std::process::ExitCode;

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
