//! One weight step, one architecture step, one REINFORCE update, and evaluation: generic over
//! any [`Searchable`] model, so user models with their own choice blocks are driven by the
//! same code as the space's supernet.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use proxyless_nn::parallel::{Shard, descend_sharded, gather_running_states, on_replicas};
pub use proxyless_nn::step::{PendingStats, StepStats, read_stats};
use proxyless_nn::step::{correct, cross_entropy};
use proxyless_space::CandidateCosts;
use rand::Rng;

use crate::gradient::{Baseline, CostLoss, arch_step_grads, expected_cost, reinforce_grads};
use crate::paths::GateGradients;
use crate::{ArchMode, ArchParams, Paths, Searchable};

/// A weight step on one sampled path per block (`active`): forward only those paths,
/// label-smoothed cross-entropy, backward, and an optimiser step. Candidates off the path
/// get no gradient, so the optimiser leaves their weights and state untouched.
pub fn weight_step<M: Searchable>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    active: &[usize],
    batch: (Tensor<4>, Tensor<1, Int>),
    label_smoothing: f32,
) -> (M, PendingStats) {
    weight_step_sharded(model, optim, lr, active, vec![batch], label_smoothing)
}

/// [`weight_step`] on one shard of the batch per device (data parallel when there are
/// several: every device runs the same path on its shard, the gradients are summed on the
/// first device; see [`proxyless_nn::parallel`]).
pub fn weight_step_sharded<M: Searchable>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    active: &[usize],
    shards: Vec<Shard>,
    label_smoothing: f32,
) -> (M, PendingStats) {
    descend_sharded(model, optim, lr, shards, label_smoothing, |model, x| {
        model.forward_paths(x, &Paths::single(active))
    })
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
    batch: (Tensor<4>, Tensor<1, Int>),
    rng: &mut impl Rng,
) -> ArchStepStats {
    arch_step_sharded(model, arch, mode, costs, vec![batch], rng)
}

/// The logits of an architecture step's forward pass along `paths`. Only the gate gradients
/// are wanted (the official step discards the weights'): the supernet runs with its weights
/// untracked, so the backward pass computes no weight gradient and ends at the first choice
/// block. BatchNorm's running statistics are shared with `model`.
pub fn arch_forward<M: Searchable>(model: &M, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
    model.clone().no_grad().forward_paths(x, paths)
}

