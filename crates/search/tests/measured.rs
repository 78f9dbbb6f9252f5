//! `target.cost = "measured"`: the search profiles its own device on first use, caches the
//! table, keeps a copy in the run directory, and reuses the cache next time.

mod common;

use burn::prelude::*;
use proxyless_search::Search;

#[test]
fn a_measured_target_is_profiled_once_and_cached() {
    let cache = tempfile::tempdir().unwrap();
    // Flex, as the config names (the workspace's test features can make another the default).
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[target]\ncost = \"measured:flex\"\nloss = \"add#linear\"\nreference = 0.5\ncache_dir = {:?}\n",
        cache.path().display().to_string()
    );
    let mut config = common::synthetic_config(&extra);
    config.schedule.warmup_epochs = 0;
    config.schedule.epochs = 1;
    let first = Search::create(config.clone(), &dir.path().join("a"), &device, true)
        .unwrap()
        .run(None)
        .unwrap()
        .unwrap();
    let (cost, unit) = first.cost.unwrap();
    assert_eq!(unit, "ms");
    assert!(cost > 0.0);
    // A latency target ends with the derived network timed on the search's own device.
    assert!(first.measured_latency_ms.is_some_and(|ms| ms > 0.0));
    let cached: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert_eq!(cached.len(), 1, "one cached table");
    let table = std::fs::read_to_string(cached[0].path()).unwrap();
    assert!(table.starts_with("# backend: flex\n"), "{table}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a/latency-table.yaml")).unwrap(),
        table
    );
    let modified = cached[0].metadata().unwrap().modified().unwrap();
    Search::create(config, &dir.path().join("b"), &device, true).unwrap();
    let again = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    assert_eq!(
        again.metadata().unwrap().modified().unwrap(),
        modified,
        "the cache was reused"
    );
}
