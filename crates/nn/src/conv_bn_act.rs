//! Convolution, BatchNorm and optional ReLU6: the paper's `ConvLayer` in `weight_bn_act` order.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu6;

/// Configuration of a [`ConvBnAct`].
#[derive(Config, Debug)]
pub struct ConvBnActConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel side; padding is `kernel_size / 2`.
    pub kernel_size: usize,
    /// Stride.
    #[config(default = 1)]
    pub stride: usize,
    /// Groups (`in_channels` for a depthwise convolution).
    #[config(default = 1)]
    pub groups: usize,
    /// Whether ReLU6 follows the BatchNorm.
    #[config(default = true)]
    pub activation: bool,
    /// BatchNorm momentum (PyTorch convention: weight of the batch statistics).
    #[config(default = 0.1)]
    pub bn_momentum: f64,
    /// BatchNorm epsilon.
    #[config(default = 1e-3)]
    pub bn_eps: f64,
}

/// Convolution (no bias), BatchNorm, then ReLU6 if enabled.
#[derive(Module, Debug)]
pub struct ConvBnAct {
    /// The convolution.
    pub conv: Conv2d,
    /// The BatchNorm.
    pub bn: BatchNorm,
    /// Whether ReLU6 is applied.
    pub activation: bool,
}

impl ConvBnActConfig {
    /// Builds the layer on `device` with the paper's `he_fout` initialisation:
    /// weights ~ N(0, 2 / (k·k·out_channels)).
    pub fn init(&self, device: &Device) -> ConvBnAct {
        let k = self.kernel_size;
        let padding = k / 2;
        let std = (2.0 / (k * k * self.out_channels) as f64).sqrt();
        let conv = Conv2dConfig::new([self.in_channels, self.out_channels], [k, k])
            .with_stride([self.stride, self.stride])
            .with_groups(self.groups)
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .with_bias(false)
            .with_initializer(Initializer::Normal { mean: 0.0, std })
            .init(device);
        let bn = BatchNormConfig::new(self.out_channels)
            .with_momentum(self.bn_momentum)
            .with_epsilon(self.bn_eps)
            .init(device);
        ConvBnAct {
            conv,
            bn,
            activation: self.activation,
        }
    }
}

impl ConvBnAct {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, ceil(height / stride), ceil(width / stride)]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.bn.forward(self.conv.forward(x));
        if self.activation { relu6(x) } else { x }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_depthwise_layer_halves_the_side() {
        let device = Device::default();
        let layer = ConvBnActConfig::new(8, 8, 5)
            .with_stride(2)
            .with_groups(8)
            .init(&device);
        let y = layer.forward(Tensor::ones([2, 8, 7, 7], &device));
        // ceil(7 / 2) = 4 with padding 2.
        assert_eq!(y.dims(), [2, 8, 4, 4]);
        let max = y.max().into_scalar::<f64>();
        assert!(max <= 6.0, "ReLU6 bounds the output, got {max}");
    }

    #[test]
    fn he_fout_initialisation_has_the_papers_spread() {
        let device = Device::default();
        let layer = ConvBnActConfig::new(64, 128, 3).init(&device);
        let w = layer.conv.weight.val();
        let n = w.shape().num_elements() as f64;
        let mean = w.clone().mean().into_scalar::<f64>();
        let var = (w.clone() - mean).powi_scalar(2).sum().into_scalar::<f64>() / n;
        let expected = 2.0 / (3.0 * 3.0 * 128.0);
        assert!(mean.abs() < 3e-3, "mean {mean}");
        assert!(
            (var / expected - 1.0).abs() < 0.05,
            "var {var} vs {expected}"
        );
    }
}
