//! The paper's CIFAR-10 search space of tree-structured cells, as data (TOML): a PyramidNet
//! backbone (stages of residual blocks whose bottleneck widths grow linearly), each block's
//! cell a tree whose searched edges choose among separable convolutions, poolings, identity
//! and Zero. An architecture (one candidate per searched edge) derives the official
//! `PyramidTreeNet` net.config ([`TreeNetConfig`]).
//!
//! A cell, as the released network has it: the root's one edge, a 3x3 group convolution
//! (2 groups, channel shuffle) from the bottleneck width `w` to `branches · w`, stride 2 in a
//! stage's first block; a first level that splits those channels into `branches` parts of `w`
//! (identity edges, a BatchNorm and skip per branch); then `searched_levels` levels of nodes
//! that copy their input to `branches` searched edges and add the results, each edge followed
//! by the next level's node (none after the last). Searched edges are numbered depth first:
//! a node's edges, then the nodes below it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result, read_to_string};
use crate::{CandidateCosts, Layer, TreeNetConfig};

/// A candidate operation of a searched edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeOp {
    /// Depthwise-separable 3x3 convolution (BatchNorm and ReLU before it).
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    /// Depthwise-separable 5x5 convolution.
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    /// Depthwise-separable 7x7 convolution.
    #[serde(rename = "sep_conv_7x7")]
    SepConv7x7,
    /// Depthwise-separable 3x3 convolution with dilation 2.
    #[serde(rename = "dil_conv_3x3")]
    DilConv3x3,
    /// 3x3 max pooling, stride 1.
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
    /// 3x3 average pooling, stride 1 (padding excluded from the average).
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    /// The identity.
    Identity,
    /// Nothing (the official `ZeroLayer`): the edge adds zeros to its node's sum (only on
    /// the last level's edges, which no node follows).
    Zero,
}

impl EdgeOp {
    /// The name in a space's TOML and in architectures.
    pub fn name(self) -> &'static str {
        match self {
            Self::SepConv3x3 => "sep_conv_3x3",
            Self::SepConv5x5 => "sep_conv_5x5",
            Self::SepConv7x7 => "sep_conv_7x7",
            Self::DilConv3x3 => "dil_conv_3x3",
            Self::MaxPool3x3 => "max_pool_3x3",
            Self::AvgPool3x3 => "avg_pool_3x3",
            Self::Identity => "identity",
            Self::Zero => "zero",
        }
    }

    /// The operation of an official layer configuration, if it is one of the candidates.
    fn of_layer(layer: &Value) -> Option<Self> {
        let name = layer.get("name")?.as_str()?;
        let int = |field: &str| layer.get(field).and_then(Value::as_u64);
        Some(match (name, int("kernel_size"), int("dilation")) {
            ("DepthConvLayer", Some(3), Some(1)) => Self::SepConv3x3,
            ("DepthConvLayer", Some(5), Some(1)) => Self::SepConv5x5,
            ("DepthConvLayer", Some(7), Some(1)) => Self::SepConv7x7,
            ("DepthConvLayer", Some(3), Some(2)) => Self::DilConv3x3,
            ("PoolingLayer", Some(3), _) => match layer.get("pool_type")?.as_str()? {
                "max" => Self::MaxPool3x3,
                "avg" => Self::AvgPool3x3,
                _ => return None,
            },
            ("IdentityLayer", ..) => Self::Identity,
            ("ZeroLayer", ..) => Self::Zero,
            _ => return None,
        })
    }

    /// The official layer of this operation on `channels` channels.
    pub fn layer_config(self, channels: usize) -> Layer {
        serde_json::from_value(self.layer(channels)).expect("candidates are official layers")
    }

    /// The official layer configuration on `channels` channels.
    fn layer(self, channels: usize) -> Value {
        let sep = |kernel: usize, dilation: usize| {
            json!({
                "name": "DepthConvLayer", "kernel_size": kernel, "stride": 1,
                "dilation": dilation, "groups": 1, "bias": false, "has_shuffle": false,
                "in_channels": channels, "out_channels": channels, "use_bn": true,
                "act_func": "relu", "dropout_rate": 0, "ops_order": "bn_act_weight",
            })
        };
        let pool = |kind: &str| {
            json!({
                "name": "PoolingLayer", "pool_type": kind, "kernel_size": 3, "stride": 1,
                "in_channels": channels, "out_channels": channels, "use_bn": false,
                "act_func": null, "dropout_rate": 0, "ops_order": "bn_act_weight",
            })
        };
        match self {
            Self::SepConv3x3 => sep(3, 1),
            Self::SepConv5x5 => sep(5, 1),
            Self::SepConv7x7 => sep(7, 1),
            Self::DilConv3x3 => sep(3, 2),
            Self::MaxPool3x3 => pool("max"),
            Self::AvgPool3x3 => pool("avg"),
            Self::Identity => identity(channels),
            Self::Zero => json!({"name": "ZeroLayer", "stride": 1}),
        }
    }

    /// Trainable parameters on `channels` channels (PyTorch's `parameters()`).
    pub fn params(self, channels: usize) -> u64 {
        let c = channels as u64;
        // A depthwise k x k, a pointwise 1x1, the BatchNorm on the input channels.
        let separable = |k: u64| c * k * k + c * c + 2 * c;
        match self {
            Self::SepConv3x3 | Self::DilConv3x3 => separable(3),
            Self::SepConv5x5 => separable(5),
            Self::SepConv7x7 => separable(7),
            _ => 0,
        }
    }

    /// Multiply-accumulates of one image on `channels` channels of `side` x `side`.
    pub fn macs(self, channels: usize, side: usize) -> u64 {
        let pixels = (side * side) as u64;
        let c = channels as u64;
        let depthwise = |k: u64| c * k * k * pixels;
        match self {
            Self::SepConv3x3 | Self::DilConv3x3 => depthwise(3) + c * c * pixels,
            Self::SepConv5x5 => depthwise(5) + c * c * pixels,
            Self::SepConv7x7 => depthwise(7) + c * c * pixels,
            _ => 0,
        }
    }
}

