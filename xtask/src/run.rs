//! `cargo xtask <command> [--backend B] [--dev] [args]`: build `proxyless` for a backend and
//! run one of its commands there.

use crate::{backend, cargo};

/// Builds and runs `proxyless <args>`, taking `--backend B` and `--dev` out of `args`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut backend_name = String::from("flex");
    let mut release = true;
    let mut rest: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--backend" {
            backend_name = iter.next().ok_or("--backend needs a value")?.to_string();
        } else if let Some(value) = arg.strip_prefix("--backend=") {
            backend_name = value.to_string();
        } else if arg == "--dev" {
            release = false;
        } else {
            rest.push(arg.clone());
        }
    }
    let feature = backend::feature(&backend_name)?;
    // A search or training without its own data, or a study (whose shipped configurations
    // all study Fashion-MNIST), needs Debian's Fashion-MNIST.
    let command = rest.first().map(String::as_str);
    let given = |flags: &[&str]| {
        rest.iter()
            .any(|a| flags.contains(&a.split('=').next().unwrap_or("")))
    };
    let uses_default_data = match command {
        Some("search" | "train") => !given(&["--config", "--data", "--dataset", "--resume"]),
        Some("study") => !given(&["--data", "--resume"]),
        _ => false,
    };
    if uses_default_data {
        crate::data::ensure_fashion_mnist()?;
    }
    if feature == "cuda" {
        crate::llvm::ensure_for_cuda()?;
    }
    // Not `--quiet`: on a fresh clone the release build takes minutes, and cargo's progress
    // is what tells the user something is happening.
    let mut cargo_args = vec!["run"];
    if release {
        cargo_args.push("--release");
    }
    // flex (the default feature) stays in beside the chosen backend: it costs nothing at run
    // time, and the binary is then the same one `cargo xtask gpu-check` builds.
    let features = backend::build_features(feature);
    cargo_args.extend([
        "--package",
        "proxyless-cli",
        "--features",
        &features,
        "--",
        "--backend",
        &backend_name,
    ]);
    cargo_args.extend(rest.iter().map(String::as_str));
    cargo::run(&cargo_args, &backend::run_env(feature))
}
