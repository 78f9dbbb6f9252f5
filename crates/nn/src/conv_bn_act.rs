//! Convolution, BatchNorm and optional ReLU6: the paper's `ConvLayer` in `weight_bn_act` order,
//! and its deployment form with the BatchNorm folded into the convolution.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::DType;

use burn::tensor::ops::ConvOptions;
use proxyless_kernels::{batch_norm, batch_norm_relu6, depthwise_conv2d, pointwise_conv2d, relu6};

/// `x` in `dtype` (a differentiable cast; none when it already is).
pub fn cast_to<const D: usize>(x: Tensor<D>, dtype: DType) -> Tensor<D> {
    if x.dtype() == dtype { x } else { x.cast(dtype) }
}

/// `conv` applied to `x`, in `x`'s precision. Depthwise convolutions go through [`proxyless_kernels::depthwise_conv2d`]
/// and 1x1 ones (stride 1, one group) through [`proxyless_kernels::pointwise_conv2d`],
/// whose backward passes are faster on the CPU than Burn's generic ones.
pub fn convolve(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [out_channels, per_group, k_h, k_w] = conv.weight.dims();
    let groups = conv.groups;
    let compute = x.dtype();
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return cast_to(conv.forward(cast_to(x, DType::F32)), compute);
    };
    let weight = cast_to(conv.weight.val(), compute);
    let pointwise = groups == 1
        && [k_h, k_w] == [1, 1]
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && [top, left, bottom, right] == [0; 4];
    let depthwise = groups != 1 && per_group == 1 && groups == out_channels;
    let options = || {
        let padding = [(top, bottom), (left, right)];
        ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, groups)
    };
    let y = if pointwise {
        pointwise_conv2d(x, weight)
    } else if depthwise {
        depthwise_conv2d(x, weight, options())
    } else if compute == DType::F32 {
        return conv.forward(x);
    } else {
        let bias = conv.bias.as_ref().map(|b| cast_to(b.val(), compute));
        return burn::tensor::module::conv2d(x, weight, bias, options());
    };
    match &conv.bias {
        Some(bias) => y + cast_to(bias.val(), compute).reshape([1, -1, 1, 1]),
        None => y,
    }
}

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
    /// The convolution's initialisation; `None`: the paper's `he_fout`.
    #[config(default = "None")]
    pub initializer: Option<Initializer>,
}

/// Convolution (no bias), BatchNorm, then ReLU6 if enabled; after
/// [`fold_batch_norm`](ConvBnAct::fold_batch_norm), a convolution with bias and no BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBnAct {
    /// The convolution.
    pub conv: Conv2d,
    /// The BatchNorm, `None` once folded into the convolution.
    pub bn: Option<BatchNorm>,
    /// Whether ReLU6 is applied.
    pub activation: bool,
}

impl ConvBnActConfig {
    /// Builds the layer on `device`, by default with the paper's `he_fout` initialisation:
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
            .with_initializer(
                self.initializer
                    .clone()
                    .unwrap_or(Initializer::Normal { mean: 0.0, std }),
            )
            .init(device);
        let bn = BatchNormConfig::new(self.out_channels)
            .with_momentum(self.bn_momentum)
            .with_epsilon(self.bn_eps)
            .init(device);
        ConvBnAct {
            conv,
            bn: Some(bn),
            activation: self.activation,
        }
    }
}

