//! The architecture parameters α of every choice block, on the host, with their own Adam.

use rand::Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use proxyless_space::CandidateCosts;

use crate::BlockPath;
use crate::gradient::softmax;

/// How an architecture step runs its gated paths (the paper's `grad_binary_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchMode {
    /// Two paths sampled by p, re-normalised between them, one active; both run.
    Two,
    /// All candidates run (the DARTS-like memory baseline).
    Full,
    /// One path in memory; the others recomputed without gradient after the backward pass.
    FullV2,
}

/// Adam for α; the defaults are the paper's (lr 1e-3, betas (0, 0.999), eps 1e-8, no decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamSettings {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// α for every choice block, its Adam state, and which candidates are Zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchParams {
    alpha: Vec<Vec<f64>>,
    zero: Vec<Vec<bool>>,
    adam: AdamSettings,
    first_moment: Vec<Vec<f64>>,
    second_moment: Vec<Vec<f64>>,
    steps: Vec<u64>,
}

impl ArchParams {
    /// α ~ N(0, `init_std`) for blocks whose candidates' Zero flags are `zero` (the paper:
    /// `init_std` 1e-3).
    pub fn new(
        zero: Vec<Vec<bool>>,
        init_std: f64,
        adam: AdamSettings,
        rng: &mut impl Rng,
    ) -> Self {
        let alpha = zero
            .iter()
            .map(|b| b.iter().map(|_| init_std * standard_normal(rng)).collect())
            .collect();
        let zeros = |z: &Vec<Vec<bool>>| z.iter().map(|b| vec![0.0; b.len()]).collect();
        Self {
            first_moment: zeros(&zero),
            second_moment: zeros(&zero),
            steps: vec![0; zero.len()],
            alpha,
            zero,
            adam,
        }
    }

    /// α of every block.
    pub fn alpha(&self) -> &[Vec<f64>] {
        &self.alpha
    }

    /// Replaces α of block `b` (for experiments and tests).
    pub fn set_alpha(&mut self, b: usize, values: Vec<f64>) {
        assert_eq!(values.len(), self.alpha[b].len(), "one value per candidate");
        self.alpha[b] = values;
    }

    /// Number of choice blocks.
    pub fn num_blocks(&self) -> usize {
        self.alpha.len()
    }

    /// Whether candidate `j` of block `b` is Zero.
    pub fn is_zero(&self, b: usize, j: usize) -> bool {
        self.zero[b][j]
    }

    /// p = softmax(α) of every block.
    pub fn probs(&self) -> Vec<Vec<f64>> {
        self.alpha.iter().map(|a| softmax(a)).collect()
    }

    /// Entropy −Σ p log(p + 1e-8) of every block (as the paper logs it).
    pub fn entropy(&self) -> Vec<f64> {
        self.probs()
            .iter()
            .map(|p| -p.iter().map(|&q| q * (q + 1e-8).ln()).sum::<f64>())
            .collect()
    }

    /// Mean entropy over blocks.
    pub fn mean_entropy(&self) -> f64 {
        let e = self.entropy();
        e.iter().sum::<f64>() / e.len().max(1) as f64
    }

    /// The most probable candidate of every block (the derived architecture).
    pub fn argmax(&self) -> Vec<usize> {
        self.alpha
            .iter()
            .map(|a| {
                a.iter()
                    .enumerate()
                    .fold(0, |best, (j, &v)| if v > a[best] { j } else { best })
            })
            .collect()
    }

    /// The most probable architecture whose cost is at most `limit`: the argmax, then, while it
    /// costs too much, the cheaper swap in one block that gives up the least log-probability per
    /// unit of cost saved. `None` when even the cheapest architecture costs more than `limit`.
    pub fn argmax_under(&self, costs: &CandidateCosts, limit: f64) -> Option<Vec<usize>> {
        let probs = self.probs();
        let mut choice = self.argmax();
        while costs.of(&choice) > limit {
            let mut best: Option<(f64, usize, usize)> = None;
            for (b, p) in probs.iter().enumerate() {
                let (now, c) = (choice[b], &costs.blocks[b]);
                for j in (0..p.len()).filter(|&j| c[j] < c[now]) {
                    let loss = (p[now].max(1e-300)).ln() - (p[j].max(1e-300)).ln();
                    let ratio = loss / (c[now] - c[j]);
                    if best.is_none_or(|(r, _, _)| ratio < r) {
                        best = Some((ratio, b, j));
                    }
                }
            }
            let (_, b, j) = best?;
            choice[b] = j;
        }
        Some(choice)
    }

