//! A fitted fallback for MBConv blocks a table lacks: least squares of the table's
//! `expanded_conv` latencies on the block's multiply-accumulates and the activations it reads
//! and writes, `ms ≈ c₀ + c₁ · MMACs + c₂ · M elements`.

use std::str::FromStr;

use crate::LatencyKey;

/// A linear latency model of MBConv blocks fitted to a table's entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FittedLatency {
    /// `[c₀, c₁, c₂]`: milliseconds, per million MACs, per million activation elements.
    pub coefficients: [f64; 3],
    /// Table entries the fit used.
    pub entries: usize,
    /// Mean absolute percentage error of the fit on those entries (0.05 = 5%).
    pub mape: f64,
}

/// `[1, MMACs, M elements]` of an `expanded_conv` key; `None` for other layers.
pub fn block_features(key: &LatencyKey) -> Option<[f64; 3]> {
    let LatencyKey::Block {
        input,
        output,
        expand,
        kernel,
        ..
    } = *key
    else {
        return None;
    };
    let [h, w, cin] = input.map(|v| v as f64);
    let [ho, wo, cout] = output.map(|v| v as f64);
    let mid = cin * expand as f64;
    let expands = expand != 1;
    let k = kernel as f64;
    let macs = if expands { h * w * cin * mid } else { 0.0 }
        + ho * wo * mid * k * k
        + ho * wo * mid * cout;
    let elements =
        h * w * cin + if expands { h * w * mid } else { 0.0 } + ho * wo * mid + ho * wo * cout;
    Some([1.0, macs / 1e6, elements / 1e6])
}

impl FittedLatency {
    /// Fits the model to the `expanded_conv` entries among `entries` (key text, mean ms);
    /// `None` with fewer than four such entries or when they do not determine the model.
    pub fn fit<'a>(entries: impl Iterator<Item = (&'a str, f64)>) -> Option<Self> {
        let samples: Vec<([f64; 3], f64)> = entries
            .filter_map(|(text, ms)| {
                let key = LatencyKey::from_str(text).ok()?;
                Some((block_features(&key)?, ms))
            })
            .collect();
        if samples.len() < 4 {
            return None;
        }
        // Normal equations (XᵀX) c = Xᵀy, solved by Gaussian elimination with pivoting.
        let mut a = [[0.0f64; 4]; 3];
        for (x, y) in &samples {
            for i in 0..3 {
                for j in 0..3 {
                    a[i][j] += x[i] * x[j];
                }
                a[i][3] += x[i] * y;
            }
        }
        let coefficients = solve(a)?;
        let predict = |x: &[f64; 3]| -> f64 { (0..3).map(|i| coefficients[i] * x[i]).sum() };
        let mape = samples
            .iter()
            .map(|(x, y)| ((predict(x) - y) / y).abs())
            .sum::<f64>()
            / samples.len() as f64;
        Some(Self {
            coefficients,
            entries: samples.len(),
            mape,
        })
    }

    /// The predicted latency (ms, at least 0) of an `expanded_conv` key; `None` for others.
    pub fn predict(&self, key: &LatencyKey) -> Option<f64> {
        let x = block_features(key)?;
        Some(
            (0..3)
                .map(|i| self.coefficients[i] * x[i])
                .sum::<f64>()
                .max(0.0),
        )
    }
}

/// Solves a 3x3 system given as an augmented matrix; `None` when it is singular.
fn solve(mut a: [[f64; 4]; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, values) in a.iter_mut().enumerate() {
            if row != col {
                let factor = values[col] / pivot_row[col];
                for (v, p) in values.iter_mut().zip(pivot_row).skip(col) {
                    *v -= factor * p;
                }
            }
        }
    }
    Some([a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(side: usize, cin: usize, cout: usize, expand: usize, kernel: usize) -> LatencyKey {
        LatencyKey::Block {
            input: [side, side, cin],
            output: [side, side, cout],
            expand,
            kernel,
            stride: 1,
            idskip: false,
        }
    }

    #[test]
    fn recovers_an_exactly_linear_table() {
        let truth = [0.1, 2.0, 0.5];
        let keys = [
            block(14, 16, 16, 3, 3),
            block(14, 16, 24, 6, 5),
            block(7, 24, 24, 3, 7),
            block(7, 24, 40, 6, 3),
            block(4, 40, 40, 1, 5),
        ];
        let texts: Vec<(String, f64)> = keys
            .iter()
            .map(|k| {
                let x = block_features(k).unwrap();
                (k.to_string(), (0..3).map(|i| truth[i] * x[i]).sum())
            })
            .collect();
        let fit = FittedLatency::fit(texts.iter().map(|(t, ms)| (t.as_str(), *ms))).unwrap();
        for (c, t) in fit.coefficients.iter().zip(truth) {
            assert!((c - t).abs() < 1e-9, "{:?}", fit.coefficients);
        }
        assert!(fit.mape < 1e-9);
        assert_eq!(fit.entries, 5);
        let unseen = block(28, 8, 16, 6, 7);
        let x = block_features(&unseen).unwrap();
        let expected: f64 = (0..3).map(|i| truth[i] * x[i]).sum();
        assert!((fit.predict(&unseen).unwrap() - expected).abs() < 1e-9);
    }

    #[test]
    fn needs_enough_block_entries() {
        let k = block(14, 16, 16, 3, 3).to_string();
        assert!(FittedLatency::fit([(k.as_str(), 1.0)].into_iter()).is_none());
        let stem = LatencyKey::Stem {
            input: [28, 28, 1],
            output: [28, 28, 16],
        };
        assert_eq!(block_features(&stem), None);
    }
}
