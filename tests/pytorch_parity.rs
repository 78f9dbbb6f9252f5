//! Our networks against an independent PyTorch implementation (`crates/bench/reference/proxyless_torch.py`)
//! for the paper's four nets: weights exported by us load into PyTorch with `strict=True` and
//! give our logits, and PyTorch-initialised checkpoints imported by us give PyTorch's logits.
//!
//! Runs when Python with `torch` and `safetensors` is available (`PROXYLESS_PYTHON`, default
//! `python3`); with `PROXYLESS_REQUIRE_TORCH=1` (as CI sets) a missing PyTorch is a failure.

use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::ProxylessNet;
use proxyless_pytorch::{StateDict, StoredTensor, read_safetensors, write_safetensors};
use proxyless_space::NetSpec;
use proxyless_tests::{
    OFFICIAL_NETS, assert_close, official_net_path, randomise_batch_norms, repo_root,
};

/// Side of the test images: the nets are fully convolutional up to the pooling, so a
/// smaller side than 224 exercises every layer at a fraction of the time.
const SIDE: usize = 96;

fn python() -> Option<String> {
    let python = std::env::var("PROXYLESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import torch, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("PROXYLESS_REQUIRE_TORCH").is_none(),
        "PROXYLESS_REQUIRE_TORCH is set but {python} cannot import torch and safetensors"
    );
    eprintln!("skipped: {python} cannot import torch and safetensors");
    None
}

fn reference(python: &str, args: &[&Path]) {
    let script = repo_root().join("crates/bench/reference/proxyless_torch.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the PyTorch reference failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tensor_file(path: &Path, name: &str, t: &Tensor<4>) {
    let values = t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let mut sd = StateDict::default();
    sd.tensors.insert(
        name.into(),
        StoredTensor {
            shape: t.dims().to_vec(),
            values,
        },
    );
    write_safetensors(path, &sd).unwrap();
}

fn read_logits(path: &Path) -> StoredTensor {
    read_safetensors(path)
        .unwrap()
        .tensors
        .remove("logits")
        .unwrap()
}

#[test]
fn exported_weights_give_our_logits_in_pytorch() {
    let Some(python) = python() else { return };
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.safetensors");
    let x = Tensor::<4>::random([2, 3, SIDE, SIDE], Distribution::Normal(0.0, 1.0), &device);
    tensor_file(&input, "x", &x);
    for (name, _, _) in OFFICIAL_NETS {
        let spec = NetSpec::from_net_config_file(official_net_path(name)).unwrap();
        let mut sd = StateDict::from_net(&ProxylessNet::new(&spec, &device)).unwrap();
        randomise_batch_norms(&mut sd);
        let net = sd
            .load_into(ProxylessNet::new(&spec, &device), name)
            .unwrap();
        let out = dir.path().join(name);
        let exported = proxyless_pytorch::export(&net, &spec, &out).unwrap();
        let logits_path = out.join("logits.safetensors");
        reference(
            &python,
            &[
                Path::new("forward"),
                &exported.net_config,
                &exported.weights,
                &input,
                &logits_path,
            ],
        );
        assert_close(name, &net.forward(x.clone()), &read_logits(&logits_path));
    }
}

#[test]
fn pytorch_checkpoints_give_pytorchs_logits_here() {
    let Some(python) = python() else { return };
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.safetensors");
    let x = Tensor::<4>::random([2, 3, SIDE, SIDE], Distribution::Normal(0.0, 1.0), &device);
    tensor_file(&input, "x", &x);
    for (i, (name, _, _)) in OFFICIAL_NETS.into_iter().enumerate() {
        let config = official_net_path(name);
        let weights = dir.path().join(format!("{name}.pth"));
        let logits_path = dir.path().join(format!("{name}-logits.safetensors"));
        let seed = i.to_string();
        reference(
            &python,
            &[
                Path::new("init"),
                &config,
                Path::new(&seed),
                &input,
                &weights,
                &logits_path,
            ],
        );
        let spec = NetSpec::from_net_config_file(&config).unwrap();
        let net = proxyless_pytorch::import(&weights, &spec, &device).unwrap();
        assert_close(name, &net.forward(x.clone()), &read_logits(&logits_path));
        // Folding the BatchNorms keeps the logits.
        let folded = net.fold_batch_norm();
        assert_close(
            &format!("{name} folded"),
            &folded.forward(x.clone()),
            &read_logits(&logits_path),
        );
    }
}
