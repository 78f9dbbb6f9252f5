//! Parameter and multiply-accumulate counts, per layer and in total, from descriptions alone.
//!
//! Parameters follow PyTorch's `parameters()`: convolution weights, BatchNorm scale and shift,
//! linear weight and bias. BatchNorm running statistics are counted apart as buffers.
//! Multiply-accumulates count convolutions and the classifier (not BatchNorm, activations,
//! additions or pooling), the convention of the paper's MAC figures.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::net_spec::{BlockOp, BlockSpec, ConvSpec, NetSpec};
use crate::{OpChoice, SearchSpace, conv_output_size};

/// Cost of one layer or block of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerCost {
    /// Where it sits: `first_conv`, `blocks.3`, `feature_mix_layer`, `classifier`.
    pub name: String,
    /// What it computes: `conv3x3`, `k5e3`, `zero`, `linear`.
    pub op: String,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// Output shape `[channels, height, width]` (`[classes, 1, 1]` for the classifier).
    pub output: [usize; 3],
    /// Stride.
    pub stride: usize,
    /// Whether an identity shortcut adds the input.
    pub shortcut: bool,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates for one image.
    pub macs: u64,
    /// BatchNorm running statistics (mean and variance).
    pub buffers: u64,
}

/// Cost of a whole network at one input resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetCost {
    /// Input side in pixels.
    pub resolution: usize,
    /// Per-layer costs in order.
    pub layers: Vec<LayerCost>,
    /// Total trainable parameters.
    pub params: u64,
    /// Total multiply-accumulates for one image.
    pub macs: u64,
    /// Total BatchNorm running statistics.
    pub buffers: u64,
}

/// Parameters, MACs and buffers of a conv + BatchNorm.
fn conv_bn(cin: usize, cout: usize, kernel: usize, groups: usize, out_hw: usize) -> [u64; 3] {
    let weights = (cout * (cin / groups) * kernel * kernel) as u64;
    [
        weights + 2 * cout as u64,
        weights * (out_hw * out_hw) as u64,
        2 * cout as u64,
    ]
}

