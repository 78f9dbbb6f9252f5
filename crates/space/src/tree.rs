//! The paper's CIFAR-10 network as the official code writes it: the `PyramidTreeNet` JSON
//! (`proxyless_cifar.config`), read and written field for field, its channels checked from the
//! input to the classifier, and its parameters and multiply-accumulates counted from the
//! configuration alone.
//!
//! A `PyramidTreeNet` is a list of blocks: `TransitionBlock`s (plain layers) and
//! `ResidualTreeBlock`s (a shortcut plus `out_bottle(cell(in_bottle(x)))` and a final
//! BatchNorm, the residual zero-padded on the channel axis where it is wider), whose cell is a
//! tree of `TreeNode`s: a node splits its input over its edges (`copy`, channel `split` or a
//! single edge), runs each edge and the child node behind it, and merges the branches (`add`,
//! `concat` or the single one). Layers use the official pre-activation order (`bn_act_weight`:
//! a layer's BatchNorm normalises its *input* channels).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::bounds::{MAX_CHANNELS, MAX_KERNEL, MAX_PARAMETERS, check_at_most, check_parameters};
use crate::error::{Error, Result, from_json, read_to_string};

/// Name of the network class in the official code.
const NET_NAME: &str = "PyramidTreeNet";

/// A `PyramidTreeNet` configuration (`net.config` of the official CIFAR-10 code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeNetConfig {
    /// `"PyramidTreeNet"`.
    pub name: String,
    /// The blocks, input to output.
    pub blocks: Vec<TreeBlock>,
    /// The classifier on the flattened features.
    pub classifier: Layer,
    /// Settings the official builder applies to every tree node below the root's first child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_node_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// The cell-drop rate of the deepest block (the official code's linear schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_drop_rate: Option<Number>,
    /// `"linear"` (rate growing with depth) or any other value (the same rate everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_drop_scheme: Option<String>,
}

/// A block of the network.
// A configuration is read once and walked: the size of a block is of no consequence, and
// boxing would cost the serde layout its plainness.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", deny_unknown_fields)]
pub enum TreeBlock {
    /// Layers run one after the other (the stem, the head).
    TransitionBlock {
        /// The layers.
        layers: Vec<Layer>,
    },
    /// `shortcut(x) + final_bn(out_bottle(cell(in_bottle(x))))`.
    ResidualTreeBlock {
        /// Probability of dropping the cell in training (0 in the released net).
        cell_drop_rate: Number,
        /// Whether a BatchNorm follows the out-bottleneck.
        final_bn: bool,
        /// Identity, or a pooling layer where the block downsamples.
        shortcut: Layer,
        /// The 1x1 convolution into the cell.
        in_bottle: Layer,
        /// The 1x1 convolution out of the cell.
        out_bottle: Layer,
        /// The cell: the root of a tree of nodes.
        cell: TreeNode,
    },
}

/// A node of a cell's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeNode {
    /// `"TreeNode"`.
    pub name: String,
    /// Channels into the node.
    pub in_channels: usize,
    /// Channels out of the node (of every branch for `add`, in all for `concat`).
    pub out_channels: usize,
    /// `"copy"`, `"split"` or none (a single edge).
    pub split_type: Option<String>,
    /// `"add"`, `"concat"` or none (a single edge).
    pub merge_type: Option<String>,
    /// A BatchNorm on each branch's output, with the edge's output added back.
    pub has_branch_bn: bool,
    /// Probability of dropping a branch in training (0 in the released net).
    pub path_drop_rate: Number,
    /// One edge (a layer) per branch.
    pub edges: Vec<Option<Layer>>,
    /// The node behind each edge (none at the leaves).
    pub child_nodes: Vec<Option<TreeNode>>,
}

