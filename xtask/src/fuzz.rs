//! `cargo xtask fuzz [--inputs N] [--seed S] [--only TARGET]`: builds `proxyless-fuzz` and
//! fuzzes every file parser (a million inputs each by default), writing
//! `target/fuzz/report.md` and the inputs of any finding beside it.

use crate::cargo;

/// Builds and runs the fuzzer with `args`.
pub fn run(args: &[String]) -> Result<(), String> {
    // Built together with the CLI so that Burn's features, and its compiled artefacts, are
    // the ones `cargo xtask search` already built.
    cargo::run(
        &[
            "build",
            "--release",
            "--package",
            "proxyless-cli",
            "--package",
            "proxyless-fuzz",
        ],
        &[],
    )?;
    let root = crate::repo_root();
    let status = std::process::Command::new(root.join("target/release/proxyless-fuzz"))
        .args(args)
        .arg("--out")
        .arg(root.join("target/fuzz"))
        .status()
        .map_err(|e| format!("cannot run proxyless-fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the fuzzer found problems ({status})"))
    }
}
