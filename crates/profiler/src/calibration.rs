//! Fitting a table's whole-network correction: a few networks of the space measured end to
//! end, beside what the table's entries add up to for them.

use burn::prelude::*;
use proxyless_latency::{CostModel, LatencyTable, NetworkCorrection, table_sum};
use proxyless_space::{Architecture, NetSpec, SearchSpace};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::{ProfileSettings, measure_nets};

/// Seed of the random calibration networks: a stream of its own, apart from the seeds that
/// `latency validate` and searches use, so that validation never reuses a calibration network.
const CALIBRATION_SEED: u64 = 0xCA1B_0A7E_5EED_0001;

/// The networks a correction is fitted to: the space's cheapest and dearest on `table` (the
/// ends of the range a search moves in), then random architectures.
pub fn calibration_networks(
    space: &SearchSpace,
    table: &LatencyTable,
    count: usize,
) -> Vec<NetSpec> {
    let mut archs = Vec::with_capacity(count);
    let ends = CostModel::Table(table.clone()).candidate_costs(space).ok();
    if let Some(costs) = ends {
        for choices in [costs.cheapest(), costs.dearest()] {
            if let Ok(arch) = Architecture::from_indices(space, &choices, "calibration") {
                archs.push(arch);
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(CALIBRATION_SEED);
    while archs.len() < count {
        archs.push(Architecture::random(space, &mut rng));
    }
    archs.truncate(count);
    archs.iter().map(|a| a.to_net_spec(space)).collect()
}

/// Measures `settings.calibration` networks of `space` end to end on `device` (see
/// [`calibration_networks`]) and fits `table`'s correction to them
/// ([`NetworkCorrection::fit`]); `progress(done, total)` follows the measuring rounds.
pub fn calibrate(
    space: &SearchSpace,
    device: &Device,
    settings: &ProfileSettings,
    table: &LatencyTable,
    progress: impl FnMut(usize, usize),
) -> NetworkCorrection {
    let nets = calibration_networks(space, table, settings.calibration.max(1));
    let resolution = space.input.resolution;
    let measured = measure_nets(&nets, resolution, device, settings, progress);
    let samples: Vec<(f64, usize, f64)> = nets
        .iter()
        .zip(&measured)
        .map(|(net, m)| {
            let (sum, layers) =
                table_sum(table, net, resolution).expect("the table has every layer of the space");
            (sum, layers, m.trimmed_mean)
        })
        .collect();
    let smallest = table
        .entries()
        .map(|(_, e)| e.mean)
        .fold(f64::INFINITY, f64::min);
    NetworkCorrection::fit(&samples, smallest).expect("at least one network")
}
