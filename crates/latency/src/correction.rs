//! What a sum of per-layer table entries misses about a whole network: a fixed cost per
//! network, a cost per layer and a scale, fitted by least squares to a few networks measured
//! end to end. Kept in a table's header comments, which the official readers ignore.

use crate::error::{Error, Result};

/// `whole network ≈ overhead_ms + scale · Σ entries + per_layer_ms · layers`, where `layers`
/// counts the table keys of the network (stem, every MBConv block, feature mix, logits).
///
/// Per-layer timings miss what a network run adds or saves: thread-pool wake-ups and the
/// framework's dispatch between layers, caches warm from the previous layer, the final
/// synchronisation. The correction is linear in the entries, so the search's expected latency
/// stays linear in the candidates' probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkCorrection {
    /// Fixed milliseconds per network.
    pub overhead_ms: f64,
    /// Factor on the sum of the entries.
    pub scale: f64,
    /// Milliseconds per layer with a table key.
    pub per_layer_ms: f64,
    /// Networks measured for the fit.
    pub networks: usize,
    /// Mean absolute percentage error of the fit on those networks, as a fraction.
    pub fit_mape: f64,
}

/// Header keys of the correction, in the order they are written.
const KEYS: [&str; 5] = [
    "correction_overhead_ms",
    "correction_scale",
    "correction_per_layer_ms",
    "correction_networks",
    "correction_fit_mape",
];

impl NetworkCorrection {
    /// No correction: the plain sum of the entries.
    pub const NONE: Self = Self {
        overhead_ms: 0.0,
        scale: 1.0,
        per_layer_ms: 0.0,
        networks: 0,
        fit_mape: 0.0,
    };

    /// The prediction for a network whose entries sum to `sum_ms` over `layers` keyed layers.
    pub fn apply(&self, sum_ms: f64, layers: usize) -> f64 {
        self.overhead_ms + self.scale * sum_ms + self.per_layer_ms * layers as f64
    }

    /// Fits the correction to `(Σ entries, keyed layers, measured ms)` of whole networks, for
    /// a table whose smallest entry is `smallest_entry_ms`.
    ///
    /// Least squares on all three terms; where the layer count does not vary (a space without
    /// Zero) or the full fit is unphysical (a non-positive scale, or a per-layer term that
    /// would make the smallest layer cost less than nothing), the per-layer term is left out,
    /// and then the scale too, ending with a pure offset. `None` for no networks.
    pub fn fit(samples: &[(f64, usize, f64)], smallest_entry_ms: f64) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let rows: Vec<([f64; 3], f64)> = samples
            .iter()
            .map(|&(sum, layers, measured)| ([1.0, sum, layers as f64], measured))
            .collect();
        let physical = |c: &[f64; 3]| {
            c[1] > 0.0 && c.iter().all(|v| v.is_finite()) && c[1] * smallest_entry_ms + c[2] >= 0.0
        };
        let coefficients = [3usize, 2]
            .into_iter()
            .filter(|&terms| samples.len() > terms)
            .filter_map(|terms| least_squares(&rows, terms))
            .find(physical)
            .unwrap_or_else(|| {
                // A pure offset on top of the plain sum.
                let offset =
                    samples.iter().map(|&(s, _, m)| m - s).sum::<f64>() / samples.len() as f64;
                [offset, 1.0, 0.0]
            });
        let mut fit = Self {
            overhead_ms: coefficients[0],
            scale: coefficients[1],
            per_layer_ms: coefficients[2],
            networks: samples.len(),
            fit_mape: 0.0,
        };
        fit.fit_mape = samples
            .iter()
            .map(|&(sum, layers, measured)| ((fit.apply(sum, layers) - measured) / measured).abs())
            .sum::<f64>()
            / samples.len() as f64;
        Some(fit)
    }

    /// The correction as `(key, value)` header entries.
    pub fn to_meta(&self) -> Vec<(String, String)> {
        let values = [
            self.overhead_ms.to_string(),
            self.scale.to_string(),
            self.per_layer_ms.to_string(),
            self.networks.to_string(),
            self.fit_mape.to_string(),
        ];
        KEYS.iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// The correction in a table's header, `None` when it has none; a partial or unreadable
    /// one is an error naming the table and the key.
    pub fn from_meta(meta: &[(String, String)], origin: &str) -> Result<Option<Self>> {
        let value = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if KEYS.iter().all(|k| value(k).is_none()) {
            return Ok(None);
        }
        let number = |key: &str| -> Result<f64> {
            let text = value(key).ok_or_else(|| Error::Invalid {
                origin: origin.to_string(),
                message: format!(
                    "header '{key}' is missing (the correction needs all of {})",
                    KEYS.join(", ")
                ),
            })?;
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| Error::Invalid {
                    origin: origin.to_string(),
                    message: format!("header '{key}': expected a finite number, got '{text}'"),
                })
        };
        let scale = number(KEYS[1])?;
        if scale <= 0.0 {
            return Err(Error::Invalid {
                origin: origin.to_string(),
                message: format!(
                    "header '{}': expected a positive factor, got {scale}",
                    KEYS[1]
                ),
            });
        }
        Ok(Some(Self {
            overhead_ms: number(KEYS[0])?,
            scale,
            per_layer_ms: number(KEYS[2])?,
            networks: number(KEYS[3])? as usize,
            fit_mape: number(KEYS[4])?,
        }))
    }
}

