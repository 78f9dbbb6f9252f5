//! A weight step touches only the sampled path: every other candidate's weights and optimiser
//! state (momentum, weight decay) stay bitwise unchanged.

mod common;

use burn::module::{Module, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use proxyless_nn::MbConv;
use proxyless_space::SearchSpace;
use proxyless_supernet::Supernet;
use proxyless_supernet::steps::weight_step;

fn optimizer() -> ModuleOptimizer {
    proxyless_search::config::WeightsConfig::default().optimizer()
}

/// Every float tensor of a candidate (BatchNorm running statistics included), by id.
fn params(op: &Option<MbConv>) -> Vec<(ParamId, TensorData)> {
    collect(op, false)
}

/// The trainable parameters of a candidate, by id.
fn trainable(op: &Option<MbConv>) -> Vec<(ParamId, TensorData)> {
    collect(op, true)
}

fn collect(op: &Option<MbConv>, trainable_only: bool) -> Vec<(ParamId, TensorData)> {
    struct Collect(Vec<(ParamId, TensorData)>, bool);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if !self.1 || p.val().is_require_grad() {
                self.0.push((p.id, p.val().into_data()));
            }
        }
    }
    let mut c = Collect(Vec::new(), trainable_only);
    op.visit(&mut c);
    c.0
}

#[test]
fn unsampled_candidates_keep_weights_and_optimiser_state() {
    let space = SearchSpace::from_toml_file(common::tiny_space()).unwrap();
    let device = Device::default().autodiff();
    device.seed(1);
    let model = Supernet::new(&space, &device);
    let batch = || {
        (
            Tensor::<4>::random([8, 1, 12, 12], Distribution::Normal(0.0, 1.0), &device),
            Tensor::<1, Int>::from_ints([0, 1, 2, 3, 0, 1, 2, 3], &device),
        )
    };
    let mut optim = optimizer();
    // Candidate 0 of every block trains first, so it has momentum.
    let (model, _) = weight_step(model, &mut optim, 0.1, &[0, 0, 0], batch(), 0.1);
    let before = params(&model.choice_blocks[1].candidates[0]);
    let optim_before = optim.clone();
    // Then other candidates train: candidate 0 is off the path.
    let (model, _) = weight_step(model, &mut optim, 0.1, &[1, 2, 1], batch(), 0.1);
    let (model, _) = weight_step(model, &mut optim, 0.1, &[2, 3, 2], batch(), 0.1);
    let after = params(&model.choice_blocks[1].candidates[0]);
    assert_eq!(before, after, "an unsampled candidate's weights moved");
    // Optimiser state: the same probe step (zero gradient, so only momentum and decay act)
    // gives bitwise the same result from the state before and after the two other steps.
    let watched = trainable(&model.choice_blocks[1].candidates[0]);
    let probe = |mut opt: ModuleOptimizer| {
        let mut grads = GradientsParams::new();
        for (id, data) in &watched {
            let shape = data.shape().clone();
            match shape.num_dims() {
                1 => grads.register(*id, Tensor::<1>::zeros(shape, &device)),
                4 => grads.register(*id, Tensor::<4>::zeros(shape, &device)),
                d => panic!("unexpected rank {d}"),
            }
        }
        let op = model.choice_blocks[1].candidates[0].clone();
        trainable(&opt.step(0.1, op, grads))
    };
    let from_before = probe(optim_before);
    let from_after = probe(optim.clone());
    assert_eq!(
        from_before, from_after,
        "an unsampled candidate's optimiser state changed"
    );
    assert_ne!(
        from_before, watched,
        "sanity: the probe step moves the weights"
    );
}
