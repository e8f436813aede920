//! `emporium bench`: runs the `bench` crate against the platform the settings point at (and the
//! API `--api` names), prints the table and writes the JSON report.

use anyhow::Context as _;
use bench::BenchOptions;
use bench::processes::Platform;
use contracts::TaskQueues;
use platform::Settings;

pub(crate) async fn run(settings: &Settings, options: &BenchOptions) -> anyhow::Result<()> {
    let admin_password = match &options.admin_password {
        Some(password) => password.clone(),
        None => {
            let file = settings.data_dir.join("admin-password");
            std::fs::read_to_string(&file)
                .map(|p| p.trim().to_owned())
                .with_context(|| {
                    format!(
                        "reading the demo admin's password from {} (start `emporium dev` first, \
                         or pass --admin-email and --admin-password)",
                        file.display()
                    )
                })?
        }
    };
    let temporal = platform::temporal::connect(&settings.temporal)
        .await
        .context("connecting to Temporal")?;
    let queues = TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone());
    let platform = platform_under_test(settings, options)?;
    let report = bench::run(options, &admin_password, temporal, queues, &platform).await?;
    println!("{}", bench::table(&report));
    let out = options.out.clone().unwrap_or_else(|| {
        settings.data_dir.join(format!(
            "bench-{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("  report: {}", out.display());
    Ok(())
}

/// The ports and database that tell the platform's processes from any other on the machine.
fn platform_under_test(settings: &Settings, options: &BenchOptions) -> anyhow::Result<Platform> {
    use secrecy::ExposeSecret as _;
    let api = url::Url::parse(&options.api).context("--api must be a URL")?;
    let temporal = platform::temporal::target_url(&settings.temporal.address)?;
    let database = url::Url::parse(settings.database.url.expose_secret())
        .context("DATABASE_URL must be a URL")?;
    Ok(Platform {
        api_port: api.port_or_known_default().unwrap_or(80),
        temporal_port: temporal.port().unwrap_or(7233),
        database: database.path().trim_start_matches('/').to_owned(),
        events_port: settings.events.nats_url.as_deref().map(|nats| {
            url::Url::parse(nats)
                .ok()
                .and_then(|url| url.port())
                .unwrap_or(4222)
        }),
    })
}
