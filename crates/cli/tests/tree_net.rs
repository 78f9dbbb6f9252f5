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
