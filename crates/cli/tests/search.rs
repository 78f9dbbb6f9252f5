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
    // The process's memory, one line per epoch (Linux), its peak at least what stayed.
    #[cfg(target_os = "linux")]
    {
        let memory = std::fs::read_to_string(run.join("memory.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = memory
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{memory}");
        for (epoch, line) in lines.iter().enumerate() {
            assert_eq!(line["epoch"], epoch);
            let (peak, now) = (line["peak_rss_mib"].as_f64(), line["rss_mib"].as_f64());
            assert!(
                now.unwrap() > 1.0 && peak.unwrap() >= now.unwrap(),
                "{line}"
            );
        }
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
    // The tiny space's networks cost under 1 MMAC, where mul#log's ln(cost) is not positive.
    std::fs::write(
        &config,
        common::tiny_search_config("two", 2)
            .replace("loss = \"add#linear\"\nreference = 0.05", "reference = 3.0"),
    )
    .unwrap();
    failure(
        &[
            "search",
            "--config",
            &c,
            "--out",
            &dir.path().join("run").display().to_string(),
        ],
        &[
            "bad.toml",
            "target.loss = \"mul#log\"",
            "0.0140 to 0.0988 MMACs",
        ],
    );
    assert!(!dir.path().join("run").exists(), "nothing written");
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

/// Whether `run` has a checkpoint folder being written.
fn writing_checkpoint(run: &std::path::Path) -> bool {
    std::fs::read_dir(run.join("checkpoints")).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    })
}

/// SIGKILL while checkpoints are being written, then resumed: the search ends with the
/// uninterrupted one's weights, α and architecture (`cargo xtask chaos` does this at many
/// more moments, for the REINFORCE variant and training too).
#[test]
fn a_search_killed_while_writing_checkpoints_resumes_to_the_same_end() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    let text = common::small_search_config("full_v2", 1).replace(
        "log_every = 2",
        "log_every = 2\ncheckpoint_every_steps = 1\nkeep_checkpoints = 3",
    );
    std::fs::write(&config, text).unwrap();
    let c = config.display().to_string();
    let reference = dir.path().join("reference");
    success(&[
        "search",
        "--config",
        &c,
        "--out",
        reference.to_str().unwrap(),
        "--quiet",
    ]);

    let run = dir.path().join("killed");
    let r = run.display().to_string();
    let mut kills = 0;
    loop {
        let args: Vec<&str> = if kills == 0 {
            vec!["search", "--config", &c, "--out", &r, "--quiet"]
        } else {
            vec!["search", "--resume", &r, "--quiet"]
        };
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_proxyless"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ended = loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "{args:?}: {status}");
                break true;
            }
            if kills < 2 && writing_checkpoint(&run) {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                break false;
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        };
        if ended {
            break;
        }
    }
    assert!(kills >= 1, "no checkpoint write was caught");
    let summary = |r: &std::path::Path, key: &str| {
        let text = std::fs::read_to_string(r.join("final/summary.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v[key].clone()
    };
    for key in [
        "weights_fingerprint",
        "architecture",
        "expected_cost",
        "holdout_accuracy",
    ] {
        assert_eq!(
            summary(&run, key),
            summary(&reference, key),
            "{key} after {kills} kills"
        );
    }
    assert!(summary(&run, "weights_fingerprint").is_string());
    assert_eq!(
        std::fs::read_to_string(run.join("alpha.jsonl")).unwrap(),
        std::fs::read_to_string(reference.join("alpha.jsonl")).unwrap()
    );
}

#[test]
fn a_mixed_precision_search_runs_where_the_backend_has_bf16() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    std::fs::write(&config, common::small_search_config("full_v2", 2)).unwrap();
    let c = config.display().to_string();
    let run = dir.path().join("run");
    let r = run.display().to_string();
    let bf16 = ["--set", "weights.precision=bf16"];
    let out = success(
        &[
            &[
                "search",
                "--config",
                &c,
                "--out",
                &r,
                "--quiet",
                "--stop-after-steps",
                "3",
            ][..],
            &bf16,
        ]
        .concat(),
    );
    assert!(out.contains("stopped as asked"), "{out}");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(saved.contains("precision = \"bf16\""), "{saved}");
    // wgpu's shading language has no bf16: refused before anything runs, naming the key.
    if success(&["backends"]).lines().any(|b| b == "wgpu") {
        failure(
            &[&["--backend", "wgpu", "search", "--config", &c][..], &bf16].concat(),
            &["weights.precision", "bf16", "f32"],
        );
    }
}
