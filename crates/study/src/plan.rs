//! The networks a study retrains, fixed before any retraining: the searched ones, random ones
//! drawn within a band around each searched cost, and baselines at comparable cost.

use proxyless_space::{Architecture, BandSampler, CandidateCosts, OpChoice, SearchSpace};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::error::Result;
use crate::record::{NetKind, SearchRecord, StudyNet};

/// The seed of draw `k` around search seed `search`, from the study's sampler seed.
pub fn draw_seed(sampler_seed: u64, search: u64, k: usize) -> u64 {
    sampler_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ search.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ (k as u64 + 1).wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// What the plan needs from the study's settings.
#[derive(Debug, Clone, Copy)]
pub struct PlanSettings {
    /// Random networks per searched network.
    pub random_per_search: usize,
    /// Half-width of the band, a fraction of the searched cost.
    pub band: f64,
    /// Seed from which every draw's seed is derived.
    pub sampler_seed: u64,
    /// Add the uniform (MobileNetV2-style) baseline.
    pub baseline: bool,
    /// Add the cheapest and dearest networks.
    pub anchors: bool,
}

/// Every network of the study, in order: searched, random, baseline, anchors. A random draw
/// that repeats a network already planned is kept (it is what chance gave) but named as such.
pub fn plan(
    space: &SearchSpace,
    costs: &CandidateCosts,
    searches: &[SearchRecord],
    settings: &PlanSettings,
) -> Result<Vec<StudyNet>> {
    let mut nets = Vec::new();
    plan_searches(space, costs, searches, settings, &mut nets)?;
    if settings.baseline && !searches.is_empty() {
        let target = searches.iter().map(|s| s.cost).sum::<f64>() / searches.len() as f64;
        if let Some((op, choices)) = uniform_nearest(space, costs, target) {
            nets.push(planned(
                space,
                costs,
                format!("uniform-{op}"),
                NetKind::Baseline,
                choices,
                format!("{op} in every block (MobileNetV2-style), nearest the searched cost"),
                None,
            )?);
        }
    }
    if settings.anchors {
        for (id, choices) in [("cheapest", costs.cheapest()), ("dearest", costs.dearest())] {
            nets.push(planned(
                space,
                costs,
                id.into(),
                NetKind::Anchor,
                choices,
                format!("the space's {id} network"),
                None,
            )?);
        }
    }
    Ok(nets)
}

/// Adds the networks of searches made after the plan was fixed (a study given more search
/// seeds): each one's searched network after the other searched ones and its random draws
/// after the other random ones. The draws are those a study planned with all the seeds at once
/// makes (a draw's seed depends on its search's seed, not on the other searches); the
/// baselines stay the ones planned first.
pub fn extend_plan(
    space: &SearchSpace,
    costs: &CandidateCosts,
    searches: &[SearchRecord],
    settings: &PlanSettings,
    nets: &mut Vec<StudyNet>,
) -> Result<()> {
    let mut added = nets.clone();
    plan_searches(space, costs, searches, settings, &mut added)?;
    let added = added.split_off(nets.len());
    let last_of = |nets: &[StudyNet], kind| nets.iter().rposition(|n: &StudyNet| n.kind == kind);
    let (new_searched, new_random): (Vec<_>, Vec<_>) =
        added.into_iter().partition(|n| n.kind == NetKind::Searched);
    let at = last_of(nets, NetKind::Searched).map_or(0, |i| i + 1);
    let count = new_searched.len();
    nets.splice(at..at, new_searched);
    let at = last_of(nets, NetKind::Random).map_or(at + count, |i| i + 1);
    nets.splice(at..at, new_random);
    Ok(())
}

/// Appends each search's network, then each search's random draws within the band around its
/// cost, checking repeats against everything in `nets`.
fn plan_searches(
    space: &SearchSpace,
    costs: &CandidateCosts,
    searches: &[SearchRecord],
    settings: &PlanSettings,
    nets: &mut Vec<StudyNet>,
) -> Result<()> {
    for s in searches {
        nets.push(planned(
            space,
            costs,
            format!("searched-{}", s.seed),
            NetKind::Searched,
            s.choices.clone(),
            format!("search with seed {}", s.seed),
            None,
        )?);
    }
    for s in searches {
        let (low, high) = (
            s.cost * (1.0 - settings.band),
            s.cost * (1.0 + settings.band),
        );
        let sampler = BandSampler::new(costs, low, high)?;
        for k in 0..settings.random_per_search {
            let seed = draw_seed(settings.sampler_seed, s.seed, k);
            let choices = sampler.draw(&mut StdRng::seed_from_u64(seed));
            let repeat = nets.iter().any(|n: &StudyNet| n.choices == choices);
            let origin = format!(
                "uniform draw among the {:.3e} networks within ±{:.0}% of searched-{}'s cost{}",
                sampler.count(),
                settings.band * 100.0,
                s.seed,
                if repeat {
                    " (repeats a planned network)"
                } else {
                    ""
                }
            );
            nets.push(planned(
                space,
                costs,
                format!("random-{}-{k}", s.seed),
                NetKind::Random,
                choices,
                origin,
                Some(seed),
            )?);
        }
    }
    Ok(())
}

/// A planned network, nothing measured yet.
fn planned(
    space: &SearchSpace,
    costs: &CandidateCosts,
    id: String,
    kind: NetKind,
    choices: Vec<usize>,
    origin: String,
    draw_seed: Option<u64>,
) -> Result<StudyNet> {
    let arch = Architecture::from_indices(space, &choices, "study")?;
    Ok(StudyNet::new(
        id,
        kind,
        arch.to_text(space),
        costs.of(&choices),
        choices,
        origin,
        draw_seed,
    ))
}

/// The network with one MBConv operation in every block whose cost is nearest `target`,
/// with that operation's name; `None` when no operation is a candidate of every block.
pub fn uniform_nearest(
    space: &SearchSpace,
    costs: &CandidateCosts,
    target: f64,
) -> Option<(String, Vec<usize>)> {
    let blocks = space.choice_blocks();
    space
        .candidates
        .ops
        .iter()
        .filter_map(|&op| {
            let choices: Option<Vec<usize>> = blocks
                .iter()
                .map(|b| b.candidate_index(OpChoice::MbConv(op)))
                .collect();
            choices.map(|c| (op.to_string(), c))
        })
        .min_by(|(_, a), (_, b)| {
            (costs.of(a) - target)
                .abs()
                .total_cmp(&(costs.of(b) - target).abs())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::presets;

    fn searched(seed: u64, choices: Vec<usize>, costs: &CandidateCosts) -> SearchRecord {
        SearchRecord {
            seed,
            dir: format!("search-{seed}"),
            cost: costs.of(&choices),
            choices,
            architecture: String::new(),
            holdout_accuracy: 0.5,
            seconds: 1.0,
        }
    }

    /// The fmnist space, its MAC costs, three searched networks (seeds 0, 1 and 5) and plan
    /// settings with `random_per_search` draws and `sampler_seed`.
    fn fixture(
        random_per_search: usize,
        sampler_seed: u64,
    ) -> (SearchSpace, CandidateCosts, Vec<SearchRecord>, PlanSettings) {
        let space = presets::load("fmnist").unwrap();
        let costs = space.candidate_macs(28).unwrap();
        let searches = vec![
            searched(0, vec![2; 9], &costs),
            searched(1, vec![1, 3, 0, 2, 5, 4, 1, 0, 3], &costs),
            searched(5, vec![0, 1, 2, 3, 4, 5, 0, 1, 2], &costs),
        ];
        let settings = PlanSettings {
            random_per_search,
            band: 0.05,
            sampler_seed,
            baseline: true,
            anchors: true,
        };
        (space, costs, searches, settings)
    }

    #[test]
    fn random_networks_cost_what_the_searched_one_costs_and_are_seeded() {
        let (space, costs, mut searches, settings) = fixture(4, 9);
        searches.truncate(2);
        let nets = plan(&space, &costs, &searches, &settings).unwrap();
        assert_eq!(nets.len(), 2 + 8 + 1 + 2);
        for n in nets.iter().filter(|n| n.kind == NetKind::Random) {
            let s = &searches[usize::from(n.id.starts_with("random-1"))];
            assert!((n.cost / s.cost - 1.0).abs() <= 0.05, "{n:?}");
            assert!(n.draw_seed.is_some());
        }
        assert_eq!(nets, plan(&space, &costs, &searches, &settings).unwrap());
        let other = PlanSettings {
            sampler_seed: 10,
            ..settings
        };
        assert_ne!(nets, plan(&space, &costs, &searches, &other).unwrap());
        // The baseline is one operation everywhere; anchors are the ends of the range.
        let base = nets.iter().find(|n| n.kind == NetKind::Baseline).unwrap();
        let first = base.architecture.split_whitespace().next().unwrap();
        assert!(
            base.architecture
                .split_whitespace()
                .all(|w| w == first || w == "|")
        );
        assert_eq!(nets[nets.len() - 2].cost, costs.of(&costs.cheapest()));
        assert_eq!(nets[nets.len() - 1].cost, costs.of(&costs.dearest()));
    }

    #[test]
    fn a_plan_extended_with_more_searches_draws_what_one_plan_of_all_of_them_draws() {
        let (space, costs, searches, settings) = fixture(2, 3);
        let all = plan(&space, &costs, &searches, &settings).unwrap();
        let mut extended = plan(&space, &costs, &searches[..1], &settings).unwrap();
        extend_plan(&space, &costs, &searches[1..], &settings, &mut extended).unwrap();
        let ids = |nets: &[StudyNet]| nets.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&extended),
            [
                "searched-0",
                "searched-1",
                "searched-5",
                "random-0-0",
                "random-0-1",
                "random-1-0",
                "random-1-1",
                "random-5-0",
                "random-5-1",
                "uniform-k5e3",
                "cheapest",
                "dearest"
            ]
        );
        // Same networks and draws as the plan made with every search at once; only the
        // baseline, chosen from the first plan's searches, may differ.
        for net in extended.iter().filter(|n| n.kind != NetKind::Baseline) {
            let same = all.iter().find(|n| n.id == net.id).unwrap();
            assert_eq!(
                (&net.choices, net.draw_seed),
                (&same.choices, same.draw_seed)
            );
        }
    }

    #[test]
    fn the_uniform_baseline_is_the_nearest_in_cost() {
        let space = presets::load("fmnist").unwrap();
        let costs = space.candidate_macs(28).unwrap();
        let (op, choices) = uniform_nearest(&space, &costs, 0.0).unwrap();
        assert_eq!(op, "k3e3");
        let (op_far, far) = uniform_nearest(&space, &costs, 1e9).unwrap();
        assert_eq!(op_far, "k7e6");
        assert!(costs.of(&choices) < costs.of(&far));
    }
}
