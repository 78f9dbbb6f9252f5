//! How the architecture distribution moves on small synthetic tasks.

mod common;

use std::sync::Arc;

use burn::optim::SgdConfig;
use burn::prelude::*;
use proxyless_data::{Loader, Normalize, synthetic};
use proxyless_latency::CostModel;
use proxyless_space::SearchSpace;
use proxyless_supernet::gradient::{Baseline, CostLoss, expected_cost};
use proxyless_supernet::steps::{arch_step, reinforce_step, weight_step};
use proxyless_supernet::{AdamSettings, ArchMode, ArchParams, Searchable, Supernet};
use proxyless_train::steps::batch_tensors;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Weight initialisation draws from the device's seeded generator, global to the process:
/// the tests of this file take turns so that each sees only its own seed.
static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Task {
    space: SearchSpace,
    device: Device,
    model: Supernet,
    loader: Loader,
}

/// The tiny space on a 4-class synthetic task, the supernet warmed up for `epochs` epochs of
/// weight steps on uniformly sampled paths.
fn task(epochs: u64) -> Task {
    let space = SearchSpace::from_toml_file(common::tiny_space()).unwrap();
    let device = Device::default().autodiff();
    device.seed(4);
    let config = synthetic::SyntheticConfig {
        classes: 4,
        per_class: 48,
        channels: 1,
        size: 12,
        noise: 0.1,
    };
    let set = Arc::new(synthetic::generate(&config, 8));
    let loader = Loader::new(set.clone(), 32, Normalize::from_set(&set)).with_drop_last(true);
    let mut model = Supernet::new(&space, &device);
    let mut optim = SgdConfig::new().init();
    let uniform = ArchParams::new(
        model.zero_candidates(),
        0.0,
        AdamSettings::default(),
        &mut StdRng::seed_from_u64(0),
    );
    let mut rng = StdRng::seed_from_u64(9);
    for epoch in 0..epochs {
        for batch in loader.epoch(epoch).map(Result::unwrap) {
            let active = uniform.sample_paths(&mut rng);
            model = weight_step(
                model,
                &mut optim,
                0.1,
                &active,
                batch_tensors(&batch, &device),
                0.0,
            )
            .0;
        }
    }
    Task {
        space,
        device,
        model,
        loader,
    }
}

fn fast_adam() -> AdamSettings {
    AdamSettings {
        lr: 0.05,
        ..AdamSettings::default()
    }
}

/// Index of the cheapest candidate of every block under `costs`.
fn cheapest(costs: &proxyless_space::CandidateCosts) -> Vec<usize> {
    costs
        .blocks
        .iter()
        .map(|c| (0..c.len()).min_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap())
        .collect()
}

#[test]
fn a_strong_latency_term_moves_the_mass_to_the_cheapest_candidates() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let t = task(0);
    let costs = CostModel::Macs.candidate_costs(&t.space).unwrap();
    let form = CostLoss::AddLinear {
        lambda: 20.0,
        reference: 0.5,
    };
    for mode in [ArchMode::Two, ArchMode::FullV2] {
        let mut arch = ArchParams::new(
            t.model.zero_candidates(),
            1e-3,
            fast_adam(),
            &mut StdRng::seed_from_u64(1),
        );
        let initial = arch.clone();
        let mut rng = StdRng::seed_from_u64(2);
        for epoch in 0..12 {
            for batch in t.loader.epoch(epoch).map(Result::unwrap) {
                arch_step(
                    &t.model,
                    &mut arch,
                    mode,
                    Some((&costs, form)),
                    batch_tensors(&batch, &t.device),
                    &mut rng,
                );
            }
        }
        let probs = arch.probs();
        for (b, &j) in cheapest(&costs).iter().enumerate() {
            let p = &probs[b];
            let c = &costs.blocks[b];
            let dearest = (0..c.len()).max_by(|&x, &y| c[x].total_cmp(&c[y])).unwrap();
            assert!(p[j] > 1.2 / p.len() as f64, "{mode:?}, block {b}: {p:?}");
            assert!(
                p[dearest] < 0.6 / p.len() as f64,
                "{mode:?}, block {b}: {p:?}"
            );
        }
        let uniform_cost = expected_cost(&initial, &costs, None).0;
        let final_cost = expected_cost(&arch, &costs, None).0;
        assert!(
            final_cost < 0.8 * uniform_cost,
            "{mode:?}: {final_cost} vs {uniform_cost}"
        );
    }
}

#[test]
fn without_a_latency_term_a_task_that_needs_capacity_does_not_collapse_to_zero() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let t = task(6);
    let mut arch = ArchParams::new(
        t.model.zero_candidates(),
        1e-3,
        fast_adam(),
        &mut StdRng::seed_from_u64(1),
    );
    let mut rng = StdRng::seed_from_u64(3);
    for epoch in 0..6 {
        for batch in t.loader.epoch(100 + epoch).map(Result::unwrap) {
            arch_step(
                &t.model,
                &mut arch,
                ArchMode::FullV2,
                None,
                batch_tensors(&batch, &t.device),
                &mut rng,
            );
        }
    }
    let probs = arch.probs();
    // Blocks 0 and 1 have Zero as their last candidate.
    for (b, p) in probs.iter().enumerate().take(2) {
        let zero = p.len() - 1;
        assert!(arch.is_zero(b, zero));
        assert!(
            p[zero] < 1.0 / p.len() as f64,
            "block {b}: Zero gained mass: {p:?}"
        );
        assert_ne!(arch.argmax()[b], zero, "block {b}: {p:?}");
    }
}

#[test]
fn reinforce_moves_alpha_towards_higher_reward_choices() {
    let _turn = DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let t = task(2);
    let costs = CostModel::Macs.candidate_costs(&t.space).unwrap();
    let mut arch = ArchParams::new(
        t.model.zero_candidates(),
        1e-3,
        fast_adam(),
        &mut StdRng::seed_from_u64(1),
    );
    let mut baseline = Baseline::new(0.99);
    let mut rng = StdRng::seed_from_u64(5);
    // A strong cost trade-off: the reward is highest for the cheapest architectures.
    let reference = costs.of(&cheapest(&costs));
    let mut first_reward = None;
    let mut last_reward = 0.0;
    for epoch in 0..4 {
        for batch in t.loader.epoch(200 + epoch).map(Result::unwrap) {
            let stats = reinforce_step(
                &t.model,
                &mut arch,
                &mut baseline,
                Some((&costs, reference)),
                2.0,
                8,
                batch_tensors(&batch, &t.device),
                &mut rng,
            );
            first_reward.get_or_insert(stats.mean_reward);
            last_reward = stats.mean_reward;
        }
    }
    let probs = arch.probs();
    for (b, &j) in cheapest(&costs).iter().enumerate() {
        assert!(
            probs[b][j] > 1.0 / probs[b].len() as f64,
            "block {b}: {:?}",
            probs[b]
        );
    }
    assert!(
        last_reward > first_reward.unwrap(),
        "{last_reward} vs {first_reward:?}"
    );
}