/// A layer, as the official code's `set_layer_from_config` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", deny_unknown_fields)]
pub enum Layer {
    /// A convolution (grouped, with an optional channel shuffle).
    ConvLayer(ConvFields),
    /// A depthwise-separable convolution: depthwise k x k, then pointwise 1x1 (`groups`, `bias`
    /// and `has_shuffle` are the pointwise convolution's).
    DepthConvLayer(ConvFields),
    /// Max or average pooling (same padding at stride 1; averages exclude the padding).
    PoolingLayer {
        /// `"max"` or `"avg"`.
        pool_type: String,
        /// Window side.
        kernel_size: usize,
        /// Stride.
        stride: usize,
        /// Common fields.
        #[serde(flatten)]
        base: LayerBase,
    },
    /// Zeros of the input's channels, the side divided by `stride` (the official `ZeroLayer`:
    /// an edge that contributes nothing to its node's sum).
    ZeroLayer {
        /// Stride.
        stride: usize,
    },
    /// The identity (with the optional BatchNorm and activation).
    IdentityLayer {
        /// Common fields.
        #[serde(flatten)]
        base: LayerBase,
    },
    /// A fully connected layer.
    LinearLayer {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether it has a bias.
        bias: bool,
        /// Whether a BatchNorm is applied.
        use_bn: bool,
        /// `"relu"`, `"relu6"`, `"tanh"`, `"sigmoid"` or none.
        act_func: Option<String>,
        /// Dropout before the weights.
        dropout_rate: Number,
        /// The order of `weight`, `bn` and `act`.
        ops_order: String,
    },
}

impl TreeNode {
    /// Channels into each branch (the official `in_dim_list`): the whole input for `copy`,
    /// nearly equal parts for `split`; none when the split type does not fit the edges (only
    /// a single edge may go without one).
    pub fn in_dims(&self) -> Option<Vec<usize>> {
        let n = self.edges.len();
        match self.split_type.as_deref() {
            Some("copy") => Some(vec![self.in_channels; n]),
            Some("split") => Some(split_list(self.in_channels, n)),
            None if n == 1 => Some(vec![self.in_channels]),
            _ => None,
        }
    }

    /// Channels out of each branch (the official `out_dim_list`): the whole output for `add`,
    /// nearly equal parts for `concat`; none when the merge type does not fit the edges.
    pub fn out_dims(&self) -> Option<Vec<usize>> {
        let n = self.edges.len();
        match self.merge_type.as_deref() {
            Some("add") => Some(vec![self.out_channels; n]),
            Some("concat") => Some(split_list(self.out_channels, n)),
            None if n == 1 => Some(vec![self.out_channels]),
            _ => None,
        }
    }
}

impl Layer {
    /// The channels, BatchNorm, activation, dropout and ops order of a convolution, pooling or
    /// identity layer; none for a linear layer (features instead of channels) and for the
    /// `ZeroLayer` (no fields but its stride).
    pub fn base(&self) -> Option<&LayerBase> {
        match self {
            Layer::ConvLayer(ConvFields { base, .. })
            | Layer::DepthConvLayer(ConvFields { base, .. })
            | Layer::PoolingLayer { base, .. }
            | Layer::IdentityLayer { base } => Some(base),
            Layer::LinearLayer { .. } | Layer::ZeroLayer { .. } => None,
        }
    }
}

/// The fields of both convolution layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvFields {
    /// Kernel side (of the depthwise convolution in a `DepthConvLayer`).
    pub kernel_size: usize,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
    /// Whether the convolution has a bias.
    pub bias: bool,
    /// Whether the channels are shuffled after a grouped convolution.
    pub has_shuffle: bool,
    /// Common fields.
    #[serde(flatten)]
    pub base: LayerBase,
}

/// Fields every convolution-like layer has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerBase {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Whether a BatchNorm is applied (on the input channels when it comes before the weights).
    pub use_bn: bool,
    /// `"relu"`, `"relu6"` or none.
    pub act_func: Option<String>,
    /// Dropout before the weights.
    pub dropout_rate: Number,
    /// The order of `weight`, `bn` and `act`, joined by `_`.
    pub ops_order: String,
}

