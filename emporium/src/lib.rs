//! The `emporium` command line: one binary, one subcommand per way to run the platform.
//!
//! - `emporium dev`: everything in one process for a laptop: Temporal (an existing server, or
//!   the CLI dev server it starts), Postgres (database created and migrated), a demo catalog,
//!   every worker and the API.
//! - `emporium api`: the HTTP API alone.
//! - `emporium worker --service <name>`: one service's worker (repeat `--service` to run more).
//! - `emporium migrate`: create the database if needed, bring every schema up to date,
//!   register the workflows' search attributes on the Temporal namespace and the daily sales
//!   report's schedule.
//! - `emporium seed`: migrate, then load the demo catalog and its stock.
//! - `emporium openapi`: print the API's OpenAPI 3.1 document (what `/openapi.json` serves).
//! - `emporium history export <workflow-id>` / `emporium history replay FILE...`: write a
//!   workflow's history as JSON; replay histories against this build's workflow code.
//! - `emporium bench --orders N --concurrency C [--rate R] [--baseline]`: load a running
//!   platform over HTTP and measure it against Temporal's own ceiling (the `bench` crate,
//!   built in with the `bench` feature, on by default).

mod commands;
pub mod demo;

use anyhow::Context;
use clap::{Parser, Subcommand};
use contracts::Service;
use platform::Settings;

/// Emporium: an e-commerce order platform on Temporal.
#[derive(Debug, Parser)]
#[command(name = "emporium", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform locally: Temporal dev server (if none is running), database,
    /// migrations, demo catalog, every worker and the API.
    Dev,
    /// Run the HTTP API.
    Api,
    /// Run the worker of one or more services.
    Worker {
        /// A service whose worker to run: orders, inventory, payments, shipping, notifications
        /// or reporting. Repeatable.
        #[arg(long = "service", required = true, value_parser = parse_service)]
        services: Vec<Service>,
    },
    /// Create the database if missing, run every pending migration, register the search
    /// attributes the workflows use on the Temporal namespace, and create or update the daily
    /// sales report's schedule.
    Migrate,
    /// Migrate, then load the demo catalog and its stock (existing stock is left alone).
    Seed,
    /// Print the API's OpenAPI 3.1 document, as `/openapi.json` serves it (for client
    /// generators and API review).
    Openapi,
    /// Place orders against a running platform over HTTP and measure throughput, latency,
    /// history size and the processes' memory and CPU; with `--baseline`, also Temporal's own
    /// ceiling on the same server and workers (docs/BENCHMARKS.md).
    #[cfg(feature = "bench")]
    Bench(bench::BenchOptions),
    /// Export and replay workflow histories.
    History {
        /// What to do.
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Read the domain events published to NATS JetStream.
    Events {
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
}

/// `emporium events` subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the event stream as it grows, one `<subject> <event JSON>` per line (from
    /// `EMPORIUM_EVENTS__NATS_URL`, else the local NATS server).
    Tail {
        /// Start from the stream's first event instead of the next one.
        #[arg(long)]
        from_start: bool,
        /// Only subjects matching this filter after the prefix, such as `order.>` or
        /// `payment.failed`.
        #[arg(long)]
        filter: Option<String>,
    },
}

/// `emporium history` subcommands.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Write a workflow's history (its latest run) as JSON.
    Export {
        /// The workflow id, such as `order-<id>`.
        workflow_id: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Replay history files against this build's workflows; fails on any nondeterminism.
    Replay {
        /// History files, as `emporium history export` writes them.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

fn parse_service(name: &str) -> Result<Service, String> {
    name.parse()
        .map_err(|e: contracts::queues::UnknownService| e.to_string())
}

/// What the workers serve besides the services: with the `bench` feature, the benchmark's
/// ceiling, so that `emporium bench --baseline` measures these very workers.
pub(crate) fn extra_registrations() -> Option<workers::ExtraRegistrations> {
    #[cfg(feature = "bench")]
    return Some(bench::ceiling::register);
    #[cfg(not(feature = "bench"))]
    return None;
}

/// Runs a parsed command with loaded settings.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev => commands::dev::run(settings).await,
        Command::Api => commands::api::run(settings).await,
        Command::Worker { services } => commands::worker::run(settings, &services).await,
        Command::Migrate => commands::migrate::run(&settings).await.map(|_| ()),
        Command::Seed => commands::seed::run(&settings).await,
        Command::History {
            command: HistoryCommand::Export { workflow_id, out },
        } => commands::history::export(&settings, &workflow_id, out.as_deref()).await,
        Command::History {
            command: HistoryCommand::Replay { files },
        } => commands::history::replay(&files).await,
        Command::Events {
            command: EventsCommand::Tail { from_start, filter },
        } => {
            let tail = commands::events::Tail { from_start, filter };
            commands::events::tail(&settings, tail).await
        }
        #[cfg(feature = "bench")]
        Command::Bench(options) => commands::bench::run(&settings, &options).await,
        Command::Openapi => {
            let document = api::openapi_document()
                .to_pretty_json()
                .context("serializing the OpenAPI document")?;
            println!("{document}");
            Ok(())
        }
    }
}
