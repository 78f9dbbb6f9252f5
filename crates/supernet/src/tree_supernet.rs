//! The supernet of a tree-cell space ([`TreeSpace`]): the space's backbone, each cell's fixed
//! parts (group convolution, split, branch BatchNorms), and every searched edge a
//! [`ChoiceBlock`] over the space's candidates, numbered as the space numbers its edges
//! (cell by cell, depth first), so the architecture parameters, the cost table
//! ([`TreeSpace::candidate_costs`]) and the derived network ([`TreeSpace::net_config`]) line
//! up.

use burn::nn::BatchNorm;
use burn::prelude::*;
use proxyless_nn::tree::{
    TreeLayer, TreeLinear, add_padded_shortcut, batch_norm, batch_norm_layer,
};
use proxyless_space::{TreeBlock, TreeChoice, TreeNode, TreeSpace};

use crate::{Candidate, ChoiceBlock, Paths, Searchable};

/// A tree layer as a candidate of a searched edge. The official `ZeroLayer` computes zeros:
/// in a node's sum it contributes nothing, so it is an operation like the others here (not the
/// MBConv spaces' Zero, which skips its block).
impl Candidate<4> for TreeLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        TreeLayer::forward(self, x)
    }
}

/// A searched node: its input copied to every edge, each edge a choice block followed by the
/// node below it, the branches added.
#[derive(Module, Debug)]
pub struct SuperNode {
    /// The searched edges.
    pub edges: Vec<ChoiceBlock<TreeLayer>>,
    /// The node behind each edge (none on the last level).
    pub child_nodes: Vec<Option<SuperNode>>,
    /// The architecture-parameter index of each edge.
    #[module(skip)]
    pub indices: Vec<usize>,
}

impl SuperNode {
    /// The node of the skeleton's `space_node`, its edges taking `choices` from `next` on.
    fn new(
        space_node: &TreeNode,
        choices: &[TreeChoice],
        next: &mut usize,
        device: &Device,
    ) -> Self {
        let mut indices = Vec::new();
        let edges = space_node
            .edges
            .iter()
            .map(|_| {
                let choice = &choices[*next];
                indices.push(*next);
                *next += 1;
                let candidates = choice
                    .candidates
                    .iter()
                    .map(|op| TreeLayer::new(&op.layer_config(choice.channels), device))
                    .collect();
                ChoiceBlock::new(candidates, false)
            })
            .collect();
        let child_nodes = space_node
            .child_nodes
            .iter()
            .map(|c| c.as_ref().map(|c| SuperNode::new(c, choices, next, device)))
            .collect();
        Self {
            edges,
            child_nodes,
            indices,
        }
    }

