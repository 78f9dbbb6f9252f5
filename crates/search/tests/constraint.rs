//! Constraint mode: the derived architecture's cost ends at or under the target, for targets
//! spread across the space's range.

mod common;

use burn::prelude::*;
use proxyless_latency::CostModel;
use proxyless_search::Search;
use proxyless_space::SearchSpace;

#[test]
fn derived_cost_meets_targets_across_the_range() {
    let space = SearchSpace::from_toml_file(common::tiny_space()).unwrap();
    let costs = CostModel::Macs.candidate_costs(&space).unwrap();
    let cheapest: Vec<usize> = costs
        .blocks
        .iter()
        .map(|c| (0..c.len()).min_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap())
        .collect();
    let dearest: Vec<usize> = costs
        .blocks
        .iter()
        .map(|c| (0..c.len()).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap())
        .collect();
    let (low, high) = (costs.of(&cheapest), costs.of(&dearest));
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
    }
}
