//! Where a training step's time goes: every convolution layer of one network (convolution,
//! BatchNorm in training mode, optional ReLU6), timed forward and forward plus backward on an
//! autodiff device, as the step runs it. The same list, as JSON, lets another framework time
//! the same layers (`reference/ops_torch.py`, run by [`crate::pytorch`]).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::ConvBnActConfig;
use proxyless_space::{BlockOp, NetSpec};

use proxyless_profiler::Measurement;

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

/// Forward, forward+backward and convolution-only forward+backward times of one layer (ms).
pub type LayerMs = [f64; 3];

impl LayerTiming {
    /// The medians, in [`LayerMs`] order.
    pub fn medians(&self) -> LayerMs {
        [
            self.forward.median,
            self.forward_backward.median,
            self.conv_forward_backward.median,
        ]
    }
}

/// A Markdown table of layer times summed by kind of layer (in order of first appearance)
/// and over all layers: ours, and PyTorch's where given (`theirs`, one row per layer), with
/// the ratio of the forward+backward sums. `title` opens the table.
pub fn layer_table(
    title: &str,
    layers: &[LayerShape],
    ours: &[LayerMs],
    theirs: Option<&[LayerMs]>,
) -> String {
    let mut kinds: Vec<(&str, usize, [f64; 6])> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let t = theirs.map_or([f64::NAN; 3], |v| v[i]);
        let o = ours[i];
        let row = [o[0], o[1], o[2], t[0], t[1], t[2]];
        match kinds.iter_mut().find(|(k, _, _)| *k == layer.kind) {
            Some((_, n, sums)) => {
                *n += 1;
                sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            None => kinds.push((&layer.kind, 1, row)),
        }
    }
    let total = kinds.iter().fold([0.0; 6], |mut acc, (_, _, s)| {
        acc.iter_mut().zip(s).for_each(|(a, v)| *a += v);
        acc
    });
    let mut out = format!(
        "{title}\n\n\
         | layers | count | forward ms | forward+backward ms | of which convolution | PyTorch forward ms | PyTorch forward+backward ms | of which convolution | ours / PyTorch (forward+backward) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    let cell = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.2}")
        }
    };
    for (kind, n, s) in kinds
        .iter()
        .chain(std::iter::once(&("all", layers.len(), total)))
    {
        let cells: Vec<String> = s.iter().map(|&v| cell(v)).collect();
        out.push_str(&format!(
            "| {kind} | {n} | {} | {} |\n",
            cells.join(" | "),
            cell(s[1] / s[4]),
        ));
    }
    out
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

    #[test]
    fn the_layer_table_sums_by_kind_and_divides_the_sums() {
        let layer = |kind: &str| LayerShape {
            name: kind.into(),
            kind: kind.into(),
            in_channels: 1,
            out_channels: 1,
            kernel: 1,
            stride: 1,
            groups: 1,
            activation: true,
            side: 1,
        };
        let layers = [layer("a"), layer("b"), layer("a")];
        let ours = [[1.0, 2.0, 1.0], [3.0, 4.0, 2.0], [5.0, 6.0, 3.0]];
        let theirs = [[1.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 3.0, 1.0]];
        let table = layer_table("t", &layers, &ours, Some(&theirs));
        assert!(
            table.contains("| a | 2 | 6.00 | 8.00 | 4.00 | 2.00 | 4.00 | 2.00 | 2.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| all | 3 | 9.00 | 12.00 | 6.00 | 3.00 | 6.00 | 3.00 | 2.00 |"),
            "{table}"
        );
        let alone = layer_table("t", &layers, &ours, None);
        assert!(
            alone.contains("| b | 1 | 3.00 | 4.00 | 2.00 | - | - | - | - |"),
            "{alone}"
        );
    }
}
