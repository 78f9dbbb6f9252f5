//! Training-mode BatchNorm on contiguous `[batch, channels, plane]` `f32` slices: the batch
//! statistics, the normalisation and its gradients, per channel in one or two passes (Burn's
//! generic version transposes the whole activation for each of its reductions).
//!
//! With `x̂ = (x − μ)/σ`, `σ = √(var + ε)` and `n = batch·plane` values per channel, the
//! gradients of `y = γ·x̂ + β` are `dβ = Σ dy`, `dγ = Σ dy·x̂` and
//! `dx = γ/σ · (dy − Σdy/n − x̂·Σ(dy·x̂)/n)`.

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

/// `γ·(x − μ)/σ + β` with the given statistics (`[means, variances]` as [`statistics`] gives).
pub fn normalize(
    shape: &Shape3,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    stats: &[f32],
    epsilon: f64,
) -> Vec<f32> {
    let (means, variances) = stats.split_at(shape.channels);
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(shape.plane.max(1))
        .zip(x.par_chunks(shape.plane.max(1)))
        .enumerate()
        .for_each(|(plane, (out, input))| {
            let c = plane % shape.channels;
            let inv_std = 1.0 / (variances[c] as f64 + epsilon).sqrt();
            let scale = (gamma[c] as f64 * inv_std) as f32;
            let shift = (beta[c] as f64 - means[c] as f64 * gamma[c] as f64 * inv_std) as f32;
            for (o, &v) in out.iter_mut().zip(input) {
                *o = v * scale + shift;
            }
        });
    y
}

/// The gradients `(dx, dγ, dβ)` of [`normalize`] with batch statistics, from its input, `γ`,
/// the statistics it used and the output gradient.
pub fn gradients(
    shape: &Shape3,
    x: &[f32],
    gamma: &[f32],
    stats: &[f32],
    epsilon: f64,
    output_grad: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (means, variances) = stats.split_at(shape.channels);
    let n = shape.per_channel();
    // Per channel: Σ dy and Σ dy·(x − μ).
    let sums: Vec<(f64, f64)> = (0..shape.channels)
        .into_par_iter()
        .map(|c| {
            let mean = means[c];
            (0..shape.batch).fold((0.0, 0.0), |(sum_dy, sum_dy_xc), b| {
                let dy = shape.plane_of(output_grad, b, c);
                let xs = shape.plane_of(x, b, c);
                let centred: f64 = dot_centred(dy, xs, mean);
                (sum_dy + sum_f64(dy), sum_dy_xc + centred)
            })
        })
        .collect();
    // dx = k_dy·dy + k_x·x + k_1 per channel.
    let coefficients: Vec<[f32; 3]> = (0..shape.channels)
        .map(|c| {
            let (sum_dy, sum_dy_xc) = sums[c];
            let inv_std = 1.0 / (variances[c] as f64 + epsilon).sqrt();
            let k_dy = gamma[c] as f64 * inv_std;
            let k_x = -k_dy * inv_std * inv_std * sum_dy_xc / n;
            let k_1 = -k_dy * sum_dy / n - k_x * means[c] as f64;
            [k_dy as f32, k_x as f32, k_1 as f32]
        })
        .collect();
    let mut x_grad = vec![0.0f32; x.len()];
    x_grad
        .par_chunks_mut(shape.plane.max(1))
        .zip(x.par_chunks(shape.plane.max(1)))
        .zip(output_grad.par_chunks(shape.plane.max(1)))
        .enumerate()
        .for_each(|(plane, ((dx, xs), dy))| {
            let [k_dy, k_x, k_1] = coefficients[plane % shape.channels];
            for ((d, &v), &g) in dx.iter_mut().zip(xs).zip(dy) {
                *d = k_dy * g + k_x * v + k_1;
            }
        });
    let gamma_grad = (0..shape.channels)
        .map(|c| (sums[c].1 / (variances[c] as f64 + epsilon).sqrt()) as f32)
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

/// Σ dy·(x − mean) in the same blocked way as [`sum_f64`].
fn dot_centred(dy: &[f32], x: &[f32], mean: f32) -> f64 {
    dy.chunks(64)
        .zip(x.chunks(64))
        .map(|(g, v)| {
            let mut lanes = [0.0f32; 8];
            let whole = g.len() / 8 * 8;
            for (gc, vc) in g[..whole].chunks_exact(8).zip(v[..whole].chunks_exact(8)) {
                for i in 0..8 {
                    lanes[i] += gc[i] * (vc[i] - mean);
                }
            }
            let tail: f32 = g[whole..]
                .iter()
                .zip(&v[whole..])
                .map(|(a, b)| a * (b - mean))
                .sum();
            lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
        })
        .sum()
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
    fn layer(shape: &Shape3, x: &[f64], gamma: &[f64], beta: &[f64], eps: f64) -> Vec<f64> {
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
                y[idx(b, s)] = gamma[c] * (x[idx(b, s)] - mean) / (var + eps).sqrt() + beta[c];
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
        let gamma = values(shape.channels, 2, 1.0);
        let beta = values(shape.channels, 3, 0.0);
        let r = values(len, 4, 0.0);
        let as64 = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
        let (x64, g64, b64, r64) = (as64(&x), as64(&gamma), as64(&beta), as64(&r));
        let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
            layer(&shape, x, g, b, eps)
                .iter()
                .zip(&r64)
                .map(|(y, r)| y * r)
                .sum()
        };

        let stats = statistics(&shape, &x);
        let y = normalize(&shape, &x, &gamma, &beta, &stats, eps);
        let want = layer(&shape, &x64, &g64, &b64, eps);
        for (a, b) in y.iter().zip(&want) {
            assert!(
                (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                "output {a} vs {b}"
            );
        }

        // Central differences of the loss Σ y·r in f64 against the analytic gradients.
        let (dx, dgamma, dbeta) = gradients(&shape, &x, &gamma, &stats, eps, &r);
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
                    "input {which} [{i}]: analytic {a} vs numeric {n}"
                );
            }
        }
    }
}
