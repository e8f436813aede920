//! The dependency rule of DESIGN.md, enforced: workflows see services only through the activity
//! definitions in `contracts` and can name no crate that does I/O. Rust code can only `use` its
//! direct dependencies, so checking them checks the code.

use std::collections::BTreeSet;
use std::process::Command;

fn tree(package: &str, depth: Option<u32>) -> BTreeSet<String> {
    let mut command = Command::new(env!("CARGO"));
    command.args([
        "tree",
        "--package",
        package,
        "--edges",
        "normal",
        "--prefix",
        "none",
    ]);
    if let Some(depth) = depth {
        command.args(["--depth", &depth.to_string()]);
    }
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn workflows_depend_directly_on_contracts_and_the_workflow_sdk_only() {
    let direct: BTreeSet<String> = tree("workflows", Some(1))
        .into_iter()
        .filter(|name| name != "workflows")
        .collect();
    let allowed: BTreeSet<String> = ["contracts", "serde", "temporalio-workflow"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(direct, allowed);
}

#[test]
fn nothing_under_workflows_or_contracts_talks_to_a_database_the_web_or_mail() {
    for package in ["workflows", "contracts"] {
        let all = tree(package, None);
        for forbidden in [
            "sea-orm",
            "sqlx",
            "reqwest",
            "lettre",
            "axum",
            "async-stripe",
            "activities",
        ] {
            assert!(!all.contains(forbidden), "{package} depends on {forbidden}");
        }
    }
}

#[test]
fn contracts_depend_on_no_runtime_directly() {
    let direct = tree("contracts", Some(1));
    for forbidden in ["tokio", "futures", "sea-orm", "reqwest"] {
        assert!(
            !direct.contains(forbidden),
            "contracts depends directly on {forbidden}"
        );
    }
}
