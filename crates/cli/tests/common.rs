//! Running the `proxyless` binary from integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under the repository root, as a string argument.
pub fn repo_file(relative: &str) -> String {
    repo_root().join(relative).display().to_string()
}

/// Runs `proxyless args...`.
pub fn proxyless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proxyless"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the proxyless binary runs")
}

/// Runs `proxyless args...`, expects success, returns standard output.
pub fn success(args: &[&str]) -> String {
    let out = proxyless(args);
    assert!(
        out.status.success(),
        "proxyless {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `proxyless args...`, expects a clean failure (non-zero exit, no panic) whose message
/// contains every one of `expected`; returns standard error.
pub fn failure(args: &[&str], expected: &[&str]) -> String {
    let out = proxyless(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "proxyless {args:?} should fail");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "proxyless {args:?} panicked: {stderr}"
    );
    for needle in expected {
        assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    }
    stderr
}

/// A search of the `fmnist` space on a few synthetic images, architecture mode `mode`, that
/// finishes in seconds.
pub fn small_search_config(mode: &str, update_every: usize) -> String {
    format!(
        r#"
space = "fmnist"
seed = 2
[data]
dataset = "synthetic"
holdout = 20
batch_size = 16
arch_batch_size = 16
synthetic_per_class = 8
[schedule]
warmup_epochs = 1
epochs = 1
arch_delay_epochs = 0
log_every = 2
[arch]
mode = "{mode}"
update_every = {update_every}
[target]
cost = "macs"
reference = 3.0
"#
    )
}

/// [`small_search_config`] on the tiny space (`crates/search/tests/tiny.toml`: 12x12 inputs,
/// 4 classes, 80 synthetic images as there, the linear cost loss): what the tests on wgpu
/// search, since Mesa's software driver compiles and tunes kernels for every new shape,
/// minutes per space.
pub fn tiny_search_config(mode: &str, update_every: usize) -> String {
    let tiny = repo_file("crates/search/tests/tiny.toml");
    small_search_config(mode, update_every)
        .replace("space = \"fmnist\"", &format!("space = {tiny:?}"))
        .replace("synthetic_per_class = 8", "synthetic_per_class = 20")
        // Its networks cost 0.014 to 0.099 MMACs: below 1, where mul#log has no value.
        .replace("reference = 3.0", "loss = \"add#linear\"\nreference = 0.05")
}

/// The top class of every line of `predict --json`'s output.
pub fn top_classes(json_lines: &str) -> Vec<u64> {
    json_lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["top"][0]["class"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// A study of two tiny searches on synthetic images, one training seed, one epoch.
pub fn tiny_study(dir: &std::path::Path) -> String {
    std::fs::write(
        dir.join("search.toml"),
        small_search_config("two", 2)
            .replace("synthetic_per_class = 8", "synthetic_per_class = 16"),
    )
    .unwrap();
    let study = dir.join("study.toml");
    std::fs::write(
        &study,
        r#"
search = "search.toml"
search_seeds = [0, 1]
random_per_search = 2
train_seeds = [3]
train_epochs = 1
test_limit = 40
latency_batch = 2
latency_runs = 3
"#,
    )
    .unwrap();
    study.display().to_string()
}

/// A record without what differs between two runs of the same study: the wall times and
/// the measured latencies.
pub fn without_times(record: &serde_json::Value) -> serde_json::Value {
    let mut r = record.clone();
    for search in r["searches"].as_array_mut().unwrap() {
        search["seconds"] = serde_json::Value::Null;
    }
    for net in r["nets"].as_array_mut().unwrap() {
        net["train_seconds"] = serde_json::Value::Null;
        net["measured_ms"] = serde_json::Value::Null;
    }
    r
}
