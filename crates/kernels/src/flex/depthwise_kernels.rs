//! Depthwise convolution gradients on contiguous NCHW `f32` slices.
//!
//! With `s` the stride and `p` the padding, output `(oh, ow)` of a plane reads input
//! `(oh·s + kh − p, ow·s + kw − p)` for every kernel tap `(kh, kw)`. Both gradients walk that
//! relation tap by tap over the output rows and columns where the input index is inside the
//! plane (the padding contributes nothing), so the inner loops are contiguous runs that the
//! compiler vectorises when the stride is 1.

use rayon::prelude::*;

/// The geometry of one depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub batch: usize,
    /// Channels (= groups).
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Padding at the top and the left (the bottom and right padding only shape the output).
    pub padding: [usize; 2],
}

impl Geometry {
    fn input_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// [`Self::valid_outputs`] of every kernel row, and of every kernel column.
    fn valid_ranges(&self) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
        let along = |axis: usize| {
            (0..self.kernel[axis])
                .map(|t| self.valid_outputs(axis, t))
                .collect()
        };
        (along(0), along(1))
    }

    /// The output indices `o` along `axis` for which `o·stride + tap − padding` is an input index.
    fn valid_outputs(&self, axis: usize, tap: usize) -> std::ops::Range<usize> {
        let (stride, padding) = (self.stride[axis], self.padding[axis]);
        let (input, output) = (self.input[axis], self.output[axis]);
        let start = padding.saturating_sub(tap).div_ceil(stride);
        // o·s + tap − p ≤ input − 1  ⇔  o ≤ (input − 1 + p − tap) / s
        let end = match (input + padding).checked_sub(tap + 1) {
            Some(last) => (last / stride + 1).min(output),
            None => 0,
        };
        start..end.max(start)
    }
}

/// The gradient of the loss with respect to the input: `[batch, channels, input_h, input_w]`
/// from the weight `[channels, k_h·k_w]` and the output gradient.
pub fn input_gradient(geometry: &Geometry, weight: &[f32], output_grad: &[f32]) -> Vec<f32> {
    let g = *geometry;
    let (in_plane, out_plane, taps) = (g.input_plane(), g.output_plane(), g.taps());
    let [in_w, out_w] = [g.input[1], g.output[1]];
    let [stride_h, stride_w] = g.stride;
    let (rows, cols) = g.valid_ranges();
    let mut input_grad = vec![0.0f32; g.batch * g.channels * in_plane];
    input_grad
        .par_chunks_mut(in_plane.max(1))
        .enumerate()
        .for_each(|(plane, grad_in)| {
            let c = plane % g.channels;
            let w = &weight[c * taps..(c + 1) * taps];
            let grad_out = &output_grad[plane * out_plane..(plane + 1) * out_plane];
            for (kh, rows) in rows.iter().enumerate() {
                for oh in rows.clone() {
                    let ih = oh * stride_h + kh - g.padding[0];
                    let src_row = &grad_out[oh * out_w..(oh + 1) * out_w];
                    let dst_row = &mut grad_in[ih * in_w..(ih + 1) * in_w];
                    for (kw, cols) in cols.iter().enumerate() {
                        if cols.is_empty() {
                            continue;
                        }
                        let tap = w[kh * g.kernel[1] + kw];
                        let first = cols.start * stride_w + kw - g.padding[1];
                        let src = &src_row[cols.clone()];
                        if stride_w == 1 {
                            let dst = &mut dst_row[first..first + src.len()];
                            for (d, s) in dst.iter_mut().zip(src) {
                                *d += s * tap;
                            }
                        } else {
                            let dst = dst_row[first..].iter_mut().step_by(stride_w);
                            for (d, s) in dst.zip(src) {
                                *d += s * tap;
                            }
                        }
                    }
                }
            }
        });
    input_grad
}

