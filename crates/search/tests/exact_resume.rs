//! A search resumed from any of its checkpoints, at the end of an epoch or inside one, ends
//! bitwise where the uninterrupted search ends: weights, α and its optimiser, λ, the REINFORCE
//! baseline, every metrics and α line, and the architecture.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::module::Module;
use burn::prelude::*;
use proxyless_search::{Search, SearchConfig};
use proxyless_supernet::Supernet;

/// Weight initialisation draws from the device's seeded generator, global to the process.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

/// The lines of a JSON-lines file with every `seconds` field removed (wall times differ).
fn lines_without_times(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("seconds");
            }
            v.to_string()
        })
        .collect()
}

/// A checkpoint's state without what differs between sessions (wall time, log lengths).
fn state_without_times(checkpoint: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(checkpoint.join("state.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("elapsed_seconds");
    o.remove("logs");
    v
}

fn weight_bits(checkpoint: &Path, device: &Device) -> Vec<(String, Vec<u32>)> {
    let space = proxyless_space::presets::resolve(common::tiny_space().to_str().unwrap()).unwrap();
    let model = Supernet::new(&space, device)
        .try_load_file(checkpoint.join("supernet.bpk"))
        .unwrap();
    proxyless_nn::float_bits(&model)
}

fn checkpoints(run: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    all.sort();
    all
}

/// Runs `config` uninterrupted with a checkpoint every `every_steps` steps, then resumes a
/// copy of the run from every `stride`-th checkpoint (later checkpoints and the final files
/// removed, the logs left as the whole run wrote them) and compares the ends bitwise.
fn assert_resumes_exactly(mut config: SearchConfig, every_steps: usize, stride: usize) {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // Exact on the CPU backends, whose runs are deterministic (GPU reductions need not be).
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    config.schedule.keep_checkpoints = 1000;
    config.schedule.checkpoint_every_steps = every_steps;
    let whole = dir.path().join("whole");
    Search::create(config, &whole, &device, true)
        .unwrap()
        .run(None)
        .unwrap()
        .unwrap();
    let all = checkpoints(&whole);
    let last = all.last().unwrap().file_name().unwrap().to_owned();
    assert!(
        all.iter()
            .any(|c| c.file_name().unwrap().to_string_lossy().contains("-step-")),
        "checkpoints inside epochs: {all:?}"
    );
    for (k, from) in all[..all.len() - 1].iter().enumerate().step_by(stride) {
        let resumed = dir.path().join(format!("resumed-{k}"));
        proxyless_plumbing::files::copy_dir(&whole, &resumed).unwrap();
        std::fs::remove_dir_all(resumed.join("final")).unwrap();
        for later in &all[k + 1..] {
            std::fs::remove_dir_all(resumed.join("checkpoints").join(later.file_name().unwrap()))
                .unwrap();
        }
        Search::resume(&resumed, &device, true)
            .unwrap()
            .run(None)
            .unwrap()
            .unwrap();
        let name = from.file_name().unwrap().to_string_lossy();
        for log in ["metrics.jsonl", "alpha.jsonl"] {
            assert_eq!(
                lines_without_times(&resumed.join(log)),
                lines_without_times(&whole.join(log)),
                "{log} after resuming from {name}"
            );
        }
        let (a, b) = (
            whole.join("checkpoints").join(&last),
            resumed.join("checkpoints").join(&last),
        );
        assert_eq!(
            state_without_times(&b),
            state_without_times(&a),
            "from {name}"
        );
        assert!(
            weight_bits(&b, &device) == weight_bits(&a, &device),
            "the weights after resuming from {name}"
        );
        for file in ["architecture.txt", "net.config"] {
            assert_eq!(
                std::fs::read(resumed.join("final").join(file)).unwrap(),
                std::fs::read(whole.join("final").join(file)).unwrap(),
                "{file} after resuming from {name}"
            );
        }
    }
}

#[test]
fn a_gradient_search_resumes_exactly_from_every_checkpoint() {
    // full_v2 as the default search, a constraint (λ is state) on MACs, dropout (the device's
    // generator is state).
    let config = common::synthetic_config(
        "[target]\ncost = \"macs\"\nloss = \"constraint\"\nreference = 0.5\n",
    );
    let mut config = config;
    config.arch.mode = proxyless_supernet::ArchMode::FullV2;
    let space = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    let tiny = std::fs::read_to_string(common::tiny_space()).unwrap();
    std::fs::write(space.path(), format!("{tiny}dropout = 0.3\n")).unwrap();
    config.space = space.path().display().to_string();
    assert_resumes_exactly(config, 3, 1);
}

#[test]
fn a_reinforce_search_resumes_exactly() {
    let mut config = common::synthetic_config("");
    config.arch.algorithm = proxyless_search::ArchAlgorithm::Reinforce;
    assert_resumes_exactly(config, 2, 1);
}

#[test]
fn a_search_with_fair_warm_up_paths_resumes_exactly() {
    // The fair paths depend on the step alone: no state to save.
    let mut config = common::synthetic_config("");
    config.weights.warmup_paths = proxyless_search::WarmupPaths::Fair;
    assert!(config.schedule.warmup_epochs > 0);
    assert_resumes_exactly(config, 3, 2);
}
