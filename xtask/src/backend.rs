//! `--backend` names: the Cargo feature of the `proxyless` binary that compiles each in.

/// The backends the `proxyless` binary can be built with; each name is also its feature.
pub const BACKENDS: [&str; 6] = ["flex", "ndarray", "wgpu", "vulkan", "cuda", "tch"];

/// Checks a backend name and returns its Cargo feature.
pub fn feature(name: &str) -> Result<&'static str, String> {
    BACKENDS
        .iter()
        .find(|b| **b == name)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown backend '{name}'; expected one of {}",
                BACKENDS.join(", ")
            )
        })
}

/// Environment the backend needs at run time.
pub fn run_env(name: &str) -> Vec<(&'static str, String)> {
    match name {
        // Kernel autotuning on a first run costs minutes (most of all on software drivers).
        "wgpu" | "vulkan" | "cuda" => vec![(
            "CUBECL_AUTOTUNE_LEVEL",
            std::env::var("CUBECL_AUTOTUNE_LEVEL").unwrap_or_else(|_| "minimal".into()),
        )],
        _ => Vec::new(),
    }
}