    /// Raises `choice` toward `limit` while its cost is under `floor`: each time, the swap to a
    /// dearer candidate in one block that keeps the cost within `limit` and gives up the least
    /// log-probability per unit of cost added; when no single swap fits, the like pair of swaps
    /// in two blocks (one may get cheaper) that adds cost. It stops at `floor` or when nothing
    /// fits, so a constrained search uses the budget it was given rather than ending far under.
    pub fn fill_under(
        &self,
        mut choice: Vec<usize>,
        costs: &CandidateCosts,
        limit: f64,
        floor: f64,
    ) -> Vec<usize> {
        let probs = self.probs();
        loop {
            let total = costs.of(&choice);
            if total >= floor {
                return choice;
            }
            let mut best: Option<(f64, usize, usize)> = None;
            for (b, p) in probs.iter().enumerate() {
                let (now, c) = (choice[b], &costs.blocks[b]);
                for j in (0..p.len()).filter(|&j| c[j] > c[now] && total - c[now] + c[j] <= limit) {
                    let loss = (p[now].max(1e-300)).ln() - (p[j].max(1e-300)).ln();
                    let ratio = loss / (c[j] - c[now]);
                    if best.is_none_or(|(r, _, _)| ratio < r) {
                        best = Some((ratio, b, j));
                    }
                }
            }
            match best {
                Some((_, b, j)) => choice[b] = j,
                None => match best_pair_swap(&probs, &choice, costs, limit) {
                    Some((b1, j1, b2, j2)) => {
                        choice[b1] = j1;
                        choice[b2] = j2;
                    }
                    None => return choice,
                },
            }
        }
    }

    /// One candidate per block drawn from p (Zero included): the paths of a weight step.
    pub fn sample_paths(&self, rng: &mut impl Rng) -> Vec<usize> {
        self.probs().iter().map(|p| draw(p, rng)).collect()
    }

    /// The paths of warm-up weight step number `step` under strict fairness (an extension
    /// after FairNAS; the paper samples from p): block `b` runs each of its candidates once, in
    /// an order drawn from `order_seed(b, run)`, in every run of as many consecutive steps as
    /// it has candidates, so every candidate gets the same share of the steps.
    pub fn fair_paths(&self, step: usize, order_seed: impl Fn(usize, usize) -> u64) -> Vec<usize> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        self.alpha
            .iter()
            .enumerate()
            .map(|(b, alpha)| {
                let n = alpha.len();
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(order_seed(
                    b,
                    step / n,
                )));
                order[step % n]
            })
            .collect()
    }

    /// The paths of an architecture step in `mode` (the paper's `binarize`).
    pub fn sample_arch(&self, mode: ArchMode, rng: &mut impl Rng) -> Vec<BlockPath> {
        self.alpha
            .iter()
            .map(|alpha| {
                let p = softmax(alpha);
                match mode {
                    ArchMode::Full | ArchMode::FullV2 => BlockPath {
                        active: draw(&p, rng),
                        involved: (0..p.len()).collect(),
                    },
                    ArchMode::Two if p.len() < 2 => BlockPath {
                        active: 0,
                        involved: vec![0],
                    },
                    ArchMode::Two => {
                        // Two distinct indices by p, then the active one by the 2-way softmax.
                        let first = draw(&p, rng);
                        let mut rest = p.clone();
                        rest[first] = 0.0;
                        let second = draw(&rest, rng);
                        let pair = softmax(&[alpha[first], alpha[second]]);
                        let active = if rng.random::<f64>() < pair[0] {
                            first
                        } else {
                            second
                        };
                        BlockPath {
                            active,
                            involved: vec![first, second],
                        }
                    }
                }
            })
            .collect()
    }

    /// One Adam step on every block with a gradient; blocks with `None` are left entirely
    /// alone (their α, moments and step count), as PyTorch's Adam skips a `None` gradient.
    pub fn apply_grads(&mut self, grads: &[Option<Vec<f64>>]) {
        assert_eq!(grads.len(), self.alpha.len(), "one gradient slot per block");
        let AdamSettings {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.adam;
        for (b, grad) in grads.iter().enumerate() {
            let Some(grad) = grad else { continue };
            self.steps[b] += 1;
            let t = self.steps[b] as i32;
            let bias1 = 1.0 - beta1.powi(t);
            let bias2 = 1.0 - beta2.powi(t);
            let moments = self.first_moment[b]
                .iter_mut()
                .zip(&mut self.second_moment[b]);
            for ((alpha, (m, v)), g) in self.alpha[b].iter_mut().zip(moments).zip(grad) {
                let g = g + weight_decay * *alpha;
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                let denom = v.sqrt() / bias2.sqrt() + eps;
                *alpha -= lr / bias1 * *m / denom;
            }
        }
    }

    /// Mode `two`'s rescale after an Adam step: shifts the two updated α of every block so that
    /// Σ exp over the pair is what it was in `before`, leaving the probabilities of the
    /// unsampled candidates unchanged.
    pub fn rescale(&mut self, before: &[Vec<f64>], paths: &[BlockPath]) {
        for (b, path) in paths.iter().enumerate() {
            if path.involved.len() < 2 {
                continue;
            }
            let log_sum_exp = |a: &[f64]| {
                let m = path.involved.iter().map(|&k| a[k]).fold(f64::MIN, f64::max);
                m + path
                    .involved
                    .iter()
                    .map(|&k| (a[k] - m).exp())
                    .sum::<f64>()
                    .ln()
            };
            let offset = log_sum_exp(&self.alpha[b]) - log_sum_exp(&before[b]);
            for &k in &path.involved {
                self.alpha[b][k] -= offset;
            }
        }
    }
}

