//! Constraint mode: the derived architecture's cost ends at or under the target and within
//! 10% of it (or as close as the space allows), for targets spread across the space's range.

mod common;

use burn::prelude::*;
use proxyless_latency::CostModel;
use proxyless_search::Search;
use proxyless_space::SearchSpace;

#[test]
fn derived_cost_meets_targets_across_the_range() {
    let space = SearchSpace::from_toml_file(common::tiny_space()).unwrap();
    let costs = CostModel::Macs.candidate_costs(&space).unwrap();
    let (low, high) = (costs.of(&costs.cheapest()), costs.of(&costs.dearest()));
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    for (i, fraction) in [0.25, 0.5, 0.75].into_iter().enumerate() {
        let target = low + fraction * (high - low);
        let config = common::synthetic_config(&format!(
            "[target]\ncost = \"macs\"\nloss = \"constraint\"\nreference = {target}\nlambda = 0.0\ndual_lr = 2.0\n"
        ));
        let outcome = Search::create(config, &dir.path().join(format!("run{i}")), &device, true)
            .unwrap()
            .run(None)
            .unwrap()
            .unwrap();
        let (cost, _) = outcome.cost.unwrap();
        println!("target {target:.4} ({fraction} of [{low:.4}, {high:.4}]): derived {cost:.4}");
        assert!(cost <= target + 1e-12, "target {target}: derived {cost}");
        // Within 10% under the target, unless no architecture of the space lies in between.
        let closest = every_architecture(&costs.blocks)
            .iter()
            .map(|a| costs.of(a))
            .filter(|&c| c <= target)
            .fold(f64::MIN, f64::max);
        assert!(
            cost >= 0.9 * target || cost >= closest - 1e-12,
            "target {target}: derived {cost}, but {closest} was reachable"
        );
    }
}

/// Every architecture of a space with these per-block candidate costs.
fn every_architecture(blocks: &[Vec<f64>]) -> Vec<Vec<usize>> {
    blocks.iter().fold(vec![Vec::new()], |archs, block| {
        archs
            .iter()
            .flat_map(|a| {
                (0..block.len()).map(move |j| {
                    let mut a = a.clone();
                    a.push(j);
                    a
                })
            })
            .collect()
    })
}
