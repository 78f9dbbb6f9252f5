//! A whole child network (`ProxylessNASNets` in the paper's code).

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use proxyless_space::{BnSpec, ConvSpec, LinearSpec, NetSpec};

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
        Self {
            first_conv: conv_layer(&spec.first_conv, &spec.bn, device),
            blocks: spec
                .blocks
                .iter()
                .map(|b| MobileInvertedBlock::new(b, &spec.bn, device))
                .collect(),
            feature_mix_layer: conv_layer(&spec.feature_mix, &spec.bn, device),
            dropout: DropoutConfig::new(spec.classifier.dropout).init(),
            classifier: classifier(&spec.classifier, device),
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
        pool_and_classify(self.features(x), &self.dropout, &self.classifier)
    }

    /// The network for deployment: every BatchNorm folded into the convolution before it, so
    /// inference runs convolutions with bias and activations only. Gives the logits of the
    /// network in evaluation mode (use on a network whose running statistics are trained).
    pub fn fold_batch_norm(self) -> Self {
        Self {
            first_conv: self.first_conv.fold_batch_norm(),
            blocks: self
                .blocks
                .into_iter()
                .map(MobileInvertedBlock::fold_batch_norm)
                .collect(),
            feature_mix_layer: self.feature_mix_layer.fold_batch_norm(),
            dropout: self.dropout,
            classifier: self.classifier,
        }
    }

    /// Whether the BatchNorms are folded ([`fold_batch_norm`](Self::fold_batch_norm)).
    pub fn is_folded(&self) -> bool {
        self.first_conv.bn.is_none()
    }
}

/// A stem or feature-mix layer (conv, BN, ReLU6) as `spec` describes it, initialised as in
/// the paper.
pub fn conv_layer(spec: &ConvSpec, bn: &BnSpec, device: &Device) -> ConvBnAct {
    conv_layer_with(spec, bn, None, device)
}

/// [`conv_layer`] with the convolution initialised by `initializer` (`None`: `he_fout`).
pub fn conv_layer_with(
    spec: &ConvSpec,
    bn: &BnSpec,
    initializer: Option<Initializer>,
    device: &Device,
) -> ConvBnAct {
    ConvBnActConfig::new(spec.in_channels, spec.out_channels, spec.kernel_size)
        .with_stride(spec.stride)
        .with_bn_momentum(bn.momentum)
        .with_bn_eps(bn.eps)
        .with_initializer(initializer)
        .init(device)
}

/// PyTorch's default initialisation of a convolution (`kaiming_uniform_(a=√5)`: weights ~
/// U(±1/√fan_in), fan_in = in/groups·k·k), which is also Burn's default. An extension for
/// supernets (`weights.init = "pytorch"`); the paper's code uses `he_fout`.
pub fn pytorch_default_init() -> Initializer {
    Initializer::KaimingUniform {
        gain: 1.0 / 3f64.sqrt(),
        fan_out_only: false,
    }
}

/// The classifier with the paper's initialisation: weights ~ U(±1/√fan_in), zero bias.
pub fn classifier(spec: &LinearSpec, device: &Device) -> Linear {
    let bound = 1.0 / (spec.in_features as f64).sqrt();
    let mut linear = LinearConfig::new(spec.in_features, spec.out_features)
        .with_initializer(Initializer::Uniform {
            min: -bound,
            max: bound,
        })
        .init(device);
    // A new parameter rather than `Param::map` on the initialised bias: a mapped value keeps
    // its parameter's settings but is not itself tracked, so the bias would never get a
    // gradient until the module was saved and loaded again.
    linear.bias = Some(Param::from_tensor(Tensor::zeros(
        [spec.out_features],
        device,
    )));
    linear
}

/// Global average pooling, dropout and the classifier.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, classes]`
pub fn pool_and_classify(x: Tensor<4>, dropout: &Dropout, classifier: &Linear) -> Tensor<2> {
    let [batch, channels, _, _] = x.dims();
    // Pooled and classified in f32 whatever the features' precision: logits and loss in f32.
    let x = crate::conv_bn_act::cast_to(x, burn::tensor::DType::F32);
    let pooled = x.mean_dim(3).mean_dim(2).reshape([batch, channels]);
    classifier.forward(dropout.forward(pooled))
}