/// The gradient of the loss with respect to the weight: `[channels, k_h·k_w]`, summed over the
/// batch, from the input and the output gradient.
pub fn weight_gradient(geometry: &Geometry, input: &[f32], output_grad: &[f32]) -> Vec<f32> {
    let g = *geometry;
    let (in_plane, out_plane, taps) = (g.input_plane(), g.output_plane(), g.taps());
    let [in_w, out_w] = [g.input[1], g.output[1]];
    let [stride_h, stride_w] = g.stride;
    let (rows, cols) = g.valid_ranges();
    let mut weight_grad = vec![0.0f32; g.channels * taps];
    weight_grad
        .par_chunks_mut(taps.max(1))
        .enumerate()
        .for_each(|(c, grad_w)| {
            for b in 0..g.batch {
                let plane = b * g.channels + c;
                let x = &input[plane * in_plane..(plane + 1) * in_plane];
                let grad_out = &output_grad[plane * out_plane..(plane + 1) * out_plane];
                for (kh, rows) in rows.iter().enumerate() {
                    for (kw, cols) in cols.iter().enumerate() {
                        if cols.is_empty() {
                            continue;
                        }
                        let mut sum = 0.0f32;
                        for oh in rows.clone() {
                            let ih = oh * stride_h + kh - g.padding[0];
                            let first = cols.start * stride_w + kw - g.padding[1];
                            let src = &grad_out[oh * out_w + cols.start..oh * out_w + cols.end];
                            let x_row = &x[ih * in_w..(ih + 1) * in_w];
                            sum += if stride_w == 1 {
                                dot(src, &x_row[first..first + src.len()])
                            } else {
                                src.iter()
                                    .zip(x_row[first..].iter().step_by(stride_w))
                                    .map(|(a, b)| a * b)
                                    .sum::<f32>()
                            };
                        }
                        grad_w[kh * g.kernel[1] + kw] += sum;
                    }
                }
            }
        });
    weight_grad
}

/// A dot product in eight independent lanes, so that it vectorises without reassociation flags.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += ca[i] * cb[i];
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(x, y)| x * y)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input index read by output `o` through `tap`, if inside the input.
    fn source(o: usize, tap: usize, stride: usize, padding: usize, size: usize) -> Option<usize> {
        (o * stride + tap)
            .checked_sub(padding)
            .filter(|&i| i < size)
    }

    /// Both gradients by the definition, one multiply-add per (output, tap), in f64.
    fn reference(g: &Geometry, x: &[f32], w: &[f32], grad_out: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let mut grad_in = vec![0.0f64; x.len()];
        let mut grad_w = vec![0.0f64; w.len()];
        for b in 0..g.batch {
            for c in 0..g.channels {
                let plane = b * g.channels + c;
                for oh in 0..g.output[0] {
                    for ow in 0..g.output[1] {
                        let go = grad_out[plane * g.output_plane() + oh * g.output[1] + ow] as f64;
                        for kh in 0..g.kernel[0] {
                            for kw in 0..g.kernel[1] {
                                let (Some(ih), Some(iw)) = (
                                    source(oh, kh, g.stride[0], g.padding[0], g.input[0]),
                                    source(ow, kw, g.stride[1], g.padding[1], g.input[1]),
                                ) else {
                                    continue;
                                };
                                let xi = plane * g.input_plane() + ih * g.input[1] + iw;
                                let wi = c * g.taps() + kh * g.kernel[1] + kw;
                                grad_in[xi] += go * w[wi] as f64;
                                grad_w[wi] += go * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
        (grad_in, grad_w)
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn output_side(input: usize, kernel: usize, stride: usize, padding: usize) -> usize {
        (input + 2 * padding - kernel) / stride + 1
    }

    #[test]
    fn gradients_match_the_definition() {
        for (input, kernel, stride) in [
            ([7, 7], [3, 3], [1, 1]),
            ([8, 8], [5, 5], [2, 2]),
            ([9, 6], [7, 7], [2, 2]),
            ([5, 11], [7, 3], [1, 2]),
            ([3, 3], [7, 7], [1, 1]),
            ([1, 1], [3, 3], [2, 2]),
        ] {
            let padding = [kernel[0] / 2, kernel[1] / 2];
            let output = [0, 1].map(|a| output_side(input[a], kernel[a], stride[a], padding[a]));
            let g = Geometry {
                batch: 3,
                channels: 4,
                input,
                output,
                kernel,
                stride,
                padding,
            };
            let x = values(g.batch * g.channels * g.input_plane(), 1);
            let w = values(g.channels * g.taps(), 2);
            let grad_out = values(g.batch * g.channels * g.output_plane(), 3);
            let (want_in, want_w) = reference(&g, &x, &w, &grad_out);
            let got_in = input_gradient(&g, &w, &grad_out);
            let got_w = weight_gradient(&g, &x, &grad_out);
            for (got, want, what) in [(got_in, want_in, "input"), (got_w, want_w, "weight")] {
                assert_eq!(got.len(), want.len());
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{what} gradient [{i}] of {g:?}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn valid_outputs_stay_inside_the_input() {
        let g = Geometry {
            batch: 1,
            channels: 1,
            input: [5, 5],
            output: [3, 3],
            kernel: [5, 5],
            stride: [2, 2],
            padding: [2, 2],
        };
        // Tap 0 reads o·2 − 2: inside for o ≥ 1. Tap 4 reads o·2 + 2: inside for o ≤ 1.
        assert_eq!(g.valid_outputs(0, 0), 1..3);
        assert_eq!(g.valid_outputs(0, 2), 0..3);
        assert_eq!(g.valid_outputs(0, 4), 0..2);
    }
}