fn add(a: [u64; 3], b: [u64; 3]) -> [u64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Cost of a block whose input is `size` x `size`; returns the costs and the output side.
pub(crate) fn block_cost(block: &BlockSpec, size: usize) -> ([u64; 3], usize) {
    match block.op {
        BlockOp::Zero => ([0; 3], conv_output_size(size, 1, block.stride)),
        BlockOp::MbConv {
            kernel_size,
            expand_ratio,
            ..
        } => {
            let mid = block.mid_channels().unwrap_or(block.in_channels);
            let out_size = conv_output_size(size, kernel_size, block.stride);
            let mut cost = [0; 3];
            if expand_ratio != 1 {
                cost = add(cost, conv_bn(block.in_channels, mid, 1, 1, size));
            }
            cost = add(cost, conv_bn(mid, mid, kernel_size, mid, out_size));
            cost = add(cost, conv_bn(mid, block.out_channels, 1, 1, out_size));
            (cost, out_size)
        }
    }
}

fn conv_layer(name: &str, conv: &ConvSpec, size: usize) -> LayerCost {
    let out = conv_output_size(size, conv.kernel_size, conv.stride);
    let [params, macs, buffers] = conv_bn(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        1,
        out,
    );
    LayerCost {
        name: name.into(),
        op: format!("conv{0}x{0}", conv.kernel_size),
        input: [conv.in_channels, size, size],
        output: [conv.out_channels, out, out],
        stride: conv.stride,
        shortcut: false,
        params,
        macs,
        buffers,
    }
}

impl NetSpec {
    /// Counts parameters and multiply-accumulates for `resolution` x `resolution` inputs.
    pub fn cost(&self, resolution: usize) -> Result<NetCost> {
        if resolution == 0 {
            return Err(Error::invalid(
                "arguments",
                "resolution",
                "expected a positive input side, got 0",
            ));
        }
        crate::bounds::check_at_most(
            "arguments",
            "resolution",
            resolution,
            crate::bounds::MAX_RESOLUTION,
        )?;
        let mut layers = vec![conv_layer("first_conv", &self.first_conv, resolution)];
        let mut size = layers[0].output[1];
        for (i, block) in self.blocks.iter().enumerate() {
            let ([params, macs, buffers], out) = block_cost(block, size);
            layers.push(LayerCost {
                name: format!("blocks.{i}"),
                op: block.choice().to_string(),
                input: [block.in_channels, size, size],
                output: [block.out_channels, out, out],
                stride: block.stride,
                shortcut: block.shortcut,
                params,
                macs,
                buffers,
            });
            size = out;
        }
        layers.push(conv_layer("feature_mix_layer", &self.feature_mix, size));
        let c = &self.classifier;
        let linear = (c.in_features * c.out_features) as u64;
        layers.push(LayerCost {
            name: "classifier".into(),
            op: "linear".into(),
            input: [c.in_features, 1, 1],
            output: [c.out_features, 1, 1],
            stride: 1,
            shortcut: false,
            params: linear + c.out_features as u64,
            macs: linear,
            buffers: 0,
        });
        Ok(NetCost {
            resolution,
            params: layers.iter().map(|l| l.params).sum(),
            macs: layers.iter().map(|l| l.macs).sum(),
            buffers: layers.iter().map(|l| l.buffers).sum(),
            layers,
        })
    }
}

/// A cost per candidate of every choice block plus the cost of the fixed layers, in one unit
/// (milliseconds from a latency table, millions of MACs, ...). The expected cost of a
/// supernet is `fixed + sum_b sum_j p_bj * blocks[b][j]`; Zero candidates cost 0.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CandidateCosts {
    /// Unit of every number (`ms`, `MMACs`).
    pub unit: String,
    /// Stem, first block, feature mix, pooling and classifier together.
    pub fixed: f64,
    /// `blocks[b][j]`: cost of candidate `j` of choice block `b`, in the space's order.
    pub blocks: Vec<Vec<f64>>,
}

impl CandidateCosts {
    /// The cost of one architecture: fixed layers plus its chosen candidates.
    pub fn of(&self, choices: &[usize]) -> f64 {
        self.fixed
            + self
                .blocks
                .iter()
                .zip(choices)
                .map(|(costs, &j)| costs[j])
                .sum::<f64>()
    }

    /// The cheapest architecture: the cheapest candidate of every block.
    pub fn cheapest(&self) -> Vec<usize> {
        self.pick(|a, b| a < b)
    }

    /// The dearest architecture: the dearest candidate of every block.
    pub fn dearest(&self) -> Vec<usize> {
        self.pick(|a, b| a > b)
    }

