//! The tree-cell supernet: one choice block per searched edge in the space's order, gated
//! forwards equal to the single path they gate, the three gradient modes and REINFORCE
//! moving α, and the argmax deriving a network that builds with its counted parameters.

use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::count_trainable;
use proxyless_nn::tree::TreeNet;
use proxyless_space::TreeSpace;
use proxyless_supernet::gradient::CostLoss;
use proxyless_supernet::steps::{arch_step, reinforce_step, weight_step};
use proxyless_supernet::{
    AdamSettings, ArchMode, ArchParams, Paths, Searchable, TreeSupernet, gradient::Baseline,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Images whose class is the channel that is brightest on average.
fn batch(n: usize, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let noise = Tensor::<4>::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
    let shift: Vec<f32> = labels
        .iter()
        .flat_map(|&l| (0..3).map(move |c| if c == l { 1.0 } else { 0.0 }))
        .collect();
    let shift = Tensor::<1>::from_floats(shift.as_slice(), device).reshape([n, 3, 1, 1]);
    (noise + shift, Tensor::from_ints(labels.as_slice(), device))
}

#[test]
fn the_tree_supernet_is_searched_and_derives_a_network() {
    let space = TreeSpace::preset("cifar-tree-compact").unwrap();
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = TreeSupernet::new(&space, &device);
    // The space counts its supernet's parameters without building it.
    assert_eq!(count_trainable(&model), space.summary().supernet_params);
    let zero = model.zero_candidates();
    let choices = space.choices();
    assert_eq!(zero.len(), choices.len());
    for (flags, choice) in zero.iter().zip(&choices) {
        assert_eq!(flags.len(), choice.candidates.len());
    }

    // One-hot gates weigh the active candidate by exactly one: the same logits.
    let (x, _) = batch(4, &device);
    let mut arch = ArchParams::new(zero, 1e-3, AdamSettings::default(), &mut rng);
    for mode in [ArchMode::Two, ArchMode::Full, ArchMode::FullV2] {
        let sampled = arch.sample_arch(mode, &mut rng);
        let active: Vec<usize> = sampled.iter().map(|p| p.active).collect();
        let single = model.forward(x.clone(), &Paths::single(&active));
        let gated = model.forward(x.clone(), &Paths::arch(sampled, mode));
        let diff = (single - gated).abs().max().into_scalar::<f32>();
        assert!(diff <= 1e-5, "{mode:?}: {diff}");
    }

    let mut optim = SgdConfig::new().init();
    let costs = space.candidate_costs();
    let cost = Some((
        &costs,
        CostLoss::AddLinear {
            lambda: 0.1,
            reference: costs.of(&costs.cheapest()),
        },
    ));
    let before = arch.alpha().to_vec();
    for step in 0..6 {
        let active = arch.sample_paths(&mut rng);
        let (next, stats) = weight_step(model, &mut optim, 0.05, &active, batch(8, &device), 0.1);
        model = next;
        assert!(stats.read().loss.is_finite());
        let mode = [ArchMode::Two, ArchMode::Full, ArchMode::FullV2][step % 3];
        let seen = arch_step(&model, &mut arch, mode, cost, batch(8, &device), &mut rng);
        assert!(seen.loss.is_finite() && seen.cost.is_some());
    }
    let mut baseline = Baseline::new(0.9);
    let sampled = reinforce_step(
        &model,
        &mut arch,
        &mut baseline,
        None,
        0.0,
        2,
        batch(8, &device),
        &mut rng,
    );
    assert!(sampled.mean_reward.is_finite());
    assert_ne!(arch.alpha(), before.as_slice(), "α never moved");

    // The argmax derives a network of the space, built with the parameters it counts.
    let derived = arch.argmax();
    let net = space.net_config(&derived, "derived").unwrap();
    assert_eq!(space.choices_of(&net, "derived").unwrap(), derived);
    let child = TreeNet::new(&net, "derived", &Device::flex()).unwrap();
    assert_eq!(
        count_trainable(&child),
        net.cost(32, "derived").unwrap().params
    );
    let logits = child.forward(batch(2, &Device::flex()).0);
    assert_eq!(logits.dims(), [2, 10]);
}