/// Draws an index with probability proportional to `weights`.
fn draw(weights: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The pair of swaps, in two blocks of `choice`, that adds cost without passing `limit` and
/// gives up the least log-probability per unit of cost added: `(block, candidate, block,
/// candidate)`.
fn best_pair_swap(
    probs: &[Vec<f64>],
    choice: &[usize],
    costs: &CandidateCosts,
    limit: f64,
) -> Option<(usize, usize, usize, usize)> {
    let total = costs.of(choice);
    let log = |b: usize, j: usize| probs[b][j].max(1e-300).ln();
    let mut best: Option<(f64, usize, usize, usize, usize)> = None;
    for b1 in 0..probs.len() {
        for b2 in b1 + 1..probs.len() {
            let (c1, c2) = (&costs.blocks[b1], &costs.blocks[b2]);
            for j1 in 0..c1.len() {
                for j2 in 0..c2.len() {
                    let added = c1[j1] - c1[choice[b1]] + c2[j2] - c2[choice[b2]];
                    if added <= 1e-12 || total + added > limit {
                        continue;
                    }
                    let loss =
                        log(b1, choice[b1]) - log(b1, j1) + log(b2, choice[b2]) - log(b2, j2);
                    let ratio = loss / added;
                    if best.is_none_or(|(r, ..)| ratio < r) {
                        best = Some((ratio, b1, j1, b2, j2));
                    }
                }
            }
        }
    }
    best.map(|(_, b1, j1, b2, j2)| (b1, j1, b2, j2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn fair_paths_run_every_candidate_once_per_run_in_seeded_orders() {
        let p = params();
        let seed = |b: usize, run: usize| (b as u64) << 32 | run as u64;
        // Block 0 has 4 candidates, block 1 has 3: every run of 4 (3) steps holds each once.
        for (b, n) in [(0, 4), (1, 3)] {
            let mut orders = Vec::new();
            for run in 0..6 {
                let mut seen: Vec<usize> = (run * n..(run + 1) * n)
                    .map(|step| p.fair_paths(step, seed)[b])
                    .collect();
                orders.push(seen.clone());
                seen.sort();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "block {b}, run {run}");
            }
            assert!(
                orders.iter().any(|o| o != &orders[0]),
                "block {b}: one order"
            );
        }
        assert_eq!(p.fair_paths(17, seed), p.fair_paths(17, seed));
    }

    fn params() -> ArchParams {
        let zero = vec![vec![false, false, false, true], vec![false; 3]];
        ArchParams::new(
            zero,
            1e-3,
            AdamSettings::default(),
            &mut StdRng::seed_from_u64(0),
        )
    }

    #[test]
    fn initial_distribution_is_near_uniform() {
        let p = params();
        let e = p.entropy();
        assert!((e[0] - 4f64.ln()).abs() < 1e-4 && (e[1] - 3f64.ln()).abs() < 1e-4);
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        let mut p = params();
        p.set_alpha(0, vec![0.0, (3.0f64).ln(), 0.0, 0.0]);
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000;
        let hits = (0..n).filter(|_| p.sample_paths(&mut rng)[0] == 1).count();
        assert!((hits as f64 / n as f64 - 0.5).abs() < 0.02, "{hits}");
        for path in p.sample_arch(ArchMode::Two, &mut rng) {
            assert_eq!(path.involved.len(), 2);
            assert_ne!(path.involved[0], path.involved[1]);
            assert!(path.involved.contains(&path.active));
        }
    }

    #[test]
    fn rescale_keeps_unsampled_probabilities() {
        let mut p = params();
        p.set_alpha(0, vec![0.3, -0.2, 0.5, 0.1]);
        let before = p.alpha().to_vec();
        let probs_before = p.probs();
        let paths = vec![
            BlockPath {
                active: 1,
                involved: vec![1, 2],
            },
            BlockPath {
                active: 0,
                involved: vec![0, 2],
            },
        ];
        p.apply_grads(&[Some(vec![0.0, 0.7, -0.4, 0.0]), Some(vec![0.2, 0.0, -0.1])]);
        p.rescale(&before, &paths);
        let after = p.probs();
        for (b, path) in paths.iter().enumerate() {
            for j in 0..after[b].len() {
                if !path.involved.contains(&j) {
                    assert!((after[b][j] - probs_before[b][j]).abs() < 1e-12);
                }
            }
        }
        // The pair itself did move.
        assert!((after[0][1] - probs_before[0][1]).abs() > 1e-5);
    }

    #[test]
    fn argmax_under_a_limit_gives_up_the_least_probability() {
        let mut p = params();
        p.set_alpha(0, vec![2.0, 1.9, 0.0, -1.0]);
        p.set_alpha(1, vec![0.0, 3.0, 0.0]);
        let costs = CandidateCosts {
            unit: "ms".into(),
            fixed: 1.0,
            blocks: vec![vec![4.0, 2.0, 1.0, 0.0], vec![1.0, 5.0, 2.0]],
        };
        assert_eq!(p.argmax(), vec![0, 1]);
        // 1 + 4 + 5 = 10: under 10 the argmax stands; under 8 the cheap swap in block 0
        // (2.0 -> 1.9 loses little) beats the swap in block 1.
        assert_eq!(p.argmax_under(&costs, 10.0), Some(vec![0, 1]));
        assert_eq!(p.argmax_under(&costs, 8.0), Some(vec![1, 1]));
        let c = p.argmax_under(&costs, 3.0).unwrap();
        assert!(costs.of(&c) <= 3.0);
        assert_eq!(p.argmax_under(&costs, 1.5), None);
    }

    #[test]
    fn fill_under_spends_the_budget_at_the_least_probability_cost() {
        let mut p = params();
        p.set_alpha(0, vec![0.0, 2.0, 1.9, -1.0]);
        p.set_alpha(1, vec![3.0, 0.0, 1.0]);
        let costs = CandidateCosts {
            unit: "ms".into(),
            fixed: 1.0,
            blocks: vec![vec![4.0, 1.0, 2.0, 0.0], vec![1.0, 5.0, 2.0]],
        };
        let start = p.argmax();
        assert_eq!((start.clone(), costs.of(&start)), (vec![1, 0], 3.0));
        // Already within the floor: unchanged.
        assert_eq!(p.fill_under(start.clone(), &costs, 10.0, 3.0), start);
        // Block 0's 1 -> 2 (+1 ms, nearly as probable) comes first, then block 1's 0 -> 2.
        assert_eq!(p.fill_under(start.clone(), &costs, 4.0, 4.0), vec![2, 0]);
        assert_eq!(p.fill_under(start.clone(), &costs, 5.0, 5.0), vec![2, 2]);
        // Never above the limit, even when the floor cannot be reached.
        let full = p.fill_under(start.clone(), &costs, 9.5, 9.5);
        assert!(costs.of(&full) <= 9.5, "{full:?}");
        // Every single dearer swap from `full` would break the limit.
        for b in 0..2 {
            for j in 0..costs.blocks[b].len() {
                let mut c = full.clone();
                c[b] = j;
                assert!(costs.of(&c) <= costs.of(&full) || costs.of(&c) > 9.5);
            }
        }
    }

    #[test]
    fn fill_under_swaps_two_blocks_when_no_single_swap_fits() {
        let mut p = params();
        p.set_alpha(0, vec![1.0, 0.0, -1.0, -2.0]);
        p.set_alpha(1, vec![1.0, 0.0, -0.5]);
        let costs = CandidateCosts {
            unit: "ms".into(),
            fixed: 0.0,
            blocks: vec![vec![1.0, 3.0, 3.5, 4.0], vec![2.0, 0.5, 1.0]],
        };
        // From 3 ms, every dearer swap of one block passes 4.4 ms; block 0 up by 2 with
        // block 1 down by 1.5 (3.5 ms) fits, then block 1 up by 0.5 (4.0 ms), the more
        // probable of the two half-millisecond steps.
        let filled = p.fill_under(vec![0, 0], &costs, 4.4, 4.4);
        assert_eq!(filled, vec![1, 2], "{}", costs.of(&filled));
    }

    #[test]
    fn adam_matches_pytorch_with_beta1_zero() {
        // With beta1 = 0 the first step moves every coordinate by lr * g / (|g| + eps').
        let mut p = params();
        let before = p.alpha()[1].clone();
        p.apply_grads(&[None, Some(vec![0.5, -2.0, 0.0])]);
        let after = &p.alpha()[1];
        assert!((before[0] - after[0] - 1e-3).abs() < 1e-9);
        assert!((after[1] - before[1] - 1e-3).abs() < 1e-9);
        assert_eq!(before[2], after[2]);
        assert_eq!(p.steps, vec![0, 1]);
    }
}
