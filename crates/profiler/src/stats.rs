//! Summaries of repeated timings, and the agreement of predictions with measurements.

/// Repeated timings of one thing, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Timed runs.
    pub count: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Median.
    pub median: f64,
    /// Mean of the samples left when the lowest and highest 10% are dropped: a mean, as the
    /// official tables hold, that the odd sample slowed by another process does not move.
    pub trimmed_mean: f64,
}

impl Measurement {
    /// Summarises `samples` (milliseconds); `None` when there are none.
    pub fn from_samples(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        let cut = sorted.len() / 10;
        let kept = &sorted[cut..sorted.len() - cut];
        Some(Self {
            count: samples.len(),
            mean,
            std: var.sqrt(),
            median,
            trimmed_mean: kept.iter().sum::<f64>() / kept.len() as f64,
        })
    }
}

/// Mean of |predicted − measured| / measured, as a fraction.
pub fn mean_absolute_percentage_error(predicted: &[f64], measured: &[f64]) -> f64 {
    let n = predicted.len().min(measured.len()).max(1) as f64;
    predicted
        .iter()
        .zip(measured)
        .map(|(p, m)| ((p - m) / m).abs())
        .sum::<f64>()
        / n
}

/// Kendall's τ-a between two rankings: (concordant − discordant) pairs over all pairs; a pair
/// tied in either ranking counts as neither.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    // `f64::signum` says 1 for 0, which would count ties as agreement.
    let sign = |d: f64| (d > 0.0) as i64 - (d < 0.0) as i64;
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let mut score = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            score += sign(a[i] - a[j]) * sign(b[i] - b[j]);
        }
    }
    score as f64 / (n * (n - 1) / 2) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_and_agreement() {
        let m = Measurement::from_samples(&[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((m.count, m.mean, m.median), (4, 2.5, 2.5));
        assert!((m.std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.trimmed_mean, 2.5);
        // 10 samples: the lowest and the highest are dropped.
        let ten: Vec<f64> = (1..=9).map(f64::from).chain([100.0]).collect();
        let m = Measurement::from_samples(&ten).unwrap();
        assert_eq!(m.trimmed_mean, (2..=9).sum::<i32>() as f64 / 8.0);
        assert!(Measurement::from_samples(&[]).is_none());
        assert!((mean_absolute_percentage_error(&[1.1, 1.8], &[1.0, 2.0]) - 0.1).abs() < 1e-12);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // One swapped pair of three: (2 − 1) / 3.
        assert!((kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-12);
        // Ties count as neither agreement nor disagreement: 3 pairs, one each way, one tied.
        assert_eq!(kendall_tau(&[1.0, 2.0, 2.0], &[1.0, 3.0, 0.0]), 0.0);
    }
}
