//! From gate gradients, the expected-cost term and REINFORCE rewards to α gradients: the
//! formulas of the paper's code (`set_arch_param_grad`, `expected_latency`,
//! `add_regularization_loss`, `rl_update_step`), on the host.

use proxyless_space::CandidateCosts;
use serde::{Deserialize, Serialize};

use crate::{ArchMode, ArchParams, BlockPath, GateGradients};

/// softmax(x), computed stably.
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

/// BinaryConnect through the softmax: `∂L/∂α_i = Σ_j G_j p_j (δ_ij − p_i)` with
/// `p = softmax(alpha)` over the involved candidates and `G_j = ∂L/∂g_j`.
pub fn binary_connect(alpha: &[f64], gate_grads: &[f64]) -> Vec<f64> {
    let p = softmax(alpha);
    (0..p.len())
        .map(|i| {
            gate_grads
                .iter()
                .zip(&p)
                .enumerate()
                .map(|(j, (g, pj))| g * pj * (f64::from(u8::from(i == j)) - p[i]))
                .sum()
        })
        .collect()
}

/// The probabilities the expected cost weighs candidates by (the paper's
/// `current_prob_over_ops`): softmax(α) over all candidates, or in mode `two` the 2-way
/// softmax over the sampled pair and 0 elsewhere.
pub fn cost_weights(alpha: &[f64], path: Option<(&BlockPath, ArchMode)>) -> Vec<f64> {
    match path {
        Some((path, ArchMode::Two)) => {
            let pair: Vec<f64> = path.involved.iter().map(|&k| alpha[k]).collect();
            let q = softmax(&pair);
            let mut w = vec![0.0; alpha.len()];
            for (s, &k) in path.involved.iter().enumerate() {
                w[k] = q[s];
            }
            w
        }
        _ => softmax(alpha),
    }
}

/// The expected cost `fixed + Σ_b Σ_j q_bj c_bj` and its gradient with respect to every α.
/// `paths` gives mode `two` its pairs; without paths every block uses softmax(α).
pub fn expected_cost(
    params: &ArchParams,
    costs: &CandidateCosts,
    paths: Option<(&[BlockPath], ArchMode)>,
) -> (f64, Vec<Vec<f64>>) {
    let mut value = costs.fixed;
    let mut grads = Vec::with_capacity(params.num_blocks());
    for (b, alpha) in params.alpha().iter().enumerate() {
        let path = paths.map(|(p, mode)| (&p[b], mode));
        let w = cost_weights(alpha, path);
        let c = &costs.blocks[b];
        let block: f64 = w.iter().zip(c).map(|(w, c)| w * c).sum();
        value += block;
        // d/dα_i Σ_j w_j c_j = w_i (c_i − Σ_j w_j c_j) on the candidates w covers.
        grads.push(w.iter().zip(c).map(|(wi, ci)| wi * (ci - block)).collect());
    }
    (value, grads)
}

/// How the hardware cost enters the architecture loss (the paper's `grad_reg_loss_type`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostLoss {
    /// Cross-entropy only.
    None,
    /// `alpha · CE · (ln E / ln reference)^beta` (the paper's default `mul#log`; 0.2, 0.3).
    MulLog {
        /// Scale α_r.
        alpha: f64,
        /// Exponent β.
        beta: f64,
        /// Reference cost (the target) in the cost model's unit.
        reference: f64,
    },
    /// `CE + lambda · (E − reference) / reference` (`add#linear`; λ 0.1).
    AddLinear {
        /// Weight λ.
        lambda: f64,
        /// Reference cost in the cost model's unit.
        reference: f64,
    },
}

impl CostLoss {
    /// The loss and its partial derivatives `(loss, ∂loss/∂CE, ∂loss/∂E)` for a cross-entropy
    /// `ce` and an expected cost `cost`.
    pub fn combine(&self, ce: f64, cost: f64) -> (f64, f64, f64) {
        match *self {
            CostLoss::None => (ce, 1.0, 0.0),
            CostLoss::AddLinear { lambda, reference } => (
                ce + lambda * (cost - reference) / reference,
                1.0,
                lambda / reference,
            ),
            CostLoss::MulLog {
                alpha,
                beta,
                reference,
            } => {
                let ratio = cost.ln() / reference.ln();
                let factor = alpha * ratio.powf(beta);
                let d_cost = alpha * ce * beta * ratio.powf(beta - 1.0) / (cost * reference.ln());
                (ce * factor, factor, d_cost)
            }
        }
    }
}

