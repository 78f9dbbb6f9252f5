//! The whole CIFAR-10 tree network (the official `PyramidTreeNet`): transition blocks,
//! residual tree blocks, the flattened features and the classifier.

use burn::module::{Flag, Param};
use burn::nn::BatchNorm;
use burn::prelude::*;
use proxyless_kernels::batch_norm;
use proxyless_space::{Layer, TreeBlock, TreeNetConfig};

use super::layer::{TreeLayer, TreeLinear, batch_norm_layer};
use super::node::{TreeCell, uniform_draw};

/// Layers run one after the other (`blocks.i.layers.j`).
#[derive(Module, Debug)]
pub struct TransitionBlock {
    /// The layers.
    pub layers: Vec<TreeLayer>,
}

/// `shortcut(x) + final_bn(out_bottle(cell(in_bottle(x))))`, the shortcut zero-padded on the
/// channel axis where the residual is wider (PyramidNet).
#[derive(Module, Debug)]
pub struct ResidualTreeBlock {
    /// The 1x1 convolution into the cell.
    pub in_bottle: TreeLayer,
    /// The 1x1 convolution out of the cell.
    pub out_bottle: TreeLayer,
    /// Identity, or pooling where the block downsamples.
    pub shortcut: TreeLayer,
    /// The cell.
    pub cell: TreeCell,
    /// The BatchNorm after the out-bottleneck.
    pub final_bn: Option<BatchNorm>,
    /// Whether cell drop is active (cleared by `valid`).
    pub training: Param<Flag>,
    /// Probability of dropping the cell in training (the network's schedule).
    #[module(skip)]
    pub cell_drop_rate: f64,
    /// Channels out of the block (the residual's).
    #[module(skip)]
    pub out_channels: usize,
}

/// A block of a tree network. (Burn names the variant in module paths, `blocks.3.Residual.…`;
/// the PyTorch names leave it out.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TreeNetBlock {
    /// A transition block.
    Transition(TransitionBlock),
    /// A residual tree block.
    Residual(ResidualTreeBlock),
}

/// The CIFAR-10 network of the paper, built from its `net.config`
/// ([`TreeNetConfig`]), with the official parameter names
/// (`blocks.5.cell.child_nodes.0.child_nodes.1.edges.0.depth_conv.weight`).
#[derive(Module, Debug)]
pub struct TreeNet {
    /// The blocks, input to output.
    pub blocks: Vec<TreeNetBlock>,
    /// The classifier on the flattened features.
    pub classifier: TreeLinear,
}

/// `short + residual`, the shortcut zero-padded on the channel axis where the residual has more
/// channels (PyramidNet's shortcut).
///
/// # Shapes
/// - `short`: `[batch, c, height, width]`; `residual`: `[batch, c', height, width]`, `c' >= c`
/// - output: `[batch, c', height, width]`
pub fn add_padded_shortcut(short: Tensor<4>, residual: Tensor<4>) -> Tensor<4> {
    let [batch, short_channels, height, width] = short.dims();
    let channels = residual.dims()[1];
    let short = if channels > short_channels {
        let pad = Tensor::zeros(
            [batch, channels - short_channels, height, width],
            &short.device(),
        );
        Tensor::cat(vec![short, pad], 1)
    } else {
        short
    };
    short + residual
}

impl ResidualTreeBlock {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height', width']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let short = self.shortcut.forward(x.clone());
        let [batch, _, height, width] = short.dims();
        let rate = self.cell_drop_rate;
        let residual = if rate <= 0.0 {
            self.cell_forward(x)
        } else if !(self.training.is_enabled() && x.device().is_autodiff()) {
            self.cell_forward(x) * (1.0 - rate)
        } else if uniform_draw(&x.device()) < rate {
            let channels = self.out_channels;
            Tensor::zeros([batch, channels, height, width], &x.device())
        } else {
            self.cell_forward(x)
        };
        add_padded_shortcut(short, residual)
    }

    fn cell_forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self
            .out_bottle
            .forward(self.cell.forward(self.in_bottle.forward(x)));
        match &self.final_bn {
            Some(bn) => batch_norm(bn, x),
            None => x,
        }
    }
}

impl TreeNet {
    /// Builds the network on `device` as the official `PyramidTreeNet.build_from_config` does
    /// ([`TreeNetConfig::as_built`]), initialised as the paper's code (`he_fout` convolutions,
    /// BatchNorm γ = 1, β = 0, classifier U(±1/√in) with a zero bias). `origin` names the
    /// configuration in errors.
    pub fn new(
        config: &TreeNetConfig,
        origin: &str,
        device: &Device,
    ) -> proxyless_space::Result<Self> {
        let built = config.as_built(origin)?;
        let blocks = built
            .blocks
            .iter()
            .map(|block| match block {
                TreeBlock::TransitionBlock { layers } => {
                    TreeNetBlock::Transition(TransitionBlock {
                        layers: layers.iter().map(|l| TreeLayer::new(l, device)).collect(),
                    })
                }
                TreeBlock::ResidualTreeBlock {
                    cell_drop_rate,
                    final_bn,
                    shortcut,
                    in_bottle,
                    out_bottle,
                    cell,
                } => {
                    let out_channels = out_bottle_channels(out_bottle);
                    TreeNetBlock::Residual(ResidualTreeBlock {
                        in_bottle: TreeLayer::new(in_bottle, device),
                        out_bottle: TreeLayer::new(out_bottle, device),
                        shortcut: TreeLayer::new(shortcut, device),
                        cell: TreeCell::new(cell, device),
                        final_bn: final_bn.then(|| batch_norm_layer(out_channels, device)),
                        training: Param::from_bool(true),
                        cell_drop_rate: cell_drop_rate.as_f64().unwrap_or(0.0),
                        out_channels,
                    })
                }
            })
            .collect();
        Ok(Self {
            blocks,
            classifier: TreeLinear::new(&built.classifier, device),
        })
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - input: `[batch, 3, 32, 32]` (the side the classifier's features expect)
    /// - output: `[batch, classes]`
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        for block in &self.blocks {
            x = match block {
                TreeNetBlock::Transition(t) => t.layers.iter().fold(x, |x, l| l.forward(x)),
                TreeNetBlock::Residual(r) => r.forward(x),
            };
        }
        let [batch, channels, height, width] = x.dims();
        self.classifier
            .forward(x.reshape([batch, channels * height * width]))
    }
}

/// A layer's output channels (features).
fn out_bottle_channels(layer: &Layer) -> usize {
    match layer {
        Layer::LinearLayer { out_features, .. } => *out_features,
        // A ZeroLayer is no out-bottleneck of any released or derived network.
        layer => layer.base().map_or(0, |base| base.out_channels),
    }
}
