//! Cost models: a latency table, or multiply-accumulates when no table is given.

use proxyless_space::{
    Architecture, BlockOp, CandidateCosts, NetSpec, SearchSpace, conv_output_size,
};

use crate::error::{Error, Result};
use crate::key::Hwc;
use crate::{LatencyKey, LatencyTable, NetworkCorrection};

/// What the hardware term of a search measures.
#[derive(Debug, Clone)]
pub enum CostModel {
    /// Milliseconds from a lookup table.
    Table(LatencyTable),
    /// Millions of multiply-accumulates, computed from the description.
    Macs,
}

/// The table keys of every layer of `net` at `resolution`, in order; Zero blocks have none.
pub fn net_keys(net: &NetSpec, resolution: usize) -> Vec<LatencyKey> {
    let c = &net.first_conv;
    let mut size = conv_output_size(resolution, c.kernel_size, c.stride);
    let mut keys = vec![LatencyKey::Stem {
        input: [resolution, resolution, c.in_channels],
        output: [size, size, c.out_channels],
    }];
    for block in &net.blocks {
        let BlockOp::MbConv {
            kernel_size,
            expand_ratio,
            ..
        } = block.op
        else {
            size = conv_output_size(size, 1, block.stride);
            continue;
        };
        let out = conv_output_size(size, kernel_size, block.stride);
        keys.push(LatencyKey::Block {
            input: [size, size, block.in_channels],
            output: [out, out, block.out_channels],
            expand: expand_ratio,
            kernel: kernel_size,
            stride: block.stride,
            idskip: block.shortcut,
        });
        size = out;
    }
    let mix: Hwc = [size, size, net.feature_mix.out_channels];
    keys.push(LatencyKey::FeatureMix {
        input: [size, size, net.feature_mix.in_channels],
        output: mix,
    });
    keys.push(LatencyKey::Logits {
        input: mix,
        classes: net.classifier.out_features,
    });
    keys
}

impl CostModel {
    /// Unit of this model's numbers.
    pub fn unit(&self) -> &'static str {
        match self {
            CostModel::Table(_) => "ms",
            CostModel::Macs => "MMACs",
        }
    }

    /// The predicted cost of a whole network at `resolution`: the sum of its layers' entries
    /// (a missing entry is an error naming the key) with the table's whole-network correction
    /// when it has one, or its MACs in millions.
    pub fn predict(&self, net: &NetSpec, resolution: usize) -> Result<f64> {
        match self {
            CostModel::Table(table) => {
                let (sum, layers) = table_sum(table, net, resolution)?;
                Ok(match table.correction() {
                    Some(c) => c.apply(sum, layers),
                    None => sum,
                })
            }
            CostModel::Macs => Ok(net.cost(resolution)?.macs as f64 / 1e6),
        }
    }

    /// The cost of every candidate of every choice block of `space` at its input resolution,
    /// and of the fixed layers: what the expected-latency term of the search weighs by the
    /// candidates' probabilities.
    pub fn candidate_costs(&self, space: &SearchSpace) -> Result<CandidateCosts> {
        let table = match self {
            CostModel::Macs => return Ok(space.candidate_macs(space.input.resolution)?),
            CostModel::Table(table) => table,
        };
        // The correction is linear: its offset joins the fixed layers, its per-layer term
        // every layer that runs (not Zero).
        let c = table
            .correction()
            .copied()
            .unwrap_or(NetworkCorrection::NONE);
        let layer = |key: &LatencyKey| -> Result<f64> {
            let cost = c.scale * table.mean(key)? + c.per_layer_ms;
            if cost < 0.0 {
                // A negative cost would make a block cheaper than skipping it.
                return Err(Error::Invalid {
                    origin: table.origin.clone(),
                    message: format!(
                        "the whole-network correction makes '{key}' cost {cost:.4} ms, below \
                         zero; profile the table again"
                    ),
                });
            }
            Ok(cost)
        };
        let keys = SpaceKeys::of(space);
        let mut fixed = c.overhead_ms;
        for key in &keys.fixed {
            fixed += layer(key)?;
        }
        let mut blocks = Vec::with_capacity(keys.blocks.len());
        for candidates in &keys.blocks {
            let mut row = Vec::with_capacity(candidates.len());
            for key in candidates {
                row.push(match key {
                    Some(key) => layer(key)?,
                    None => 0.0,
                });
            }
            blocks.push(row);
        }
        Ok(CandidateCosts {
            unit: "ms".into(),
            fixed,
            blocks,
        })
    }
}