fn identity(channels: usize) -> Value {
    json!({
        "name": "IdentityLayer", "in_channels": channels, "out_channels": channels,
        "use_bn": false, "act_func": null, "dropout_rate": 0, "ops_order": "bn_act_weight",
    })
}

/// The input the space is searched on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeInput {
    /// Image channels.
    pub channels: usize,
    /// Image side (the classifier reads the flattened features of this side).
    pub resolution: usize,
    /// Classes.
    pub classes: usize,
}

/// The PyramidNet backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backbone {
    /// Channels of the 3x3 stem convolution.
    pub stem: usize,
    /// Residual blocks per stage; every stage after the first halves the side.
    pub blocks_per_stage: Vec<usize>,
    /// Bottleneck width of the first block.
    pub first_width: usize,
    /// How much the bottleneck width grows over all blocks (PyramidNet's α): block `l` of
    /// `L` has width `m · ⌊(first_width + widening · l / L) / m⌋`, `m` = `width_multiple`.
    pub widening: usize,
    /// Widths are multiples of this.
    pub width_multiple: usize,
    /// A block's output channels over its bottleneck width.
    pub bottleneck: usize,
}

/// The tree of every cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSpec {
    /// Edges per node (and branches of the first split).
    pub branches: usize,
    /// Levels of searched nodes below the split.
    pub searched_levels: usize,
    /// The candidates of every searched edge (Zero only on the last level's).
    pub candidates: Vec<EdgeOp>,
}

/// A tree-cell search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSpace {
    /// Its name.
    pub name: String,
    /// The input.
    pub input: TreeInput,
    /// The backbone.
    pub backbone: Backbone,
    /// The cells.
    pub cell: CellSpec,
}

/// One searched edge of the space.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeChoice {
    /// Its residual block (0-based among the cells).
    pub cell: usize,
    /// Channels through the edge.
    pub channels: usize,
    /// Side of its input and output.
    pub side: usize,
    /// Its candidates, in the order of the architecture parameters.
    pub candidates: Vec<EdgeOp>,
}

