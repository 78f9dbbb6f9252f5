//! Training-mode BatchNorm on contiguous `[batch, channels, plane]` `f32` slices: the batch
//! statistics, the normalisation (optionally followed by ReLU6 in the same pass) and its
//! gradients, per channel in one or two passes (Burn's generic version transposes the whole
//! activation for each of its reductions).
//!
//! With `x̂ = (x − μ)/σ`, `σ = √(var + ε)` and `n = batch·plane` values per channel, the
//! gradients of `y = γ·x̂ + β` are `dβ = Σ dy`, `dγ = Σ dy·x̂` and
//! `dx = γ/σ · (dy − Σdy/n − x̂·Σ(dy·x̂)/n)`. With ReLU6 after it, `dy` is first zeroed where
//! the normalised value `z` is outside `(0, 6]` (as Burn's `relu` then `clamp_max(6)`), `z`
//! being recomputed from `x` rather than kept.

use rayon::prelude::*;

/// The shape of one activation: `[batch, channels, plane]` with `plane = height·width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape3 {
    /// Batch size.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Values per image and channel.
    pub plane: usize,
}

impl Shape3 {
    fn per_channel(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// The `plane` values of image `b`, channel `c`.
    fn plane_of<'a>(&self, values: &'a [f32], b: usize, c: usize) -> &'a [f32] {
        let start = (b * self.channels + c) * self.plane;
        &values[start..start + self.plane]
    }
}

/// Whether ReLU6 follows the normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The normalised values as they are.
    Identity,
    /// `min(max(z, 0), 6)`.
    Relu6,
}

impl Activation {
    #[inline(always)]
    fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Identity => z,
            Activation::Relu6 => z.clamp(0.0, 6.0),
        }
    }

    /// The part of the output gradient `g` that reaches the normalised value `z`.
    #[inline(always)]
    fn pass(self, z: f32, g: f32) -> f32 {
        match self {
            Activation::Identity => g,
            Activation::Relu6 => {
                if z > 0.0 && z <= 6.0 {
                    g
                } else {
                    0.0
                }
            }
        }
    }
}

/// The per-channel statistics and affine parameters of one normalisation.
#[derive(Debug, Clone, Copy)]
pub struct Affine<'a> {
    /// `γ`.
    pub gamma: &'a [f32],
    /// `β`.
    pub beta: &'a [f32],
    /// `[means, variances]` as [`statistics`] gives them.
    pub stats: &'a [f32],
    /// `ε`.
    pub epsilon: f64,
}

impl Affine<'_> {
    fn channels(&self) -> usize {
        self.gamma.len()
    }

    fn mean(&self, c: usize) -> f32 {
        self.stats[c]
    }

    fn inv_std(&self, c: usize) -> f64 {
        1.0 / (self.stats[self.channels() + c] as f64 + self.epsilon).sqrt()
    }

    /// `(γ/σ, β − μ·γ/σ)` of every channel: the normalised value is `scale·x + shift`,
    /// computed the same way in the forward and the backward pass.
    fn scales_and_shifts(&self) -> Vec<(f32, f32)> {
        (0..self.channels())
            .map(|c| {
                let scale = self.gamma[c] as f64 * self.inv_std(c);
                let shift = self.beta[c] as f64 - self.mean(c) as f64 * scale;
                (scale as f32, shift as f32)
            })
            .collect()
    }
}

/// Mean and biased variance of every channel: `[mean₀ … mean_c, var₀ … var_c]`. Two passes,
/// accumulated in `f64`.
pub fn statistics(shape: &Shape3, x: &[f32]) -> Vec<f32> {
    let n = shape.per_channel();
    let per_channel: Vec<(f32, f32)> = (0..shape.channels)
        .into_par_iter()
        .map(|c| {
            let planes = (0..shape.batch).map(|b| shape.plane_of(x, b, c));
            let sum: f64 = planes.clone().map(sum_f64).sum();
            let mean = sum / n;
            let squares: f64 = planes
                .map(|p| p.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>())
                .sum();
            (mean as f32, (squares / n) as f32)
        })
        .collect();
    let (means, variances): (Vec<f32>, Vec<f32>) = per_channel.into_iter().unzip();
    [means, variances].concat()
}

/// `activation(γ·(x − μ)/σ + β)` with the given statistics and parameters.
pub fn normalize(shape: &Shape3, x: &[f32], affine: Affine, activation: Activation) -> Vec<f32> {
    let scales_and_shifts = affine.scales_and_shifts();
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(shape.plane.max(1))
        .zip(x.par_chunks(shape.plane.max(1)))
        .enumerate()
        .for_each(|(plane, (out, input))| {
            let (scale, shift) = scales_and_shifts[plane % shape.channels];
            for (o, &v) in out.iter_mut().zip(input) {
                *o = activation.apply(v * scale + shift);
            }
        });
    y
}

