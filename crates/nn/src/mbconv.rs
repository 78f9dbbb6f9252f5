//! The inverted-residual convolution of MobileNetV2 (`MBInvertedConvLayer` in the paper's code).

use burn::prelude::*;

use crate::{ConvBnAct, ConvBnActConfig};

/// Configuration of an [`MbConv`].
#[derive(Config, Debug)]
pub struct MbConvConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Depthwise kernel side.
    pub kernel_size: usize,
    /// Stride of the depthwise convolution.
    #[config(default = 1)]
    pub stride: usize,
    /// Hidden width; equal to `in_channels` when the expansion is omitted.
    pub mid_channels: usize,
    /// Whether the 1x1 expansion exists (false for expansion ratio 1).
    #[config(default = true)]
    pub expand: bool,
    /// BatchNorm momentum (PyTorch convention).
    #[config(default = 0.1)]
    pub bn_momentum: f64,
    /// BatchNorm epsilon.
    #[config(default = 1e-3)]
    pub bn_eps: f64,
    /// The convolutions' initialisation; `None`: the paper's `he_fout`.
    #[config(default = "None")]
    pub initializer: Option<burn::nn::Initializer>,
}

/// 1x1 expansion + BN + ReLU6 (unless omitted), depthwise kxk + BN + ReLU6, 1x1 projection + BN.
#[derive(Module, Debug)]
pub struct MbConv {
    /// The 1x1 expansion (`inverted_bottleneck`), absent for expansion ratio 1.
    pub inverted_bottleneck: Option<ConvBnAct>,
    /// The depthwise convolution (`depth_conv`).
    pub depth_conv: ConvBnAct,
    /// The linear 1x1 projection (`point_linear`).
    pub point_linear: ConvBnAct,
}

impl MbConvConfig {
    /// Builds the op on `device`.
    pub fn init(&self, device: &Device) -> MbConv {
        let layer = |cin, cout, k| {
            ConvBnActConfig::new(cin, cout, k)
                .with_bn_momentum(self.bn_momentum)
                .with_bn_eps(self.bn_eps)
                .with_initializer(self.initializer.clone())
        };
        let mid = if self.expand {
            self.mid_channels
        } else {
            self.in_channels
        };
        MbConv {
            inverted_bottleneck: self
                .expand
                .then(|| layer(self.in_channels, mid, 1).init(device)),
            depth_conv: layer(mid, mid, self.kernel_size)
                .with_stride(self.stride)
                .with_groups(mid)
                .init(device),
            point_linear: layer(mid, self.out_channels, 1)
                .with_activation(false)
                .init(device),
        }
    }
}

impl MbConv {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, ceil(height / stride), ceil(width / stride)]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.inverted_bottleneck {
            Some(expand) => expand.forward(x),
            None => x,
        };
        self.point_linear.forward(self.depth_conv.forward(x))
    }

    /// Folds every BatchNorm into its convolution ([`ConvBnAct::fold_batch_norm`]).
    pub fn fold_batch_norm(self) -> Self {
        MbConv {
            inverted_bottleneck: self.inverted_bottleneck.map(ConvBnAct::fold_batch_norm),
            depth_conv: self.depth_conv.fold_batch_norm(),
            point_linear: self.point_linear.fold_batch_norm(),
        }
    }
}
