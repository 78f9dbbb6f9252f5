//! A cell's tree node (the official `TreeNode`): the input split over the edges (`copy`,
//! channel `split` or one edge), each branch an edge, the child node behind it and, with
//! branch BatchNorms, `bn(child(edge(x))) + edge(x)`; the branches merged (`add`, `concat`).

use burn::module::{Flag, Param};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_kernels::batch_norm;
use proxyless_space::TreeNode;

use super::layer::{TreeLayer, batch_norm_layer};

/// How a node hands its input to its branches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Split {
    /// Every branch gets the whole input.
    Copy,
    /// The channels are cut into consecutive parts, the first ones larger by one.
    Channels,
    /// One branch.
    Single,
}

/// How a node combines its branches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Merge {
    /// The sum.
    Add,
    /// Concatenated channels.
    Concat,
    /// One branch.
    Single,
}

/// The shape of a node beyond its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePlan {
    /// How the input is split.
    pub split: Split,
    /// How the branches merge.
    pub merge: Merge,
    /// Channels into each branch.
    pub in_dims: Vec<usize>,
    /// Channels out of each branch.
    pub out_dims: Vec<usize>,
    /// Probability of dropping a branch in training.
    pub path_drop_rate: f64,
}

/// A tree node with the official parameter names (`edges.i`, `child_nodes.i`, `branch_bns.i`).
#[derive(Module, Debug)]
pub struct TreeCell {
    /// One edge per branch (none: the branch starts at the child).
    pub edges: Vec<Option<TreeLayer>>,
    /// The node behind each edge (none at the leaves).
    pub child_nodes: Vec<Option<TreeCell>>,
    /// A BatchNorm per branch when the node has branch BatchNorms.
    pub branch_bns: Vec<Option<BatchNorm>>,
    /// Whether path drop is active (cleared by `valid`).
    pub training: Param<Flag>,
    /// Split, merge, channels and path drop.
    #[module(skip)]
    pub plan: NodePlan,
}

impl TreeCell {
    /// Builds a node and everything below it from a checked configuration.
    pub fn new(node: &TreeNode, device: &Device) -> Self {
        let split = match node.split_type.as_deref() {
            Some("copy") => Split::Copy,
            Some("split") => Split::Channels,
            _ => Split::Single,
        };
        let merge = match node.merge_type.as_deref() {
            Some("add") => Merge::Add,
            Some("concat") => Merge::Concat,
            _ => Merge::Single,
        };
        let in_dims = node
            .in_dims()
            .expect("checked when the configuration was read");
        let out_dims = node
            .out_dims()
            .expect("checked when the configuration was read");
        Self {
            edges: node
                .edges
                .iter()
                .map(|e| e.as_ref().map(|e| TreeLayer::new(e, device)))
                .collect(),
            child_nodes: node
                .child_nodes
                .iter()
                .map(|c| c.as_ref().map(|c| TreeCell::new(c, device)))
                .collect(),
            branch_bns: out_dims
                .iter()
                .map(|&c| node.has_branch_bn.then(|| batch_norm_layer(c, device)))
                .collect(),
            training: Param::from_bool(true),
            plan: NodePlan {
                split,
                merge,
                in_dims,
                out_dims,
                path_drop_rate: node.path_drop_rate.as_f64().unwrap_or(0.0),
            },
        }
    }

    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height', width']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let inputs = match self.plan.split {
            Split::Copy => vec![x; self.edges.len()],
            Split::Channels => x.split_with_sizes(self.plan.in_dims.clone(), 1),
            Split::Single => vec![x],
        };
        let outputs: Vec<Tensor<4>> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, x)| self.branch(i, x))
            .collect();
        match self.plan.merge {
            Merge::Add => outputs
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("a node has a branch"),
            Merge::Concat => Tensor::cat(outputs, 1),
            Merge::Single => outputs.into_iter().next().expect("a node has a branch"),
        }
    }

    /// Branch `i` with path drop: in training, zeros with probability `path_drop_rate`; in
    /// evaluation, the branch scaled by `1 - path_drop_rate`.
    fn branch(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let rate = self.plan.path_drop_rate;
        if rate <= 0.0 {
            return self.branch_forward(i, x);
        }
        if !(self.training.is_enabled() && x.device().is_autodiff()) {
            return self.branch_forward(i, x) * (1.0 - rate);
        }
        if uniform_draw(&x.device()) < rate {
            let [batch, _, height, width] = x.dims();
            let stride = self.edges[i].as_ref().map_or(1, TreeLayer::stride);
            let shape = [
                batch,
                self.plan.out_dims[i],
                height / stride,
                width / stride,
            ];
            return Tensor::zeros(shape, &x.device());
        }
        self.branch_forward(i, x)
    }

    fn branch_forward(&self, i: usize, mut x: Tensor<4>) -> Tensor<4> {
        if let Some(edge) = &self.edges[i] {
            x = edge.forward(x);
        }
        let edge_x = x.clone();
        if let Some(child) = &self.child_nodes[i] {
            x = child.forward(x);
        }
        match &self.branch_bns[i] {
            Some(bn) => batch_norm(bn, x) + edge_x,
            None => x,
        }
    }
}

/// One draw of U(0, 1) from the device's generator (the official code draws a Python float
/// per branch and step; a drop decides whether the branch runs at all).
pub(crate) fn uniform_draw(device: &Device) -> f64 {
    Tensor::<1>::random([1], Distribution::Uniform(0.0, 1.0), device).into_scalar::<f64>()
}
