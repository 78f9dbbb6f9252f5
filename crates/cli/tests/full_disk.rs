//! A disk that fills up while a checkpoint is written: a clear error and a non-zero exit,
//! no half-written checkpoint, the earlier checkpoints intact; once there is room again the
//! run resumes to bitwise the end an uninterrupted run has.
//!
//! The disk is a 64 MiB tmpfs mounted in a mount namespace of its own (`unshare -rm`, which
//! needs no privileges beyond user namespaces), filled with a file up to 256 KiB short of full:
//! room for the metrics lines of a step, not for a checkpoint (4 MB for the supernet, 0.9 MB
//! for the trained network). A search, then a training.

mod common;

use std::process::Command;

const SCRIPT: &str = r#"
set -u
mount -t tmpfs -o size=64m tmpfs "$T" || exit 90
"$BIN" search --config "$C" --out "$T/run" --quiet --stop-after 1 >/dev/null 2>"$O/first.err" || exit 91
dd if=/dev/zero of="$T/filler" bs=64k 2>/dev/null
truncate -s -256K "$T/filler" || exit 92
"$BIN" search --resume "$T/run" --quiet >/dev/null 2>"$O/full.err"
echo $? >"$O/full.code"
ls -a "$T/run/checkpoints" >"$O/after-full.txt"
rm "$T/filler"
"$BIN" search --resume "$T/run" --quiet >/dev/null 2>"$O/resumed.err" || exit 93
cp "$T/run/final/summary.json" "$O/summary.json"
"$BIN" --quiet train "$A" --space fmnist --config "$R" --out "$T/train" --stop-after 1 >/dev/null 2>"$O/train-first.err" || exit 94
dd if=/dev/zero of="$T/filler" bs=64k 2>/dev/null
truncate -s -256K "$T/filler" || exit 95
"$BIN" --quiet train --resume "$T/train" >/dev/null 2>"$O/train-full.err"
echo $? >"$O/train-full.code"
ls -a "$T/train/checkpoints" >"$O/train-after-full.txt"
rm "$T/filler"
"$BIN" --quiet train --resume "$T/train" >/dev/null 2>"$O/train-resumed.err" || exit 96
cp "$T/train/checkpoints/epoch-0002/state.json" "$O/train-state.json"
"#;

/// The training recipe: synthetic images, a checkpoint after every step.
const RECIPE: &str = "seed = 3\nepochs = 2\n[data]\ndataset = \"synthetic\"\nbatch_size = 16\n\
    synthetic_per_class = 8\nresolution = 28\n[checkpoint]\nevery_steps = 1\nkeep = 3\n";

fn fingerprint(summary: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(summary).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["weights_fingerprint"].clone()
}

#[test]
fn a_full_disk_during_a_checkpoint_is_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    let text = common::small_search_config("two", 2).replace(
        "log_every = 2",
        "log_every = 1\ncheckpoint_every_steps = 1\nkeep_checkpoints = 3",
    );
    std::fs::write(&config, text).unwrap();
    let reference = dir.path().join("reference");
    let (c, r) = (
        config.display().to_string(),
        reference.display().to_string(),
    );
    common::success(&["search", "--config", &c, "--out", &r, "--quiet"]);

    let recipe = dir.path().join("train.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let arch = dir.path().join("architecture.txt");
    std::fs::write(
        &arch,
        "k3e3 zero | k3e3 zero zero | k3e3 zero zero | k3e3\n",
    )
    .unwrap();
    let train_reference = dir.path().join("train-reference");
    common::success(&[
        "--quiet",
        "train",
        arch.to_str().unwrap(),
        "--space",
        "fmnist",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        train_reference.to_str().unwrap(),
    ]);

    let (mount, out) = (dir.path().join("disk"), dir.path().join("out"));
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("unshare")
        .args(["-rm", "sh", "-c", SCRIPT])
        .env("T", &mount)
        .env("O", &out)
        .env("C", &config)
        .env("R", &recipe)
        .env("A", &arch)
        .env("BIN", env!("CARGO_BIN_EXE_proxyless"))
        .status()
        .expect("unshare (util-linux) runs");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert_ne!(
        status.code(),
        Some(90),
        "cannot mount a tmpfs in a mount namespace (`unshare -rm`): this test needs user namespaces"
    );
    assert!(
        status.success(),
        "{status}: {}{}",
        read("first.err"),
        read("resumed.err")
    );

    // The full disk: exit 1, a message naming the checkpoint and the cause, no panic.
    let err = read("full.err");
    assert_eq!(read("full.code").trim(), "1", "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in [
        "checkpoints/epoch-",
        "No space left on device",
        "earlier checkpoints are untouched",
    ] {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    // Nothing half-written is left: complete checkpoints only.
    let left = read("after-full.txt");
    assert!(!left.contains(".tmp"), "{left}");
    assert!(left.contains("epoch-0001"), "{left}");
    // With room again the run ends where the uninterrupted one does.
    let resumed = fingerprint(&out.join("summary.json"));
    assert!(resumed.is_string());
    assert_eq!(resumed, fingerprint(&reference.join("final/summary.json")));
}
