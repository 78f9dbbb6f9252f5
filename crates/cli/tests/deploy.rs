//! Deployment end to end on real Fashion-MNIST: a trained network exported as ONNX gives our
//! logits in ONNX Runtime, and `proxyless predict` on test images written as PNG files gives
//! the classes `eval` predicts for the same images; bad inputs are named.

mod common;

use std::path::Path;

use burn::prelude::*;
use common::{failure, proxyless, success};
use proxyless_data::{Split, idx};
use proxyless_pytorch::{StateDict, StoredTensor, read_safetensors, write_safetensors};
use proxyless_space::NetSpec;

const RECIPE: &str = r#"
epochs = 1
[data]
dataset = "fashion-mnist"
train_limit = 1000
batch_size = 50
eval_batch_size = 500
augment = false
[optim]
lr = 0.1
warmup_epochs = 0.2
"#;

/// Test images written as files.
const IMAGES: usize = 3;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn onnx_export_and_predict_agree_with_our_network_and_eval() {
    let fmnist = Path::new(proxyless_data::FASHION_MNIST_DIR);
    if !fmnist.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Fashion-MNIST is missing at {}",
            fmnist.display()
        );
        eprintln!("skipped: no Fashion-MNIST at {}", fmnist.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("recipe.toml"), RECIPE).unwrap();
    std::fs::write(
        dir.path().join("arch.txt"),
        "k3e3 zero | k3e3 zero zero | k3e3 zero zero | k3e3",
    )
    .unwrap();
    success(&[
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
    success(&["eval", &p("run"), "--json", &p("eval.json"), "--quiet"]);
    let eval = json(&dir.path().join("eval.json"));
    assert_eq!(eval["images"], 10_000);
    assert_eq!(eval["class_names"][1], "Trouser");
    let predicted: Vec<u64> = eval["predictions"].as_array().unwrap()[..IMAGES]
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();

    // The first test images as PNG files: `predict` reads them as `eval` read the idx records.
    let test = idx::load(fmnist, Split::Test, "fashion-mnist").unwrap();
    let mut files = Vec::new();
    for i in 0..IMAGES {
        let path = dir.path().join(format!("test-{i}.png"));
        image::GrayImage::from_raw(28, 28, test.image(i).to_vec())
            .unwrap()
            .save(&path)
            .unwrap();
        files.push(path.display().to_string());
    }
    let run = p("run");
    let mut args = vec!["predict", &run, "--json", "--top", "3"];
    let file_args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend(&file_args);
    let lines = success(&args);
    let results: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), IMAGES);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["top"][0]["class"].as_u64().unwrap(), predicted[i], "{r}");
        let names = eval["class_names"].as_array().unwrap();
        assert_eq!(r["top"][0]["name"], names[predicted[i] as usize]);
        let probabilities: Vec<f64> = r["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["probability"].as_f64().unwrap())
            .collect();
        assert!(probabilities.windows(2).all(|w| w[0] >= w[1]), "{r}");
    }
    // The same images as records of the checkpoint's data set, by index.
    let by_index = success(&["predict", &run, "--json", "test:0", "test:2"]);
    assert_eq!(common::top_classes(&by_index), [predicted[0], predicted[2]]);
    failure(&["predict", &run, "test:99999"], &["no record 99999"]);
    let text = success(&["predict", &p("run"), &files[0]]);
    assert!(
        text.contains(&format!(
            "1. {}",
            eval["class_names"][predicted[0] as usize].as_str().unwrap()
        )),
        "{text}"
    );

    // Export as ONNX; ONNX Runtime's logits on the same images are ours.
    success(&["export", &p("run"), "--out", &p("export"), "--runs", "0"]);
    let device = Device::default();
    let spec = NetSpec::from_net_config_file(dir.path().join("export/net.config")).unwrap();
    let net = proxyless_pytorch::import(
        &dir.path().join("export/weights.safetensors"),
        &spec,
        &device,
    )
    .unwrap();
    let state = json(&dir.path().join("run/checkpoints/epoch-0001/state.json"));
    let (mean, std) = (
        state["mean"][0].as_f64().unwrap() as f32,
        state["std"][0].as_f64().unwrap() as f32,
    );
    let pixels: Vec<f32> = (0..IMAGES)
        .flat_map(|i| test.image(i).to_vec())
        .map(|v| (v as f32 / 255.0 - mean) / std)
        .collect();
    let x = Tensor::<1>::from_floats(pixels.as_slice(), &device).reshape([IMAGES, 1, 28, 28]);
    let ours = net
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    // Predict on the export directory reads the same network.
    let from_export = success(&["predict", &p("export"), "--json", &files[1]]);
    let r: serde_json::Value = serde_json::from_str(from_export.trim()).unwrap();
    assert_eq!(r["top"][0]["class"].as_u64().unwrap(), predicted[1]);

    match proxyless_onnx::runtime::python() {
        Some(python) => {
            let input = dir.path().join("x.safetensors");
            let mut sd = StateDict::default();
            sd.tensors.insert(
                "x".into(),
                StoredTensor {
                    shape: vec![IMAGES, 1, 28, 28],
                    values: pixels,
                },
            );
            write_safetensors(&input, &sd).unwrap();
            for model in ["model.onnx", "model-bn.onnx"] {
                let logits = dir.path().join(format!("{model}.logits"));
                proxyless_onnx::runtime::forward(
                    &python,
                    &dir.path().join("export").join(model),
                    &input,
                    &logits,
                )
                .unwrap();
                let theirs = read_safetensors(&logits)
                    .unwrap()
                    .tensors
                    .remove("logits")
                    .unwrap();
                let scale = theirs.values.iter().fold(1f32, |m, v| m.max(v.abs()));
                let diff = ours
                    .iter()
                    .zip(&theirs.values)
                    .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                eprintln!("{model}: ONNX Runtime differs by {diff:.2e}, largest logit {scale:.2}");
                assert!(diff <= 1e-4 * scale, "{model}: {diff} (scale {scale})");
            }
            // The deployment benchmark: ours and ONNX Runtime's batch-1 latency side by side.
            success(&[
                "bench",
                "--deploy",
                &run,
                "--quick",
                "--out",
                &p("deploy"),
                "--quiet",
            ]);
            let bench = json(&dir.path().join("deploy/deploy.json"));
            let row = &bench["nets"][0];
            for key in [
                "burn_bn",
                "burn_folded",
                "onnx_runtime_bn",
                "onnx_runtime_folded",
            ] {
                assert!(row[key][0].as_f64().unwrap() > 0.0, "{key}: {bench}");
            }
        }
        None => assert!(
            std::env::var_os("PROXYLESS_REQUIRE_ONNX").is_none(),
            "PROXYLESS_REQUIRE_ONNX is set but Python cannot import onnx and onnxruntime"
        ),
    }

    // A colour image is converted (and said so); an unreadable one is named, and the run fails
    // after classifying the others.
    let colour = dir.path().join("colour.png");
    image::RgbImage::from_pixel(40, 30, image::Rgb([200, 30, 30]))
        .save(&colour)
        .unwrap();
    let out = proxyless(&["predict", &p("run"), &colour.display().to_string()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("converted RGB to grayscale"));
    std::fs::write(dir.path().join("broken.png"), "not a png").unwrap();
    failure(
        &["predict", &p("run"), &files[0], &p("broken.png")],
        &[
            "broken.png: cannot decode image",
            "1 of 2 images could not be read",
        ],
    );
    failure(&["predict", &p("nothing"), &files[0]], &["nothing"]);
    failure(
        &["predict", &p("export"), "test:0"],
        &["records by index need a checkpoint"],
    );
}
