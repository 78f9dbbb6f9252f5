//! The layers of a tree network (the official `ConvLayer`, `DepthConvLayer`, `PoolingLayer`,
//! `IdentityLayer`, `LinearLayer`): a weight operation, an optional BatchNorm and activation,
//! run in the layer's ops order (`bn_act_weight` in the released net: pre-activation).

use burn::module::{Flag, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use proxyless_kernels::batch_norm;
use proxyless_space::{ConvFields, Layer, LayerBase};

use crate::conv_bn_act::convolve;

/// PyTorch's `BatchNorm2d` defaults, which the official CIFAR-10 code keeps (its net.config
/// carries no BatchNorm settings).
pub(crate) const BN_MOMENTUM: f64 = 0.1;
/// See [`BN_MOMENTUM`].
pub(crate) const BN_EPS: f64 = 1e-5;

/// One step of a layer's ops order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// The weight operation (convolution, pooling, identity, linear), dropout before it.
    Weight,
    /// The BatchNorm (when the layer has one).
    Bn,
    /// The activation (when the layer has one).
    Act,
}

/// A layer's activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    fn from_name(name: Option<&str>) -> Option<Self> {
        match name? {
            "relu" => Some(Self::Relu),
            "relu6" => Some(Self::Relu6),
            "tanh" => Some(Self::Tanh),
            "sigmoid" => Some(Self::Sigmoid),
            // Checked when the configuration was read.
            other => panic!("unchecked activation {other:?}"),
        }
    }

    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => burn::tensor::activation::relu(x),
            Self::Relu6 => x.clamp(0.0, 6.0),
            Self::Tanh => x.tanh(),
            Self::Sigmoid => burn::tensor::activation::sigmoid(x),
        }
    }
}

/// What a layer's weight operation is, beyond its tensors.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightOp {
    /// `conv`, then a channel shuffle over `shuffle_groups` (1: none).
    Conv {
        /// Groups the channels are shuffled across.
        shuffle_groups: usize,
    },
    /// `depth_conv`, `point_conv`, then a channel shuffle over `shuffle_groups` (1: none).
    DepthConv {
        /// Groups the channels are shuffled across.
        shuffle_groups: usize,
    },
    /// Max or average pooling (averages exclude the padding).
    Pool {
        /// Max (else average).
        max: bool,
        /// Window side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on every side.
        padding: usize,
    },
    /// The identity.
    Identity,
    /// Zeros of the input's channels, the side divided by the stride.
    Zero {
        /// Stride.
        stride: usize,
    },
}

/// The ops order, activation and dropout of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerPlan {
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// The activation, if any.
    pub activation: Option<Activation>,
    /// Dropout probability before the weight operation (channels, as `Dropout2d`).
    pub dropout: f64,
    /// The weight operation.
    pub weight: WeightOp,
}

/// A convolution, depthwise-separable convolution, pooling or identity layer, with the
/// official parameter names (`conv`, `depth_conv`, `point_conv`, `bn`).
#[derive(Module, Debug)]
pub struct TreeLayer {
    /// The convolution of a `ConvLayer`.
    pub conv: Option<Conv2d>,
    /// The depthwise convolution of a `DepthConvLayer`.
    pub depth_conv: Option<Conv2d>,
    /// The pointwise convolution of a `DepthConvLayer`.
    pub point_conv: Option<Conv2d>,
    /// The BatchNorm (over the input channels when it comes before the weights).
    pub bn: Option<BatchNorm>,
    /// Whether dropout is active (cleared by `valid`).
    pub training: Param<Flag>,
    /// Ops order, activation, dropout and the weight operation.
    #[module(skip)]
    pub plan: LayerPlan,
}

/// The ops of an order such as `"bn_act_weight"` (checked when the configuration was read).
fn ops(order: &str) -> Vec<Op> {
    order
        .split('_')
        .map(|op| match op {
            "weight" => Op::Weight,
            "bn" => Op::Bn,
            "act" => Op::Act,
            other => panic!("unchecked op {other:?}"),
        })
        .collect()
}

/// Whether BatchNorm comes before the weights (it then normalises the input channels).
fn bn_first(ops: &[Op]) -> bool {
    ops.iter().position(|&op| op == Op::Bn) < ops.iter().position(|&op| op == Op::Weight)
}

fn dropout_rate(base: &LayerBase) -> f64 {
    base.dropout_rate.as_f64().unwrap_or(0.0)
}