/// [`arch_step`] on one shard of the held-out batch per device: every device runs the same
/// sampled paths on its shard, and the cross-entropies and gate gradients, weighted by the
/// shards' shares of the images, are summed on the host (where α lives) before the update.
pub fn arch_step_sharded<M: Searchable>(
    model: &M,
    arch: &mut ArchParams,
    mode: ArchMode,
    costs: Option<(&CandidateCosts, CostLoss)>,
    shards: Vec<Shard>,
    rng: &mut impl Rng,
) -> ArchStepStats {
    let sampled = arch.sample_arch(mode, rng);
    let gates_of = |model: &M, (x, y): Shard| {
        let paths = Paths::arch(sampled.clone(), mode);
        let logits = arch_forward(model, x, &paths);
        let ce = cross_entropy(logits, y, 0.0);
        let ce_value = ce.clone().into_scalar::<f64>();
        let grads = ce.backward();
        (ce_value, paths.gate_gradients(&grads))
    };
    let (ce_value, gates) = if shards.len() == 1 {
        let shard = shards.into_iter().next().expect("one shard");
        gates_of(model, shard)
    } else {
        let main = shards[0].0.device();
        let images: Vec<usize> = shards.iter().map(|(_, y)| y.dims()[0]).collect();
        let outcomes = on_replicas(model, shards, |replica, shard| gates_of(&replica, shard));
        // BatchNorm ran in training mode on the replicas; `model` shares their running
        // statistics.
        drop(gather_running_states(model.clone(), &main));
        weighted_sum(outcomes, &images)
    };
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

/// The cross-entropies and gate gradients of several shards summed with weights in
/// proportion to their images: those of the whole batch.
fn weighted_sum(
    outcomes: Vec<(f64, Vec<GateGradients>)>,
    images: &[usize],
) -> (f64, Vec<GateGradients>) {
    let total: usize = images.iter().sum();
    let mut ce = 0.0;
    let mut sum: Option<Vec<GateGradients>> = None;
    for ((value, gates), &n) in outcomes.into_iter().zip(images) {
        let share = n as f64 / total as f64;
        ce += value * share;
        match &mut sum {
            None => {
                sum = Some(
                    gates
                        .into_iter()
                        .map(|g| GateGradients {
                            block: g.block,
                            grads: g.grads.iter().map(|v| v * share).collect(),
                        })
                        .collect(),
                )
            }
            Some(sum) => {
                for (s, g) in sum.iter_mut().zip(gates) {
                    debug_assert_eq!(s.block, g.block, "every shard records the same blocks");
                    for (a, b) in s.grads.iter_mut().zip(g.grads) {
                        *a += b * share;
                    }
                }
            }
        }
    }
    (ce, sum.unwrap_or_default())
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
    batch: (Tensor<4>, Tensor<1, Int>),
    rng: &mut impl Rng,
) -> ReinforceStats {
    let shards = vec![batch];
    reinforce_step_sharded(model, arch, baseline, costs, tradeoff, samples, shards, rng)
}

/// [`reinforce_step`] on one shard of the held-out batch per device: each sampled
/// architecture is scored on every shard on its device at once, its accuracy the sum of the
/// shards' correct answers over the batch's images.
#[allow(clippy::too_many_arguments)]
pub fn reinforce_step_sharded<M: Searchable>(
    model: &M,
    arch: &mut ArchParams,
    baseline: &mut Baseline,
    costs: Option<(&CandidateCosts, f64)>,
    tradeoff: f64,
    samples: usize,
    shards: Vec<Shard>,
    rng: &mut impl Rng,
) -> ReinforceStats {
    let total = shards.iter().map(|(_, y)| y.dims()[0]).sum::<usize>() as f64;
    // Scoring needs no gradient: no graph, so no activations kept per sample.
    let model = model.clone().no_grad();
    let shards: Vec<Shard> = shards.into_iter().map(|(x, y)| (x.detach(), y)).collect();
    let main = shards[0].0.device();
    let mut drawn = Vec::with_capacity(samples);
    let mut rewards = Vec::with_capacity(samples);
    let mut accuracy_sum = 0.0;
    for _ in 0..samples {
        let active = arch.sample_paths(rng);
        let score = |model: &M, (x, y): Shard| {
            correct(&model.forward_paths(x, &Paths::single(&active)), &y)
        };
        let right: usize = match shards.as_slice() {
            [shard] => score(&model, shard.clone()),
            _ => on_replicas(&model, shards.clone(), |replica, shard| {
                score(&replica, shard)
            })
            .into_iter()
            .sum(),
        };
        let accuracy = right as f64 / total;
        accuracy_sum += accuracy;
        let cost = costs.map(|(c, reference)| (c.of(&active), reference));
        rewards.push(reward(accuracy, cost, tradeoff));
        drawn.push(active);
    }
    if shards.len() > 1 {
        drop(gather_running_states(model, &main));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_combine_in_proportion_to_their_images() {
        let gates = |block, grads: &[f64]| GateGradients {
            block,
            grads: grads.to_vec(),
        };
        // 3 and 1 images: shares 3/4 and 1/4.
        let outcomes = vec![
            (2.0, vec![gates(0, &[1.0, -2.0]), gates(2, &[4.0])]),
            (6.0, vec![gates(0, &[5.0, 2.0]), gates(2, &[-4.0])]),
        ];
        let (ce, sum) = weighted_sum(outcomes, &[3, 1]);
        assert_eq!(ce, 0.75 * 2.0 + 0.25 * 6.0);
        assert_eq!(sum[0].block, 0);
        assert_eq!(sum[0].grads, vec![0.75 + 1.25, -1.5 + 0.5]);
        assert_eq!(sum[1].block, 2);
        assert_eq!(sum[1].grads, vec![3.0 - 1.0]);
    }
}
