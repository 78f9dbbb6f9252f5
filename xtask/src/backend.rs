//! `--backend` names and the Cargo feature of the `proxyless` binary that compiles each in.

/// The Burn backend features the `proxyless` binary can be built with.
pub const BACKENDS: [&str; 6] = ["flex", "ndarray", "wgpu", "vulkan", "cuda", "tch"];

/// `--backend` names that are not a feature's name, with their feature.
const OTHER_NAMES: [(&str, &str); 1] = [("tch-cuda", "tch")];

/// Checks a backend name and returns its Cargo feature.
/// The features the project's own builds of a backend's binary enable: the backend's, and
/// for a CubeCL backend (wgpu, vulkan, cuda) the on-disk autotune cache (`autotune-cache`),
/// which the test suite leaves out.
pub fn build_features(feature: &str) -> String {
    match feature {
        "wgpu" | "vulkan" | "cuda" => format!("{feature},autotune-cache"),
        other => other.to_string(),
    }
}

pub fn feature(name: &str) -> Result<&'static str, String> {
    if let Some(feature) = BACKENDS.iter().find(|b| **b == name) {
        return Ok(feature);
    }
    OTHER_NAMES
        .iter()
        .find(|(other, _)| *other == name)
        .map(|(_, feature)| *feature)
        .ok_or_else(|| {
            let names: Vec<&str> = BACKENDS
                .iter()
                .copied()
                .chain(OTHER_NAMES.iter().map(|(n, _)| *n))
                .collect();
            format!(
                "unknown backend '{name}'; expected one of {}",
                names.join(", ")
            )
        })
}

/// Environment the backend needs to build and run.
pub fn run_env(name: &str) -> Vec<(&'static str, String)> {
    match name {
        // Kernel autotuning on a first run costs minutes (most of all on software drivers).
        "wgpu" | "vulkan" | "cuda" => {
            let mut env = vec![(
                "CUBECL_AUTOTUNE_LEVEL",
                std::env::var("CUBECL_AUTOTUNE_LEVEL").unwrap_or_else(|_| "minimal".into()),
            )];
            env.extend(runtime_dir().map(|dir| ("XDG_RUNTIME_DIR", dir)));
            env
        }
        // tch builds against the LibTorch of the installed PyTorch wheel (torch==2.9.0) and
        // finds its shared libraries at run time in the wheel's `torch/lib`.
        "tch" => {
            let mut env = vec![("LIBTORCH_USE_PYTORCH", "1".to_string())];
            if let Some(lib) = torch_lib_dir() {
                let path = match std::env::var("LD_LIBRARY_PATH") {
                    Ok(old) if !old.is_empty() => format!("{lib}:{old}"),
                    _ => lib,
                };
                env.push(("LD_LIBRARY_PATH", path));
            }
            env
        }
        _ => Vec::new(),
    }
}

/// A private `XDG_RUNTIME_DIR` when the environment has no usable one (a container, CI): the
/// Vulkan and EGL loaders print "XDG_RUNTIME_DIR is invalid or not set" once per device
/// otherwise. `None` when the variable already names a folder.
fn runtime_dir() -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return None;
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let dir = std::env::temp_dir().join(format!("proxyless-runtime-{user}"));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok()?;
    Some(dir.display().to_string())
}

/// `torch/lib` of the PyTorch that `python3` imports, if any.
fn torch_lib_dir() -> Option<String> {
    crate::data::python3_prints(
        "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
    )
}