/// The gradients `(dx, dγ, dβ)` of [`normalize`] with batch statistics, from its input, the
/// statistics and parameters it used, and the output gradient.
pub fn gradients(
    shape: &Shape3,
    x: &[f32],
    affine: Affine,
    activation: Activation,
    output_grad: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = shape.per_channel();
    let scales_and_shifts = affine.scales_and_shifts();
    // Per channel: Σ g and Σ g·(x − μ), g being the gradient that reaches the normalised value.
    let sums: Vec<(f64, f64)> = (0..shape.channels)
        .into_par_iter()
        .map(|c| {
            let (scale, shift) = scales_and_shifts[c];
            (0..shape.batch).fold((0.0, 0.0), |(sum_g, sum_g_xc), b| {
                let dy = shape.plane_of(output_grad, b, c);
                let xs = shape.plane_of(x, b, c);
                let pass = |v: f32, g: f32| activation.pass(v * scale + shift, g);
                let (plane_g, plane_g_xc) = plane_sums(dy, xs, affine.mean(c), pass);
                (sum_g + plane_g, sum_g_xc + plane_g_xc)
            })
        })
        .collect();
    // dx = k_g·g + k_x·x + k_1 per channel.
    let coefficients: Vec<[f32; 3]> = (0..shape.channels)
        .map(|c| {
            let (sum_g, sum_g_xc) = sums[c];
            let inv_std = affine.inv_std(c);
            let k_g = affine.gamma[c] as f64 * inv_std;
            let k_x = -k_g * inv_std * inv_std * sum_g_xc / n;
            let k_1 = -k_g * sum_g / n - k_x * affine.mean(c) as f64;
            [k_g as f32, k_x as f32, k_1 as f32]
        })
        .collect();
    let mut x_grad = vec![0.0f32; x.len()];
    x_grad
        .par_chunks_mut(shape.plane.max(1))
        .zip(x.par_chunks(shape.plane.max(1)))
        .zip(output_grad.par_chunks(shape.plane.max(1)))
        .enumerate()
        .for_each(|(plane, ((dx, xs), dy))| {
            let c = plane % shape.channels;
            let [k_g, k_x, k_1] = coefficients[c];
            let (scale, shift) = scales_and_shifts[c];
            for ((d, &v), &g) in dx.iter_mut().zip(xs).zip(dy) {
                let g = activation.pass(v * scale + shift, g);
                *d = k_g * g + k_x * v + k_1;
            }
        });
    let gamma_grad = (0..shape.channels)
        .map(|c| (sums[c].1 * affine.inv_std(c)) as f32)
        .collect();
    let beta_grad = sums.iter().map(|s| s.0 as f32).collect();
    (x_grad, gamma_grad, beta_grad)
}

/// Σ v in `f64`, in four lanes of `f32` partial sums per block of 64 (fast and accurate enough
/// for the per-plane sums that are then added in `f64`).
fn sum_f64(values: &[f32]) -> f64 {
    values
        .chunks(64)
        .map(|block| {
            let mut lanes = [0.0f32; 8];
            let whole = block.len() / 8 * 8;
            for chunk in block[..whole].chunks_exact(8) {
                for i in 0..8 {
                    lanes[i] += chunk[i];
                }
            }
            let tail: f32 = block[whole..].iter().sum();
            lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
        })
        .sum()
}