/// A convolution with the paper's `he_fout` initialisation, same padding (`k / 2 · dilation`).
fn conv2d(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    let std = (2.0 / (kernel * kernel * channels[1]) as f64).sqrt();
    let padding = kernel / 2 * dilation;
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_dilation([dilation, dilation])
        .with_groups(groups)
        .with_bias(bias)
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

/// A BatchNorm over `channels` with the official code's (PyTorch's default) settings.
pub fn batch_norm_layer(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_momentum(BN_MOMENTUM)
        .with_epsilon(BN_EPS)
        .init(device)
}

impl TreeLayer {
    /// Builds a layer from its configuration (a checked one: [`proxyless_space::TreeNetConfig`]
    /// checks every layer as it is read).
    ///
    /// # Panics
    /// On a `LinearLayer` (see [`TreeLinear`]).
    pub fn new(layer: &Layer, device: &Device) -> Self {
        let base = match layer {
            Layer::LinearLayer { .. } => panic!("a LinearLayer is a TreeLinear"),
            Layer::ZeroLayer { stride } => return Self::zero(*stride),
            layer => layer.base().expect("the other layers have channels"),
        };
        let order = ops(&base.ops_order);
        let (cin, cout) = (base.in_channels, base.out_channels);
        let bn = base.use_bn.then(|| {
            let channels = if bn_first(&order) { cin } else { cout };
            batch_norm_layer(channels, device)
        });
        let mut layer_out = Self {
            conv: None,
            depth_conv: None,
            point_conv: None,
            bn,
            training: Param::from_bool(true),
            plan: LayerPlan {
                ops: order,
                activation: Activation::from_name(base.act_func.as_deref()),
                dropout: dropout_rate(base),
                weight: WeightOp::Identity,
            },
        };
        let shuffle = |c: &ConvFields| if c.has_shuffle { c.groups } else { 1 };
        layer_out.plan.weight = match layer {
            Layer::ConvLayer(c) => {
                layer_out.conv = Some(conv2d(
                    [cin, cout],
                    c.kernel_size,
                    c.stride,
                    c.dilation,
                    c.groups,
                    c.bias,
                    device,
                ));
                WeightOp::Conv {
                    shuffle_groups: shuffle(c),
                }
            }
            Layer::DepthConvLayer(c) => {
                layer_out.depth_conv = Some(conv2d(
                    [cin, cin],
                    c.kernel_size,
                    c.stride,
                    c.dilation,
                    cin,
                    false,
                    device,
                ));
                layer_out.point_conv = Some(conv2d([cin, cout], 1, 1, 1, c.groups, c.bias, device));
                WeightOp::DepthConv {
                    shuffle_groups: shuffle(c),
                }
            }
            Layer::PoolingLayer {
                pool_type,
                kernel_size,
                stride,
                ..
            } => WeightOp::Pool {
                max: pool_type == "max",
                kernel: *kernel_size,
                stride: *stride,
                padding: if *stride == 1 { kernel_size / 2 } else { 0 },
            },
            _ => WeightOp::Identity,
        };
        layer_out
    }

    /// The official `ZeroLayer`.
    fn zero(stride: usize) -> Self {
        Self {
            conv: None,
            depth_conv: None,
            point_conv: None,
            bn: None,
            training: Param::from_bool(true),
            plan: LayerPlan {
                ops: vec![Op::Weight],
                activation: None,
                dropout: 0.0,
                weight: WeightOp::Zero { stride },
            },
        }
    }

    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height', width']`
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for op in &self.plan.ops {
            x = match op {
                Op::Weight => self.weight(self.dropout(x)),
                Op::Bn => match &self.bn {
                    Some(bn) => batch_norm(bn, x),
                    None => x,
                },
                Op::Act => match self.plan.activation {
                    Some(act) => act.apply(x),
                    None => x,
                },
            };
        }
        x
    }

    /// The stride of the weight operation (1 for the identity).
    pub fn stride(&self) -> usize {
        match (&self.plan.weight, &self.conv, &self.depth_conv) {
            (WeightOp::Conv { .. }, Some(conv), _)
            | (WeightOp::DepthConv { .. }, _, Some(conv)) => conv.stride[0],
            (WeightOp::Pool { stride, .. } | WeightOp::Zero { stride }, _, _) => *stride,
            _ => 1,
        }
    }

    /// `Dropout2d`: whole channels zeroed with the layer's probability, in training.
    fn dropout(&self, x: Tensor<4>) -> Tensor<4> {
        let p = self.plan.dropout;
        if p <= 0.0 || !self.training.is_enabled() || !x.device().is_autodiff() {
            return x;
        }
        let [batch, channels, _, _] = x.dims();
        let keep = Tensor::<4>::random(
            [batch, channels, 1, 1],
            Distribution::Bernoulli(1.0 - p),
            &x.device(),
        );
        x * keep / (1.0 - p)
    }

    fn weight(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.plan.weight {
            WeightOp::Conv { shuffle_groups } => {
                let conv = self.conv.as_ref().expect("a ConvLayer has its convolution");
                shuffle_channels(convolve(conv, x), *shuffle_groups)
            }
            WeightOp::DepthConv { shuffle_groups } => {
                let depth = self
                    .depth_conv
                    .as_ref()
                    .expect("a DepthConvLayer's depthwise");
                let point = self
                    .point_conv
                    .as_ref()
                    .expect("a DepthConvLayer's pointwise");
                shuffle_channels(convolve(point, convolve(depth, x)), *shuffle_groups)
            }
            &WeightOp::Pool {
                max,
                kernel,
                stride,
                padding,
            } => {
                if max {
                    let options = MaxPoolOptions::new([kernel; 2])
                        .with_stride([stride; 2])
                        .with_padding([padding; 2]);
                    max_pool2d(x, options)
                } else {
                    let options = AvgPoolOptions::new([kernel; 2])
                        .with_stride([stride; 2])
                        .with_padding([padding; 2])
                        .with_count_include_pad(false);
                    avg_pool2d(x, options)
                }
            }
            WeightOp::Identity => x,
            &WeightOp::Zero { stride } => {
                let [batch, channels, height, width] = x.dims();
                let shape = [batch, channels, height / stride, width / stride];
                Tensor::zeros(shape, &x.device())
            }
        }
    }
}

/// The official `shuffle_layer`: channels `[g0: a b c | g1: d e f]` become `[a d b e c f]`
/// (viewed as `[groups, channels / groups]` and transposed). One group: unchanged.
pub fn shuffle_channels(x: Tensor<4>, groups: usize) -> Tensor<4> {
    if groups <= 1 {
        return x;
    }
    let [batch, channels, height, width] = x.dims();
    x.reshape([batch, groups, channels / groups, height, width])
        .swap_dims(1, 2)
        .reshape([batch, channels, height, width])
}

/// The official `LinearLayer`: a linear layer (`linear`), with an optional BatchNorm over its
/// input or output features and an activation, in its ops order.
#[derive(Module, Debug)]
pub struct TreeLinear {
    /// The linear layer.
    pub linear: Linear,
    /// The BatchNorm (`BatchNorm1d`).
    pub bn: Option<BatchNorm>,
    /// Whether dropout is active (cleared by `valid`).
    pub training: Param<Flag>,
    /// Ops order, activation and dropout (the weight operation is the linear layer).
    #[module(skip)]
    pub plan: LayerPlan,
}

impl TreeLinear {
    /// Builds the classifier from its configuration, initialised as the paper's code does
    /// (weights ~ U(±1/√in), zero bias).
    ///
    /// # Panics
    /// On a layer that is not a `LinearLayer`.
    pub fn new(layer: &Layer, device: &Device) -> Self {
        let Layer::LinearLayer {
            in_features,
            out_features,
            bias,
            use_bn,
            act_func,
            dropout_rate,
            ops_order,
        } = layer
        else {
            panic!("a TreeLinear is built from a LinearLayer");
        };
        let order = ops(ops_order);
        let bound = 1.0 / (*in_features as f64).sqrt();
        let mut linear = LinearConfig::new(*in_features, *out_features)
            .with_bias(*bias)
            .with_initializer(Initializer::Uniform {
                min: -bound,
                max: bound,
            })
            .init(device);
        if *bias {
            linear.bias = Some(Param::from_tensor(Tensor::zeros([*out_features], device)));
        }
        let bn = use_bn.then(|| {
            let features = if bn_first(&order) {
                *in_features
            } else {
                *out_features
            };
            batch_norm_layer(features, device)
        });
        Self {
            linear,
            bn,
            training: Param::from_bool(true),
            plan: LayerPlan {
                ops: order,
                activation: Activation::from_name(act_func.as_deref()),
                dropout: dropout_rate.as_f64().unwrap_or(0.0),
                weight: WeightOp::Identity,
            },
        }
    }

    /// # Shapes
    /// - input: `[batch, in_features]`
    /// - output: `[batch, out_features]`
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for op in &self.plan.ops {
            x = match op {
                Op::Weight => {
                    let p = self.plan.dropout;
                    if p > 0.0 && self.training.is_enabled() && x.device().is_autodiff() {
                        let keep = x.random_like(Distribution::Bernoulli(1.0 - p));
                        x = x * keep / (1.0 - p);
                    }
                    self.linear.forward(x)
                }
                Op::Bn => match &self.bn {
                    Some(bn) => {
                        let [batch, features] = x.dims();
                        batch_norm(bn, x.reshape([batch, features, 1, 1]))
                            .reshape([batch, features])
                    }
                    None => x,
                },
                Op::Act => match self.plan.activation {
                    Some(act) => act.apply(x),
                    None => x,
                },
            };
        }
        x
    }
}
