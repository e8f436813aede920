//! `emporium bench`: runs [`crate::bench`] against the platform the settings point at, prints
//! the table and writes the JSON report.

use crate::bench::{self, BenchOptions};
use anyhow::Context as _;
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
    let temporal =
        platform::temporal::connect(&settings.temporal.address, &settings.temporal.namespace)
            .await
            .context("connecting to Temporal")?;
    let queues = TaskQueues::with_prefix(settings.temporal.task_queue_prefix.clone());
    let report = bench::run(options, &admin_password, temporal, queues).await?;
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
