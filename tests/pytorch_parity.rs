//! Our networks against an independent PyTorch implementation (`crates/bench/reference/proxyless_torch.py`)
//! for the paper's four ImageNet nets and its CIFAR-10 tree net: weights exported by us load into PyTorch with `strict=True` and
//! give our logits, and PyTorch-initialised checkpoints imported by us give PyTorch's logits.
//!
//! Runs when Python with `torch` and `safetensors` is available (`PROXYLESS_PYTHON`, default
//! `python3`); with `PROXYLESS_REQUIRE_TORCH=1` (as CI sets) a missing PyTorch is a failure.

use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::ProxylessNet;
use proxyless_nn::tree::TreeNet;
use proxyless_pytorch::{StateDict, StoredTensor, read_safetensors, write_safetensors};
use proxyless_space::{EdgeOp, NetSpec, TreeNetConfig, TreeSpace};
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

/// The paper's CIFAR-10 net and a small tree net (`tests/fixtures/tiny_tree_net.json`) through
/// every other layer and node kind
/// (dilated, grouped, shuffled, biased separable and plain convolutions, both poolings, a
/// channel split merged by concatenation, BatchNorms after the weights, a linear classifier
/// with BatchNorm, node settings, cell and path drop in evaluation, a zero-padded shortcut).
fn tree_nets() -> Vec<(&'static str, TreeNetConfig, usize)> {
    let cifar = repo_root().join("configs/nets/proxyless_cifar.json");
    vec![
        (
            "proxyless_cifar",
            TreeNetConfig::from_file(&cifar).unwrap(),
            32,
        ),
        (
            "tiny tree net",
            TreeNetConfig::from_file(repo_root().join("tests/fixtures/tiny_tree_net.json"))
                .unwrap(),
            32,
        ),
        (
            "a compact-space network with Zero edges",
            compact_with_zeros(),
            32,
        ),
    ]
}

/// An architecture of the `cifar-tree-compact` space: Zero on every leaf edge of the first
/// cell, the other edges cycling through the candidates.
fn compact_with_zeros() -> TreeNetConfig {
    let space = TreeSpace::preset("cifar-tree-compact").unwrap();
    let choices: Vec<usize> = space
        .choices()
        .iter()
        .enumerate()
        .map(
            |(i, c)| match c.candidates.iter().position(|&op| op == EdgeOp::Zero) {
                Some(zero) if c.cell == 0 => zero,
                _ => i % c.candidates.len(),
            },
        )
        .collect();
    space.net_config(&choices, "compact").unwrap()
}

#[test]
fn tree_nets_exported_give_our_logits_in_pytorch_and_back() {
    let Some(python) = python() else { return };
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, config, side)) in tree_nets().into_iter().enumerate() {
        let cost = config.cost(side, name).unwrap();
        let net = TreeNet::new(&config, name, &device).unwrap();
        assert_eq!(proxyless_nn::count_trainable(&net), cost.params, "{name}");
        let out = dir.path().join(format!("tree-{i}"));
        let input = out.join("x.safetensors");
        std::fs::create_dir_all(&out).unwrap();
        let x = Tensor::<4>::random([2, 3, side, side], Distribution::Normal(0.0, 1.0), &device);
        tensor_file(&input, "x", &x);

        // Ours to PyTorch: trained-looking BatchNorms, exported, loaded strictly there.
        let mut sd = StateDict::from_tree_net(&net);
        randomise_batch_norms(&mut sd);
        // Small residual branches, as trained PyramidNets have: 54 blocks of he_fout
        // branches at full scale would grow the logits to ~1e16.
        for (key, t) in sd.tensors.iter_mut() {
            if key.ends_with("final_bn.weight") {
                t.values.iter_mut().for_each(|v| *v *= 0.1);
            }
        }
        let net = sd.load_into_tree_net(net, name).unwrap();
        let exported = proxyless_pytorch::export_tree(&net, &config, &out).unwrap();
        let logits_path = out.join("logits.safetensors");
        let args = [
            Path::new("forward"),
            &exported.net_config,
            &exported.weights,
            &input,
            &logits_path,
        ];
        reference(&python, &args);
        assert_close(name, &net.forward(x.clone()), &read_logits(&logits_path));

        // PyTorch to ours: PyTorch's initialisation and statistics, its checkpoint imported.
        let weights = out.join("torch.pth");
        let torch_logits = out.join("torch-logits.safetensors");
        let seed = i.to_string();
        let args = [
            Path::new("init"),
            &exported.net_config,
            Path::new(&seed),
            &input,
            &weights,
            &torch_logits,
        ];
        reference(&python, &args);
        let imported = proxyless_pytorch::import_tree(&weights, &config, &device).unwrap();
        assert_close(
            &format!("{name} (from PyTorch)"),
            &imported.forward(x),
            &read_logits(&torch_logits),
        );
    }
}
