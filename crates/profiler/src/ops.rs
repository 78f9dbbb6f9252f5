//! Where a training step's time goes: every convolution layer of one network (convolution,
//! BatchNorm in training mode, optional ReLU6), timed forward and forward plus backward on an
//! autodiff device, as the step runs it. The same list, as JSON, lets another framework time
//! the same layers (`tests/reference/ops_torch.py`).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::ConvBnActConfig;
use proxyless_space::{BlockOp, NetSpec};

use crate::Measurement;

/// One convolution layer of a network, by its shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerShape {
    /// Where it is (`blocks.3.depth_conv`).
    pub name: String,
    /// What kind of layer (`stem 3x3`, `expand 1x1`, `depthwise 5x5`, `project 1x1`,
    /// `feature mix 1x1`).
    pub kind: String,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
    /// Whether ReLU6 follows.
    pub activation: bool,
    /// Input side.
    pub side: usize,
}

/// The convolution layers of `spec` at input side `resolution`, in order.
pub fn network_layers(spec: &NetSpec, resolution: usize) -> Vec<LayerShape> {
    let out_side = |side: usize, stride: usize| side.div_ceil(stride);
    let mut layers = Vec::new();
    let fc = &spec.first_conv;
    layers.push(LayerShape {
        name: "first_conv".into(),
        kind: format!("stem {k}x{k}", k = fc.kernel_size),
        in_channels: fc.in_channels,
        out_channels: fc.out_channels,
        kernel: fc.kernel_size,
        stride: fc.stride,
        groups: 1,
        activation: true,
        side: resolution,
    });
    let mut side = out_side(resolution, fc.stride);
    for (i, block) in spec.blocks.iter().enumerate() {
        let BlockOp::MbConv {
            kernel_size,
            expand_ratio,
            ..
        } = block.op
        else {
            continue;
        };
        let mid = block.mid_channels().unwrap_or(block.in_channels);
        if expand_ratio != 1 {
            layers.push(LayerShape {
                name: format!("blocks.{i}.inverted_bottleneck"),
                kind: "expand 1x1".into(),
                in_channels: block.in_channels,
                out_channels: mid,
                kernel: 1,
                stride: 1,
                groups: 1,
                activation: true,
                side,
            });
        }
        layers.push(LayerShape {
            name: format!("blocks.{i}.depth_conv"),
            kind: format!("depthwise {k}x{k}", k = kernel_size),
            in_channels: mid,
            out_channels: mid,
            kernel: kernel_size,
            stride: block.stride,
            groups: mid,
            activation: true,
            side,
        });
        side = out_side(side, block.stride);
        layers.push(LayerShape {
            name: format!("blocks.{i}.point_linear"),
            kind: "project 1x1".into(),
            in_channels: mid,
            out_channels: block.out_channels,
            kernel: 1,
            stride: 1,
            groups: 1,
            activation: false,
            side,
        });
    }
    let fm = &spec.feature_mix;
    layers.push(LayerShape {
        name: "feature_mix_layer".into(),
        kind: "feature mix 1x1".into(),
        in_channels: fm.in_channels,
        out_channels: fm.out_channels,
        kernel: fm.kernel_size,
        stride: fm.stride,
        groups: 1,
        activation: true,
        side,
    });
    layers
}

/// Forward and forward-plus-backward times of one layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerTiming {
    /// The forward pass, with the autodiff graph recorded.
    pub forward: Measurement,
    /// Forward, sum, and the backward pass (input and weight gradients).
    pub forward_backward: Measurement,
    /// Forward, sum and backward of the convolution alone (no BatchNorm or ReLU6): the rest
    /// of `forward_backward` is what BatchNorm and the activation cost.
    pub conv_forward_backward: Measurement,
}

/// Times `layer` at batch `batch` on `device` (made an autodiff device), `warmup` untimed
/// runs then `runs` timed ones, each ending with a device sync.
pub fn time_layer(
    layer: &LayerShape,
    batch: usize,
    device: &Device,
    warmup: usize,
    runs: usize,
) -> LayerTiming {
    let device = if device.is_autodiff() {
        device.clone()
    } else {
        device.clone().autodiff()
    };
    let module = ConvBnActConfig::new(layer.in_channels, layer.out_channels, layer.kernel)
        .with_stride(layer.stride)
        .with_groups(layer.groups)
        .with_activation(layer.activation)
        .init(&device);
    let x = Tensor::<4>::random(
        [batch, layer.in_channels, layer.side, layer.side],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let sync = || device.sync().expect("the device finishes its work");
    let measure = |backward: bool, conv_only: bool| {
        let run = || {
            let y = if conv_only {
                module.convolve(x.clone())
            } else {
                module.forward(x.clone())
            };
            if backward {
                drop(y.sum().backward());
            } else {
                drop(y);
            }
            sync();
        };
        for _ in 0..warmup {
            run();
        }
        let samples: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        Measurement::from_samples(&samples).expect("at least one run")
    };
    LayerTiming {
        forward: measure(false, false),
        forward_backward: measure(true, false),
        conv_forward_backward: measure(true, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::{Architecture, presets};

    #[test]
    fn lists_every_convolution_of_a_network_with_its_input_side() {
        let space = presets::load("fmnist").unwrap();
        let arch = Architecture::parse(
            "k3e3 zero | k5e6 zero zero | k7e3 zero zero | k3e6",
            &space,
            "test",
        )
        .unwrap();
        let spec = arch.to_net_spec(&space);
        let layers = network_layers(&spec, 28);
        // Stem, the fixed first block (no expansion: 2 layers), 4 MBConv blocks of 3 layers,
        // feature mix.
        assert_eq!(layers.len(), 1 + 2 + 4 * 3 + 1);
        assert_eq!(layers[0].kind, "stem 3x3");
        assert!(layers.iter().any(|l| l.kind == "depthwise 7x7"));
        let depthwise = layers.iter().filter(|l| l.kind.starts_with("depthwise"));
        assert!(depthwise.clone().all(|l| l.groups == l.in_channels));
        assert_eq!(layers.last().unwrap().kind, "feature mix 1x1");
        // Sides shrink with the strides, never below 1.
        assert!(
            layers
                .windows(2)
                .all(|w| w[1].side <= w[0].side && w[1].side >= 1)
        );
        let device = Device::default();
        let t = time_layer(&layers[3], 2, &device, 0, 1);
        assert!(t.forward.mean > 0.0 && t.forward_backward.mean > 0.0);
    }
}
