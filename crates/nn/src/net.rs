//! A whole child network (`ProxylessNASNets` in the paper's code).

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use proxyless_space::NetSpec;

use crate::{ConvBnAct, ConvBnActConfig, MobileInvertedBlock};

/// Stem, blocks, feature mix, global average pooling, dropout and classifier.
///
/// Field names are those of the official PyTorch model, so parameter paths match
/// (`blocks.3.mobile_inverted_conv.depth_conv.conv.weight`).
#[derive(Module, Debug)]
pub struct ProxylessNet {
    /// The first convolution.
    pub first_conv: ConvBnAct,
    /// All blocks, the fixed first block included.
    pub blocks: Vec<MobileInvertedBlock>,
    /// The 1x1 convolution before pooling.
    pub feature_mix_layer: ConvBnAct,
    /// Dropout on the classifier's input.
    pub dropout: Dropout,
    /// The linear classifier.
    pub classifier: Linear,
}

impl ProxylessNet {
    /// Builds the network a [`NetSpec`] describes on `device`, initialised as in the paper.
    /// The spec must be valid ([`NetSpec::validate`]); specs read by
    /// [`proxyless_space`] always are.
    pub fn new(spec: &NetSpec, device: &Device) -> Self {
        let conv = |c: &proxyless_space::ConvSpec| {
            ConvBnActConfig::new(c.in_channels, c.out_channels, c.kernel_size)
                .with_stride(c.stride)
                .with_bn_momentum(spec.bn.momentum)
                .with_bn_eps(spec.bn.eps)
                .init(device)
        };
        let c = &spec.classifier;
        let bound = 1.0 / (c.in_features as f64).sqrt();
        let mut classifier = LinearConfig::new(c.in_features, c.out_features)
            .with_initializer(Initializer::Uniform {
                min: -bound,
                max: bound,
            })
            .init(device);
        classifier.bias = classifier
            .bias
            .map(|b| b.map(|t| Tensor::zeros(t.shape(), &t.device())));
        Self {
            first_conv: conv(&spec.first_conv),
            blocks: spec
                .blocks
                .iter()
                .map(|b| MobileInvertedBlock::new(b, &spec.bn, device))
                .collect(),
            feature_mix_layer: conv(&spec.feature_mix),
            dropout: DropoutConfig::new(c.dropout).init(),
            classifier,
        }
    }

    /// Features before pooling.
    ///
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, feature_mix_channels, height', width']`
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.first_conv.forward(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.feature_mix_layer.forward(x)
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.features(x);
        let [batch, channels, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([batch, channels]);
        self.classifier.forward(self.dropout.forward(pooled))
    }
}
