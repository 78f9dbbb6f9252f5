//! Drawing architectures uniformly among those whose cost lies in a band, by dynamic
//! programming over the blocks' costs: every draw is in the band, and an empty band is an
//! error found before any draw (no rejection loop that might never end).

use rand::{Rng, RngExt};

use crate::{CandidateCosts, Error, Result};

/// Cost steps per band width: the costs are counted on a grid this fine.
const STEPS_PER_BAND: f64 = 512.0;
/// Most grid points one block's cost sum may span (memory guard: 8 bytes each per block).
const MAX_GRID: f64 = 400_000.0;

/// A sampler of architectures whose cost (`fixed` plus the chosen candidates) lies in
/// `[low, high]`, uniform over them up to the grid: costs are counted in steps of
/// `q <= (high - low) / 512`, and the band is narrowed by the largest rounding error the
/// blocks can add up (`blocks · q / 2`), so that every draw lies inside the exact band.
#[derive(Debug, Clone)]
pub struct BandSampler {
    /// `steps[b][j]`: candidate `j` of block `b` in grid steps above the block's cheapest.
    steps: Vec<Vec<usize>>,
    /// `ways[b][s]`: architectures of blocks `b..` whose steps add up to `≤ s` (cumulative).
    ways: Vec<Vec<f64>>,
    /// The window of total steps that maps inside the band.
    window: (usize, usize),
}

impl BandSampler {
    /// Prepares draws within `[low, high]` of `costs`; an error when the band is empty,
    /// inverted or holds no architecture of the space.
    pub fn new(costs: &CandidateCosts, low: f64, high: f64) -> Result<Self> {
        let what = format!("cost band [{low}, {high}] {}", costs.unit);
        if !(low.is_finite() && high.is_finite() && high > low) {
            return Err(Error::invalid(
                &what,
                "band",
                "needs finite bounds with high > low",
            ));
        }
        let range = costs.of(&costs.dearest()) - costs.of(&costs.cheapest());
        let q = ((high - low) / STEPS_PER_BAND).max(range / MAX_GRID);
        let mut base = costs.fixed;
        let mut steps = Vec::with_capacity(costs.blocks.len());
        for block in &costs.blocks {
            let units: Vec<i64> = block.iter().map(|c| (c / q).round() as i64).collect();
            let min = units.iter().copied().min().unwrap_or(0);
            base += min as f64 * q;
            steps.push(units.iter().map(|u| (u - min) as usize).collect::<Vec<_>>());
        }
        // Rounding each block's cost moves the sum by at most half a step per block.
        let margin = costs.blocks.len() as f64 * q / 2.0;
        let top: usize = steps.iter().map(|s| s.iter().max().unwrap_or(&0)).sum();
        let first = ((low + margin - base) / q).ceil().max(0.0);
        let last = ((high - margin - base) / q).floor().min(top as f64);
        let ways = count_ways(&steps);
        let sampler = Self {
            window: (first as usize, last.max(0.0) as usize),
            steps,
            ways,
        };
        if last < first || sampler.count() == 0.0 {
            let (lo, hi) = (costs.of(&costs.cheapest()), costs.of(&costs.dearest()));
            return Err(Error::invalid(
                what,
                "band",
                format!(
                    "no architecture of the space costs this much (the space spans {lo:.4} to {hi:.4} {})",
                    costs.unit
                ),
            ));
        }
        Ok(sampler)
    }

    /// How many architectures lie in the band (as counted on the grid).
    pub fn count(&self) -> f64 {
        self.completions(0, 0)
    }

    /// One architecture drawn uniformly from the band: a candidate index per block.
    pub fn draw(&self, rng: &mut impl Rng) -> Vec<usize> {
        let mut sum = 0;
        let mut choices = Vec::with_capacity(self.steps.len());
        for (b, block) in self.steps.iter().enumerate() {
            let weights: Vec<f64> = block
                .iter()
                .map(|&s| self.completions(b + 1, sum + s))
                .collect();
            let total: f64 = weights.iter().sum();
            let mut pick = rng.random::<f64>() * total;
            let mut chosen = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            for (j, w) in weights.iter().enumerate() {
                if *w > 0.0 && pick < *w {
                    chosen = j;
                    break;
                }
                pick -= w;
            }
            sum += block[chosen];
            choices.push(chosen);
        }
        choices
    }

    /// Architectures of blocks `b..` that, added to `sum` steps so far, land in the window.
    fn completions(&self, b: usize, sum: usize) -> f64 {
        let (first, last) = self.window;
        if sum > last {
            return 0.0;
        }
        let cumulative = &self.ways[b];
        let at = |s: usize| cumulative[s.min(cumulative.len() - 1)];
        let upto = at(last - sum);
        let below = match first.checked_sub(sum) {
            Some(0) | None => 0.0,
            Some(f) => at(f - 1),
        };
        upto - below
    }
}