/// The α gradients of one gradient-based architecture step: for every block,
/// `∂L/∂CE · BinaryConnect(G) + ∂L/∂E · ∂E/∂α`, or `None` where the active candidate is Zero
/// (the block was bypassed: no update, not even from the cost term, as in the paper).
pub fn arch_step_grads(
    params: &ArchParams,
    paths: &[BlockPath],
    gates: &[GateGradients],
    d_ce: f64,
    cost_grads: Option<(&[Vec<f64>], f64)>,
) -> Vec<Option<Vec<f64>>> {
    let mut out: Vec<Option<Vec<f64>>> = vec![None; params.num_blocks()];
    for gate in gates {
        let b = gate.block;
        let path = &paths[b];
        let alpha = &params.alpha()[b];
        let involved: Vec<f64> = path.involved.iter().map(|&k| alpha[k]).collect();
        let bc = binary_connect(&involved, &gate.grads);
        let mut grad = vec![0.0; alpha.len()];
        for (s, &k) in path.involved.iter().enumerate() {
            grad[k] = d_ce * bc[s];
        }
        if let Some((cost_grads, d_cost)) = cost_grads {
            for (g, c) in grad.iter_mut().zip(&cost_grads[b]) {
                *g += d_cost * c;
            }
        }
        out[b] = Some(grad);
    }
    out
}

/// REINFORCE: `(1/n) Σ_s (R_s − baseline) ∇_α(−log π(arch_s))` over sampled architectures
/// (one candidate index per block each), where `∇_α_i(−log p_k) = p_i − δ_ik`.
pub fn reinforce_grads(
    params: &ArchParams,
    samples: &[Vec<usize>],
    advantages: &[f64],
) -> Vec<Vec<f64>> {
    let probs = params.probs();
    let n = samples.len().max(1) as f64;
    let mut grads: Vec<Vec<f64>> = probs.iter().map(|p| vec![0.0; p.len()]).collect();
    for (sample, advantage) in samples.iter().zip(advantages) {
        for (b, &k) in sample.iter().enumerate() {
            for (i, g) in grads[b].iter_mut().enumerate() {
                let d = probs[b][i] - f64::from(u8::from(i == k));
                *g += advantage * d / n;
            }
        }
    }
    grads
}

/// The moving-average reward baseline of the paper's code: the first mean reward, then
/// `b ← b + decay · (mean − b)` (the paper's decay 0.99 weighs the new mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The current baseline, once a mean was seen.
    pub value: Option<f64>,
    /// Weight of a new mean.
    pub decay: f64,
}

impl Baseline {
    /// A baseline that has seen nothing.
    pub fn new(decay: f64) -> Self {
        Self { value: None, decay }
    }

    /// Folds in the mean reward of a batch of samples; returns the new baseline.
    pub fn update(&mut self, mean_reward: f64) -> f64 {
        let b = match self.value {
            None => mean_reward,
            Some(b) => b + self.decay * (mean_reward - b),
        };
        self.value = Some(b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central finite difference of `f` at `x` along coordinate `i`.
    fn numeric(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
        let h = 1e-6;
        let mut a = x.to_vec();
        let mut b = x.to_vec();
        a[i] += h;
        b[i] -= h;
        (f(&a) - f(&b)) / (2.0 * h)
    }

    #[test]
    fn binary_connect_is_the_softmax_jacobian_applied_to_gate_gradients() {
        // Σ_j G_j p_j is linear in p: its α gradient is exactly the BinaryConnect formula.
        let alpha = [0.3, -0.5, 1.2, 0.0];
        let g = [0.7, -1.1, 0.25, 2.0];
        let f = |a: &[f64]| softmax(a).iter().zip(&g).map(|(p, g)| p * g).sum::<f64>();
        let analytic = binary_connect(&alpha, &g);
        for (i, a) in analytic.iter().enumerate() {
            assert!((a - numeric(&f, &alpha, i)).abs() < 1e-8);
        }
    }

    #[test]
    fn cost_loss_derivatives_match_finite_differences() {
        for loss in [
            CostLoss::MulLog {
                alpha: 0.2,
                beta: 0.3,
                reference: 80.0,
            },
            CostLoss::AddLinear {
                lambda: 0.1,
                reference: 80.0,
            },
            CostLoss::None,
        ] {
            let (_, d_ce, d_cost) = loss.combine(1.7, 95.0);
            let f_ce = |x: &[f64]| loss.combine(x[0], 95.0).0;
            let f_cost = |x: &[f64]| loss.combine(1.7, x[0]).0;
            assert!((d_ce - numeric(&f_ce, &[1.7], 0)).abs() < 1e-7, "{loss:?}");
            assert!(
                (d_cost - numeric(&f_cost, &[95.0], 0)).abs() < 1e-7,
                "{loss:?}"
            );
        }
    }

    #[test]
    fn baseline_follows_the_papers_update() {
        let mut b = Baseline::new(0.99);
        assert_eq!(b.update(0.5), 0.5);
        assert!((b.update(0.7) - (0.5 + 0.99 * 0.2)).abs() < 1e-12);
    }
}
