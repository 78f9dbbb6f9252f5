//! `proxyless bench` end to end on the tiny space: every case runs in its own process, once per
//! round, and the report holds them all, the rounds' times pooled, with the child step as the
//! reference of the ratios.

mod common;

use common::{repo_file, success};

#[test]
fn bench_reports_every_case_against_the_child_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = out.display().to_string();
    let tiny = repo_file("crates/search/tests/tiny.toml");
    let printed = success(&[
        "bench", "--space", &tiny, "--batch", "4", "--steps", "1", "--warmup", "0", "--rounds",
        "2", "--out", &o,
    ]);
    assert!(printed.contains("| supernet weight step |"), "{printed}");
    let reports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(reports[0]["rounds"], 2);
    let cases = reports[0]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    assert_eq!(cases[0]["name"], "child network step");
    assert_eq!(cases[6]["name"], "child network step, Burn's ops only");
    assert_eq!(cases[0]["time_ratio"].as_f64(), Some(1.0));
    for case in cases {
        assert!(case["median_ms"].as_f64().unwrap() > 0.0, "{case}");
        assert!(case["images_per_second"].as_f64().unwrap() > 0.0, "{case}");
    }
    let markdown = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert_eq!(markdown.matches("| architecture step (").count(), 3);
    assert!(markdown.contains("2 rounds of 1 timed steps"), "{markdown}");
    common::failure(
        &["bench", "--space", "fmnist@0", "--out", &o],
        &["fmnist@0", "positive resolution"],
    );
}

/// A case on wgpu (Mesa's software driver without a GPU) counts the kernels its steps launch;
/// on flex, which launches none, the count is absent rather than zero.
#[test]
fn a_case_counts_kernel_launches_on_wgpu_and_none_on_flex() {
    let tiny = repo_file("crates/search/tests/tiny.toml");
    let case = |backend: &str| -> serde_json::Value {
        let printed = success(&[
            "--backend",
            backend,
            "bench",
            "--space",
            &tiny,
            "--batch",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--case",
            "child",
        ]);
        serde_json::from_str(printed.trim()).unwrap()
    };
    assert!(case("flex")["launches_per_step"].is_null());
    if !success(&["backends"]).lines().any(|b| b == "wgpu") {
        return;
    }
    let launches = case("wgpu")["launches_per_step"].as_f64();
    assert!(launches.is_some_and(|n| n >= 1.0), "{launches:?}");
}

/// The GPU build as users get it, on wgpu (Mesa's software driver where there is no GPU):
/// Burn's kernel fusion is on, so six element-wise operations, six launches without fusion,
/// run as one fused kernel (and what the read-back needs), with the values the CPU computes.
/// In this process alone no other test runs kernels (the others run the binary), so the
/// process-wide count is this test's.
#[cfg(feature = "wgpu")]
#[test]
fn fusion_runs_a_chain_of_element_wise_operations_as_few_kernels() {
    use burn::prelude::*;
    use burn::tensor::DeviceKind;
    use proxyless_bench::launches::count_launches;

    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let values: Vec<f32> = (0..256).map(|i| i as f32 / 32.0 - 4.0).collect();
    let x = Tensor::<1>::from_floats(values.as_slice(), &device).reshape([16, 16]);
    device.sync().expect("the upload finishes");
    let chain = |x: Tensor<2>| ((x.clone() * 2.0 + 1.0).clamp(0.0, 6.0) - x).exp() / 3.0;
    let (out, launches) = count_launches(|| chain(x).into_data());
    let launches = launches.expect("kernels are counted on wgpu");
    assert!(
        launches <= 2,
        "{launches} launches for six element-wise operations: is fusion on?"
    );
    let out = out.try_into_vec::<f32>().expect("f32 values");
    for (got, x) in out.iter().zip(&values) {
        let want = ((x * 2.0 + 1.0).clamp(0.0, 6.0) - x).exp() / 3.0;
        // f32 on both sides; exp's relative error on the GPU is a few ulps.
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
}

/// With `--vs-pytorch` every step PyTorch has (the child, the weight step and the three
/// gradient modes) gets PyTorch's median and our ratio to it, from the embedded references.
#[test]
fn vs_pytorch_puts_pytorchs_time_beside_every_supernet_step() {
    let python = std::env::var("PROXYLESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let torch = std::process::Command::new(&python)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !torch {
        assert!(
            std::env::var_os("PROXYLESS_REQUIRE_TORCH").is_none(),
            "PROXYLESS_REQUIRE_TORCH is set but {python} cannot import torch"
        );
        eprintln!("skipped: {python} cannot import torch");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = out.display().to_string();
    let tiny = repo_file("crates/search/tests/tiny.toml");
    success(&[
        "bench",
        "--space",
        &tiny,
        "--batch",
        "4",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--rounds",
        "1",
        "--vs-pytorch",
        "--python",
        &python,
        "--out",
        &o,
    ]);
    let reports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    let cases = reports[0]["cases"].as_array().unwrap();
    let with_torch: Vec<&str> = cases
        .iter()
        .filter(|c| c["pytorch_ms"].as_f64().is_some_and(|ms| ms > 0.0))
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        with_torch,
        [
            "child network step",
            "supernet weight step",
            "architecture step (two)",
            "architecture step (full)",
            "architecture step (full_v2)"
        ]
    );
    let markdown = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(
        markdown.contains("| PyTorch ms | ours / PyTorch |"),
        "{markdown}"
    );
    assert!(markdown.contains("(PyTorch: "), "{markdown}");
}

#[test]
fn the_loader_bench_measures_a_generated_folder_and_the_steps_it_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loader");
    let o = out.display().to_string();
    // 40 generated JPEGs, 16-image batches, and the cifar10 space's supernet (32 px, RGB)
    // stepping on them.
    let printed = success(&[
        "bench",
        "--loader",
        "--quick",
        "--loader-images",
        "40",
        "--space",
        "cifar10",
        "--out",
        &o,
        "--quiet",
    ]);
    assert!(
        printed.contains("| train (RandomResizedCrop, flip, jitter) |"),
        "{printed}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("loader.json")).unwrap()).unwrap();
    assert_eq!(
        (
            report["folder_images"].as_u64(),
            report["resolution"].as_u64()
        ),
        (Some(40), Some(32))
    );
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["images"], 32, "{run}");
        assert!(run["images_per_s"].as_f64().unwrap() > 0.0, "{run}");
    }
    let feed = &report["feed"];
    assert_eq!(
        (feed["space"].as_str(), feed["steps"].as_u64()),
        (Some("cifar10"), Some(2))
    );
    assert!(feed["ratio"].as_f64().unwrap() > 0.0, "{feed}");
    assert!(
        printed.contains("Search steps fed by the loader"),
        "{printed}"
    );
    common::failure(
        &[
            "bench",
            "--loader",
            "--quick",
            "--loader-images",
            "20",
            "--space",
            "fmnist",
            "--out",
            &o,
        ],
        &["fmnist", "1 channels"],
    );
}