/// Cumulative counts of step sums of blocks `b..`, for every `b` (the last: the empty sum).
fn count_ways(steps: &[Vec<usize>]) -> Vec<Vec<f64>> {
    let mut exact = vec![vec![1.0]];
    for block in steps.iter().rev() {
        let next = exact.last().expect("the empty sum");
        let top = next.len() - 1 + block.iter().max().copied().unwrap_or(0);
        let mut here = vec![0.0; top + 1];
        for &s in block {
            for (t, n) in next.iter().enumerate() {
                here[s + t] += n;
            }
        }
        exact.push(here);
    }
    exact.reverse();
    exact
        .into_iter()
        .map(|w| {
            w.iter()
                .scan(0.0, |acc, n| {
                    *acc += n;
                    Some(*acc)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn costs() -> CandidateCosts {
        CandidateCosts {
            unit: "MMACs".into(),
            fixed: 1.0,
            blocks: vec![vec![0.0, 1.0, 2.5], vec![0.5, 1.5], vec![0.0, 0.25, 3.0]],
        }
    }

    /// Every architecture and its cost, by enumeration.
    fn all(c: &CandidateCosts) -> Vec<(Vec<usize>, f64)> {
        let mut out = vec![vec![]];
        for block in &c.blocks {
            out = out
                .into_iter()
                .flat_map(|p: Vec<usize>| {
                    (0..block.len()).map(move |j| [p.clone(), vec![j]].concat())
                })
                .collect();
        }
        out.into_iter()
            .map(|a| {
                let cost = c.of(&a);
                (a, cost)
            })
            .collect()
    }

    #[test]
    fn counts_what_enumeration_counts_and_draws_only_inside() {
        let c = costs();
        for (low, high) in [(2.0, 3.0), (1.4, 4.1), (3.9, 7.6), (1.0, 9.0)] {
            let sampler = BandSampler::new(&c, low, high).unwrap();
            let inside: Vec<_> = all(&c)
                .into_iter()
                .filter(|(_, cost)| *cost >= low && *cost <= high)
                .collect();
            // No candidate cost sits within the grid's margin of these bands' edges, so the
            // grid's count is the exact count.
            assert_eq!(sampler.count(), inside.len() as f64, "[{low}, {high}]");
            let mut rng = StdRng::seed_from_u64(7);
            for _ in 0..200 {
                let a = sampler.draw(&mut rng);
                let cost = c.of(&a);
                assert!(cost >= low && cost <= high, "{a:?} costs {cost}");
            }
        }
    }

    #[test]
    fn draws_are_seeded_and_roughly_uniform() {
        let c = costs();
        let sampler = BandSampler::new(&c, 1.4, 4.1).unwrap();
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50).map(|_| sampler.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        // Uniform over the band's 9 architectures: 9000 draws give each 1000 ± 4σ (σ ≈ 30).
        let mut rng = StdRng::seed_from_u64(11);
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..9000 {
            *seen.entry(sampler.draw(&mut rng)).or_insert(0) += 1;
        }
        assert_eq!(seen.len() as f64, sampler.count());
        assert!(
            seen.values().all(|&n| (880..=1120).contains(&n)),
            "{seen:?}"
        );
    }

    #[test]
    fn an_impossible_band_is_an_error_not_a_loop() {
        let c = costs();
        // Cheapest 1.5, dearest 8.0; 5.6..5.7 falls between the costs the space can make.
        for (low, high) in [(0.0, 1.4), (8.1, 9.0), (5.6, 5.7), (3.0, 3.0), (4.0, 2.0)] {
            let err = BandSampler::new(&c, low, high).unwrap_err().to_string();
            assert!(err.contains("band"), "{err}");
        }
        let err = BandSampler::new(&c, 0.0, 1.4).unwrap_err().to_string();
        assert!(err.contains("spans 1.5000 to 8.0000 MMACs"), "{err}");
    }

    #[test]
    fn a_real_space_band_of_five_percent() {
        let space = crate::presets::load("imagenet").unwrap();
        let c = space.candidate_macs(224).unwrap();
        let target = 0.5 * (c.of(&c.cheapest()) + c.of(&c.dearest()));
        let sampler = BandSampler::new(&c, 0.95 * target, 1.05 * target).unwrap();
        assert!(sampler.count() > 1e6);
        let mut rng = StdRng::seed_from_u64(0);
        for _ in 0..20 {
            let cost = c.of(&sampler.draw(&mut rng));
            assert!((cost / target - 1.0).abs() <= 0.05, "{cost} vs {target}");
        }
    }
}
