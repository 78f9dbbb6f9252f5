//! Running cargo (the one that runs us, through `$CARGO`).

use std::process::Command;

/// The cargo binary that started the xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs `cargo args...` with extra environment variables; fails on a non-zero exit.
pub fn run(args: &[&str], envs: &[(&str, String)]) -> Result<(), String> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = cargo()
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo {}` failed ({status})", args.join(" ")));
    }
    Ok(())
}

/// Runs `cargo args...` and returns its standard output.
pub fn output(args: &[&str]) -> Result<String, String> {
    let out = cargo()
        .args(args)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