/// Sizes of a tree-cell space ([`TreeSpace::summary`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSpaceSummary {
    /// The space's name.
    pub name: String,
    /// Residual blocks (cells).
    pub cells: usize,
    /// Searched edges in all.
    pub searched_edges: usize,
    /// The candidates' names.
    pub candidates: Vec<&'static str>,
    /// Trainable parameters of the supernet (every candidate of every edge).
    pub supernet_params: u64,
    /// Parameters of the networks of the cheapest and the dearest architecture (by MACs).
    pub params_range: [u64; 2],
    /// Multiply-accumulates of those two networks.
    pub macs_range: [u64; 2],
    /// log10 of the number of architectures.
    pub log10_architectures: f64,
}

/// Names of the tree-space presets.
pub const TREE_PRESETS: [&str; 2] = ["cifar-tree", "cifar-tree-compact"];

/// The searched edges of a cell in depth-first order, each `true` when it is on the last level
/// (no node behind it). The first level's `branches` branches each lead to one searched node.
fn last_level_flags(branches: usize, levels: usize) -> Vec<bool> {
    fn walk(branches: usize, levels: usize, out: &mut Vec<bool>) {
        out.extend(std::iter::repeat_n(levels == 1, branches));
        if levels > 1 {
            for _ in 0..branches {
                walk(branches, levels - 1, out);
            }
        }
    }
    let mut flags = Vec::new();
    for _ in 0..branches {
        walk(branches, levels, &mut flags);
    }
    flags
}

/// Searched edges of a cell: `branches^2 + ... + branches^(levels + 1)`.
fn edges_per_cell(branches: usize, levels: usize) -> usize {
    (2..=levels as u32 + 1).map(|k| branches.pow(k)).sum()
}