/// Parameters and multiply-accumulates of a tree network, counted from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNetCost {
    /// Input side in pixels.
    pub resolution: usize,
    /// Trainable parameters (PyTorch's `parameters()`: BatchNorm's weight and bias included).
    pub params: u64,
    /// BatchNorm running statistics (means and variances).
    pub buffers: u64,
    /// Multiply-accumulates of one image (convolutions and the classifier, as the official
    /// `get_flops`).
    pub macs: u64,
    /// Residual tree blocks.
    pub cells: usize,
    /// The cells' searched edges by operation (`7x7 sep-conv`, `identity`, ...): those of the
    /// nodes at depth 2 and below, as the paper counts them (the root's edge and the first
    /// level's are fixed: the group convolution and the split's identities).
    pub edges: BTreeMap<String, usize>,
}

impl TreeNetConfig {
    /// Reads and checks a `PyramidTreeNet` JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json_str(&read_to_string(path)?, &path.display().to_string())
    }

    /// Parses and checks a `PyramidTreeNet` JSON text; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self> {
        let config: Self = from_json(text, origin)?;
        if config.name != NET_NAME {
            return Err(Error::invalid(
                origin,
                "name",
                format!("expected \"{NET_NAME}\", found {:?}", config.name),
            ));
        }
        let cost = config.cost(32, origin)?;
        check_parameters(origin, cost.params, ("blocks", cost.params))?;
        Ok(config)
    }

    /// The JSON text, as the official code writes it (two-space indentation), ending in a
    /// newline.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).expect("a tree network serialises") + "\n"
    }

    /// The configuration as the official `PyramidTreeNet.build_from_config` builds it: the
    /// `tree_node_config` settings written into each cell's first node and, with
    /// `has_branch_bn` off, into every node below it; every residual block's `cell_drop_rate`
    /// replaced by the network's schedule (`linear`: `2·l·rate / (L + 1)` for the `l`-th of `L`
    /// blocks; any other scheme: `rate`; the network's rate absent: 0). `origin` names the file
    /// in errors (a setting that does not fit a tree node).
    pub fn as_built(&self, origin: &str) -> Result<Self> {
        let mut built = self.clone();
        let total = built.cells();
        let rate = self
            .cell_drop_rate
            .as_ref()
            .and_then(Number::as_f64)
            .unwrap_or(0.0);
        let linear = self.cell_drop_scheme.as_deref().unwrap_or("linear") == "linear";
        let settings = self.tree_node_config.clone().unwrap_or_default();
        let mut l = 0;
        for (b, block) in built.blocks.iter_mut().enumerate() {
            let TreeBlock::ResidualTreeBlock {
                cell_drop_rate,
                cell,
                ..
            } = block
            else {
                continue;
            };
            l += 1;
            let scheduled = if linear {
                2.0 * l as f64 * rate / (total + 1) as f64
            } else {
                rate
            };
            *cell_drop_rate = Number::from_f64(scheduled).unwrap_or_else(|| 0.into());
            if settings.is_empty() {
                continue;
            }
            if let Some(Some(first)) = cell.child_nodes.first_mut() {
                let at = format!("blocks[{b}].cell.child_nodes[0]");
                let mut below = settings.clone();
                below.insert("has_branch_bn".into(), false.into());
                let mut updated = update_node(first, &settings, origin, &at)?;
                updated.child_nodes = std::mem::take(&mut updated.child_nodes)
                    .into_iter()
                    .map(|child| {
                        child
                            .map(|c| update_tree(&c, &below, origin, &at))
                            .transpose()
                    })
                    .collect::<Result<_>>()?;
                *first = updated;
            }
        }
        Ok(built)
    }

    /// The residual tree blocks (cells) of the network.
    pub fn cells(&self) -> usize {
        self.blocks
            .iter()
            .filter(|b| matches!(b, TreeBlock::ResidualTreeBlock { .. }))
            .count()
    }

    /// Parameters and multiply-accumulates at `resolution` x `resolution` (RGB), with every
    /// layer's channels checked against what reaches it; `origin` names the file in errors.
    pub fn cost(&self, resolution: usize, origin: &str) -> Result<TreeNetCost> {
        let mut count = Counter {
            origin,
            cost: TreeNetCost {
                resolution,
                params: 0,
                buffers: 0,
                macs: 0,
                cells: 0,
                edges: BTreeMap::new(),
            },
        };
        let mut x = Shape {
            channels: 3,
            side: resolution,
        };
        for (b, block) in self.blocks.iter().enumerate() {
            let at = format!("blocks[{b}]");
            x = match block {
                TreeBlock::TransitionBlock { layers } => {
                    let mut y = x;
                    for (l, layer) in layers.iter().enumerate() {
                        y = count.layer(layer, y, &format!("{at}.layers[{l}]"))?;
                    }
                    y
                }
                TreeBlock::ResidualTreeBlock {
                    final_bn,
                    shortcut,
                    in_bottle,
                    out_bottle,
                    cell,
                    ..
                } => {
                    count.cost.cells += 1;
                    let short = count.layer(shortcut, x, &format!("{at}.shortcut"))?;
                    let y = count.layer(in_bottle, x, &format!("{at}.in_bottle"))?;
                    let y = count.node(cell, y, &format!("{at}.cell"), 0)?;
                    let y = count.layer(out_bottle, y, &format!("{at}.out_bottle"))?;
                    if *final_bn {
                        count.batch_norm(y.channels);
                    }
                    if y.side != short.side || y.channels < short.channels {
                        return Err(Error::invalid(
                            origin,
                            at,
                            format!(
                                "the cell gives {}x{}x{} and the shortcut {}x{}x{}: the residual \
                                 must have the shortcut's size and at least its channels",
                                y.side, y.side, y.channels, short.side, short.side, short.channels
                            ),
                        ));
                    }
                    y
                }
            };
        }
        let features = Shape {
            channels: x.channels * x.side * x.side,
            side: 1,
        };
        count.layer(&self.classifier, features, "classifier")?;
        Ok(count.cost)
    }
}