/// `(Σ g, Σ g·(x − mean))` over one plane with `g = pass(x, dy)`, in the same blocked way as
/// [`sum_f64`].
#[inline(always)]
fn plane_sums(dy: &[f32], x: &[f32], mean: f32, pass: impl Fn(f32, f32) -> f32) -> (f64, f64) {
    dy.chunks(64)
        .zip(x.chunks(64))
        .map(|(g, v)| {
            let mut sums = [0.0f32; 8];
            let mut centred = [0.0f32; 8];
            let whole = g.len() / 8 * 8;
            for (gc, vc) in g[..whole].chunks_exact(8).zip(v[..whole].chunks_exact(8)) {
                for i in 0..8 {
                    let passed = pass(vc[i], gc[i]);
                    sums[i] += passed;
                    centred[i] += passed * (vc[i] - mean);
                }
            }
            let (mut sum_tail, mut centred_tail) = (0.0f32, 0.0f32);
            for (&a, &b) in g[whole..].iter().zip(&v[whole..]) {
                let passed = pass(b, a);
                sum_tail += passed;
                centred_tail += passed * (b - mean);
            }
            let total = |lanes: [f32; 8], tail: f32| {
                lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
            };
            (total(sums, sum_tail), total(centred, centred_tail))
        })
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32, offset: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 500.0 - 2.0 + offset
            })
            .collect()
    }

    /// Output of the layer as a function of all inputs, in f64, by the definition.
    fn layer(
        shape: &Shape3,
        (x, gamma, beta): (&[f64], &[f64], &[f64]),
        eps: f64,
        activation: Activation,
    ) -> Vec<f64> {
        let n = shape.per_channel();
        let mut y = vec![0.0; x.len()];
        for c in 0..shape.channels {
            let idx = |b: usize, s: usize| (b * shape.channels + c) * shape.plane + s;
            let all = || (0..shape.batch).flat_map(move |b| (0..shape.plane).map(move |s| (b, s)));
            let mean = all().map(|(b, s)| x[idx(b, s)]).sum::<f64>() / n;
            let var = all()
                .map(|(b, s)| (x[idx(b, s)] - mean).powi(2))
                .sum::<f64>()
                / n;
            for (b, s) in all() {
                let z = gamma[c] * (x[idx(b, s)] - mean) / (var + eps).sqrt() + beta[c];
                y[idx(b, s)] = match activation {
                    Activation::Identity => z,
                    Activation::Relu6 => z.clamp(0.0, 6.0),
                };
            }
        }
        y
    }

    #[test]
    fn statistics_output_and_gradients_match_the_definition() {
        let shape = Shape3 {
            batch: 3,
            channels: 4,
            plane: 13,
        };
        let eps = 1e-3;
        let len = shape.batch * shape.channels * shape.plane;
        // An offset far from zero checks that the variance does not cancel catastrophically.
        let x = values(len, 1, 30.0);
        let r = values(len, 4, 0.0);
        let as64 = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
        let stats = statistics(&shape, &x);
        // With ReLU6, larger γ and β spread the normalised values below 0 and above 6.
        for (activation, gamma_offset, beta_offset) in [
            (Activation::Identity, 1.0, 0.0),
            (Activation::Relu6, 4.0, 1.0),
        ] {
            let gamma = values(shape.channels, 2, gamma_offset);
            let beta = values(shape.channels, 3, beta_offset);
            let (x64, g64, b64, r64) = (as64(&x), as64(&gamma), as64(&beta), as64(&r));
            let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
                layer(&shape, (x, g, b), eps, activation)
                    .iter()
                    .zip(&r64)
                    .map(|(y, r)| y * r)
                    .sum()
            };
            let affine = Affine {
                gamma: &gamma,
                beta: &beta,
                stats: &stats,
                epsilon: eps,
            };
            let y = normalize(&shape, &x, affine, activation);
            let want = layer(&shape, (&x64, &g64, &b64), eps, activation);
            for (a, b) in y.iter().zip(&want) {
                assert!(
                    (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                    "{activation:?} output {a} vs {b}"
                );
            }
            if activation == Activation::Relu6 {
                let clipped = |f: fn(&f64) -> bool| want.iter().filter(|v| f(v)).count();
                assert!(clipped(|v| *v == 0.0) > len / 10, "few values below 0");
                assert!(clipped(|v| *v == 6.0) > len / 20, "few values above 6");
            }

            // Central differences of the loss Σ y·r in f64 against the analytic gradients.
            let (dx, dgamma, dbeta) = gradients(&shape, &x, affine, activation, &r);
            let h = 1e-4;
            let numeric = |which: usize, i: usize| {
                let mut inputs = [x64.clone(), g64.clone(), b64.clone()];
                inputs[which][i] += h;
                let plus = loss(&inputs[0], &inputs[1], &inputs[2]);
                inputs[which][i] -= 2.0 * h;
                let minus = loss(&inputs[0], &inputs[1], &inputs[2]);
                (plus - minus) / (2.0 * h)
            };
            for (which, analytic) in [(0, &dx), (1, &dgamma), (2, &dbeta)] {
                for (i, &a) in analytic.iter().enumerate() {
                    let n = numeric(which, i);
                    assert!(
                        (a as f64 - n).abs() < 2e-3 * (1.0 + n.abs()),
                        "{activation:?}: input {which} [{i}]: analytic {a} vs numeric {n}"
                    );
                }
            }
        }
    }
}