    fn forward(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<4> {
        self.edges
            .iter()
            .zip(&self.child_nodes)
            .zip(&self.indices)
            .map(|((edge, child), &index)| {
                let y = edge.forward(x.clone(), paths, index);
                match child {
                    Some(child) => child.forward(y, paths),
                    None => y,
                }
            })
            .reduce(|a, b| a + b)
            .expect("a node has edges")
    }

    fn collect_zero(&self, out: &mut Vec<(usize, Vec<bool>)>) {
        for (edge, &index) in self.edges.iter().zip(&self.indices) {
            out.push((index, edge.zero_candidates::<4>()));
        }
        for child in self.child_nodes.iter().flatten() {
            child.collect_zero(out);
        }
    }
}

/// A residual block of the supernet: `shortcut(x) + final_bn(out_bottle(cell(in_bottle(x))))`
/// with the cell `Σ_i bn_i(node_i(s_i)) + s_i`, `s` the root edge's output split in parts.
#[derive(Module, Debug)]
pub struct SuperTreeBlock {
    /// Identity, or pooling where the block downsamples.
    pub shortcut: TreeLayer,
    /// The 1x1 convolution into the cell.
    pub in_bottle: TreeLayer,
    /// The cell's root edge (the group convolution).
    pub root_edge: TreeLayer,
    /// The split level's BatchNorms, one per branch.
    pub branch_bns: Vec<BatchNorm>,
    /// The searched node of each branch.
    pub nodes: Vec<SuperNode>,
    /// The 1x1 convolution out of the cell.
    pub out_bottle: TreeLayer,
    /// The BatchNorm after the out-bottleneck.
    pub final_bn: BatchNorm,
}

impl SuperTreeBlock {
    fn forward(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<4> {
        let short = self.shortcut.forward(x.clone());
        let y = self.root_edge.forward(self.in_bottle.forward(x));
        let parts = y.chunk(self.nodes.len(), 1);
        let cell = parts
            .into_iter()
            .zip(&self.nodes)
            .zip(&self.branch_bns)
            .map(|((s, node), bn)| batch_norm(bn, node.forward(s.clone(), paths)) + s)
            .reduce(|a, b| a + b)
            .expect("a cell has branches");
        let residual = batch_norm(&self.final_bn, self.out_bottle.forward(cell));
        add_padded_shortcut(short, residual)
    }
}

/// The supernet of a tree-cell space.
#[derive(Module, Debug)]
pub struct TreeSupernet {
    /// The stem's layers.
    pub stem: Vec<TreeLayer>,
    /// The residual blocks.
    pub blocks: Vec<SuperTreeBlock>,
    /// The head's layers.
    pub head: Vec<TreeLayer>,
    /// The classifier on the flattened features.
    pub classifier: TreeLinear,
}

impl TreeSupernet {
    /// Builds the supernet of `space` on `device`, initialised as the paper's code does.
    pub fn new(space: &TreeSpace, device: &Device) -> Self {
        let skeleton = space.skeleton();
        let choices = space.choices();
        let layers = |layers: &[proxyless_space::Layer]| {
            layers.iter().map(|l| TreeLayer::new(l, device)).collect()
        };
        let mut stem = None;
        let mut head = Vec::new();
        let mut blocks = Vec::new();
        let mut next = 0;
        for block in &skeleton.blocks {
            match block {
                TreeBlock::TransitionBlock { layers: l } if stem.is_none() => {
                    stem = Some(layers(l))
                }
                TreeBlock::TransitionBlock { layers: l } => head = layers(l),
                TreeBlock::ResidualTreeBlock {
                    shortcut,
                    in_bottle,
                    out_bottle,
                    cell,
                    ..
                } => {
                    let root_edge = cell.edges[0]
                        .as_ref()
                        .expect("the root's group convolution");
                    let split = cell.child_nodes[0].as_ref().expect("the split level");
                    let out = TreeLayer::new(out_bottle, device);
                    let out_channels =
                        out.conv.as_ref().expect("a 1x1 convolution").weight.dims()[0];
                    blocks.push(SuperTreeBlock {
                        shortcut: TreeLayer::new(shortcut, device),
                        in_bottle: TreeLayer::new(in_bottle, device),
                        root_edge: TreeLayer::new(root_edge, device),
                        branch_bns: split
                            .child_nodes
                            .iter()
                            .map(|_| batch_norm_layer(split.out_channels, device))
                            .collect(),
                        nodes: split
                            .child_nodes
                            .iter()
                            .map(|n| {
                                let n = n.as_ref().expect("a searched node per branch");
                                SuperNode::new(n, &choices, &mut next, device)
                            })
                            .collect(),
                        out_bottle: out,
                        final_bn: batch_norm_layer(out_channels, device),
                    });
                }
            }
        }
        Self {
            stem: stem.unwrap_or_default(),
            blocks,
            head,
            classifier: TreeLinear::new(&skeleton.classifier, device),
        }
    }

    /// Class logits along `paths`.
    ///
    /// # Shapes
    /// - input: `[batch, channels, side, side]` (the space's side)
    /// - output: `[batch, classes]`
    pub fn forward(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        let mut x = self.stem.iter().fold(x, |x, l| l.forward(x));
        for block in &self.blocks {
            x = block.forward(x, paths);
        }
        let x = self.head.iter().fold(x, |x, l| l.forward(x));
        let [batch, channels, height, width] = x.dims();
        self.classifier
            .forward(x.reshape([batch, channels * height * width]))
    }
}

impl Searchable for TreeSupernet {
    fn zero_candidates(&self) -> Vec<Vec<bool>> {
        let mut all = Vec::new();
        for block in &self.blocks {
            for node in &block.nodes {
                node.collect_zero(&mut all);
            }
        }
        all.sort_by_key(|(index, _)| *index);
        all.into_iter().map(|(_, zero)| zero).collect()
    }

    fn forward_paths(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        self.forward(x, paths)
    }
}
