//! The paper's CIFAR-10 tree network end to end: checked, trained on CIFAR-10 binary files
//! the test writes (with cutout), evaluated, exported for PyTorch, imported back, predicted.

mod common;

use std::path::Path;

use common::{failure, repo_file, success};

/// A training recipe of one short epoch with the CIFAR-10 augmentation, cutout included.
const RECIPE: &str = r#"
epochs = 1
seed = 3
[data]
dataset = "cifar10"
batch_size = 8
eval_batch_size = 16
resolution = 32
cutout = 16
[optim]
lr = 0.05
warmup_epochs = 0
"#;

/// CIFAR-10 binary batches (`data_batch_1..5.bin`, `test_batch.bin`) of `per_file` records:
/// a label byte, then 32x32 red, green and blue planes tinted by the class.
fn write_cifar(dir: &Path, per_file: usize) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 56) as u8
    };
    let names = (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .chain(["test_batch.bin".to_string()]);
    for name in names {
        let mut bytes = Vec::new();
        for r in 0..per_file {
            let label = (r % 10) as u8;
            bytes.push(label);
            for channel in 0..3u8 {
                let tint = label.wrapping_mul(25).wrapping_add(channel * 60);
                bytes.extend((0..1024).map(|_| tint / 2 + next() / 2));
            }
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_tree_network_is_checked_trained_evaluated_exported_and_imported() {
    // The released network: built, its 5,731,530 parameters as counted, finite logits.
    let cifar_net = repo_file("configs/nets/proxyless_cifar.json");
    let checked = success(&["check", &cifar_net]);
    assert!(
        checked.contains("5731530 parameters (as counted)"),
        "{checked}"
    );
    failure(
        &["check", &cifar_net, "--resolution", "64"],
        &["takes 32x32 images only"],
    );
    failure(
        &["convert", &cifar_net, "--to", "text"],
        &["MBConv networks"],
    );

    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    // Drawn: the backbone and each stage's first cell as a tree.
    success(&["draw", &cifar_net, "--out", &p("cifar.svg")]);
    let svg = std::fs::read_to_string(dir.path().join("cifar.svg")).unwrap();
    assert_eq!(svg.matches("cell of block").count(), 3);
    std::fs::create_dir(dir.path().join("cifar")).unwrap();
    write_cifar(&dir.path().join("cifar"), 8);
    std::fs::write(dir.path().join("recipe.toml"), RECIPE).unwrap();
    let net = repo_file("tests/fixtures/tiny_tree_net.json");
    let out = success(&[
        "train",
        &net,
        "--config",
        &p("recipe.toml"),
        "--data",
        &p("cifar"),
        "--out",
        &p("run"),
        "--quiet",
    ]);
    assert!(out.contains("test top-1"), "{out}");
    let state = json(&dir.path().join("run/checkpoints/epoch-0001/state.json"));
    assert_eq!(state["image_shape"], serde_json::json!([3, 32, 32]));
    let config = std::fs::read_to_string(dir.path().join("run/net.config")).unwrap();
    assert!(config.contains("PyramidTreeNet"), "{config}");

    let eval = success(&["eval", &p("run"), "--json", &p("eval.json")]);
    assert!(eval.contains("confusion matrix"), "{eval}");
    assert_eq!(json(&dir.path().join("eval.json"))["images"], 8);

    // For PyTorch: the official net.config and state dict; ONNX is for MBConv networks.
    let exported = success(&["export", &p("run"), "--out", &p("export")]);
    assert!(exported.contains("ONNX: not written"), "{exported}");
    failure(
        &["export", &p("run"), "--out", &p("x"), "--format", "onnx"],
        &["exports for PyTorch"],
    );
    let mean: Vec<String> = (0..3).map(|c| state["mean"][c].to_string()).collect();
    let std: Vec<String> = (0..3).map(|c| state["std"][c].to_string()).collect();
    success(&[
        "import",
        &p("export/net.config"),
        &p("export/weights.safetensors"),
        "--out",
        &p("imported"),
        "--dataset",
        "cifar10",
        "--data",
        &p("cifar"),
        "--mean",
        &mean.join(","),
        "--std",
        &std.join(","),
    ]);
    for (source, name) in [("imported", "a.json"), ("run", "b.json")] {
        success(&["eval", &p(source), "--json", &p(name)]);
    }
    let (a, b) = (
        json(&dir.path().join("a.json")),
        json(&dir.path().join("b.json")),
    );
    assert_eq!(a["top1"], b["top1"]);
    assert!((a["loss"].as_f64().unwrap() - b["loss"].as_f64().unwrap()).abs() < 1e-5);

    // The checkpoint classifies test records; the export an image file.
    let predicted = success(&["predict", &p("run"), "test:0", "test:1", "--json"]);
    assert_eq!(predicted.lines().count(), 2, "{predicted}");
    image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 90]))
        .save(dir.path().join("photo.png"))
        .unwrap();
    let predicted = success(&["predict", &p("export"), &p("photo.png"), "--json"]);
    assert_eq!(predicted.lines().count(), 1, "{predicted}");
}

