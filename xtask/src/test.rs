//! `cargo xtask test [--cpu-only] [--no-compile-check] [--slurm] [cargo test args]`: the whole suite,
//! built once with every backend CI covers: flex (the default), ndarray and wgpu. Without a
//! GPU, wgpu runs on Mesa's software Vulkan driver (Debian: `mesa-vulkan-drivers`). With
//! PyTorch importable (installed as root when missing), the parity tests against PyTorch must
//! run: they fail rather than skip. Then the backends that cannot run here are compiled
//! (`cargo check` of `proxyless` with `vulkan`, `cuda` and `tch`, in `target/check`): `cuda`
//! when a local LLVM is there (see `llvm.rs`; installed with apt as root), `tch` when the
//! PyTorch it builds against is. `--slurm` also runs a study's Slurm jobs on a real
//! single-node Slurm (`crates/cli/tests/slurm.rs`; Debian's slurm-wlm and munge, as root).

use crate::cargo;

/// Runs `cargo test` over the workspace with `ndarray` and (unless `--cpu-only`) `wgpu`
/// compiled in beside the default `flex`, so the backend tests (parity) run on each.
pub fn run(extra: &[String]) -> Result<(), String> {
    let cpu_only = extra.iter().any(|a| a == "--cpu-only");
    let compile_check = !extra.iter().any(|a| a == "--no-compile-check");
    let slurm = extra.iter().any(|a| a == "--slurm");
    crate::data::ensure_chromium()?;
    let rest: Vec<&str> = extra
        .iter()
        .map(String::as_str)
        .filter(|a| !["--cpu-only", "--no-compile-check", "--slurm"].contains(a))
        .collect();
    let features = if cpu_only {
        "proxyless-cli/ndarray"
    } else {
        crate::data::ensure_vulkan_driver()?;
        "proxyless-cli/ndarray,proxyless-cli/wgpu"
    };
    let mut envs = crate::backend::run_env("wgpu");
    // Burn's `Device::default()` is the first compiled of cuda, vulkan, wgpu, ..., flex: with
    // wgpu in this build, every library test on the default device would run on the software
    // driver, compiling and tuning fused kernels for each new shape (hours). They run on flex,
    // as in a build of their own crate; the tests of wgpu name it (`--backend wgpu`).
    envs.push(("BURN_DEVICE", "flex".into()));
    let has_torch = crate::data::ensure_pytorch();
    if has_torch {
        envs.push(("PROXYLESS_REQUIRE_TORCH", "1".into()));
    }
    if crate::data::ensure_onnx_runtime() {
        envs.push(("PROXYLESS_REQUIRE_ONNX", "1".into()));
    }
    if slurm {
        crate::data::ensure_slurm()?;
    }
    let mut args = vec!["test", "--workspace", "--features", features];
    args.extend(rest);
    cargo::run(&args, &envs)?;
    if slurm {
        let args = [
            "test",
            "--workspace",
            "--features",
            features,
            "--test",
            "slurm",
            "--",
            "--ignored",
        ];
        cargo::run(&args, &envs)?;
    }
    embedding_project()?;
    library_packages()?;
    if compile_check {
        check_other_backends(has_torch)?;
    }
    Ok(())
}

/// The embedding promise: `tests/embed`, a Burn project outside the workspace that depends on
/// `proxyless-space` and `proxyless-supernet` by path, builds (in `target/embed`, with only
/// Burn's Flex backend) and searches its own model; it fails when the search did not learn.
fn embedding_project() -> Result<(), String> {
    let root = crate::repo_root();
    let manifest = root.join("tests/embed/Cargo.toml");
    let target = root.join("target/embed");
    cargo::run(
        &[
            "run",
            "--locked",
            "--manifest-path",
            &manifest.display().to_string(),
        ],
        &[("CARGO_TARGET_DIR", target.display().to_string())],
    )
}

/// The library crates package (`cargo package`): every file a crate embeds lies inside it.
/// Unverified here (a verified package builds Burn again); `cargo package --workspace
/// --exclude proxyless-tests --exclude proxyless-fuzz --exclude xtask` verifies. The fuzzer
/// is a tool of this repository (its seeds are the repository's files), not a package.
fn library_packages() -> Result<(), String> {
    cargo::run(
        &[
            "package",
            "--workspace",
            "--exclude",
            "proxyless-tests",
            "--exclude",
            "proxyless-fuzz",
            "--exclude",
            "xtask",
            "--no-verify",
            "--allow-dirty",
            "--quiet",
        ],
        &[],
    )
}

/// `cargo check` of the binary with the backends the tests cannot run here, in a target
/// directory of its own (other features than the tests' build; no code generation).
fn check_other_backends(has_torch: bool) -> Result<(), String> {
    let mut features = vec!["vulkan"];
    let mut envs = vec![("CARGO_TARGET_DIR", "target/check".to_string())];
    if crate::llvm::ensure_for_cuda_offline()? {
        features.push("cuda");
    } else {
        eprintln!("xtask: the compile check leaves cuda out: no LLVM to link (see above)");
    }
    // Burn's `tch` builds against exactly the PyTorch the parity tests install.
    let tch_torch = crate::data::TORCH.trim_start_matches("torch==");
    if has_torch && crate::data::torch_version().is_some_and(|v| v.starts_with(tch_torch)) {
        features.push("tch");
        envs.extend(crate::backend::run_env("tch"));
    } else {
        eprintln!(
            "xtask: the compile check leaves tch out: it builds against PyTorch {tch_torch}, \
             which python3 does not import"
        );
    }
    let features = features.join(",");
    cargo::run(
        &[
            "check",
            "--package",
            "proxyless-cli",
            "--features",
            &features,
        ],
        &envs,
    )
}
