//! `proxyless train`, `eval`, `export` and `import` end to end on synthetic images, and their
//! errors.

mod common;

use common::{failure, success};

const RECIPE: &str = r#"
epochs = 1
[data]
dataset = "synthetic"
train_limit = 160
test_limit = 100
batch_size = 16
eval_batch_size = 50
augment = false
[optim]
lr = 0.1
warmup_epochs = 0.5
"#;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn train_eval_export_and_import_agree() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("recipe.toml"), RECIPE).unwrap();
    std::fs::write(
        dir.path().join("arch.txt"),
        "k3e3 zero | k3e6 zero zero | k5e3 zero zero | k3e3",
    )
    .unwrap();
    let out = success(&[
        "train",
        &p("arch.txt"),
        "--space",
        "fmnist",
        "--config",
        &p("recipe.toml"),
        "--out",
        &p("run"),
        "--quiet",
    ]);
    assert!(out.contains("test top-1"), "{out}");
    for file in ["train.toml", "net.config", "metrics.jsonl", "curves.svg"] {
        assert!(dir.path().join("run").join(file).is_file(), "{file}");
    }
    let state = json(&dir.path().join("run/checkpoints/epoch-0001/state.json"));
    assert_eq!(state["image_shape"], serde_json::json!([1, 28, 28]));

    // The evaluation of the last epoch, again, with a confusion matrix.
    let eval = success(&["eval", &p("run"), "--json", &p("eval.json")]);
    assert!(eval.contains("confusion matrix"), "{eval}");
    let eval = json(&dir.path().join("eval.json"));
    assert_eq!(eval["images"], 100);
    assert!(
        (eval["top1"].as_f64().unwrap() - state["test"]["top1"].as_f64().unwrap()).abs() < 1e-9
    );

    // Export: the PyTorch files, the folded network and its latency.
    let exported = success(&["export", &p("run"), "--out", &p("export"), "--runs", "2"]);
    assert!(exported.contains("ms folded"), "{exported}");
    let deployment = json(&dir.path().join("export/deployment.json"));
    assert!(deployment["fold_max_relative_error"].as_f64().unwrap() < 1e-4);
    assert!(dir.path().join("export/model-folded.bpk").is_file());

    // Import the exported weights with the same normalisation: the same evaluation.
    let mean = format!("{}", state["mean"][0]);
    let std = format!("{}", state["std"][0]);
    success(&[
        "import",
        &p("export/net.config"),
        &p("export/weights.safetensors"),
        "--out",
        &p("imported"),
        "--resolution",
        "28",
        "--dataset",
        "synthetic",
        "--mean",
        &mean,
        "--std",
        &std,
    ]);
    success(&[
        "eval",
        &p("imported"),
        "--limit",
        "100",
        "--json",
        &p("eval2.json"),
    ]);
    success(&[
        "eval",
        &p("run"),
        "--limit",
        "100",
        "--json",
        &p("eval3.json"),
    ]);
    let (a, b) = (
        json(&dir.path().join("eval2.json")),
        json(&dir.path().join("eval3.json")),
    );
    assert_eq!(a["top1"], b["top1"]);
    assert!((a["loss"].as_f64().unwrap() - b["loss"].as_f64().unwrap()).abs() < 1e-5);

    // Fine-tuning the imported network for an epoch.
    let tuned = success(&[
        "train",
        "--init",
        &p("imported"),
        "--config",
        &p("recipe.toml"),
        "--out",
        &p("tuned"),
        "--quiet",
    ]);
    assert!(tuned.contains("test top-1"), "{tuned}");

    // A finished run is not overwritten, and bad inputs are named.
    failure(
        &[
            "train",
            &p("arch.txt"),
            "--space",
            "fmnist",
            "--config",
            &p("recipe.toml"),
            "--out",
            &p("run"),
        ],
        &["run", "not empty"],
    );
    failure(&["eval", &p("export")], &["export", "neither a checkpoint"]);
    std::fs::write(dir.path().join("bad.safetensors"), b"garbage").unwrap();
    failure(
        &[
            "import",
            &p("export/net.config"),
            &p("bad.safetensors"),
            "--out",
            &p("x"),
        ],
        &["bad.safetensors", "not a safetensors file"],
    );
    let other = common::repo_file("configs/nets/proxyless_mobile.json");
    failure(
        &[
            "import",
            &other,
            &p("export/weights.safetensors"),
            "--out",
            &p("x"),
        ],
        &["weights.safetensors", "do not fit", "missing 'blocks."],
    );
    assert!(!dir.path().join("x").exists(), "nothing written on failure");
}
