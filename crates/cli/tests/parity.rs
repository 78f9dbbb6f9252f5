//! Backend parity: every backend compiled into the test binary gives the reference's logits,
//! loss, weight and architecture gradients, SGD step and inference logits within the stated
//! tolerances, on the fmnist and cifar10 spaces (wgpu: fmnist).

mod common;

use common::{failure, proxyless, success};
use serde_json::Value;

/// The backends besides flex that this test binary holds.
fn other_backends() -> Vec<String> {
    success(&["backends"])
        .lines()
        // tch-cuda is the tch feature's CUDA device: `cargo xtask gpu-check` runs it on a GPU.
        .filter(|b| *b != "flex" && *b != "tch-cuda")
        .map(String::from)
        .collect()
}

fn parity(backend: &str, space: &str) -> Value {
    let out = proxyless(&[
        "--backend",
        backend,
        "parity",
        "--space",
        space,
        "--batch",
        "4",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "parity on {backend} printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "{backend} differs from flex: {}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    report
}

/// Parity of every compiled backend that `on_cubecl` selects (CubeCL's or the others), so
/// that the two groups run as two tests at once.
fn compiled_backends_match_flex(on_cubecl: bool) {
    let backends: Vec<String> = other_backends()
        .into_iter()
        .filter(|b| ["wgpu", "vulkan", "cuda"].contains(&b.as_str()) == on_cubecl)
        .collect();
    for backend in backends {
        // wgpu on the software driver compiles and tunes fused kernels for every new shape
        // (minutes per space, 278 s for fmnist from an empty cache): one space there.
        let spaces: &[&str] = if on_cubecl {
            &["fmnist"]
        } else {
            &["fmnist", "cifar10"]
        };
        for &space in spaces {
            let report = parity(&backend, space);
            let checks = report["checks"].as_array().unwrap();
            assert_eq!(checks.len(), 9);
            // Forward values agree closely on every backend; all checks passed.
            for check in checks {
                assert_eq!(check["passed"], true, "{check}");
            }
            let logits = &checks[0];
            assert!(logits["relative_diff"].as_f64().unwrap() < 1e-4, "{logits}");
        }
    }
}

#[test]
fn every_compiled_cpu_backend_matches_flex() {
    assert!(
        other_backends().iter().any(|b| b == "ndarray"),
        "the test build includes ndarray (cargo xtask test)"
    );
    compiled_backends_match_flex(false);
}

#[test]
fn every_compiled_cubecl_backend_matches_flex() {
    compiled_backends_match_flex(true);
}

#[test]
fn flex_against_itself_is_exact() {
    let report = parity("flex", "fmnist");
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["max_abs_diff"].as_f64(), Some(0.0), "{check}");
    }
}

#[test]
fn zero_tolerances_leave_the_noise_floor_and_bad_batches_fail() {
    // ndarray's reductions run in another order than flex's: with no tolerance, each
    // difference is still accepted within ten times the noise floor that the reference
    // measures against itself (`a_difference_beyond_tolerance_and_noise_fails` in
    // proxyless-bench tests the failure itself).
    let out = success(&[
        "--backend",
        "ndarray",
        "parity",
        "--forward-tolerance",
        "0",
        "--gradient-tolerance",
        "0",
        "--space",
        "fmnist",
        "--batch",
        "4",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checks = report["checks"].as_array().expect("a list of checks");
    assert!(checks.len() >= 8, "{out}");
    for c in checks {
        let (diff, noise) = (
            c["relative_diff"].as_f64().unwrap(),
            c["noise_floor"].as_f64().unwrap(),
        );
        assert!(diff <= 10.0 * noise, "{c}");
        assert_eq!(c["tolerance"].as_f64(), Some(0.0), "{c}");
    }
    assert!(
        checks
            .iter()
            .any(|c| c["relative_diff"].as_f64().unwrap() > 0.0),
        "{out}"
    );
    failure(&["parity", "--batch", "1"], &["--batch must be at least 2"]);
}
