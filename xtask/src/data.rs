//! What the main job and the tests need from the system: Fashion-MNIST from Debian's
//! `dataset-fashion-mnist` package, a Vulkan driver (Mesa's software one,
//! `mesa-vulkan-drivers`, when there is no GPU) for the wgpu tests, and Chromium for the
//! report test. Each is installed with apt
//! when missing and this is root; otherwise the error gives the command to run. PyTorch
//! (`torch==2.9.0` and `safetensors`, from PyPI) for the parity tests against the independent
//! PyTorch implementation is installed with pip as root, and otherwise those tests skip.

use std::path::Path;
use std::process::Command;

/// Where Debian's package puts the files.
pub const DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Installs `dataset-fashion-mnist` when the files are missing.
pub fn ensure_fashion_mnist() -> Result<(), String> {
    let present = |name: &str| {
        Path::new(DIR).join(format!("{name}.gz")).is_file() || Path::new(DIR).join(name).is_file()
    };
    if present("train-images-idx3-ubyte") && present("train-labels-idx1-ubyte") {
        return Ok(());
    }
    ensure_package(
        "dataset-fashion-mnist",
        &format!("Fashion-MNIST is not in {DIR}"),
        "or pass --data DIR holding the idx files",
    )
}

/// Installs `mesa-vulkan-drivers` when no Vulkan driver is installed or named.
pub fn ensure_vulkan_driver() -> Result<(), String> {
    if has_vulkan_driver() {
        return Ok(());
    }
    ensure_package(
        "mesa-vulkan-drivers",
        "no Vulkan driver for the wgpu tests (no ICD file under /usr/share/vulkan/icd.d or \
         /etc/vulkan/icd.d, and VK_DRIVER_FILES is unset)",
        "or run `cargo xtask test --cpu-only`",
    )
}

/// Installs Debian's Slurm and munge (`slurm-wlm munge`) for the single-node Slurm test when
/// `slurmctld` is not on the PATH.
pub fn ensure_slurm() -> Result<(), String> {
    if Path::new("/usr/sbin/slurmctld").is_file() && Path::new("/usr/sbin/munged").is_file() {
        return Ok(());
    }
    ensure_package(
        "slurm-wlm munge",
        "no Slurm for the single-node Slurm test (--slurm)",
        "or leave out --slurm",
    )
}

/// Installs Debian's `chromium` (the report test opens reports in it) when no Chromium is on
/// the PATH and `$CHROMIUM` is unset.
pub fn ensure_chromium() -> Result<(), String> {
    let found = std::env::var_os("CHROMIUM").is_some()
        || ["chromium", "chromium-browser"].iter().any(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found {
        return Ok(());
    }
    ensure_package(
        "chromium",
        "no Chromium for the report test (it opens a run's HTML report headless)",
        "or set CHROMIUM to a Chromium binary",
    )
}

/// The PyTorch the parity tests use; `tch` needs exactly this version too.
pub const TORCH: &str = "torch==2.9.0";

/// The ONNX checker and runtime the ONNX tests use.
pub const ONNX: [&str; 2] = ["onnx==1.23.2", "onnxruntime==1.32.0"];

/// Whether `python3` imports torch and safetensors, installing them with pip first when
/// they are missing and this is root. Without them the PyTorch parity tests skip.
pub fn ensure_pytorch() -> bool {
    ensure_python(
        "torch, safetensors",
        &[TORCH, "safetensors", "numpy"],
        "the PyTorch parity tests",
    )
}

/// Whether `python3` imports onnx and onnxruntime (with numpy and safetensors), installing
/// them with pip first when they are missing and this is root. Without them the ONNX Runtime
/// tests skip.
pub fn ensure_onnx_runtime() -> bool {
    ensure_python(
        "onnx, onnxruntime, numpy, safetensors",
        &[ONNX[0], ONNX[1], "numpy", "safetensors"],
        "the ONNX Runtime tests",
    )
}

/// Whether `python3` (or `PROXYLESS_PYTHON`) imports `modules`; if not and this is root,
/// installs `packages` with pip first.
fn ensure_python(modules: &str, packages: &[&str], purpose: &str) -> bool {
    let python = std::env::var("PROXYLESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let importable = || {
        Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if importable() {
        return true;
    }
    let list = packages.join(" ");
    if !is_root() {
        eprintln!(
            "xtask: {python} cannot import {modules}, so {purpose} skip; install them with `{python} -m pip install {list}`"
        );
        return false;
    }
    eprintln!("xtask: installing {list} with pip for {purpose}");
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "-q"])
        .args(packages)
        .status()
        .is_ok_and(|s| s.success());
    installed && importable()
}

/// The version of the PyTorch `python3` imports (`2.9.0+cu128`), if it imports one.
pub fn torch_version() -> Option<String> {
    python3_prints("import torch; print(torch.__version__)")
}

/// What `python3 -c code` prints, trimmed, if it succeeds and prints something.
pub fn python3_prints(code: &str) -> Option<String> {
    let out = Command::new("python3").args(["-c", code]).output().ok()?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !printed.is_empty()).then_some(printed)
}

/// Whether this process runs as root (and may install packages).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether a Vulkan driver (ICD) is installed or named.
fn has_vulkan_driver() -> bool {
    let named = ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    named
        || ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
            .iter()
            .filter_map(|d| std::fs::read_dir(Path::new(d)).ok())
            .flatten()
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "json"))
}

/// Installs Debian packages (`package`: names separated by spaces) with apt when this is
/// root; otherwise fails with `why`, the command to run and the `alternative`.
pub fn ensure_package(package: &str, why: &str, alternative: &str) -> Result<(), String> {
    let command = format!("apt-get install -y {package}");
    let is_root = is_root();
    let has_apt = Path::new("/usr/bin/apt-get").is_file();
    if !(is_root && has_apt) {
        return Err(format!(
            "{why}; install it with `sudo {command}` (Debian/Ubuntu), {alternative}"
        ));
    }
    eprintln!("xtask: {why}; running `{command}`");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(package.split_whitespace())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return Ok(());
    }
    let updated = Command::new("apt-get")
        .args(["update", "-q"])
        .status()
        .is_ok_and(|s| s.success());
    if updated && install() {
        return Ok(());
    }
    Err(format!(
        "could not install {package}; run `{command}` yourself, {alternative}"
    ))
}
