//! An interrupted search (`run(Some(epochs))`) resumed from its checkpoint ends where an
//! uninterrupted one does; bad checkpoints are clear errors.

mod common;

use std::sync::Mutex;

use burn::prelude::*;
use proxyless_search::Search;

/// Weight initialisation draws from the device's seeded generator, which is global to the
/// process: the tests of this file take turns so that each run sees only its own seed.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

fn last_alpha(dir: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("alpha.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    serde_json::from_value(last["alpha"].clone()).unwrap()
}

#[test]
fn resumed_search_matches_an_uninterrupted_one() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = common::synthetic_config("");
    let whole = Search::create(config.clone(), &dir.path().join("whole"), &device, true)
        .unwrap()
        .run(None)
        .unwrap()
        .expect("the whole run finishes");

    let parts = dir.path().join("parts");
    let stopped = Search::create(config, &parts, &device, true)
        .unwrap()
        .run(Some(2))
        .unwrap();
    assert!(stopped.is_none(), "the run stops after two epochs");
    // An interrupted epoch leaves lines behind; resume drops them.
    std::fs::OpenOptions::new()
        .append(true)
        .open(parts.join("metrics.jsonl"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"kind\":\"step\",\"epoch\":2}\n"))
        .unwrap();
    let resumed = Search::resume(&parts, &device, true)
        .unwrap()
        .run(None)
        .unwrap()
        .expect("the resumed run finishes");

    assert_eq!(resumed.text, whole.text);
    // Bitwise: exact_resume.rs checks every checkpoint and every piece of state.
    assert_eq!(last_alpha(&parts), last_alpha(&dir.path().join("whole")));
    let epochs = |p: &std::path::Path| {
        std::fs::read_to_string(p.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"kind\":\"epoch\""))
            .count()
    };
    assert_eq!(epochs(&parts), 3);
    assert_eq!(epochs(&dir.path().join("whole")), 3);
    for name in [
        "architecture.txt",
        "architecture.json",
        "net.config",
        "summary.json",
    ] {
        assert!(parts.join("final").join(name).is_file(), "{name}");
    }
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    Search::create(common::synthetic_config(""), &run, &device, true)
        .unwrap()
        .run(Some(1))
        .unwrap();
    let checkpoint = run.join("checkpoints/epoch-0001");
    std::fs::write(checkpoint.join("supernet.bpk"), b"not a burnpack").unwrap();
    let err = Search::resume(&run, &device, true)
        .err()
        .expect("resume fails")
        .to_string();
    assert!(
        err.contains("supernet.bpk") && err.contains("cannot load"),
        "{err}"
    );
    std::fs::write(checkpoint.join("state.json"), b"{").unwrap();
    let err = Search::resume(&run, &device, true)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("state.json") && err.contains("not a search state"),
        "{err}"
    );
}

#[test]
fn a_new_run_refuses_a_used_directory() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Search::create(common::synthetic_config(""), dir.path(), &device, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn a_checkpoint_of_another_space_is_a_clear_error() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    // The same space with wider stages: the same choice blocks, other weight shapes.
    let wide = dir.path().join("wide.toml");
    let tiny = std::fs::read_to_string(common::tiny_space()).unwrap();
    std::fs::write(&wide, tiny.replace("width = 16", "width = 24")).unwrap();
    let mut config = common::synthetic_config("");
    let run = dir.path().join("tiny");
    Search::create(config.clone(), &run, &device, true)
        .unwrap()
        .run(Some(1))
        .unwrap();
    config.space = wide.display().to_string();
    let other = dir.path().join("wide");
    Search::create(config, &other, &device, true)
        .unwrap()
        .run(Some(1))
        .unwrap();
    let (from, to) = (
        run.join("checkpoints/epoch-0001/supernet.bpk"),
        other.join("checkpoints/epoch-0001/supernet.bpk"),
    );
    std::fs::copy(from, to).unwrap();
    let err = Search::resume(&other, &device, true)
        .err()
        .expect("the weights do not fit")
        .to_string();
    assert!(
        err.contains("supernet.bpk")
            && err.contains("cannot load the supernet")
            && err.contains("shape"),
        "{err}"
    );
}
