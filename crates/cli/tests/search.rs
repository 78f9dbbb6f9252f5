//! `proxyless search` end to end on a small synthetic task, and its errors.

mod common;

use common::{failure, success};

#[test]
fn a_small_search_writes_a_complete_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    std::fs::write(&config, common::small_search_config("two", 2)).unwrap();
    let run = dir.path().join("run");
    let (c, r) = (config.display().to_string(), run.display().to_string());
    let out = success(&["search", "--config", &c, "--out", &r, "--quiet"]);
    assert!(out.contains("architecture: "), "{out}");
    assert!(out.contains("MMACs"), "{out}");
    for file in [
        "config.toml",
        "space.toml",
        "metrics.jsonl",
        "alpha.jsonl",
        "final/architecture.txt",
        "final/architecture.json",
        "final/net.config",
        "final/summary.json",
        "final/architecture.svg",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    // The report: one heat-map group per choice block, every curve, the breakdown.
    assert!(out.contains("report: "), "{out}");
    let page = std::fs::read_to_string(run.join("report/index.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert_eq!(page.matches("class=\"heat-block\"").count(), 9);
    for picture in [
        "architecture.svg",
        "probabilities.svg",
        "loss.svg",
        "accuracy.svg",
        "holdout.svg",
        "entropy.svg",
        "cost.svg",
        "breakdown.svg",
    ] {
        assert!(run.join("report").join(picture).is_file(), "{picture}");
        assert!(page.contains(&format!("id=\"{picture}\"")), "{picture}");
    }
    // `proxyless report` rewrites it.
    let again = success(&["report", &r]);
    assert!(again.trim().ends_with("index.html"), "{again}");
    // The derived network is a valid net.config of the space, and `info` reads it.
    let net = run.join("final/net.config").display().to_string();
    let info = success(&["info", &net, "--resolution", "28"]);
    assert!(info.contains("total:"), "{info}");
    // The run's architecture converts back from its net.config.
    let text = success(&["convert", &net, "--space", "fmnist", "--to", "text"]);
    let saved = std::fs::read_to_string(run.join("final/architecture.txt")).unwrap();
    assert_eq!(text, saved);
    // A finished run resumes to the same result without training again.
    let again = success(&["search", "--resume", &r, "--quiet"]);
    assert!(again.contains(saved.trim()), "{again}");
}

#[test]
fn bad_configs_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let c = config.display().to_string();
    std::fs::write(
        &config,
        common::small_search_config("two", 2).replace("update_every = 2", "update_evry = 2"),
    )
    .unwrap();
    failure(&["search", "--config", &c], &["bad.toml", "update_evry"]);
    std::fs::write(
        &config,
        common::small_search_config("two", 2).replace("mode = \"two\"", "mode = \"three\""),
    )
    .unwrap();
    failure(&["search", "--config", &c], &["bad.toml", "three"]);
    std::fs::write(
        &config,
        common::small_search_config("two", 2).replace("reference = 3.0", "reference = 0.5"),
    )
    .unwrap();
    failure(
        &["search", "--config", &c],
        &["bad.toml", "target.reference"],
    );
    std::fs::write(&config, common::small_search_config("two", 2)).unwrap();
    failure(
        &["search", "--config", &c, "--set", "data.batch_size=0"],
        &["data.batch_size"],
    );
    // The Pixel 1 table covers the paper's ImageNet space only.
    failure(
        &["search", "--config", &c, "--set", "target.cost=pixel1"],
        &["table 'pixel1'", "no entry for key 'Conv-input:28x28x1"],
    );
}

#[test]
fn missing_data_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run").display().to_string();
    failure(
        &["search", "--data", "/nonexistent/fmnist", "--out", &out],
        &["/nonexistent/fmnist/train-images-idx3-ubyte", "not found"],
    );
    assert!(
        !dir.path().join("run").exists(),
        "no run directory for a failed start"
    );
}

#[test]
fn resume_needs_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    failure(&["search", "--resume", &d], &["not a search run directory"]);
}