impl TreeSpace {
    /// Parses a space from TOML; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let space: Self = toml::from_str(text)
            .map_err(|e| Error::invalid(origin, "toml", e.to_string().trim().to_string()))?;
        space.validate(origin)?;
        Ok(space)
    }

    /// Whether a space's TOML text describes a tree-cell space (it has a `[cell]` table)
    /// rather than an MBConv space.
    pub fn describes(text: &str) -> bool {
        toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("cell"))
    }

    /// The space as TOML (read back by [`from_toml_str`](Self::from_toml_str)).
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).expect("a tree space serialises")
    }

    /// The architecture `choices` in words: each cell's edges by name, cells split by `|`.
    pub fn to_text(&self, choices: &[usize]) -> String {
        let edges = self.choices();
        let per_cell = self.edges_per_cell();
        let names: Vec<&str> = edges
            .iter()
            .zip(choices)
            .map(|(edge, &j)| edge.candidates[j].name())
            .collect();
        names
            .chunks(per_cell)
            .map(|cell| cell.join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Reads a space from a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_toml_str(&read_to_string(path)?, &path.display().to_string())
    }

    /// A preset by name ([`TREE_PRESETS`]), or `None`.
    pub fn preset(name: &str) -> Option<Self> {
        let text = match name {
            "cifar-tree" => include_str!("../presets/cifar-tree.toml"),
            "cifar-tree-compact" => include_str!("../presets/cifar-tree-compact.toml"),
            _ => return None,
        };
        Some(Self::from_toml_str(text, &format!("preset '{name}'")).expect("presets are valid"))
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, message: String| Err(Error::invalid(origin, field, message));
        let b = &self.backbone;
        let i = &self.input;
        // Bounds far beyond any real space, so that a hostile file is an error, not hours of
        // derivation or an overflow.
        let limits = [
            ("input.channels", i.channels, 1, 64),
            ("input.resolution", i.resolution, 1, 8192),
            ("input.classes", i.classes, 1, 1_000_000),
            ("backbone.stem", b.stem, 1, 65_536),
            ("backbone.first_width", b.first_width, 1, 65_536),
            ("backbone.widening", b.widening, 0, 65_536),
            ("backbone.width_multiple", b.width_multiple, 1, 1024),
            ("backbone.bottleneck", b.bottleneck, 1, 64),
            (
                "backbone.blocks_per_stage (stages)",
                b.blocks_per_stage.len(),
                1,
                8,
            ),
            ("cell.branches", self.cell.branches, 2, 8),
            ("cell.searched_levels", self.cell.searched_levels, 1, 4),
        ];
        for (field, value, low, high) in limits {
            if !(low..=high).contains(&value) {
                return bad(field, format!("{value} is outside {low}..={high}"));
            }
        }
        if b.blocks_per_stage.iter().sum::<usize>() > 1000 {
            return bad(
                "backbone.blocks_per_stage",
                "more than 1000 blocks in all".into(),
            );
        }
        let per_cell = edges_per_cell(self.cell.branches, self.cell.searched_levels);
        let edges = per_cell * b.blocks_per_stage.iter().sum::<usize>();
        if edges > 100_000 {
            return bad(
                "cell",
                format!("{edges} searched edges in all (at most 100000)"),
            );
        }
        if b.blocks_per_stage.is_empty() || b.blocks_per_stage.contains(&0) {
            return bad(
                "backbone.blocks_per_stage",
                "expected at least one stage, each of at least one block".into(),
            );
        }
        if b.first_width < b.width_multiple
            || !b.first_width.is_multiple_of(self.cell.branches.max(1))
        {
            return bad(
                "backbone.first_width",
                format!(
                    "{} is below width_multiple or not divisible by the {} branches",
                    b.first_width, self.cell.branches
                ),
            );
        }
        if !b.width_multiple.is_multiple_of(self.cell.branches.max(1)) {
            return bad(
                "backbone.width_multiple",
                "must be a multiple of cell.branches (the group convolution's groups)".into(),
            );
        }
        let halvings = b.blocks_per_stage.len() - 1;
        if !self.input.resolution.is_multiple_of(1 << halvings) {
            return bad(
                "input.resolution",
                format!("{} does not halve {halvings} times", self.input.resolution),
            );
        }
        let c = &self.cell;
        if c.branches < 2 || c.searched_levels == 0 {
            return bad(
                "cell",
                "expected at least 2 branches and 1 searched level".into(),
            );
        }
        if c.candidates.is_empty() || c.candidates.iter().all(|&op| op == EdgeOp::Zero) {
            return bad(
                "cell.candidates",
                "expected a candidate besides zero".into(),
            );
        }
        let mut names: Vec<&str> = c.candidates.iter().map(|op| op.name()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return bad("cell.candidates", "a candidate is listed twice".into());
        }
        Ok(())
    }

    /// Residual blocks (cells) in all.
    pub fn cells(&self) -> usize {
        self.backbone.blocks_per_stage.iter().sum()
    }

    /// Bottleneck width of block `l` (0-based).
    pub fn width(&self, l: usize) -> usize {
        let b = &self.backbone;
        let total = self.cells();
        let exact = b.first_width as f64 + (b.widening * l) as f64 / total as f64;
        b.width_multiple * (exact / b.width_multiple as f64).floor() as usize
    }

    /// Searched edges per cell.
    pub fn edges_per_cell(&self) -> usize {
        edges_per_cell(self.cell.branches, self.cell.searched_levels)
    }

    /// Every searched edge, cell by cell, depth first within a cell.
    pub fn choices(&self) -> Vec<TreeChoice> {
        let last_level = last_level_flags(self.cell.branches, self.cell.searched_levels);
        let mut side = self.input.resolution;
        let mut out = Vec::new();
        let mut l = 0;
        for (stage, &blocks) in self.backbone.blocks_per_stage.iter().enumerate() {
            for i in 0..blocks {
                if stage > 0 && i == 0 {
                    side /= 2;
                }
                let channels = self.width(l);
                for &last in &last_level {
                    let candidates = self
                        .cell
                        .candidates
                        .iter()
                        .copied()
                        .filter(|&op| last || op != EdgeOp::Zero)
                        .collect();
                    out.push(TreeChoice {
                        cell: l,
                        channels,
                        side,
                        candidates,
                    });
                }
                l += 1;
            }
        }
        out
    }

    /// The multiply-accumulates of every candidate of every searched edge, and of everything
    /// else (the backbone, the cells' fixed parts, the head) as `fixed`, in millions.
    pub fn candidate_costs(&self) -> CandidateCosts {
        let choices = self.choices();
        let fixed = self
            .skeleton()
            .cost(self.input.resolution, &self.name)
            .expect("a space's networks are valid")
            .macs;
        CandidateCosts {
            unit: "MMACs".into(),
            fixed: fixed as f64 / 1e6,
            blocks: choices
                .iter()
                .map(|c| {
                    c.candidates
                        .iter()
                        .map(|op| op.macs(c.channels, c.side) as f64 / 1e6)
                        .collect()
                })
                .collect(),
        }
    }

    /// Sizes of the space: its supernet, its cheapest and dearest networks, how many
    /// architectures it holds.
    pub fn summary(&self) -> TreeSpaceSummary {
        let choices = self.choices();
        let skeleton = self.skeleton().cost(self.input.resolution, &self.name);
        let skeleton = skeleton.expect("a space's networks are valid");
        let edge_params: u64 = choices
            .iter()
            .flat_map(|c| c.candidates.iter().map(|op| op.params(c.channels)))
            .sum();
        let costs = self.candidate_costs();
        let size = |picks: &[usize]| {
            let net = self
                .net_config(picks, &self.name)
                .expect("the space's own choices");
            net.cost(self.input.resolution, &self.name)
                .expect("a space's networks are valid")
        };
        let (cheap, dear) = (size(&costs.cheapest()), size(&costs.dearest()));
        TreeSpaceSummary {
            name: self.name.clone(),
            cells: self.cells(),
            searched_edges: choices.len(),
            candidates: self.cell.candidates.iter().map(|op| op.name()).collect(),
            supernet_params: skeleton.params + edge_params,
            params_range: [cheap.params, dear.params],
            macs_range: [cheap.macs, dear.macs],
            log10_architectures: choices
                .iter()
                .map(|c| (c.candidates.len() as f64).log10())
                .sum(),
        }
    }

    /// The network of one architecture: `choices[i]` indexes the candidates of edge `i` of
    /// [`choices`](Self::choices). `origin` names the architecture in errors.
    pub fn net_config(&self, choices: &[usize], origin: &str) -> Result<TreeNetConfig> {
        let edges = self.choices();
        if choices.len() != edges.len() {
            return Err(Error::invalid(
                origin,
                "choices",
                format!(
                    "{} choices for the {} searched edges of {}",
                    choices.len(),
                    edges.len(),
                    self.name
                ),
            ));
        }
        let ops = edges
            .iter()
            .zip(choices)
            .enumerate()
            .map(|(i, (edge, &j))| {
                edge.candidates.get(j).copied().ok_or_else(|| {
                    Error::invalid(
                        origin,
                        format!("choices[{i}]"),
                        format!(
                            "{j} is not one of the edge's {} candidates",
                            edge.candidates.len()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.net_config_of(&ops))
    }

    /// The choices of a network of this space (every searched edge one of its candidates),
    /// e.g. the paper's released one.
    pub fn choices_of(&self, net: &TreeNetConfig, origin: &str) -> Result<Vec<usize>> {
        let value = serde_json::to_value(net).expect("a network serialises");
        let cells: Vec<&Value> = value["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"] == "ResidualTreeBlock")
            .collect();
        if cells.len() != self.cells() {
            return Err(Error::invalid(
                origin,
                "blocks",
                format!("{} cells, the space has {}", cells.len(), self.cells()),
            ));
        }
        let mut ops = Vec::new();
        for cell in cells {
            for node in cell["cell"]["child_nodes"][0]["child_nodes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                collect_edges(node, &mut ops);
            }
        }
        let edges = self.choices();
        if ops.len() != edges.len() {
            return Err(Error::invalid(
                origin,
                "cells",
                format!(
                    "{} searched edges, the space has {}",
                    ops.len(),
                    edges.len()
                ),
            ));
        }
        let choices = edges
            .iter()
            .zip(&ops)
            .enumerate()
            .map(|(i, (edge, op))| {
                op.and_then(|op| edge.candidates.iter().position(|&c| c == op))
                    .ok_or_else(|| {
                        Error::invalid(origin, format!("edge {i}"), "not a candidate of the space")
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let derived = self.net_config(&choices, origin)?;
        if &derived != net {
            return Err(Error::invalid(
                origin,
                "blocks",
                "its edges are the space's candidates but the rest of the network is not the \
                 space's backbone",
            ));
        }
        Ok(choices)
    }

    /// The space's skeleton: the network with the identity on every searched edge (its
    /// stem, backbone, the cells' fixed parts and head are every architecture's).
    pub fn skeleton(&self) -> TreeNetConfig {
        self.net_config_of(&vec![EdgeOp::Identity; self.choices().len()])
    }

    /// The network with `ops` on the searched edges (depth-first order, cell by cell).
    fn net_config_of(&self, ops: &[EdgeOp]) -> TreeNetConfig {
        let b = &self.backbone;
        let branches = self.cell.branches;
        let mut ops = ops.iter().copied();
        let mut blocks = vec![json!({"name": "TransitionBlock", "layers": [
            conv(self.input.channels, b.stem, 3, 1, 1, false, None, "bn_act_weight"),
            json!({"name": "IdentityLayer", "in_channels": b.stem, "out_channels": b.stem,
                   "use_bn": true, "act_func": null, "dropout_rate": 0,
                   "ops_order": "bn_act_weight"}),
        ]})];
        let mut channels = b.stem;
        let mut l = 0;
        for (stage, &count) in b.blocks_per_stage.iter().enumerate() {
            for i in 0..count {
                let down = stage > 0 && i == 0;
                let w = self.width(l);
                let out = b.bottleneck * w;
                let shortcut = if down {
                    json!({"name": "PoolingLayer", "pool_type": "avg", "kernel_size": 2,
                           "stride": 2, "in_channels": channels, "out_channels": channels,
                           "use_bn": false, "act_func": null, "dropout_rate": 0,
                           "ops_order": "bn_act_weight"})
                } else {
                    identity(channels)
                };
                let searched: Vec<Value> = (0..branches)
                    .map(|_| searched_node(w, branches, self.cell.searched_levels, &mut ops))
                    .collect();
                let split = json!({
                    "name": "TreeNode", "in_channels": branches * w, "out_channels": w,
                    "split_type": "split", "merge_type": "add", "has_branch_bn": true,
                    "path_drop_rate": 0, "edges": vec![identity(w); branches],
                    "child_nodes": searched,
                });
                let root = json!({
                    "name": "TreeNode", "in_channels": w, "out_channels": w,
                    "split_type": null, "merge_type": null, "has_branch_bn": false,
                    "path_drop_rate": 0,
                    "edges": [conv(w, branches * w, 3, if down { 2 } else { 1 }, branches,
                                   true, Some("relu"), "bn_act_weight")],
                    "child_nodes": [split],
                });
                blocks.push(json!({
                    "name": "ResidualTreeBlock", "cell_drop_rate": 0.0, "final_bn": true,
                    "shortcut": shortcut,
                    "in_bottle": conv(channels, w, 1, 1, 1, false, None, "bn_act_weight"),
                    "out_bottle": conv(w, out, 1, 1, 1, false, Some("relu"), "bn_act_weight"),
                    "cell": root,
                }));
                channels = out;
                l += 1;
            }
        }
        let side = self.input.resolution >> (b.blocks_per_stage.len() - 1);
        blocks.push(json!({"name": "TransitionBlock", "layers": [
            {"name": "PoolingLayer", "pool_type": "avg", "kernel_size": side, "stride": side,
             "in_channels": channels, "out_channels": channels, "use_bn": true,
             "act_func": "relu", "dropout_rate": 0, "ops_order": "bn_act_weight"},
        ]}));
        let net = json!({
            "name": "PyramidTreeNet",
            "blocks": blocks,
            "classifier": {"name": "LinearLayer", "in_features": channels,
                "out_features": self.input.classes, "bias": true, "use_bn": false,
                "act_func": null, "dropout_rate": 0, "ops_order": "bn_act_weight"},
        });
        TreeNetConfig::from_json_str(&net.to_string(), &self.name)
            .expect("a space derives valid networks")
    }
}

/// The searched edges of `node` and the nodes below it, depth first (none: not a candidate).
fn collect_edges(node: &Value, out: &mut Vec<Option<EdgeOp>>) {
    for edge in node["edges"].as_array().into_iter().flatten() {
        out.push(EdgeOp::of_layer(edge));
    }
    for child in node["child_nodes"].as_array().into_iter().flatten() {
        if !child.is_null() {
            collect_edges(child, out);
        }
    }
}

/// A searched node on `w` channels with `levels` levels (itself included) below the split.
fn searched_node(
    w: usize,
    branches: usize,
    levels: usize,
    ops: &mut impl Iterator<Item = EdgeOp>,
) -> Value {
    let edges: Vec<Value> = (0..branches)
        .map(|_| ops.next().expect("one op per searched edge").layer(w))
        .collect();
    let children: Vec<Value> = (0..branches)
        .map(|_| {
            if levels > 1 {
                searched_node(w, branches, levels - 1, ops)
            } else {
                Value::Null
            }
        })
        .collect();
    json!({
        "name": "TreeNode", "in_channels": w, "out_channels": w, "split_type": "copy",
        "merge_type": "add", "has_branch_bn": false, "path_drop_rate": 0,
        "edges": edges, "child_nodes": children,
    })
}

/// An official `ConvLayer` configuration.
#[allow(clippy::too_many_arguments)]
fn conv(
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    shuffle: bool,
    act: Option<&str>,
    order: &str,
) -> Value {
    json!({
        "name": "ConvLayer", "kernel_size": kernel, "stride": stride, "dilation": 1,
        "groups": groups, "bias": false, "has_shuffle": shuffle, "in_channels": cin,
        "out_channels": cout, "use_bn": act.is_some() || kernel == 1 || cin != 3,
        "act_func": act, "dropout_rate": 0, "ops_order": order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIFAR: &str = include_str!("../../../configs/nets/proxyless_cifar.json");

    #[test]
    fn the_papers_network_is_an_architecture_of_the_papers_space() {
        let space = TreeSpace::preset("cifar-tree").unwrap();
        assert_eq!(space.cells(), 54);
        assert_eq!(space.edges_per_cell(), 12);
        let widths: Vec<usize> = (0..8).map(|l| space.width(l)).collect();
        assert_eq!(widths, [18, 18, 20, 22, 24, 24, 26, 28]);
        assert_eq!(space.width(53), 100);
        let released = TreeNetConfig::from_json_str(CIFAR, "proxyless_cifar.json").unwrap();
        // `choices_of` derives the network back from the choices and requires it to equal the
        // released one field for field: widths, strides, shortcuts, every layer's settings.
        let choices = space.choices_of(&released, "proxyless_cifar.json").unwrap();
        assert_eq!(choices.len(), 648);
        let derived = space.net_config(&choices, "released").unwrap();
        let as_value = |n: &TreeNetConfig| serde_json::to_value(n).unwrap();
        let read: Value = serde_json::from_str(CIFAR).unwrap();
        assert_eq!(as_value(&derived), read);
        // The candidates' costs add up to the network's multiply-accumulates.
        let costs = space.candidate_costs();
        let macs = released.cost(32, "n").unwrap().macs as f64 / 1e6;
        assert!(
            (costs.of(&choices) - macs).abs() < 1e-6,
            "{} vs {macs}",
            costs.of(&choices)
        );
    }

    #[test]
    fn the_compact_preset_offers_zero_on_the_leaves_only() {
        let space = TreeSpace::preset("cifar-tree-compact").unwrap();
        let choices = space.choices();
        assert_eq!(choices.len(), 3 * 12);
        let with_zero: Vec<bool> = choices[..12]
            .iter()
            .map(|c| c.candidates.contains(&EdgeOp::Zero))
            .collect();
        // Depth first: a second-level node's two edges, then its two leaves' edges.
        let node = [false, false, true, true, true, true];
        assert_eq!(with_zero, [node, node].concat());
        assert_eq!(
            choices
                .iter()
                .map(|c| (c.channels, c.side))
                .step_by(12)
                .collect::<Vec<_>>(),
            [(8, 32), (12, 16), (16, 8)]
        );
        // Every architecture derives a valid network; the Zero edges cost nothing.
        let zero_everywhere: Vec<usize> = choices
            .iter()
            .map(|c| {
                c.candidates
                    .iter()
                    .position(|&op| op == EdgeOp::Zero)
                    .unwrap_or(0)
            })
            .collect();
        let net = space.net_config(&zero_everywhere, "zeros").unwrap();
        let cost = net.cost(32, "zeros").unwrap();
        assert_eq!(cost.edges["zero"], 3 * 8);
        let costs = space.candidate_costs();
        assert!((costs.of(&zero_everywhere) - cost.macs as f64 / 1e6).abs() < 1e-9);
        assert_eq!(space.choices_of(&net, "zeros").unwrap(), zero_everywhere);
    }

    #[test]
    fn a_space_is_written_back_and_an_architecture_read_in_words() {
        let space = TreeSpace::preset("cifar-tree-compact").unwrap();
        let again = TreeSpace::from_toml_str(&space.to_toml_string(), "again").unwrap();
        assert_eq!(again, space);
        let text = space.to_text(&[0; 36]);
        assert_eq!(text.split(" | ").count(), 3);
        assert!(text.starts_with("sep_conv_3x3 sep_conv_3x3 "), "{text}");
    }

    #[test]
    fn bad_spaces_and_architectures_are_errors_naming_the_problem() {
        let text = include_str!("../presets/cifar-tree-compact.toml");
        let err = |t: &str| {
            TreeSpace::from_toml_str(t, "s.toml")
                .unwrap_err()
                .to_string()
        };
        let unknown = text.replace("\"identity\", \"zero\"", "\"identity\", \"conv_9x9\"");
        assert!(err(&unknown).contains("conv_9x9"), "{}", err(&unknown));
        let twice = text.replace("\"identity\", \"zero\"", "\"identity\", \"identity\"");
        assert!(err(&twice).contains("twice"), "{}", err(&twice));
        let stages = text.replace("[1, 1, 1]", "[1, 0, 1]");
        assert!(
            err(&stages).contains("blocks_per_stage"),
            "{}",
            err(&stages)
        );
        let huge = text.replace("branches = 2", "branches = 1000");
        assert!(err(&huge).contains("cell.branches"), "{}", err(&huge));
        let stages = text.replace("[1, 1, 1]", &format!("{:?}", vec![1; 70]));
        assert!(err(&stages).contains("stages"), "{}", err(&stages));
        let extra = text.replace("bottleneck = 4", "bottleneck = 4\nbogus = 1");
        assert!(err(&extra).contains("bogus"), "{}", err(&extra));
        let space = TreeSpace::preset("cifar-tree-compact").unwrap();
        let e = space.net_config(&[0; 5], "a.json").unwrap_err().to_string();
        assert!(e.contains("5 choices for the 36 searched edges"), "{e}");
        let e = space
            .net_config(&[99; 36], "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("choices[0]"), "{e}");
        let released = TreeNetConfig::from_json_str(CIFAR, "c").unwrap();
        let e = space.choices_of(&released, "c").unwrap_err().to_string();
        assert!(e.contains("54 cells, the space has 3"), "{e}");
    }
}