    fn pick(&self, better: impl Fn(f64, f64) -> bool) -> Vec<usize> {
        self.blocks
            .iter()
            .map(|costs| {
                (0..costs.len())
                    .reduce(|best, j| {
                        if better(costs[j], costs[best]) {
                            j
                        } else {
                            best
                        }
                    })
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// What a search space holds: size, architecture parameters, supernet weights and the range of
/// costs of each choice block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpaceSummary {
    /// Name of the space.
    pub name: String,
    /// Input side used for the MAC counts.
    pub resolution: usize,
    /// Number of choice blocks.
    pub choice_blocks: usize,
    /// Number of architecture parameters (one per candidate per block).
    pub arch_params: usize,
    /// Number of distinct architectures.
    pub architectures: f64,
    /// Weights of the supernet: every candidate of every block plus the fixed layers.
    pub supernet_params: u64,
    /// Parameters of the fixed layers (stem, first block, feature mix, classifier).
    pub fixed_params: u64,
    /// MACs of the fixed layers.
    pub fixed_macs: u64,
    /// Parameters of the smallest and the largest architecture.
    pub params_range: [u64; 2],
    /// MACs of the smallest and the largest architecture.
    pub macs_range: [u64; 2],
    /// Per choice block: label, input shape, output shape, stride, candidates, and the
    /// parameter and MAC range over the candidates.
    pub blocks: Vec<ChoiceBlockCost>,
}

/// Cost range of one choice block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChoiceBlockCost {
    /// `stage2.block3`.
    pub label: String,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// Output shape `[channels, height, width]`.
    pub output: [usize; 3],
    /// Stride.
    pub stride: usize,
    /// The candidates in order, as text.
    pub candidates: Vec<String>,
    /// Parameters of all candidates together (what the supernet holds for this block).
    pub supernet_params: u64,
    /// Parameters of each candidate, in order.
    pub params: Vec<u64>,
    /// MACs of each candidate, in order.
    pub macs: Vec<u64>,
    /// Smallest and largest parameter count of one candidate.
    pub params_range: [u64; 2],
    /// Smallest and largest MACs of one candidate.
    pub macs_range: [u64; 2],
}

impl SearchSpace {
    /// Multiply-accumulates (in millions) of every candidate and of the fixed layers at
    /// `resolution`: the hardware-free cost model of the search.
    pub fn candidate_macs(&self, resolution: usize) -> Result<CandidateCosts> {
        let summary = self.summary(Some(resolution))?;
        Ok(CandidateCosts {
            unit: "MMACs".into(),
            fixed: summary.fixed_macs as f64 / 1e6,
            blocks: summary
                .blocks
                .iter()
                .map(|b| b.macs.iter().map(|&m| m as f64 / 1e6).collect())
                .collect(),
        })
    }

    /// Summarises the space at `resolution` (its own input side when `None`).
    pub fn summary(&self, resolution: Option<usize>) -> Result<SpaceSummary> {
        let resolution = resolution.unwrap_or(self.input.resolution);
        let widest = crate::Architecture::widest(self).to_net_spec(self);
        let fixed = widest.cost(resolution)?;
        let mut fixed_params = 0;
        let mut fixed_macs = 0;
        // The fixed layers: stem, first block, feature mix, classifier.
        for layer in fixed
            .layers
            .iter()
            .take(2)
            .chain(fixed.layers.iter().rev().take(2))
        {
            fixed_params += layer.params;
            fixed_macs += layer.macs;
        }
        let mut blocks = Vec::new();
        let mut supernet_params = fixed_params;
        let mut params_range = [fixed_params; 2];
        let mut macs_range = [fixed_macs; 2];
        for (choice, layer) in self.choice_blocks().iter().zip(&fixed.layers[2..]) {
            let costs: Vec<[u64; 3]> = choice
                .candidates
                .iter()
                .map(|op| {
                    let spec = crate::arch::block_spec(choice, *op);
                    block_cost(&spec, layer.input[1]).0
                })
                .collect();
            let params: Vec<u64> = costs.iter().map(|c| c[0]).collect();
            let macs: Vec<u64> = costs.iter().map(|c| c[1]).collect();
            let range = |v: &[u64]| [*v.iter().min().unwrap(), *v.iter().max().unwrap()];
            let (p, m) = (range(&params), range(&macs));
            supernet_params += params.iter().sum::<u64>();
            params_range = [params_range[0] + p[0], params_range[1] + p[1]];
            macs_range = [macs_range[0] + m[0], macs_range[1] + m[1]];
            blocks.push(ChoiceBlockCost {
                label: choice.label(),
                input: layer.input,
                output: layer.output,
                stride: choice.stride,
                candidates: choice.candidates.iter().map(OpChoice::to_string).collect(),
                supernet_params: params.iter().sum(),
                params_range: p,
                macs_range: m,
                params,
                macs,
            });
        }
        Ok(SpaceSummary {
            name: self.name.clone(),
            resolution,
            choice_blocks: blocks.len(),
            arch_params: self.num_arch_params(),
            architectures: self.num_architectures(),
            supernet_params,
            fixed_params,
            fixed_macs,
            params_range,
            macs_range,
            blocks,
        })
    }
}
