//! `emporium history export <workflow-id> [--out FILE]` writes a workflow's history as JSON;
//! `emporium history replay FILE...` replays histories against this build's workflow code and
//! fails on any nondeterminism (run it against histories from production before deploying).

use anyhow::Context as _;
use platform::Settings;
use std::path::{Path, PathBuf};

/// Writes the history of `workflow_id` to `out`, or to standard output.
pub(crate) async fn export(
    settings: &Settings,
    workflow_id: &str,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let temporal = platform::temporal::connect(&settings.temporal)
        .await
        .context("connecting to Temporal")?;
    let json = workers::history::export(&temporal, workflow_id)
        .await
        .with_context(|| format!("fetching the history of {workflow_id}"))?;
    match out {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(workflow.id = %workflow_id, file = %path.display(), "history written");
        }
        None => println!("{json}"),
    }
    Ok(())
}

/// Replays every history file; fails if any does not replay.
pub(crate) async fn replay(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        let json = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        match workers::history::replay(&json).await {
            Ok(info) => println!(
                "ok    {} ({} {}, {} events)",
                file.display(),
                info.workflow_type,
                info.workflow_id,
                info.events
            ),
            Err(err) => {
                failed += 1;
                println!("FAIL  {}: {err}", file.display());
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} histories did not replay",
        files.len()
    );
    Ok(())
}
