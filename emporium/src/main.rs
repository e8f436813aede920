//! The `emporium` binary: parse the command line, load settings, start telemetry, hand over to
//! [`emporium::run`].

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = emporium::Cli::parse();
    let settings = platform::Settings::load()?;
    platform::telemetry::init(&settings.log);
    emporium::run(cli, settings).await
}
