//! The deployment files against the code. No Docker engine or cluster runs here, so these
//! files are held to the code by reading them: every `emporium` command they run must parse as
//! a real subcommand, every service must have its own scalable worker, every setting they pass
//! must load into `Settings` (which refuses unknown keys), every port must be the one the
//! settings use, and every metric the Grafana dashboard charts must be one the code records.

#[path = "../common/dashboard.rs"]
mod dashboard;

use clap::Parser as _;
use contracts::Service;
use dashboard::dashboard_metrics;
use emporium::{Cli, Command};
use platform::Settings;
use serde_norway::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Every YAML document of a file, with `<<` merge keys applied.
fn yaml(path: &str) -> Vec<Yaml> {
    use serde::Deserialize as _;
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            let mut value =
                Yaml::deserialize(document).unwrap_or_else(|e| panic!("{path} is YAML: {e}"));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{path} merges: {e}"));
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("a scalar, not {other:?}"),
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

/// Compose-style `${NAME:-default}` and `${NAME:?message}` replaced by the default or by a
/// stand-in value (what the operator would provide).
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closing brace") + start;
        let inner = &rest[start + 2..end];
        match inner.split_once(":-") {
            Some((_, default)) => out.push_str(default),
            None => out.push_str("provided-by-the-operator-0123456789"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Loads `Settings` from exactly these environment variables (no file), as a process started
/// with them would.
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closures return figment::Error"
)]
fn settings_from(env: &BTreeMap<String, String>) -> Result<Settings, String> {
    let mut loaded = None;
    figment::Jail::try_with(|jail| {
        jail.clear_env();
        for (key, value) in env {
            jail.set_env(key, value);
        }
        loaded = Some(Settings::load().map_err(|e| e.to_string()));
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    loaded.expect("the jail ran")
}

/// The environment variables the settings read without the `EMPORIUM_` prefix.
const RAW_SETTINGS: [&str; 7] = platform::settings::RAW_ENV;

fn parse_command(args: &[String]) -> Command {
    let argv = std::iter::once("emporium".to_owned()).chain(args.iter().cloned());
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("`emporium {}` is not a command: {e}", args.join(" ")))
        .command
}

#[test]
fn the_compose_file_runs_real_commands_with_real_settings_on_the_configured_ports() {
    let compose = yaml("docker-compose.yml").remove(0);
    let services = compose["services"].as_mapping().expect("services");
    assert!(
        services.contains_key("temporal"),
        "TEMPORAL_ADDRESS (temporal:7233) names the temporal service"
    );
    let mut workers = BTreeSet::new();
    let mut ran_migrate = false;
    let mut api_port = None;
    for (name, service) in services {
        let name = text(name);
        if service["image"].as_str() != Some("emporium:latest") {
            continue;
        }
        assert_eq!(
            service["build"].as_str(),
            Some("."),
            "{name} builds the Dockerfile"
        );
        let command = parse_command(&strings(&service["command"]));
        let env: BTreeMap<String, String> = service["environment"]
            .as_mapping()
            .expect("an environment")
            .iter()
            .map(|(k, v)| (text(k), interpolate(&text(v))))
            .collect();
        for key in env.keys() {
            assert!(
                key.starts_with("EMPORIUM_") || RAW_SETTINGS.contains(&key.as_str()),
                "{name}: {key} is not a setting"
            );
        }
        let settings = settings_from(&env).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(settings.log.json, "{name} logs JSON");
        assert_eq!(settings.temporal.address, "temporal:7233");
        let database = secrecy::ExposeSecret::expose_secret(&settings.database.url).to_owned();
        match command {
            Command::Migrate => {
                ran_migrate = true;
                assert!(
                    database.starts_with("postgres://emporium:"),
                    "migrations run as the schemas' owner"
                );
            }
            Command::Api => {
                assert!(
                    database.starts_with("postgres://emporium_app:"),
                    "{name} logs in as the services' user"
                );
                let ports = strings(&service["ports"]);
                let (host, container) = ports[0].split_once(':').expect("host:container");
                assert_eq!(
                    container.parse::<u16>().expect("a port"),
                    settings.api.bind.port(),
                    "the API's published port is the one it binds"
                );
                api_port = Some(host.parse::<u16>().expect("a port"));
                let health = strings(&service["healthcheck"]["test"]).join(" ");
                assert!(health.contains(&format!(
                    "http://127.0.0.1:{}/readyz",
                    settings.api.bind.port()
                )));
            }
            Command::Worker {
                services: ref served,
            } => {
                assert!(
                    database.starts_with("postgres://emporium_app:"),
                    "{name} logs in as the services' user"
                );
                assert_eq!(served.len(), 1, "{name}: one service per container");
                assert_eq!(name, format!("worker-{}", served[0]));
                assert!(
                    service.get("ports").is_none() && service.get("container_name").is_none(),
                    "{name} can be scaled: no fixed name or host port"
                );
                let health = strings(&service["healthcheck"]["test"]).join(" ");
                assert!(
                    health.contains(&format!(
                        "http://127.0.0.1:{}/readyz",
                        settings.worker.ops_bind.port()
                    )),
                    "{name}'s health check asks its ops port: {health}"
                );
                workers.insert(served[0]);
            }
            other => panic!("{name} runs {other:?}, which a deployment has no use for"),
        }
    }
    assert!(ran_migrate, "something runs the migrations");
    assert_eq!(api_port, Some(8080));
    assert_eq!(
        workers,
        Service::ALL.into_iter().collect(),
        "every service has its own worker container"
    );

    // The services' user is a member of the role the migrations grant privileges to.
    let init = read("deploy/postgres/init.sql");
    assert!(init.contains(&format!("CREATE ROLE {} NOLOGIN", migrations::SERVICE_ROLE)));
    assert!(init.contains(&format!("IN ROLE {}", migrations::SERVICE_ROLE)));

    // Prometheus scrapes the API and every replica of every worker on their ports.
    let prometheus = yaml("deploy/prometheus/prometheus.yml").remove(0);
    let jobs = prometheus["scrape_configs"].as_sequence().expect("jobs");
    let api_target = strings(&jobs[0]["static_configs"][0]["targets"]);
    assert_eq!(api_target, ["api:8080"]);
    let discovered = &jobs[1]["dns_sd_configs"][0];
    let names: BTreeSet<String> = strings(&discovered["names"]).into_iter().collect();
    let expected: BTreeSet<String> = Service::ALL
        .iter()
        .map(|service| format!("worker-{service}"))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        discovered["port"].as_u64(),
        Some(u64::from(Settings::default().worker.ops_bind.port()))
    );
}

/// The Kubernetes objects of the kustomization, by kind.
fn manifests() -> Vec<Yaml> {
    let kustomization = yaml("deploy/k8s/kustomization.yaml").remove(0);
    strings(&kustomization["resources"])
        .iter()
        .flat_map(|file| yaml(&format!("deploy/k8s/{file}")))
        .collect()
}

#[test]
fn the_kubernetes_manifests_run_each_worker_as_its_own_deployment_on_the_configured_ports() {
    let objects = manifests();
    let of_kind = |kind: &str| -> Vec<&Yaml> {
        objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some(kind))
            .collect()
    };
    let mut env = BTreeMap::new();
    for config in of_kind("ConfigMap") {
        for (k, v) in config["data"].as_mapping().expect("data") {
            env.insert(text(k), text(v));
        }
    }
    let secret = of_kind("Secret")[0];
    let secret_keys: BTreeSet<String> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(text)
        .collect();
    for (k, v) in secret["stringData"].as_mapping().expect("stringData") {
        env.insert(text(k), text(v));
    }
    // Keys the settings do not read must be picked up explicitly by some container.
    let rendered = serde_norway::to_string(&objects).expect("re-serialized");
    for key in env.keys() {
        let picked = rendered.contains(&format!("key: {key}"));
        assert!(
            key.starts_with("EMPORIUM_") || RAW_SETTINGS.contains(&key.as_str()) || picked,
            "{key} is neither a setting nor used by a container"
        );
    }
    let settings = settings_from(&env).expect("the ConfigMap and Secret are valid settings");
    assert!(secret_keys.contains("JWT_SECRET") && secret_keys.contains("DATABASE_URL"));

    let mut workers = BTreeSet::new();
    let mut migrates = false;
    for object in of_kind("Deployment").into_iter().chain(of_kind("Job")) {
        let name = text(&object["metadata"]["name"]);
        let pod = &object["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["image"].as_str(), Some("emporium:latest"));
        let sources: BTreeSet<String> = container["envFrom"]
            .as_sequence()
            .expect("envFrom")
            .iter()
            .filter_map(|source| {
                [("configMapRef", "ConfigMap"), ("secretRef", "Secret")]
                    .into_iter()
                    .find_map(|(reference, kind)| {
                        source[reference]["name"]
                            .as_str()
                            .map(|name| format!("{kind}/{name}"))
                    })
            })
            .collect();
        assert_eq!(
            sources,
            [
                "ConfigMap/emporium".to_owned(),
                "Secret/emporium".to_owned()
            ]
            .into(),
            "{name} gets the shared settings"
        );
        let port = |name: &str| -> u16 {
            let ports = container["ports"].as_sequence().expect("ports");
            let port = ports
                .iter()
                .find(|p| p["name"].as_str() == Some(name))
                .expect("a named port");
            u16::try_from(port["containerPort"].as_u64().expect("a number")).expect("a port")
        };
        let annotations = &object["spec"]["template"]["metadata"]["annotations"];
        // The container listens where the settings bind, and is probed and scraped there.
        let served_on = |port: u16, configured: u16| {
            assert_eq!(port, configured, "{name} listens on the configured port");
            assert_eq!(text(&annotations["prometheus.io/port"]), port.to_string());
            assert_eq!(
                text(&container["readinessProbe"]["httpGet"]["path"]),
                "/readyz"
            );
            assert_eq!(
                text(&container["livenessProbe"]["httpGet"]["path"]),
                "/healthz"
            );
        };
        match parse_command(&strings(&container["args"])) {
            Command::Migrate => {
                migrates = true;
                assert_eq!(object["kind"].as_str(), Some("Job"));
                assert_eq!(
                    text(&container["env"][0]["valueFrom"]["secretKeyRef"]["key"]),
                    "MIGRATE_DATABASE_URL",
                    "migrations run as the schemas' owner"
                );
            }
            Command::Api => served_on(port("http"), settings.api.bind.port()),
            Command::Worker { services } => {
                assert_eq!(services.len(), 1, "{name}: one service per Deployment");
                assert_eq!(name, format!("emporium-worker-{}", services[0]));
                served_on(port("ops"), settings.worker.ops_bind.port());
                assert!(workers.insert(services[0]), "{name} is the only one for it");
            }
            other => panic!("{name} runs {other:?}"),
        }
    }
    assert!(migrates, "a Job migrates");
    assert_eq!(workers, Service::ALL.into_iter().collect());
}

/// Every metric name an expression mentions, without a histogram's `_bucket`.
fn rust_sources(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push_str(&std::fs::read_to_string(&path).expect("readable"));
        }
    }
}

#[test]
fn the_dashboard_charts_only_metrics_the_code_records_and_the_docs_list() {
    let mut sources = String::new();
    for crate_dir in ["activities/src", "api/src", "platform/src"] {
        rust_sources(&repo().join(crate_dir), &mut sources);
    }
    let operations = read("docs/OPERATIONS.md");
    let charted = dashboard_metrics();
    assert!(charted.len() >= 12, "{charted:?}");
    for name in &charted {
        assert!(
            operations.contains(name.as_str()),
            "docs/OPERATIONS.md lists {name}"
        );
        if name.starts_with("temporal_") {
            continue; // the SDK's own: the end-to-end test finds them in a worker's /metrics
        }
        let recorded = name.strip_suffix("_sum").unwrap_or(name);
        assert!(
            sources.contains(&format!("\"{recorded}\"")),
            "the dashboard charts {name}, which no code records"
        );
    }
}
