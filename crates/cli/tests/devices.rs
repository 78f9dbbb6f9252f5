//! `--devices`: a search on two device handles of one backend (wgpu's default and CPU
//! adapters, where the test build holds wgpu) runs in gradient and REINFORCE modes and its
//! network trains on the two devices; lists this machine cannot serve are errors naming the
//! problem. (wgpu on Mesa's software driver is not bitwise repeatable even on one device, so
//! the determinism of data-parallel runs is tested on Flex, in `crates/search/tests`.)

mod common;

use common::{failure, success};

#[test]
fn device_lists_this_machine_cannot_serve_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run").display().to_string();
    // Flex has one device: the CPU.
    failure(
        &["search", "--devices", "2", "--out", &out],
        &["--devices 2: backend 'flex' has 1 device(s) on this machine"],
    );
    failure(
        &["search", "--devices", "flex:0,flex:0", "--out", &out],
        &["is listed twice"],
    );
    failure(
        &["search", "--devices", "cuda:0", "--out", &out],
        &["names backend 'cuda', but this run uses 'flex'"],
    );
    assert!(!dir.path().join("run").exists(), "nothing written");
}

const DEVICES: &str = "wgpu:default,wgpu:cpu";

/// A search of the tiny space on the two wgpu devices in `dir/name`.
fn two_device_search(
    dir: &std::path::Path,
    mode: &str,
    algorithm: &str,
    name: &str,
) -> std::path::PathBuf {
    let devices = DEVICES;
    let search = |mode: &str, algorithm: &str, name: &str| {
        let config = dir.join(format!("{name}.toml"));
        let text = common::tiny_search_config(mode, 1)
            .replace("[arch]", &format!("[arch]\nalgorithm = \"{algorithm}\""));
        std::fs::write(&config, text).unwrap();
        let run = dir.join(name);
        let (c, r) = (config.display().to_string(), run.display().to_string());
        let out = success(&[
            "--backend",
            "wgpu",
            "search",
            "--config",
            &c,
            "--out",
            &r,
            "--devices",
            devices,
            "--quiet",
        ]);
        assert!(out.contains("architecture: "), "{out}");
        run
    };
    search(mode, algorithm, name)
}

fn has_wgpu() -> bool {
    success(&["backends"]).lines().any(|b| b == "wgpu")
}

#[test]
fn a_reinforce_search_on_two_wgpu_devices_runs() {
    if !has_wgpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reinforce = two_device_search(dir.path(), "two", "reinforce", "r");
    assert!(reinforce.join("final/net.config").is_file());
}

#[test]
fn a_search_on_two_wgpu_devices_runs_and_its_network_trains_there() {
    if !has_wgpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let devices = DEVICES;
    let first = two_device_search(dir.path(), "full_v2", "gradient", "a");
    let alpha = std::fs::read_to_string(first.join("alpha.jsonl")).unwrap();
    assert_eq!(alpha.lines().count(), 2, "one line per epoch: {alpha}");
    assert!(!alpha.contains("NaN") && !alpha.contains("null"), "{alpha}");

    let trained = dir.path().join("trained").display().to_string();
    let out = success(&[
        "--backend",
        "wgpu",
        "train",
        &first.display().to_string(),
        "--devices",
        devices,
        "--epochs",
        "1",
        "--train-limit",
        "64",
        "--test-limit",
        "32",
        "--batch-size",
        "16",
        "--out",
        &trained,
        "--quiet",
    ]);
    assert!(out.contains("test top-1"), "{out}");
    // More devices than images in a batch: refused, naming the batch size.
    failure(
        &[
            "--backend",
            "wgpu",
            "train",
            &first.display().to_string(),
            "--devices",
            devices,
            "--batch-size",
            "1",
            "--out",
            &format!("{trained}-2"),
        ],
        &["2 devices for batches of 1 images (data.batch_size)"],
    );
    assert!(
        !std::path::Path::new(&format!("{trained}-2")).exists(),
        "nothing written"
    );
}
