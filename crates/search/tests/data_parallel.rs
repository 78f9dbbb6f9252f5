//! A data-parallel search (`Search::with_devices`) on two handles of Flex, the one CPU device,
//! its two replicas on two threads: repeatable bit for bit, resumable exactly from a checkpoint
//! inside a search epoch, and not the single-device search (each replica normalises its own shard).

mod common;

use std::path::Path;
use std::sync::Mutex;

use burn::prelude::*;
use proxyless_search::{ArchAlgorithm, Search, SearchConfig};
use proxyless_supernet::ArchMode;

/// Weight initialisation draws from the device's seeded generator, global to the process.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

/// The run's logs without wall times.
fn logs(run: &Path) -> Vec<String> {
    ["metrics.jsonl", "alpha.jsonl"]
        .iter()
        .flat_map(|log| {
            std::fs::read_to_string(run.join(log))
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(&l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("seconds");
            }
            v.to_string()
        })
        .collect()
}

fn search(config: &SearchConfig, out: &Path, devices: usize) {
    let device = Device::flex();
    let devices = vec![device.clone(); devices];
    Search::create(config.clone(), out, &device, true)
        .unwrap()
        .with_devices(&devices)
        .unwrap()
        .run(None)
        .unwrap()
        .unwrap();
}

fn check(mut config: SearchConfig) {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    config.schedule.checkpoint_every_steps = 3;
    config.schedule.keep_checkpoints = 100;
    let (a, b, one) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("one"),
    );
    search(&config, &a, 2);
    search(&config, &b, 2);
    assert_eq!(
        logs(&a),
        logs(&b),
        "two data-parallel runs, the same logs bit for bit"
    );
    assert_eq!(
        std::fs::read(a.join("final/net.config")).unwrap(),
        std::fs::read(b.join("final/net.config")).unwrap()
    );
    search(&config, &one, 1);
    assert_ne!(
        logs(&a),
        logs(&one),
        "two shards normalise apart: not one device's run"
    );

    // Resumed from a checkpoint inside an epoch, on the same two devices.
    let resumed = dir.path().join("resumed");
    proxyless_plumbing::files::copy_dir(&a, &resumed).unwrap();
    std::fs::remove_dir_all(resumed.join("final")).unwrap();
    let mut checkpoints: Vec<_> = std::fs::read_dir(resumed.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    checkpoints.sort();
    // The last checkpoint inside an epoch that is not the final one: the second search epoch.
    let inside: Vec<usize> = (0..checkpoints.len())
        .filter(|&k| {
            checkpoints[k]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .contains("-step-")
        })
        .collect();
    assert!(
        inside.len() >= 2,
        "checkpoints inside epochs: {checkpoints:?}"
    );
    let from = inside[inside.len() - 2];
    for later in &checkpoints[from + 1..] {
        std::fs::remove_dir_all(later).unwrap();
    }
    let device = Device::flex();
    Search::resume(&resumed, &device, true)
        .unwrap()
        .with_devices(&[device.clone(), device.clone()])
        .unwrap()
        .run(None)
        .unwrap()
        .unwrap();
    assert_eq!(
        logs(&resumed),
        logs(&a),
        "resumed on two devices, the same logs"
    );
}

#[test]
fn a_gradient_search_on_two_devices_repeats_and_resumes_exactly() {
    let mut config = common::synthetic_config("");
    config.arch.mode = ArchMode::FullV2;
    check(config);
}

#[test]
fn a_reinforce_search_on_two_devices_repeats_and_resumes_exactly() {
    let mut config = common::synthetic_config("");
    config.arch.algorithm = ArchAlgorithm::Reinforce;
    check(config);
}

#[test]
fn more_devices_than_images_in_a_batch_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::synthetic_config("");
    config.data.arch_batch_size = 2;
    let device = Device::flex();
    let error = Search::create(config, &dir.path().join("run"), &device, true)
        .unwrap()
        .with_devices(&[device.clone(), device.clone(), device.clone()])
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("3 devices for batches of 2 images"),
        "{error}"
    );
}
