//! `cargo xtask tidy`: the architecture invariants of `docs/architecture.md`, checked.

use std::path::{Path, PathBuf};

use crate::{backend::BACKENDS, cargo};

/// Library crates built on Burn: none of them may enable a Burn backend feature.
const BURN_LIBRARY_CRATES: [&str; 9] = [
    "proxyless-bench",
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
const FORBIDDEN: [(&str, &str, &str); 17] = [
    (
        "proxyless-onnx",
        "proxyless-train",
        "an ONNX model is written from a net.config and weights, knowing nothing of training",
    ),
    (
        "proxyless-rundir",
        "burn",
        "a run directory's records are tensor-free",
    ),
    ("proxyless-plumbing", "burn", "run plumbing is tensor-free"),
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
    gpu_backends_fuse_and_tune(&mut problems)?;
    layers_point_one_way(&mut problems)?;
    documented_dependencies_hold(&mut problems)?;
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

/// The binary's GPU backends are built with Burn's kernel fusion and autotune, and the
/// project's own builds of them (`xtask::backend::build_features`) keep autotune's results on
/// disk: `burn-wgpu` and `burn-cuda` have these only through Burn's default features, which
/// the workspace turns off, so the features must name them.
fn gpu_backends_fuse_and_tune(problems: &mut Vec<String>) -> Result<(), String> {
    for backend in ["wgpu", "vulkan", "cuda"] {
        let features = crate::backend::build_features(backend);
        let tree = cargo::output(&[
            "tree",
            "--package",
            "proxyless-cli",
            "--no-default-features",
            "--features",
            &features,
            "--edges",
            "features",
            "--invert",
            "burn-cubecl",
            "--prefix",
            "none",
        ])?;
        for feature in ["fusion", "autotune", "persistence"] {
            let needle = format!("burn-cubecl feature \"{feature}\"");
            if !tree.lines().any(|l| l.starts_with(&needle)) {
                problems.push(format!(
                    "proxyless-cli's '{features}' builds burn-cubecl without '{feature}'"
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

/// The table of `docs/architecture.md` names, for every crate, exactly the project crates it
/// depends on (normal dependencies): a dependency the table does not name, or a named one the
/// crate does not have, is a problem.
fn documented_dependencies_hold(problems: &mut Vec<String>) -> Result<(), String> {
    let root = crate::repo_root();
    let doc = root.join("docs/architecture.md");
    let text = std::fs::read_to_string(&doc).map_err(|e| format!("{}: {e}", doc.display()))?;
    let rows = documented_rows(&text);
    if rows.is_empty() {
        problems.push("docs/architecture.md: no crate table found".into());
        return Ok(());
    }
    let short: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    for (package, named) in &rows {
        let mut documented = Vec::new();
        for item in named {
            let word = item.split_whitespace().next().unwrap_or("");
            if short.contains(&word) {
                documented.push(format!("proxyless-{word}"));
            } else if !["Burn", "no", "nothing"].contains(&word) {
                problems.push(format!(
                    "docs/architecture.md: the row of {package} names '{item}', which is no crate"
                ));
            }
        }
        let krate = if package == "xtask" {
            "xtask".to_string()
        } else {
            format!("proxyless-{package}")
        };
        let tree = cargo::output(&[
            "tree",
            "--package",
            &krate,
            "--edges",
            "normal",
            "--depth",
            "1",
            "--prefix",
            "none",
        ])?;
        let actual: Vec<String> = tree
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| name.starts_with("proxyless-"))
            .map(String::from)
            .collect();
        for dep in &actual {
            if !documented.contains(dep) {
                problems.push(format!(
                    "{krate} depends on {dep}, which docs/architecture.md does not name"
                ));
            }
        }
        for dep in &documented {
            if !actual.contains(dep) {
                problems.push(format!(
                    "docs/architecture.md says {krate} depends on {dep}; it does not"
                ));
            }
        }
    }
    Ok(())
}

/// The crate table's rows: each crate's short name (`space`, or `xtask`) and the items of its
/// last column (before a `;`, split at commas).
fn documented_rows(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
            let first = cells.first()?.trim();
            let name = first
                .strip_prefix("`crates/")
                .or_else(|| first.strip_prefix('`'))?
                .split('`')
                .next()?;
            if cells.len() < 3 || name.contains(' ') || name.is_empty() {
                return None;
            }
            let deps = cells.last()?.split(';').next()?;
            let items = deps
                .split(',')
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty())
                .collect();
            Some((name.to_string(), items))
        })
        .collect()
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