/// The plain sum of `table`'s entries over the layers of `net` at `resolution`, and the number
/// of those layers (what a [`NetworkCorrection`] is fitted to).
pub fn table_sum(table: &LatencyTable, net: &NetSpec, resolution: usize) -> Result<(f64, usize)> {
    let keys = net_keys(net, resolution);
    let sum = keys.iter().map(|k| table.mean(k)).sum::<Result<f64>>()?;
    Ok((sum, keys.len()))
}

/// The table keys of a space at its input resolution: the fixed layers (stem, first block,
/// feature mix, logits) and, for every choice block, the key of each candidate (`None` for
/// Zero, which costs nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceKeys {
    /// Stem, first block, feature mix, logits.
    pub fixed: [LatencyKey; 4],
    /// `blocks[b][j]`: the key of candidate `j` of choice block `b`.
    pub blocks: Vec<Vec<Option<LatencyKey>>>,
}

impl SpaceKeys {
    /// The keys of `space`.
    pub fn of(space: &SearchSpace) -> Self {
        // Any architecture gives the fixed layers' keys and every block's shapes.
        let widest = Architecture::widest(space).to_net_spec(space);
        let keys = net_keys(&widest, space.input.resolution);
        let last = keys.len() - 1;
        let blocks = space
            .choice_blocks()
            .iter()
            .zip(&keys[2..last - 1])
            .map(|(block, key)| {
                let LatencyKey::Block {
                    input,
                    output,
                    stride,
                    idskip,
                    ..
                } = *key
                else {
                    unreachable!("the widest architecture has an MBConv key per choice block")
                };
                block
                    .candidates
                    .iter()
                    .map(|c| {
                        c.mbconv().map(|op| LatencyKey::Block {
                            input,
                            output,
                            expand: op.expand_ratio,
                            kernel: op.kernel_size,
                            stride,
                            idskip,
                        })
                    })
                    .collect()
            })
            .collect();
        Self {
            fixed: [keys[0], keys[1], keys[last - 1], keys[last]],
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::presets;

    #[test]
    fn pixel1_covers_every_candidate_of_the_imagenet_space() {
        let space = presets::load("imagenet").unwrap();
        let table = LatencyTable::named("pixel1").unwrap();
        let costs = CostModel::Table(table.clone())
            .candidate_costs(&space)
            .unwrap();
        let arch = Architecture::widest(&space);
        let choices = arch.indices(&space);
        let predicted = CostModel::Table(table)
            .predict(&arch.to_net_spec(&space), 224)
            .unwrap();
        assert!((costs.of(&choices) - predicted).abs() < 1e-9);
    }

    #[test]
    fn corrected_candidate_costs_add_up_to_the_corrected_prediction() {
        let space = presets::load("imagenet").unwrap();
        let mut table = LatencyTable::named("pixel1").unwrap();
        table.set_correction(NetworkCorrection {
            overhead_ms: 1.5,
            scale: 0.8,
            per_layer_ms: 0.25,
            networks: 4,
            fit_mape: 0.0,
        });
        let costs = CostModel::Table(table.clone())
            .candidate_costs(&space)
            .unwrap();
        // An architecture with Zero blocks: they cost nothing, not even the per-layer term.
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        for _ in 0..5 {
            let arch = Architecture::random(&space, &mut rng);
            let choices = arch.indices(&space);
            let net = arch.to_net_spec(&space);
            let (sum, layers) = table_sum(&table, &net, 224).unwrap();
            let by_hand = 1.5 + 0.8 * sum + 0.25 * layers as f64;
            let predicted = CostModel::Table(table.clone()).predict(&net, 224).unwrap();
            assert!((predicted - by_hand).abs() < 1e-9);
            assert!((costs.of(&choices) - predicted).abs() < 1e-9);
        }
    }

    #[test]
    fn a_correction_that_makes_a_block_cost_less_than_nothing_is_an_error() {
        let space = presets::load("imagenet").unwrap();
        let mut table = LatencyTable::named("pixel1").unwrap();
        table.set_correction(NetworkCorrection {
            overhead_ms: 0.0,
            scale: 1.0,
            per_layer_ms: -1e3,
            networks: 3,
            fit_mape: 0.0,
        });
        let err = CostModel::Table(table).candidate_costs(&space).unwrap_err();
        assert!(err.to_string().contains("below zero"), "{err}");
    }

    #[test]
    fn missing_entries_are_named() {
        let space = presets::load("fmnist").unwrap();
        let table = LatencyTable::named("pixel1").unwrap();
        let err = CostModel::Table(table).candidate_costs(&space).unwrap_err();
        assert!(
            err.to_string()
                .contains("no entry for key 'Conv-input:28x28x1"),
            "{err}"
        );
    }
}
