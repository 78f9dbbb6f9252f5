//! Gradient checks of the architecture step: the α gradients from the gated (`full`, `two`)
//! and probed (`full_v2`) forwards against the BinaryConnect formula evaluated on explicitly
//! materialised per-path outputs, G_j = ⟨o_j, ∂L/∂y⟩.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_space::SearchSpace;
use proxyless_supernet::gradient::{arch_step_grads, softmax};
use proxyless_supernet::steps::arch_forward;
use proxyless_supernet::{
    AdamSettings, ArchMode, ArchParams, BlockPath, Candidate, Paths, Searchable, Supernet,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

struct Setup {
    device: Device,
    net: Supernet,
    params: ArchParams,
    x: Tensor<4>,
    y: Tensor<1, Int>,
}

fn setup() -> Setup {
    let space = SearchSpace::from_toml_str(include_str!("tiny.toml"), "tiny.toml").unwrap();
    let device = Device::default().autodiff();
    device.seed(11);
    let net = Supernet::new(&space, &device);
    let params = ArchParams::new(
        net.zero_candidates(),
        0.7,
        AdamSettings::default(),
        &mut StdRng::seed_from_u64(5),
    );
    let x = Tensor::<4>::random([6, 1, 12, 12], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 1, 2], &device);
    Setup {
        device,
        net,
        params,
        x,
        y,
    }
}

fn ce(logits: Tensor<2>, y: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, y)
}

/// α gradients through the supernet's own gated/probed forward.
fn through_gates(s: &Setup, paths: &[BlockPath], mode: ArchMode) -> Vec<Option<Vec<f64>>> {
    let p = Paths::arch(paths.to_vec(), mode);
    let loss = ce(s.net.forward(s.x.clone(), &p), s.y.clone());
    let gates = p.gate_gradients(&loss.backward());
    arch_step_grads(&s.params, paths, &gates, 1.0, None)
}

/// G_j = ⟨o_j, ∂L/∂y⟩ of block `b` from explicitly materialised outputs: the network runs the
/// active paths, block `b`'s output becomes a leaf, and every candidate's output on block
/// `b`'s input is computed apart.
fn materialised_gate_grads(s: &Setup, paths: &[BlockPath], b: usize) -> Vec<f64> {
    let active: Vec<usize> = paths.iter().map(|p| p.active).collect();
    let single = Paths::single(&active);
    let net = &s.net;
    let mut x = net.first_block.forward(net.first_conv.forward(s.x.clone()));
    for (i, block) in net.choice_blocks.iter().enumerate().take(b) {
        x = block.forward(x, &single, i);
    }
    let block = &net.choice_blocks[b];
    let outputs: Vec<Tensor<4>> = paths[b]
        .involved
        .iter()
        .map(|&k| block.candidates[k].forward(x.clone()).detach())
        .collect();
    let slot = paths[b]
        .involved
        .iter()
        .position(|&k| k == paths[b].active)
        .unwrap();
    let mut y = outputs[slot].clone();
    if block.shortcut {
        y = y + x.clone().detach();
    }
    let leaf = y.require_grad();
    let mut h = leaf.clone();
    for (i, block) in net.choice_blocks.iter().enumerate().skip(b + 1) {
        h = block.forward(h, &single, i);
    }
    let h = net.feature_mix_layer.forward(h);
    let [n, c, _, _] = h.dims();
    let logits = net
        .classifier
        .forward(h.mean_dim(3).mean_dim(2).reshape([n, c]));
    let grads = ce(logits, s.y.clone()).backward();
    let dy = leaf.grad(&grads).unwrap();
    outputs
        .into_iter()
        .map(|o| (o * dy.clone()).sum().into_scalar::<f64>())
        .collect()
}

/// Σ_j G_j p_j (δ_ij − p_i) over the involved candidates, written out independently.
fn expected_alpha_grad(s: &Setup, paths: &[BlockPath], b: usize) -> Vec<f64> {
    let g = materialised_gate_grads(s, paths, b);
    let alpha = &s.params.alpha()[b];
    let involved = &paths[b].involved;
    let p = softmax(&involved.iter().map(|&k| alpha[k]).collect::<Vec<_>>());
    let mut grad = vec![0.0; alpha.len()];
    for (si, &i) in involved.iter().enumerate() {
        let mut sum = 0.0;
        for sj in 0..involved.len() {
            let delta = if si == sj { 1.0 } else { 0.0 };
            sum += g[sj] * p[sj] * (delta - p[si]);
        }
        grad[i] = sum;
    }
    grad
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-5, "{what}: got {got:?}, want {want:?}");
    }
}