impl ConvBnAct {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, ceil(height / stride), ceil(width / stride)]`
    ///
    /// The layer computes in its input's precision (f32, or bf16 for mixed precision: the
    /// f32 weights are cast where they are used, so their gradients and updates stay f32),
    /// except BatchNorm, which always runs in f32 (its statistics and running averages need
    /// f32's mantissa; PyTorch's autocast does the same).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let compute = x.dtype();
        let x = self.convolve(x);
        let Some(bn) = &self.bn else {
            return if self.activation { relu6(x) } else { x };
        };
        let x = cast_to(x, DType::F32);
        let x = if self.activation {
            batch_norm_relu6(bn, x)
        } else {
            batch_norm(bn, x)
        };
        cast_to(x, compute)
    }

    /// The convolution alone (see [`convolve`]).
    pub fn convolve(&self, x: Tensor<4>) -> Tensor<4> {
        convolve(&self.conv, x)
    }

    /// Folds the BatchNorm's running statistics and affine parameters into the convolution,
    /// for inference: with `s = γ / √(var + ε)`, the weights of output channel `c` become
    /// `w·s[c]` and its bias `β[c] − mean[c]·s[c]` (plus `b[c]·s[c]` if the convolution had a
    /// bias). The result computes what the layer computes in evaluation mode. A layer without
    /// BatchNorm is returned unchanged.
    pub fn fold_batch_norm(self) -> Self {
        let Some(bn) = self.bn else {
            return self;
        };
        let device = self.conv.weight.val().device();
        let inv_std = bn
            .running_var
            .value_sync()
            .add_scalar(bn.epsilon)
            .sqrt()
            .recip();
        let scale = bn.gamma.val() * inv_std;
        let [out_channels] = scale.dims();
        let old_bias = match &self.conv.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([out_channels], &device),
        };
        let bias = bn.beta.val() + (old_bias - bn.running_mean.value_sync()) * scale.clone();
        let weight = self.conv.weight.val() * scale.reshape([out_channels as i32, 1, 1, 1]);
        let mut conv = self.conv;
        conv.weight = Param::from_tensor(weight.detach());
        conv.bias = Some(Param::from_tensor(bias.detach()));
        ConvBnAct {
            conv,
            bn: None,
            activation: self.activation,
        }
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

    /// Sets a BatchNorm's statistics and affine parameters to random values, as after training.
    fn randomise_bn(layer: &mut ConvBnAct, device: &Device) {
        use burn::module::RunningState;
        use burn::tensor::Distribution;
        let bn = layer.bn.as_mut().expect("an unfolded layer");
        let [c] = bn.gamma.dims();
        let uniform = |lo, hi| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), device);
        bn.gamma = Param::from_tensor(uniform(0.5, 1.5));
        bn.beta = Param::from_tensor(uniform(-0.5, 0.5));
        bn.running_mean = RunningState::new(uniform(-0.3, 0.3));
        bn.running_var = RunningState::new(uniform(0.2, 2.0));
    }

    #[test]
    fn folded_layer_computes_the_evaluation_mode_layer() {
        let device = Device::default();
        for (groups, activation) in [(1, true), (8, true), (1, false)] {
            let mut layer = ConvBnActConfig::new(8, 8, 3)
                .with_groups(groups)
                .with_activation(activation)
                .init(&device);
            randomise_bn(&mut layer, &device);
            let x = Tensor::<4>::random([2, 8, 6, 6], burn::tensor::Distribution::Default, &device);
            let expected = layer.forward(x.clone());
            let folded = layer.fold_batch_norm();
            assert!(folded.bn.is_none());
            let got = folded.forward(x);
            let diff = (got - expected).abs().max().into_scalar::<f64>();
            assert!(diff < 1e-5, "groups {groups}: folded differs by {diff}");
        }
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

    #[test]
    fn pytorch_initialisation_is_uniform_within_one_over_root_fan_in() {
        let device = Device::default();
        // A depthwise layer: fan_in = in/groups · k · k = 9, so the bound is 1/3, where
        // he_fout would give a standard deviation of √(2 / (9 · 96)) ≈ 0.048.
        let layer = ConvBnActConfig::new(96, 96, 3)
            .with_groups(96)
            .with_initializer(Some(crate::pytorch_default_init()))
            .init(&device);
        let w = layer.conv.weight.val();
        let n = w.shape().num_elements() as f64;
        let max = w.clone().abs().max().into_scalar::<f64>();
        let var = w.clone().powi_scalar(2).sum().into_scalar::<f64>() / n;
        assert!(max <= 1.0 / 3.0 + 1e-6, "max {max}");
        // U(±b) has variance b²/3 = 1/27; 864 samples give a relative spread of about 5%.
        let expected = 1.0 / 27.0;
        assert!(
            (var / expected - 1.0).abs() < 0.2,
            "var {var} vs {expected}"
        );
    }
}
