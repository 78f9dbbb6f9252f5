//! `cargo xtask gpu-check [--package-only] [--out DIR] [--features LIST]`: build `proxyless`
//! with the GPU backends (flex stays in as the parity reference), package it with the check
//! script and a Fashion-MNIST subset into a directory that runs on a GPU machine without a Rust
//! toolchain, and (unless `--package-only`) run the checks here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo;

/// The script the package runs (see its header).
const SCRIPT: &str = include_str!("../assets/gpu-check.sh");

/// Training images of the packaged Fashion-MNIST subset (the first ones of the training set).
const SUBSET_IMAGES: usize = 6000;

/// Runs `gpu-check` with its arguments.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut out = PathBuf::from("target/gpu-check");
    let mut features = String::from("wgpu");
    let mut package_only = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--package-only" => package_only = true,
            "--out" => out = iter.next().ok_or("--out needs a directory")?.into(),
            "--features" => features = iter.next().ok_or("--features needs a list")?.clone(),
            other => return Err(format!("gpu-check: unknown argument '{other}'")),
        }
    }
    crate::data::ensure_fashion_mnist()?;
    cargo::run(
        &[
            "build",
            "--release",
            "--package",
            "proxyless-cli",
            "--features",
            &features,
        ],
        &[],
    )?;
    package(&out)?;
    eprintln!(
        "xtask: packaged into {0}; on a GPU machine run `{0}/gpu-check.sh RESULTS_DIR`",
        out.display()
    );
    if package_only {
        return Ok(());
    }
    let status = Command::new(out.join("gpu-check.sh"))
        .arg(out.join("results"))
        .status()
        .map_err(|e| format!("cannot run the check script: {e}"))?;
    if !status.success() {
        return Err(format!("the check script failed ({status})"));
    }
    Ok(())
}

/// Copies the binary, the script and the data subset into `out`.
fn package(out: &Path) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    fs::create_dir_all(out.join("fashion-mnist")).map_err(|e| io(&out.display().to_string(), e))?;
    let binary = out.join("proxyless");
    fs::copy("target/release/proxyless", &binary).map_err(|e| io("copying the binary", e))?;
    let script = out.join("gpu-check.sh");
    fs::write(&script, SCRIPT).map_err(|e| io(&script.display().to_string(), e))?;
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .map_err(|e| io("chmod", e))?;
    let source = Path::new(crate::data::DIR);
    let target = out.join("fashion-mnist");
    idx_prefix(
        &source.join("train-images-idx3-ubyte.gz"),
        &target.join("train-images-idx3-ubyte"),
        16,
        28 * 28,
    )?;
    idx_prefix(
        &source.join("train-labels-idx1-ubyte.gz"),
        &target.join("train-labels-idx1-ubyte"),
        8,
        1,
    )
}

/// Writes the first [`SUBSET_IMAGES`] records of a gzipped idx file, uncompressed, with the
/// count in its header changed to match.
fn idx_prefix(source: &Path, target: &Path, header: usize, record: usize) -> Result<(), String> {
    let output = Command::new("gzip")
        .arg("-dc")
        .arg(source)
        .output()
        .map_err(|e| format!("cannot run gzip on {}: {e}", source.display()))?;
    if !output.status.success() {
        return Err(format!("gzip could not read {}", source.display()));
    }
    let bytes = output.stdout;
    let end = header + SUBSET_IMAGES * record;
    if bytes.len() < end {
        return Err(format!(
            "{} holds fewer than {SUBSET_IMAGES} records",
            source.display()
        ));
    }
    let mut subset = bytes[..end].to_vec();
    subset[4..8].copy_from_slice(&(SUBSET_IMAGES as u32).to_be_bytes());
    fs::write(target, subset).map_err(|e| format!("{}: {e}", target.display()))
}
