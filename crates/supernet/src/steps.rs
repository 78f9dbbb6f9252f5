//! One weight step, one architecture step, one REINFORCE update, and evaluation: generic over
//! any [`Searchable`] model, so user models with their own choice blocks are driven by the
//! same code as the space's supernet.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
pub use proxyless_nn::step::StepStats;
use proxyless_nn::step::{correct, cross_entropy, descend};
use proxyless_space::CandidateCosts;
use rand::Rng;

use crate::gradient::{Baseline, CostLoss, arch_step_grads, expected_cost, reinforce_grads};
use crate::{ArchMode, ArchParams, Paths, Searchable};

/// A weight step on one sampled path per block (`active`): forward only those paths,
/// label-smoothed cross-entropy, backward, and an optimiser step. Candidates off the path
/// get no gradient, so the optimiser leaves their weights and state untouched.
pub fn weight_step<M: Searchable>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    active: &[usize],
    (x, y): (Tensor<4>, Tensor<1, Int>),
    label_smoothing: f32,
) -> (M, StepStats) {
    let logits = model.forward_paths(x, &Paths::single(active));
    descend(model, optim, lr, logits, y, label_smoothing)
}

/// What an architecture step saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchStepStats {
    /// Plain cross-entropy on the held-out batch.
    pub ce: f64,
    /// The expected cost `E[cost]` under the step's probabilities, if a cost is configured.
    pub cost: Option<f64>,
    /// The regularised loss.
    pub loss: f64,
}

/// A gradient architecture step (ProxylessNAS-G) in `mode` on a held-out batch: sample the
/// paths, forward, backward the plain cross-entropy, turn gate gradients into α gradients
/// (BinaryConnect through the softmax, scaled by ∂loss/∂CE), add the expected-cost term,
/// one Adam step on α (blocks whose active path is Zero skipped), and in mode `two` the
/// rescale. The weights do not change.
pub fn arch_step<M: Searchable>(
    model: &M,
    arch: &mut ArchParams,
    mode: ArchMode,
    costs: Option<(&CandidateCosts, CostLoss)>,
    (x, y): (Tensor<4>, Tensor<1, Int>),
    rng: &mut impl Rng,
) -> ArchStepStats {
    let sampled = arch.sample_arch(mode, rng);
    let paths = Paths::arch(sampled.clone(), mode);
    let logits = model.forward_paths(x, &paths);
    let ce = cross_entropy(logits, y, 0.0);
    let ce_value = ce.clone().into_scalar::<f64>();
    let grads = ce.backward();
    let gates = paths.gate_gradients(&grads);
    drop(grads);
    let (loss, d_ce, cost, cost_grads) = match costs {
        Some((costs, form)) => {
            let (cost, cost_grads) = expected_cost(arch, costs, Some((&sampled, mode)));
            let (loss, d_ce, d_cost) = form.combine(ce_value, cost);
            (loss, d_ce, Some(cost), Some((cost_grads, d_cost)))
        }
        None => (ce_value, 1.0, None, None),
    };
    let alpha_grads = arch_step_grads(
        arch,
        &sampled,
        &gates,
        d_ce,
        cost_grads.as_ref().map(|(g, d)| (g.as_slice(), *d)),
    );
    let before = arch.alpha().to_vec();
    arch.apply_grads(&alpha_grads);
    if mode == ArchMode::Two {
        arch.rescale(&before, &sampled);
    }
    ArchStepStats {
        ce: ce_value,
        cost,
        loss,
    }
}

/// The reward of ProxylessNAS-R for an accuracy in `[0, 1]` and a cost:
/// `acc · (reference / cost)^tradeoff`, or the accuracy alone without a cost.
pub fn reward(accuracy: f64, cost: Option<(f64, f64)>, tradeoff: f64) -> f64 {
    match cost {
        Some((cost, reference)) => accuracy * (reference / cost).powf(tradeoff),
        None => accuracy,
    }
}

/// What a REINFORCE update saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReinforceStats {
    /// Mean reward of the sampled architectures.
    pub mean_reward: f64,
    /// The baseline after the update.
    pub baseline: f64,
    /// Mean accuracy of the sampled architectures on the batch.
    pub mean_accuracy: f64,
}

/// A REINFORCE update (ProxylessNAS-R): sample `samples` architectures from p, score each on
/// the same held-out batch (reward from accuracy and, with `costs`, the cost of the sampled
/// architecture against `reference`), update the moving-average baseline, and one Adam step
/// on α along `(1/n) Σ (R − b) ∇ log π`.
#[allow(clippy::too_many_arguments)]
pub fn reinforce_step<M: Searchable>(
    model: &M,
    arch: &mut ArchParams,
    baseline: &mut Baseline,
    costs: Option<(&CandidateCosts, f64)>,
    tradeoff: f64,
    samples: usize,
    (x, y): (Tensor<4>, Tensor<1, Int>),
    rng: &mut impl Rng,
) -> ReinforceStats {
    let total = y.dims()[0] as f64;
    // Scoring needs no gradient: no graph, so no activations kept per sample.
    let model = model.clone().no_grad();
    let x = x.detach();
    let mut drawn = Vec::with_capacity(samples);
    let mut rewards = Vec::with_capacity(samples);
    let mut accuracy_sum = 0.0;
    for _ in 0..samples {
        let active = arch.sample_paths(rng);
        let logits = model.forward_paths(x.clone(), &Paths::single(&active));
        let accuracy = correct(&logits, &y) as f64 / total;
        accuracy_sum += accuracy;
        let cost = costs.map(|(c, reference)| (c.of(&active), reference));
        rewards.push(reward(accuracy, cost, tradeoff));
        drawn.push(active);
    }
    let mean_reward = rewards.iter().sum::<f64>() / samples as f64;
    let b = baseline.update(mean_reward);
    let advantages: Vec<f64> = rewards.iter().map(|r| r - b).collect();
    let grads = reinforce_grads(arch, &drawn, &advantages);
    arch.apply_grads(&grads.into_iter().map(Some).collect::<Vec<_>>());
    ReinforceStats {
        mean_reward,
        baseline: b,
        mean_accuracy: accuracy_sum / samples as f64,
    }
}

/// Accuracy and mean cross-entropy of the network along `active` over `batches`; BatchNorm
/// uses batch statistics, as the paper validates its supernet.
pub fn evaluate<M: Searchable>(
    model: &M,
    active: &[usize],
    batches: impl Iterator<Item = (Tensor<4>, Tensor<1, Int>)>,
) -> StepStats {
    let paths = Paths::single(active);
    let (mut loss, mut right, mut total) = (0.0, 0, 0);
    for (x, y) in batches {
        let n = y.dims()[0];
        let logits = model.forward_paths(x, &paths).detach();
        right += correct(&logits, &y);
        loss += cross_entropy(logits, y, 0.0).into_scalar::<f64>() * n as f64;
        total += n;
    }
    StepStats {
        loss: loss / total.max(1) as f64,
        correct: right,
        total,
    }
}
