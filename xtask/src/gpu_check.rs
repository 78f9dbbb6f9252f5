//! `cargo xtask gpu-check [--package-only] [--out DIR] [--features LIST]... [--libtorch DIR]`:
//! build `proxyless` with the GPU backends (flex stays in as the parity reference), package the
//! binaries with the check script and a Fashion-MNIST subset into a directory that runs on a GPU
//! machine without a Rust toolchain, and (unless `--package-only`) run the checks here.
//!
//! Each `--features LIST` is one binary (default: one, `wgpu`): the first is `proxyless`, the
//! others `proxyless-<first feature>`. They are separate binaries because a build with `vulkan`
//! also compiles wgpu's Vulkan path through SPIR-V, so `wgpu` alone is the only build that keeps
//! the WGSL path. `--libtorch DIR` adds `proxyless-tch`, built against the LibTorch in `DIR` (the
//! `torch` folder of the PyTorch wheel the GPU machine has, whose CUDA libraries need not be
//! here: they are looked up on the GPU machine when the binary starts).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo;

/// The script the package runs (see its header).
const SCRIPT: &str = include_str!("../assets/gpu-check.sh");

/// Training images of the packaged Fashion-MNIST subset (the first ones of the training set).
const SUBSET_IMAGES: usize = 6000;

/// The target directory of the LibTorch build (its own: `torch-sys` is built against another
/// LibTorch than the one `cargo xtask <command> --backend tch` uses).
const LIBTORCH_TARGET_DIR: &str = "target/tch-cuda";

/// Runs `gpu-check` with its arguments.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut out = PathBuf::from("target/gpu-check");
    let mut feature_lists: Vec<String> = Vec::new();
    let mut libtorch: Option<PathBuf> = None;
    let mut package_only = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--package-only" => package_only = true,
            "--out" => out = iter.next().ok_or("--out needs a directory")?.into(),
            "--features" => {
                feature_lists.push(iter.next().ok_or("--features needs a list")?.clone())
            }
            "--libtorch" => {
                libtorch = Some(iter.next().ok_or("--libtorch needs a directory")?.into())
            }
            other => return Err(format!("gpu-check: unknown argument '{other}'")),
        }
    }
    if feature_lists.is_empty() {
        feature_lists.push("wgpu".into());
    }
    crate::data::ensure_fashion_mnist()?;
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    remove_old_binaries(&out)?;
    for (i, features) in feature_lists.iter().enumerate() {
        for feature in features.split(',') {
            if crate::backend::feature(feature)? == "cuda" {
                crate::llvm::ensure_for_cuda()?;
            }
        }
        let features: Vec<String> = features
            .split(',')
            .map(crate::backend::build_features)
            .collect();
        cargo::run(&build_args(&features.join(",")), &[])?;
        let name = match i {
            0 => "proxyless".to_string(),
            _ => format!(
                "proxyless-{}",
                features[0].split(',').next().unwrap_or("other")
            ),
        };
        copy_binary(Path::new("target/release/proxyless"), &out.join(name))?;
    }
    if let Some(dir) = libtorch {
        build_against_libtorch(&dir)?;
        copy_binary(
            &Path::new(LIBTORCH_TARGET_DIR).join("release/proxyless"),
            &out.join("proxyless-tch"),
        )?;
    }
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

/// Removes the binaries of an earlier package, which the script would run too.
fn remove_old_binaries(out: &Path) -> Result<(), String> {
    let entries = fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("proxyless") {
            fs::remove_file(entry.path())
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// `cargo build` of the release `proxyless` with these features.
fn build_args(features: &str) -> Vec<&str> {
    vec![
        "build",
        "--release",
        "--package",
        "proxyless-cli",
        "--features",
        features,
    ]
}

/// Builds `proxyless` with `tch` against the LibTorch in `dir` (a wheel's `torch` folder).
fn build_against_libtorch(dir: &Path) -> Result<(), String> {
    for needed in ["include", "lib/libtorch_cpu.so"] {
        if !dir.join(needed).exists() {
            return Err(format!(
                "--libtorch {}: no {needed} there (give the `torch` folder of a PyTorch wheel)",
                dir.display()
            ));
        }
    }
    let libtorch = fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    cargo::run(
        &build_args("tch"),
        &[
            ("CARGO_TARGET_DIR", LIBTORCH_TARGET_DIR.to_string()),
            ("LIBTORCH", libtorch.display().to_string()),
            // The wheel's version need not be the one `tch` was written for: the binary runs
            // against that same wheel on the GPU machine.
            ("LIBTORCH_BYPASS_VERSION_CHECK", "1".to_string()),
            // libtorch_cuda.so needs CUDA's libraries, which only the GPU machine has.
            (
                "RUSTFLAGS",
                "-C link-arg=-Wl,--allow-shlib-undefined".to_string(),
            ),
        ],
    )
}

/// Copies a built binary into the package, without its symbols (a third of the size).
fn copy_binary(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    let stripped = Command::new("strip").arg(to).status();
    if !matches!(stripped, Ok(s) if s.success()) {
        eprintln!("xtask: could not strip {} (kept as it is)", to.display());
    }
    Ok(())
}

/// Copies the script and the data subset into `out`.
fn package(out: &Path) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    fs::create_dir_all(out.join("fashion-mnist")).map_err(|e| io(&out.display().to_string(), e))?;
    let script = out.join("gpu-check.sh");
    fs::write(&script, SCRIPT).map_err(|e| io(&script.display().to_string(), e))?;
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .map_err(|e| io("chmod", e))?;
    // The paper's CIFAR-10 tree net, which the script builds and trains on every GPU backend.
    let cifar_net = out.join("proxyless_cifar.json");
    fs::copy("configs/nets/proxyless_cifar.json", &cifar_net)
        .map_err(|e| io(&cifar_net.display().to_string(), e))?;
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