/// A tree-space search of a few steps on CIFAR-10 files.
const SEARCH: &str = r#"
space = "cifar-tree-compact"
seed = 1
[data]
dataset = "cifar10"
holdout = 16
batch_size = 8
arch_batch_size = 8
[schedule]
warmup_epochs = 1
epochs = 1
arch_delay_epochs = 0
log_every = 2
[arch]
mode = "full_v2"
update_every = 2
[target]
cost = "macs"
reference = 5.0
"#;

#[test]
fn a_tree_space_is_searched_resumed_exactly_and_its_network_trained_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::create_dir(dir.path().join("cifar")).unwrap();
    write_cifar(&dir.path().join("cifar"), 8);
    std::fs::write(dir.path().join("search.toml"), SEARCH).unwrap();
    let search = |out: &str, extra: &[&str]| {
        let (config, data, out) = (p("search.toml"), p("cifar"), p(out));
        let mut args = vec!["search", "--config", &config];
        args.extend(["--data", &data, "--out", &out, "--quiet"]);
        args.extend(extra);
        success(&args)
    };
    let done = search("whole", &[]);
    assert!(done.contains("architecture: "), "{done}");
    assert!(done.contains(" | "), "three cells: {done}");
    assert!(dir.path().join("whole/report/index.html").is_file());
    assert!(dir.path().join("whole/final/architecture.svg").is_file());

    // Stopped after three weight steps and resumed: the same α history and network.
    let stopped = search("parts", &["--stop-after-steps", "3"]);
    assert!(stopped.contains("stopped as asked"), "{stopped}");
    success(&["search", "--resume", &p("parts"), "--quiet"]);
    for file in ["alpha.jsonl", "final/net.config", "final/architecture.json"] {
        let read = |run: &str| std::fs::read_to_string(dir.path().join(run).join(file)).unwrap();
        assert_eq!(read("whole"), read("parts"), "{file}");
    }

    // The derived network: read as a tree net, trained from the run, exported for PyTorch.
    let net_config = p("whole/final/net.config");
    let checked = success(&["check", &net_config]);
    assert!(checked.contains("(as counted)"), "{checked}");
    std::fs::write(dir.path().join("recipe.toml"), RECIPE).unwrap();
    let trained = success(&[
        "train",
        &p("whole"),
        "--config",
        &p("recipe.toml"),
        "--out",
        &p("trained"),
        "--quiet",
    ]);
    assert!(trained.contains("test top-1"), "{trained}");
    success(&["export", &p("trained"), "--out", &p("export")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("export/net.config")).unwrap(),
        std::fs::read_to_string(dir.path().join("whole/final/net.config")).unwrap()
    );

    // Latency tables key MBConv blocks: a tree space is searched against MACs.
    let latency = SEARCH.replace("cost = \"macs\"", "cost = \"measured\"");
    std::fs::write(dir.path().join("latency.toml"), latency).unwrap();
    failure(
        &[
            "search",
            "--config",
            &p("latency.toml"),
            "--data",
            &p("cifar"),
            "--out",
            &p("never"),
        ],
        &["tree-cell space", "macs"],
    );
    assert!(!dir.path().join("never").exists());
}
