//! `cargo xtask test [--cpu-only] [cargo test args]`: the whole suite, built once with every
//! backend CI covers: flex (the default), ndarray and wgpu. Without a GPU, wgpu runs on Mesa's
//! software Vulkan driver (Debian: `mesa-vulkan-drivers`). With PyTorch importable (installed
//! as root when missing), the parity tests against PyTorch must run: they fail rather than
//! skip.

use crate::cargo;

/// Runs `cargo test` over the workspace with `ndarray` and (unless `--cpu-only`) `wgpu`
/// compiled in beside the default `flex`, so the backend tests (parity) run on each.
pub fn run(extra: &[String]) -> Result<(), String> {
    let cpu_only = extra.iter().any(|a| a == "--cpu-only");
    crate::data::ensure_chromium()?;
    let rest: Vec<&str> = extra
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--cpu-only")
        .collect();
    let features = if cpu_only {
        "proxyless-cli/ndarray"
    } else {
        crate::data::ensure_vulkan_driver()?;
        "proxyless-cli/ndarray,proxyless-cli/wgpu"
    };
    let mut envs = crate::backend::run_env("wgpu");
    if crate::data::ensure_pytorch() {
        envs.push(("PROXYLESS_REQUIRE_TORCH", "1".into()));
    }
    let mut args = vec!["test", "--workspace", "--features", features];
    args.extend(rest);
    cargo::run(&args, &envs)
}
