//! Readiness: can this process do its work right now? Postgres answers a query and the Temporal
//! frontend answers a call, each within a short deadline. The API and every worker answer
//! `/readyz` with this; `/healthz` only says the process is alive.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use std::time::Duration;
use temporalio_client::Client;

/// How long a dependency may take to answer.
const DEADLINE: Duration = Duration::from_secs(2);

/// The outcome of one dependency's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Why not, when not (no secrets: the error's kind, not the connection string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    fn of(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                status: "ok",
                error: None,
            },
            Err(error) => Self {
                status: "unavailable",
                error: Some(error),
            },
        }
    }

    /// Whether the dependency answered.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Readiness of a process: every dependency's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// `ready` when every check passed, else `not_ready`.
    pub status: &'static str,
    /// Postgres.
    pub postgres: Check,
    /// The Temporal frontend.
    pub temporal: Check,
}

impl Readiness {
    /// Whether every dependency answered.
    pub fn is_ready(&self) -> bool {
        self.postgres.is_ok() && self.temporal.is_ok()
    }

    /// What does not answer, in one line, such as `postgres: unavailable (query failed)`.
    pub fn describe_failures(&self) -> String {
        [("postgres", &self.postgres), ("temporal", &self.temporal)]
            .into_iter()
            .filter(|(_, check)| !check.is_ok())
            .map(|(name, check)| {
                format!(
                    "{name}: {} ({})",
                    check.status,
                    check.error.as_deref().unwrap_or("no reason given")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Checks Postgres and Temporal concurrently.
pub async fn readiness(db: &DatabaseConnection, temporal: &Client) -> Readiness {
    let (postgres, temporal) = tokio::join!(postgres(db), temporal_frontend(temporal));
    let (postgres, temporal) = (Check::of(postgres), Check::of(temporal));
    Readiness {
        status: if postgres.is_ok() && temporal.is_ok() {
            "ready"
        } else {
            "not_ready"
        },
        postgres,
        temporal,
    }
}

async fn postgres(db: &DatabaseConnection) -> Result<(), String> {
    match tokio::time::timeout(DEADLINE, db.execute_unprepared("SELECT 1")).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("query failed: {}", kind_of(&err.to_string()))),
        Err(_) => Err(format!("no answer within {DEADLINE:?}")),
    }
}

async fn temporal_frontend(client: &Client) -> Result<(), String> {
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
    let mut service = client.connection().workflow_service();
    let call = service.get_system_info(Request::new(GetSystemInfoRequest {}));
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) => Err(format!("{:?}", status.code())),
        Err(_) => Err(format!("no answer within {DEADLINE:?}")),
    }
}

/// The first words of an error, which never include a connection string.
fn kind_of(error: &str) -> String {
    error
        .split([':', '\n'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}