fn full_paths() -> Vec<BlockPath> {
    vec![
        BlockPath {
            active: 1,
            involved: vec![0, 1, 2, 3],
        },
        BlockPath {
            active: 2,
            involved: vec![0, 1, 2, 3],
        },
        BlockPath {
            active: 0,
            involved: vec![0, 1, 2],
        },
    ]
}

#[test]
fn full_mode_matches_materialised_outputs() {
    let s = setup();
    let paths = full_paths();
    let got = through_gates(&s, &paths, ArchMode::Full);
    for (b, got) in got.iter().enumerate() {
        let want = expected_alpha_grad(&s, &paths, b);
        assert_close(got.as_ref().unwrap(), &want, &format!("block {b}"));
        assert!(
            want.iter().any(|g| g.abs() > 1e-7),
            "block {b}: a vacuous check"
        );
    }
}

#[test]
fn full_v2_recomputes_the_same_gate_gradients_as_full() {
    let s = setup();
    let paths = full_paths();
    let full = through_gates(&s, &paths, ArchMode::Full);
    let v2 = through_gates(&s, &paths, ArchMode::FullV2);
    for b in 0..paths.len() {
        assert_close(
            v2[b].as_ref().unwrap(),
            full[b].as_ref().unwrap(),
            &format!("block {b}"),
        );
    }
}

/// The architecture step's forward pass ([`arch_forward`]) runs the supernet with its weights
/// untracked: the backward pass computes no weight gradient, and the gate gradients are those
/// of the tracked network, bitwise, in every mode.
#[test]
fn untracked_weights_give_the_same_gate_gradients_bitwise() {
    let s = setup();
    for mode in [ArchMode::Full, ArchMode::FullV2, ArchMode::Two] {
        // The gate gradients and how many weights got a gradient.
        let gates = |logits: &dyn Fn(&Paths<4>) -> Tensor<2>| {
            let paths = Paths::arch(full_paths(), mode);
            let grads = ce(logits(&paths), s.y.clone()).backward();
            let gate_grads = paths.gate_gradients(&grads);
            let weights = burn::optim::GradientsParams::from_grads(grads, &s.net).len();
            (gate_grads, weights)
        };
        let (tracked, tracked_weights) = gates(&|paths| s.net.forward(s.x.clone(), paths));
        assert!(tracked.iter().any(|g| g.grads.iter().any(|v| *v != 0.0)));
        assert!(tracked_weights > 0, "{mode:?}");
        let (untracked, untracked_weights) =
            gates(&|paths| arch_forward(&s.net, s.x.clone(), paths));
        assert_eq!(untracked_weights, 0, "{mode:?}: weight gradients computed");
        assert_eq!(untracked, tracked, "{mode:?}");
    }
}

#[test]
fn two_mode_matches_materialised_outputs_over_the_pair() {
    let s = setup();
    let paths = vec![
        BlockPath {
            active: 2,
            involved: vec![2, 0],
        },
        BlockPath {
            active: 1,
            involved: vec![3, 1],
        },
        BlockPath {
            active: 0,
            involved: vec![0, 2],
        },
    ];
    let got = through_gates(&s, &paths, ArchMode::Two);
    for (b, got) in got.iter().enumerate() {
        let want = expected_alpha_grad(&s, &paths, b);
        let got = got.as_ref().unwrap();
        assert_close(got, &want, &format!("block {b}"));
        for (k, g) in got.iter().enumerate() {
            if !paths[b].involved.contains(&k) {
                assert_eq!(*g, 0.0, "block {b}: unsampled candidate {k} got a gradient");
            }
        }
    }
}

#[test]
fn a_block_whose_active_path_is_zero_gets_no_update() {
    let s = setup();
    let mut paths = full_paths();
    paths[0].active = 3; // Zero
    let got = through_gates(&s, &paths, ArchMode::Full);
    assert!(got[0].is_none());
    assert!(got[1].is_some() && got[2].is_some());
    let mut params = s.params.clone();
    let before = params.alpha().to_vec();
    params.apply_grads(&got);
    assert_eq!(params.alpha()[0], before[0]);
    assert_ne!(params.alpha()[1], before[1]);
    let _ = &s.device;
}
