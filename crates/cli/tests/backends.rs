//! Every backend compiled into the test binary besides flex (ndarray, and wgpu where the test
//! build holds it, on a software Vulkan driver without a GPU) runs a latency profile and a
//! short search end to end through `--backend`.

mod common;

use common::{repo_file, success};

#[test]
fn every_compiled_backend_profiles_and_searches() {
    let backends: Vec<String> = success(&["backends"])
        .lines()
        // tch-cuda is the tch feature's CUDA device: `cargo xtask gpu-check` runs it on a GPU.
        .filter(|b| *b != "flex" && *b != "tch-cuda")
        .map(String::from)
        .collect();
    assert!(backends.iter().any(|b| b == "ndarray"), "{backends:?}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    std::fs::write(&config, common::tiny_search_config("full_v2", 1)).unwrap();
    let tiny = repo_file("crates/search/tests/tiny.toml");
    for backend in &backends {
        let table = dir.path().join(format!("{backend}.yaml"));
        let t = table.display().to_string();
        let out = success(&[
            "--backend",
            backend,
            "latency",
            "profile",
            "--space",
            &tiny,
            "--warmup",
            "1",
            "--runs",
            "2",
            "--out",
            &t,
        ]);
        assert!(out.contains(&format!("on {backend}")), "{out}");
        let text = std::fs::read_to_string(&table).unwrap();
        assert!(text.contains(&format!("# backend: {backend}")), "{text}");
        // 3 blocks: 2 identity positions sharing one shape (3 MBConv candidates) and one
        // strided block (3 candidates), plus the 4 fixed layers.
        assert_eq!(text.matches("mean:").count(), 2 * 3 + 4, "{text}");

        let run = dir.path().join(format!("run-{backend}"));
        let (c, r) = (config.display().to_string(), run.display().to_string());
        let out = success(&[
            "--backend",
            backend,
            "search",
            "--config",
            &c,
            "--out",
            &r,
            "--quiet",
        ]);
        assert!(out.contains("architecture: "), "{out}");
        assert!(run.join("final/net.config").is_file());
    }
}