/// Least squares with the first `terms` columns of `rows`, by the normal equations (3x3 at
/// most); `None` when they are singular. Unused coefficients are 0.
fn least_squares(rows: &[([f64; 3], f64)], terms: usize) -> Option<[f64; 3]> {
    // Columns scaled to unit size so that the singularity test does not depend on units.
    let mut norm = [0.0f64; 3];
    for (x, _) in rows {
        for j in 0..terms {
            norm[j] = norm[j].max(x[j].abs());
        }
    }
    if norm[..terms].contains(&0.0) {
        return None;
    }
    let mut a = [[0.0f64; 4]; 3];
    for (x, y) in rows {
        for i in 0..terms {
            for j in 0..terms {
                a[i][j] += x[i] / norm[i] * x[j] / norm[j];
            }
            a[i][3] += x[i] / norm[i] * y;
        }
    }
    // Gauss-Jordan with partial pivoting.
    for col in 0..terms {
        let pivot = (col..terms).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 * rows.len() as f64 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate().take(terms) {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut out = [0.0; 3];
    for j in 0..terms {
        out[j] = a[j][3] / a[j][j] / norm[j];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_law() {
        // measured = 0.2 + 1.3 · sum + 0.05 · layers, at points where sum and layers vary apart.
        let law = |s: f64, l: usize| 0.2 + 1.3 * s + 0.05 * l as f64;
        let points = [(1.0, 6), (2.0, 6), (1.5, 9), (3.0, 12), (2.2, 8)];
        let samples: Vec<_> = points.iter().map(|&(s, l)| (s, l, law(s, l))).collect();
        let fit = NetworkCorrection::fit(&samples, 0.5).unwrap();
        assert!((fit.overhead_ms - 0.2).abs() < 1e-9, "{fit:?}");
        assert!((fit.scale - 1.3).abs() < 1e-9, "{fit:?}");
        assert!((fit.per_layer_ms - 0.05).abs() < 1e-9, "{fit:?}");
        assert!(fit.fit_mape < 1e-9);
        assert_eq!(fit.networks, 5);
    }

    #[test]
    fn a_constant_layer_count_drops_the_per_layer_term() {
        let samples = [(1.0, 7, 2.5), (2.0, 7, 4.5), (4.0, 7, 8.5)];
        let fit = NetworkCorrection::fit(&samples, 0.1).unwrap();
        assert_eq!(fit.per_layer_ms, 0.0);
        assert!((fit.scale - 2.0).abs() < 1e-9 && (fit.overhead_ms - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_single_network_gives_an_offset() {
        let fit = NetworkCorrection::fit(&[(3.0, 5, 3.5)], 0.1).unwrap();
        assert_eq!((fit.scale, fit.per_layer_ms), (1.0, 0.0));
        assert!((fit.apply(3.0, 5) - 3.5).abs() < 1e-12);
        assert!(NetworkCorrection::fit(&[], 0.1).is_none());
    }

    #[test]
    fn a_per_layer_term_below_the_smallest_layer_is_left_out() {
        // The exact law's per-layer term (−0.3 ms) would make a 0.1 ms layer cost −0.17 ms.
        let law = |s: f64, l: usize| 1.0 + 1.3 * s - 0.3 * l as f64;
        let points = [(4.0, 6), (5.0, 6), (4.5, 9), (6.0, 12), (5.2, 8)];
        let samples: Vec<_> = points.iter().map(|&(s, l)| (s, l, law(s, l))).collect();
        let exact = NetworkCorrection::fit(&samples, 1.0).unwrap();
        assert!((exact.per_layer_ms + 0.3).abs() < 1e-9, "{exact:?}");
        let kept = NetworkCorrection::fit(&samples, 0.1).unwrap();
        assert_eq!(kept.per_layer_ms, 0.0, "{kept:?}");
        assert!(kept.scale > 0.0);
    }

    #[test]
    fn header_round_trip_and_errors() {
        let c = NetworkCorrection {
            overhead_ms: 0.125,
            scale: 0.75,
            per_layer_ms: -0.01,
            networks: 10,
            fit_mape: 0.02,
        };
        assert_eq!(
            NetworkCorrection::from_meta(&c.to_meta(), "t").unwrap(),
            Some(c)
        );
        assert_eq!(NetworkCorrection::from_meta(&[], "t").unwrap(), None);
        let mut partial = c.to_meta();
        partial.remove(2);
        let err = NetworkCorrection::from_meta(&partial, "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.yaml") && err.contains("correction_per_layer_ms"),
            "{err}"
        );
        let mut bad = c.to_meta();
        bad[1].1 = "-1".into();
        let err = NetworkCorrection::from_meta(&bad, "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("correction_scale"), "{err}");
    }
}
