//! The learning rate of each step: linear warm-up, then cosine decay to zero, per iteration.

/// `lr(t)` for step `t` of `total`: rises linearly from `peak / warmup` to `peak` over the
/// first `warmup` steps, then follows `0.5 · peak · (1 + cos(π · (t − warmup) / (total − warmup)))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineWithWarmup {
    /// The rate at the end of the warm-up.
    pub peak: f64,
    /// Steps of the linear warm-up.
    pub warmup: u64,
    /// All steps of the run.
    pub total: u64,
}

impl CosineWithWarmup {
    /// The rate of step `t` (counted from 0).
    pub fn lr(&self, t: u64) -> f64 {
        if t < self.warmup {
            return self.peak * (t + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((t - self.warmup) as f64 / span).min(1.0);
        0.5 * self.peak * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_decays_by_the_cosine() {
        let s = CosineWithWarmup {
            peak: 0.4,
            warmup: 4,
            total: 104,
        };
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(3) - 0.4).abs() < 1e-12);
        assert!((s.lr(4) - 0.4).abs() < 1e-12);
        // Half-way through the decay: half the peak.
        assert!((s.lr(54) - 0.2).abs() < 1e-12);
        assert!(s.lr(103) < 1e-3);
        let mut previous = f64::MAX;
        for t in 4..104 {
            assert!(s.lr(t) <= previous);
            previous = s.lr(t);
        }
    }

    #[test]
    fn no_warmup_starts_at_the_peak() {
        let s = CosineWithWarmup {
            peak: 1.0,
            warmup: 0,
            total: 10,
        };
        assert_eq!(s.lr(0), 1.0);
    }
}