/// `node` with `settings` written over its fields (the official `dict.update`).
fn update_node(
    node: &TreeNode,
    settings: &serde_json::Map<String, serde_json::Value>,
    origin: &str,
    at: &str,
) -> Result<TreeNode> {
    let mut value = serde_json::to_value(node).expect("a tree node serialises");
    let fields = value.as_object_mut().expect("a tree node is an object");
    fields.extend(settings.clone());
    serde_json::from_value(value).map_err(|e| {
        Error::invalid(
            origin,
            format!("tree_node_config (applied to {at})"),
            e.to_string(),
        )
    })
}

/// `node` and every node below it with `settings` written over their fields.
fn update_tree(
    node: &TreeNode,
    settings: &serde_json::Map<String, serde_json::Value>,
    origin: &str,
    at: &str,
) -> Result<TreeNode> {
    let mut updated = update_node(node, settings, origin, at)?;
    updated.child_nodes = std::mem::take(&mut updated.child_nodes)
        .into_iter()
        .map(|child| {
            child
                .map(|c| update_tree(&c, settings, origin, at))
                .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(updated)
}

/// Channels and side of a square activation.
#[derive(Debug, Clone, Copy)]
struct Shape {
    channels: usize,
    side: usize,
}

/// Walks a network, counting and checking.
struct Counter<'a> {
    origin: &'a str,
    cost: TreeNetCost,
}

impl Counter<'_> {
    fn invalid(&self, field: &str, message: String) -> Error {
        Error::invalid(self.origin, field, message)
    }

    fn batch_norm(&mut self, channels: usize) {
        self.cost.params += 2 * channels as u64;
        self.cost.buffers += 2 * channels as u64;
    }

    /// Counts a layer on input `x`, returning its output.
    fn layer(&mut self, layer: &Layer, x: Shape, at: &str) -> Result<Shape> {
        let base = match layer {
            Layer::LinearLayer {
                in_features,
                out_features,
                bias,
                use_bn,
                act_func,
                ops_order,
                ..
            } => {
                self.check_channels(*in_features, x.channels * x.side * x.side, at)?;
                // Bounded before any count: the product is what a build would allocate.
                let weights = (*in_features as u64)
                    .checked_mul(*out_features as u64)
                    .filter(|&w| w <= MAX_PARAMETERS)
                    .ok_or_else(|| {
                        self.invalid(
                            &format!("{at}.out_features"),
                            format!(
                                "{in_features} x {out_features} weights are beyond any network \
                                 this tool builds (at most {MAX_PARAMETERS} parameters)"
                            ),
                        )
                    })?;
                let acts = ["relu", "relu6", "tanh", "sigmoid"];
                let normalised = (*in_features, *out_features);
                self.norm_and_act(*use_bn, act_func, &acts, ops_order, normalised, at)?;
                self.cost.params += weights + if *bias { *out_features as u64 } else { 0 };
                self.cost.macs += weights;
                return Ok(Shape {
                    channels: *out_features,
                    side: 1,
                });
            }
            Layer::ZeroLayer { stride } => {
                return Ok(Shape {
                    channels: x.channels,
                    side: x.side / (*stride).max(1),
                });
            }
            Layer::ConvLayer(ConvFields { base, .. })
            | Layer::DepthConvLayer(ConvFields { base, .. })
            | Layer::PoolingLayer { base, .. }
            | Layer::IdentityLayer { base } => base,
        };
        let (cin, cout) = (base.in_channels, base.out_channels);
        check_at_most(self.origin, &format!("{at}.in_channels"), cin, MAX_CHANNELS)?;
        check_at_most(
            self.origin,
            &format!("{at}.out_channels"),
            cout,
            MAX_CHANNELS,
        )?;
        if let Layer::ConvLayer(conv) | Layer::DepthConvLayer(conv) = layer {
            check_at_most(
                self.origin,
                &format!("{at}.kernel_size"),
                conv.kernel_size,
                MAX_KERNEL,
            )?;
            check_at_most(
                self.origin,
                &format!("{at}.dilation"),
                conv.dilation,
                MAX_KERNEL,
            )?;
        }
        self.check_channels(cin, x.channels, at)?;
        let acts = ["relu", "relu6"];
        self.norm_and_act(
            base.use_bn,
            &base.act_func,
            &acts,
            &base.ops_order,
            (cin, cout),
            at,
        )?;
        let side = match layer {
            Layer::ConvLayer(conv) | Layer::DepthConvLayer(conv) => {
                let (k, groups) = (conv.kernel_size, conv.groups);
                self.check_groups(cin, cout, groups, at)?;
                let side = conv_side(x.side, k, conv.stride, conv.dilation);
                let weights = if matches!(layer, Layer::ConvLayer(_)) {
                    cout * (cin / groups) * k * k
                } else {
                    // Depthwise, then pointwise.
                    cin * k * k + cout * (cin / groups)
                } as u64;
                self.cost.params += weights + if conv.bias { cout as u64 } else { 0 };
                self.cost.macs += weights * (side * side) as u64;
                side
            }
            Layer::PoolingLayer {
                pool_type,
                kernel_size: k,
                stride,
                ..
            } => {
                if pool_type != "max" && pool_type != "avg" {
                    return Err(self.invalid(
                        &format!("{at}.pool_type"),
                        format!("expected \"max\" or \"avg\", found {pool_type:?}"),
                    ));
                }
                self.check_channels(cout, cin, &format!("{at} (out_channels)"))?;
                let padding = if *stride == 1 { k / 2 } else { 0 };
                (x.side + 2 * padding).saturating_sub(*k) / stride.max(&1) + 1
            }
            _ => {
                self.check_channels(cout, cin, &format!("{at} (out_channels)"))?;
                x.side
            }
        };
        Ok(Shape {
            channels: cout,
            side,
        })
    }

    /// Checks a layer's activation (one of `acts`, or none) and its ops order, and counts its
    /// BatchNorm: over the input channels (or features) of `(input, output)` when `bn` comes
    /// before `weight` in the order (pre-activation), over the output ones otherwise.
    fn norm_and_act(
        &mut self,
        use_bn: bool,
        act: &Option<String>,
        acts: &[&str],
        ops_order: &str,
        (input, output): (usize, usize),
        at: &str,
    ) -> Result<()> {
        if let Some(a) = act.as_deref().filter(|a| !acts.contains(a)) {
            return Err(self.invalid(
                &format!("{at}.act_func"),
                format!("expected one of {acts:?} or null, found {a:?}"),
            ));
        }
        let bn_first = bn_before_weight(ops_order)
            .ok_or_else(|| self.invalid(&format!("{at}.ops_order"), ops_message(ops_order)))?;
        if use_bn {
            self.batch_norm(if bn_first { input } else { output });
        }
        Ok(())
    }

    /// Counts a tree node at `depth` (a cell's root: 0) on input `x`, returning its output.
    fn node(&mut self, node: &TreeNode, x: Shape, at: &str, depth: usize) -> Result<Shape> {
        if node.name != "TreeNode" {
            return Err(self.invalid(
                &format!("{at}.name"),
                format!("expected \"TreeNode\", found {:?}", node.name),
            ));
        }
        self.check_channels(node.in_channels, x.channels, at)?;
        let n = node.edges.len();
        if n == 0 || node.child_nodes.len() != n {
            return Err(self.invalid(
                &format!("{at}.child_nodes"),
                format!(
                    "{n} edges and {} child nodes: one child (or null) per edge, at least one edge",
                    node.child_nodes.len()
                ),
            ));
        }
        let Some(ins) = node.in_dims() else {
            let other = &node.split_type;
            return Err(self.invalid(
                &format!("{at}.split_type"),
                format!("expected \"copy\", \"split\" or null with one edge, found {other:?} with {n} edges"),
            ));
        };
        let Some(outs) = node.out_dims() else {
            let other = &node.merge_type;
            return Err(self.invalid(
                &format!("{at}.merge_type"),
                format!("expected \"add\", \"concat\" or null with one edge, found {other:?} with {n} edges"),
            ));
        };
        let mut side = None;
        for (i, (edge, child)) in node.edges.iter().zip(&node.child_nodes).enumerate() {
            let mut y = Shape {
                channels: ins[i],
                side: x.side,
            };
            if let Some(edge) = edge {
                y = self.layer(edge, y, &format!("{at}.edges[{i}]"))?;
                if depth >= 2 {
                    *self.cost.edges.entry(edge_name(edge)).or_default() += 1;
                }
            }
            if let Some(child) = child {
                y = self.node(child, y, &format!("{at}.child_nodes[{i}]"), depth + 1)?;
            }
            if node.has_branch_bn {
                self.batch_norm(outs[i]);
            }
            self.check_channels(outs[i], y.channels, &format!("{at} (branch {i} output)"))?;
            if side.is_some_and(|s| s != y.side) {
                return Err(self.invalid(at, format!("branch {i} changes the side differently")));
            }
            side = Some(y.side);
        }
        Ok(Shape {
            channels: node.out_channels,
            side: side.unwrap_or(x.side),
        })
    }

    fn check_channels(&self, declared: usize, reaching: usize, at: &str) -> Result<()> {
        if declared != reaching {
            return Err(self.invalid(
                at,
                format!("declares {declared} input channels (or features), {reaching} reach it"),
            ));
        }
        Ok(())
    }

    fn check_groups(&self, cin: usize, cout: usize, groups: usize, at: &str) -> Result<()> {
        if groups == 0 || !cin.is_multiple_of(groups) || !cout.is_multiple_of(groups) {
            return Err(self.invalid(
                &format!("{at}.groups"),
                format!("{groups} groups do not divide {cin} input and {cout} output channels"),
            ));
        }
        Ok(())
    }
}

