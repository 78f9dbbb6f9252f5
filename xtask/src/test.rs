//! `cargo xtask test [--cpu-only] [cargo test args]`: the whole suite, built once with every
//! backend CI covers: flex (the default), ndarray and wgpu. Without a GPU, wgpu runs on Mesa's
//! software Vulkan driver (Debian: `mesa-vulkan-drivers`).

use std::path::Path;

use crate::cargo;

/// Runs `cargo test` over the workspace with `ndarray` and (unless `--cpu-only`) `wgpu`
/// compiled in beside the default `flex`, so the backend tests (parity) run on each.
pub fn run(extra: &[String]) -> Result<(), String> {
    let cpu_only = extra.iter().any(|a| a == "--cpu-only");
    let rest: Vec<&str> = extra
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--cpu-only")
        .collect();
    let features = if cpu_only {
        "proxyless-cli/ndarray"
    } else {
        if !has_vulkan_driver() {
            return Err(
                "no Vulkan driver found for the wgpu tests (no ICD file under \
                 /usr/share/vulkan/icd.d or /etc/vulkan/icd.d, and VK_DRIVER_FILES is unset); \
                 install one (Debian: `apt-get install mesa-vulkan-drivers`, a software \
                 driver) or run `cargo xtask test --cpu-only`"
                    .into(),
            );
        }
        "proxyless-cli/ndarray,proxyless-cli/wgpu"
    };
    let mut args = vec!["test", "--workspace", "--features", features];
    args.extend(rest);
    cargo::run(&args, &crate::backend::run_env("wgpu"))
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
