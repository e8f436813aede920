//! One real Temporal dev server per test binary.

use platform::temporal::{DevServer, DevServerOptions, find_cli, free_port};
use std::sync::OnceLock;
use temporalio_client::Client;

/// The history limits of the tests' Temporal server, far below the production defaults
/// (51,200 events terminate a run; continue-as-new is suggested at 4,096), so that a workflow
/// that outgrows its history budget fails its test within a minute instead of passing
/// unnoticed and dying in production after days. Every test runs under them.
pub const HISTORY_LIMITS: [(&str, u32); 3] = [
    ("limit.historyCount.error", 400),
    ("limit.historyCount.warn", 300),
    ("limit.historyCount.suggestContinueAsNew", 150),
];

/// `host:port` of the test binary's Temporal server, started on first use.
///
/// Set `EMPORIUM_TEST_TEMPORAL_ADDRESS` to use an already running server instead.
pub fn temporal_address() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        if let Ok(address) = std::env::var("EMPORIUM_TEST_TEMPORAL_ADDRESS") {
            return address;
        }
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        // The server lives on a thread of its own that never ends: the CLI is started with a
        // parent-death signal tied to this thread, so it stops exactly when the test process does.
        std::thread::Builder::new()
            .name("temporal-dev-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime for the Temporal dev server");
                runtime.block_on(async move {
                    let started = async {
                        let cli = find_cli(
                            std::env::var_os("TEMPORAL_CLI")
                                .map(std::path::PathBuf::from)
                                .as_deref(),
                        )?;
                        let port = free_port().map_err(|e| {
                            platform::temporal::TemporalError::DevServer(e.to_string())
                        })?;
                        DevServer::start(DevServerOptions {
                            cli,
                            port,
                            ui_port: None,
                            db_file: None,
                            namespace: "default".to_owned(),
                            quiet: true,
                            search_attributes: contracts::orders::search::ALL
                                .iter()
                                .map(|&(name, kind)| (name.to_owned(), kind.to_owned()))
                                .collect(),
                            dynamic_config: HISTORY_LIMITS
                                .iter()
                                .map(|&(key, value)| (key.to_owned(), value.to_string()))
                                .collect(),
                        })
                        .await
                    }
                    .await;
                    match started {
                        Ok(server) => {
                            let _ = started_tx.send(Ok(server.address().to_owned()));
                            std::future::pending::<()>().await;
                            drop(server);
                        }
                        Err(err) => {
                            let _ = started_tx.send(Err(err.to_string()));
                        }
                    }
                });
            })
            .expect("spawning the Temporal dev server thread");
        started_rx
            .recv()
            .expect("the Temporal dev server thread answers")
            .unwrap_or_else(|err| panic!("cannot start the Temporal dev server: {err}"))
    })
}

/// A client to the test binary's Temporal server, in the `default` namespace.
pub async fn temporal_client() -> Client {
    let address = temporal_address();
    platform::temporal::connect(address, "default")
        .await
        .expect("connecting to the test Temporal server")
}