/// Output side of a same-padded convolution (padding `kernel / 2 · dilation`).
fn conv_side(side: usize, kernel: usize, stride: usize, dilation: usize) -> usize {
    let padding = kernel / 2 * dilation;
    (side + 2 * padding).saturating_sub(dilation * (kernel - 1) + 1) / stride.max(1) + 1
}

/// `total` split into `parts` nearly equal parts, the first ones larger (`get_split_list`).
fn split_list(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

/// Whether `bn` comes before `weight` in an ops order; none when the order lacks `weight`.
fn bn_before_weight(ops_order: &str) -> Option<bool> {
    let ops: Vec<&str> = ops_order.split('_').collect();
    if ops.iter().any(|op| !["weight", "bn", "act"].contains(op)) {
        return None;
    }
    let weight = ops.iter().position(|&op| op == "weight")?;
    Some(
        ops.iter()
            .position(|&op| op == "bn")
            .is_some_and(|bn| bn < weight),
    )
}

fn ops_message(ops_order: &str) -> String {
    format!(
        "expected `weight`, `bn` and `act` joined by `_` (e.g. \"bn_act_weight\"), found {ops_order:?}"
    )
}

/// The name of a cell edge's operation, as the paper's candidate list names it.
fn edge_name(layer: &Layer) -> String {
    match layer {
        Layer::DepthConvLayer(ConvFields {
            kernel_size: k,
            dilation: 1,
            ..
        }) => format!("{k}x{k} sep-conv"),
        Layer::DepthConvLayer(ConvFields {
            kernel_size: k,
            dilation,
            ..
        }) => format!("{k}x{k} dilated ({dilation}) sep-conv"),
        Layer::ConvLayer(ConvFields { kernel_size: k, .. }) => format!("{k}x{k} conv"),
        Layer::PoolingLayer {
            pool_type,
            kernel_size,
            ..
        } => format!("{kernel_size}x{kernel_size} {pool_type} pool"),
        Layer::IdentityLayer { .. } => "identity".into(),
        Layer::ZeroLayer { .. } => "zero".into(),
        Layer::LinearLayer { .. } => "linear".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIFAR: &str = include_str!("../../../configs/nets/proxyless_cifar.json");

    #[test]
    fn the_released_cifar_network_counts_as_the_official_code_builds_it() {
        let net = TreeNetConfig::from_json_str(CIFAR, "proxyless_cifar.json").unwrap();
        let cost = net.cost(32, "proxyless_cifar.json").unwrap();
        // Independent counts from tests/reference/count_tree_net.py (plain Python following
        // the official classes): PyTorch's parameters(), 5,731,530 (the paper's 5.7M), and the
        // official get_flops at 32x32 (convolutions and the classifier), 1,213,155,872.
        assert_eq!(cost.params, 5_731_530);
        assert_eq!(cost.macs, 1_213_155_872);
        assert_eq!(cost.cells, 54);
        // The searched edges of the 54 cells by operation, as the paper's candidate list
        // (counted from the released config in the reference's table).
        let expected: BTreeMap<String, usize> = [
            ("7x7 sep-conv", 116),
            ("identity", 96),
            ("3x3 dilated (2) sep-conv", 90),
            ("3x3 max pool", 89),
            ("3x3 avg pool", 89),
            ("5x5 sep-conv", 85),
            ("3x3 sep-conv", 83),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(cost.edges, expected);
        assert_eq!(cost.edges.values().sum::<usize>(), 54 * 12);
    }

    #[test]
    fn a_configuration_is_written_back_field_for_field() {
        let net = TreeNetConfig::from_json_str(CIFAR, "proxyless_cifar.json").unwrap();
        let written: serde_json::Value = serde_json::from_str(&net.to_json_string()).unwrap();
        let read: serde_json::Value = serde_json::from_str(CIFAR).unwrap();
        assert_eq!(written, read);
    }

    #[test]
    fn the_built_configuration_applies_the_node_settings_and_the_drop_schedule() {
        let mut net = TreeNetConfig::from_json_str(CIFAR, "proxyless_cifar.json").unwrap();
        let plain = net.as_built("n").unwrap();
        assert!(plain.blocks.iter().all(|b| match b {
            TreeBlock::ResidualTreeBlock { cell_drop_rate, .. } =>
                cell_drop_rate.as_f64() == Some(0.0),
            TreeBlock::TransitionBlock { .. } => true,
        }));
        net.cell_drop_rate = Some(Number::from_f64(0.2).unwrap());
        net.tree_node_config = Some(
            serde_json::json!({"path_drop_rate": 0.1, "has_branch_bn": true})
                .as_object()
                .unwrap()
                .clone(),
        );
        let built = net.as_built("n").unwrap();
        let cells: Vec<(f64, &TreeNode)> = built
            .blocks
            .iter()
            .filter_map(|b| match b {
                TreeBlock::ResidualTreeBlock {
                    cell_drop_rate,
                    cell,
                    ..
                } => Some((cell_drop_rate.as_f64().unwrap(), cell)),
                TreeBlock::TransitionBlock { .. } => None,
            })
            .collect();
        assert_eq!(cells.len(), 54);
        // The official linear schedule: 2·l·rate / (L + 1), l from 1.
        assert!((cells[0].0 - 2.0 * 0.2 / 55.0).abs() < 1e-12);
        assert!((cells[53].0 - 2.0 * 54.0 * 0.2 / 55.0).abs() < 1e-12);
        let (_, root) = cells[0];
        // The root keeps its own settings; its first node takes them all, the nodes below it
        // everything but the branch BatchNorms.
        assert_eq!(root.path_drop_rate.as_f64(), Some(0.0));
        let first = root.child_nodes[0].as_ref().unwrap();
        assert!(first.has_branch_bn);
        assert_eq!(first.path_drop_rate.as_f64(), Some(0.1));
        let second = first.child_nodes[1].as_ref().unwrap();
        let leaf = second.child_nodes[0].as_ref().unwrap();
        for node in [second, leaf] {
            assert!(!node.has_branch_bn);
            assert_eq!(node.path_drop_rate.as_f64(), Some(0.1));
        }
        net.tree_node_config = Some(
            serde_json::json!({"has_branch_bn": "yes"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let err = net.as_built("n.json").unwrap_err().to_string();
        assert!(err.contains("tree_node_config"), "{err}");
    }

    #[test]
    fn malformed_configurations_are_errors_naming_the_field() {
        let message = |text: &str| {
            TreeNetConfig::from_json_str(text, "net.json")
                .unwrap_err()
                .to_string()
        };
        let with = |from: &str, to: &str| CIFAR.replacen(from, to, 1);
        let unknown = with("\"final_bn\": true", "\"final_bn\": true, \"extra\": 1");
        assert!(message(&unknown).contains("extra"), "{}", message(&unknown));
        let in_layer = with(
            "\"has_shuffle\": false,",
            "\"has_shuffle\": false, \"padding\": 1,",
        );
        assert!(
            message(&in_layer).contains("padding"),
            "{}",
            message(&in_layer)
        );
        // A classifier of 10^12 classes: bounded before any count or allocation.
        let huge = with("\"out_features\": 10,", "\"out_features\": 1000000000000,");
        assert!(
            message(&huge).contains("classifier.out_features")
                && message(&huge).contains("at most 1073741824"),
            "{}",
            message(&huge)
        );
        let wrong_name = with("\"PyramidTreeNet\"", "\"ProxylessNASNets\"");
        assert!(message(&wrong_name).contains("expected \"PyramidTreeNet\""));
        // The stem's 16 channels declared as 17 by the layer after it.
        let channels = with(
            "\"name\": \"IdentityLayer\",\n                    \"in_channels\": 16",
            "\"name\": \"IdentityLayer\",\n                    \"in_channels\": 17",
        );
        assert!(
            message(&channels).contains("blocks[0].layers[1]: declares 17 input channels"),
            "{}",
            message(&channels)
        );
        let order = with(
            "\"ops_order\": \"bn_act_weight\"",
            "\"ops_order\": \"bn_act\"",
        );
        assert!(message(&order).contains("ops_order"), "{}", message(&order));
        let pool = with("\"pool_type\": \"max\"", "\"pool_type\": \"min\"");
        assert!(message(&pool).contains("pool_type"), "{}", message(&pool));
    }
}
