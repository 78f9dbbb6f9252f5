//! `cargo xtask tidy`: the architecture invariants of `docs/architecture.md`, checked.

use std::path::{Path, PathBuf};

use crate::{backend::BACKENDS, cargo};

/// Library crates built on Burn: none of them may enable a Burn backend feature.
const BURN_LIBRARY_CRATES: [&str; 8] = [
    "proxyless-kernels",
    "proxyless-study",
    "proxyless-nn",
    "proxyless-supernet",
    "proxyless-search",
    "proxyless-profiler",
    "proxyless-train",
    "proxyless-pytorch",
];

/// Dependencies that would break the layering: (crate, what it must not depend on, why).
const FORBIDDEN: [(&str, &str, &str); 14] = [
    (
        "proxyless-search",
        "proxyless-study",
        "a study runs searches; the search knows nothing of studies",
    ),
    (
        "proxyless-supernet",
        "proxyless-study",
        "the supernet knows nothing of studies",
    ),
    (
        "proxyless-kernels",
        "proxyless-space",
        "kernels are tensor operations, below every network and space",
    ),
    (
        "proxyless-train",
        "proxyless-supernet",
        "training a fixed network knows nothing of the supernet",
    ),
    (
        "proxyless-train",
        "proxyless-search",
        "the search builds on training, not the reverse",
    ),
    (
        "proxyless-pytorch",
        "proxyless-train",
        "weight files know nothing of training",
    ),
    (
        "proxyless-report",
        "burn",
        "pictures and reports are tensor-free",
    ),
    (
        "proxyless-report",
        "proxyless-search",
        "pictures never depend on the search driver",
    ),
    (
        "proxyless-latency",
        "burn",
        "latency tables and predictions are tensor-free",
    ),
    (
        "proxyless-profiler",
        "proxyless-search",
        "measuring never depends on the search driver",
    ),
    (
        "proxyless-supernet",
        "proxyless-data",
        "the supernet knows nothing of data sets",
    ),
    (
        "proxyless-supernet",
        "proxyless-search",
        "the supernet knows nothing of the driver",
    ),
    (
        "proxyless-latency",
        "proxyless-search",
        "latency models never depend on the search driver",
    ),
    (
        "proxyless-nn",
        "proxyless-supernet",
        "networks sit below the supernet",
    ),
];

/// Checks every invariant and reports all violations together.
pub fn run() -> Result<(), String> {
    let mut problems = Vec::new();
    space_has_no_burn(&mut problems)?;
    libraries_enable_no_backend(&mut problems)?;
    layers_point_one_way(&mut problems)?;
    files_open_with_a_doc_line(&mut problems)?;
    if problems.is_empty() {
        eprintln!("xtask: tidy: all invariants hold");
        return Ok(());
    }
    Err(format!(
        "tidy found {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    ))
}

/// `proxyless-space` reasons about spaces without tensors: no Burn crate among its dependencies.
fn space_has_no_burn(problems: &mut Vec<String>) -> Result<(), String> {
    let tree = cargo::output(&[
        "tree",
        "--package",
        "proxyless-space",
        "--edges",
        "normal",
        "--prefix",
        "none",
    ])?;
    for line in tree.lines() {
        if line.starts_with("burn") {
            problems.push(format!("proxyless-space depends on {line}"));
        }
    }
    Ok(())
}

/// Only the binary picks backends: a library crate alone must not turn on a backend feature.
fn libraries_enable_no_backend(problems: &mut Vec<String>) -> Result<(), String> {
    for krate in BURN_LIBRARY_CRATES {
        let tree = cargo::output(&[
            "tree",
            "--package",
            krate,
            "--edges",
            "features,normal",
            "--invert",
            "burn",
            "--prefix",
            "none",
        ])?;
        for backend in BACKENDS {
            let needle = format!("burn feature \"{backend}\"");
            if tree.lines().any(|l| l.starts_with(&needle)) {
                problems.push(format!(
                    "{krate} enables the Burn backend feature '{backend}'"
                ));
            }
        }
    }
    Ok(())
}

/// Dependencies point one way: space <- nn <- supernet <- search <- cli, latency beside.
fn layers_point_one_way(problems: &mut Vec<String>) -> Result<(), String> {
    for (krate, forbidden, why) in FORBIDDEN {
        let tree = cargo::output(&[
            "tree",
            "--package",
            krate,
            "--edges",
            "normal",
            "--prefix",
            "none",
        ])?;
        if tree
            .lines()
            .any(|l| l.starts_with(&format!("{forbidden} v")))
        {
            problems.push(format!("{krate} depends on {forbidden}: {why}"));
        }
    }
    Ok(())
}

/// Every Rust file says its one job in a `//!` line at the top.
fn files_open_with_a_doc_line(problems: &mut Vec<String>) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask sits in the repository root")?;
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        collect_rust_files(&root.join(dir), &mut files);
    }
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if !text.trim_start().starts_with("//!") {
            let shown = file.strip_prefix(root).unwrap_or(&file);
            problems.push(format!(
                "{} does not open with a `//!` line",
                shown.display()
            ));
        }
    }
    Ok(())
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                collect_rust_files(&path, files);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}
