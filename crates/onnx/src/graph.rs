//! The ONNX graph of a [`NetSpec`] with its weights: nodes in the order the network computes,
//! initializers named after the official PyTorch parameters, BatchNorms folded into the
//! convolutions or kept as `BatchNormalization` nodes.

use proxyless_pytorch::{StateDict, StoredTensor};
use proxyless_space::{BlockOp, ConvSpec, NetSpec};

use crate::error::{Error, Result};
use crate::proto::{
    ATTRIBUTE_FLOAT, ATTRIBUTE_INT, ATTRIBUTE_INTS, AttributeProto, FLOAT, NodeProto, TensorProto,
};

/// Builds the nodes and initializers of one network.
pub(crate) struct GraphBuilder<'a> {
    weights: &'a StateDict,
    eps: f64,
    fold: bool,
    pub(crate) nodes: Vec<NodeProto>,
    pub(crate) initializers: Vec<TensorProto>,
}

/// One convolution as the network uses it.
struct Conv<'p> {
    prefix: &'p str,
    kernel: usize,
    stride: usize,
    groups: usize,
    relu6: bool,
}

impl<'a> GraphBuilder<'a> {
    pub(crate) fn new(weights: &'a StateDict, eps: f64, fold: bool) -> Self {
        Self {
            weights,
            eps,
            fold,
            nodes: Vec::new(),
            initializers: Vec::new(),
        }
    }

    /// Adds the whole network from `input` and returns the logits' name.
    pub(crate) fn network(&mut self, spec: &NetSpec, input: &str) -> Result<String> {
        self.clip_bounds();
        let mut x = self.conv(&first_conv(&spec.first_conv), input)?;
        for (i, block) in spec.blocks.iter().enumerate() {
            let BlockOp::MbConv { kernel_size, .. } = block.op else {
                if block.shortcut {
                    continue; // Zero plus the identity: the block passes its input on.
                }
                return Err(Error::Unsupported(format!(
                    "block {i} is Zero without a shortcut (its output is all zeros); ONNX \
                     export covers the networks the paper's code builds"
                )));
            };
            let prefix = format!("blocks.{i}.mobile_inverted_conv");
            let mid = block
                .mid_channels()
                .expect("an MBConv block has a hidden width");
            let mut y = x.clone();
            let expand = format!("{prefix}.inverted_bottleneck");
            if self.has(&format!("{expand}.conv.weight")) {
                y = self.conv(
                    &Conv {
                        prefix: &expand,
                        kernel: 1,
                        stride: 1,
                        groups: 1,
                        relu6: true,
                    },
                    &y,
                )?;
            }
            y = self.conv(
                &Conv {
                    prefix: &format!("{prefix}.depth_conv"),
                    kernel: kernel_size,
                    stride: block.stride,
                    groups: mid,
                    relu6: true,
                },
                &y,
            )?;
            y = self.conv(
                &Conv {
                    prefix: &format!("{prefix}.point_linear"),
                    kernel: 1,
                    stride: 1,
                    groups: 1,
                    relu6: false,
                },
                &y,
            )?;
            if block.shortcut {
                let sum = format!("blocks.{i}.add");
                self.node("Add", &sum, &[&y, &x], Vec::new());
                y = sum;
            }
            x = y;
        }
        let mix = Conv {
            prefix: "feature_mix_layer",
            kernel: spec.feature_mix.kernel_size,
            stride: spec.feature_mix.stride,
            groups: 1,
            relu6: true,
        };
        x = self.conv(&mix, &x)?;
        self.node("GlobalAveragePool", "pool", &[&x], Vec::new());
        self.node("Flatten", "flatten", &["pool"], vec![int("axis", 1)]);
        let (w, b) = ("classifier.linear.weight", "classifier.linear.bias");
        self.initializer(w, self.tensor(w)?.clone());
        let mut inputs = vec!["flatten", w];
        if self.has(b) {
            self.initializer(b, self.tensor(b)?.clone());
            inputs.push(b);
        }
        self.node("Gemm", "logits", &inputs, vec![int("transB", 1)]);
        Ok("logits".into())
    }

    /// The constant bounds of ReLU6 as `Clip` inputs (opset 11 and later take them as inputs).
    fn clip_bounds(&mut self) {
        for (name, v) in [("relu6.min", 0.0), ("relu6.max", 6.0)] {
            self.initializer(
                name,
                StoredTensor {
                    shape: Vec::new(),
                    values: vec![v],
                },
            );
        }
    }

    /// Convolution, BatchNorm (or its folded form) and optional ReLU6; returns the output name.
    fn conv(&mut self, conv: &Conv<'_>, input: &str) -> Result<String> {
        let p = conv.prefix;
        let weight = self.tensor(&format!("{p}.conv.weight"))?;
        let out_channels = weight.shape[0];
        let bn = |s: &str| self.vector(&format!("{p}.bn.{s}"), out_channels);
        let (gamma, beta, mean, var) = (
            bn("weight")?,
            bn("bias")?,
            bn("running_mean")?,
            bn("running_var")?,
        );
        let pad = (conv.kernel / 2) as i64;
        let attributes = vec![
            ints("kernel_shape", &[conv.kernel as i64; 2]),
            ints("strides", &[conv.stride as i64; 2]),
            ints("pads", &[pad; 4]),
            ints("dilations", &[1, 1]),
            int("group", conv.groups as i64),
        ];
        let conv_out = format!("{p}.conv");
        if self.fold {
            let (w, b) = fold(weight, gamma, beta, mean, var, self.eps);
            let (wn, bn) = (format!("{p}.conv.weight"), format!("{p}.conv.bias"));
            self.initializer(&wn, w);
            self.initializer(&bn, b);
            self.node("Conv", &conv_out, &[input, &wn, &bn], attributes);
        } else {
            let wn = format!("{p}.conv.weight");
            self.initializer(&wn, weight.clone());
            self.node("Conv", &conv_out, &[input, &wn], attributes);
            let mut inputs = vec![conv_out.clone()];
            for s in ["weight", "bias", "running_mean", "running_var"] {
                let name = format!("{p}.bn.{s}");
                self.initializer(&name, self.tensor(&name)?.clone());
                inputs.push(name);
            }
            let bn_out = format!("{p}.bn");
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            self.node(
                "BatchNormalization",
                &bn_out,
                &inputs,
                vec![float("epsilon", self.eps as f32)],
            );
            return Ok(self.act(conv, bn_out));
        }
        Ok(self.act(conv, conv_out))
    }

    /// ReLU6 after `x` when the layer has one; the layer's output name.
    fn act(&mut self, conv: &Conv<'_>, x: String) -> String {
        if !conv.relu6 {
            return x;
        }
        let out = format!("{}.act", conv.prefix);
        self.node("Clip", &out, &[&x, "relu6.min", "relu6.max"], Vec::new());
        out
    }

    fn has(&self, name: &str) -> bool {
        self.weights.tensors.contains_key(name)
    }

    fn tensor(&self, name: &str) -> Result<&'a StoredTensor> {
        self.weights
            .tensors
            .get(name)
            .ok_or_else(|| Error::Weights(format!("`{name}` is missing")))
    }

    fn vector(&self, name: &str, len: usize) -> Result<&'a [f32]> {
        let t = self.tensor(name)?;
        if t.shape != [len] {
            return Err(Error::Weights(format!(
                "`{name}` has shape {:?}, expected [{len}]",
                t.shape
            )));
        }
        Ok(&t.values)
    }

    fn initializer(&mut self, name: &str, t: StoredTensor) {
        self.initializers.push(TensorProto {
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            name: name.into(),
            raw_data: t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }

    /// A node whose one output has the node's name.
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attribute: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.into()],
            name: name.into(),
            op_type: op.into(),
            domain: String::new(),
            attribute,
        });
    }
}

fn first_conv(spec: &ConvSpec) -> Conv<'static> {
    Conv {
        prefix: "first_conv",
        kernel: spec.kernel_size,
        stride: spec.stride,
        groups: 1,
        relu6: true,
    }
}

/// BatchNorm in evaluation mode folded into the convolution before it, in double precision:
/// `w' = w · γ/√(σ²+ε)` per output channel, `b' = β − μ · γ/√(σ²+ε)`.
pub(crate) fn fold(
    weight: &StoredTensor,
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f64,
) -> (StoredTensor, StoredTensor) {
    let out = weight.shape[0];
    let per_channel = weight.values.len() / out;
    let scale: Vec<f64> = (0..out)
        .map(|o| gamma[o] as f64 / (var[o] as f64 + eps).sqrt())
        .collect();
    let values = weight
        .values
        .iter()
        .enumerate()
        .map(|(i, &w)| (w as f64 * scale[i / per_channel]) as f32)
        .collect();
    let bias = (0..out)
        .map(|o| (beta[o] as f64 - mean[o] as f64 * scale[o]) as f32)
        .collect();
    (
        StoredTensor {
            shape: weight.shape.clone(),
            values,
        },
        StoredTensor {
            shape: vec![out],
            values: bias,
        },
    )
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_INT,
        i,
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_FLOAT,
        f,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_the_evaluation_mode_batch_norm_computed_by_hand() {
        // Two output channels of a 1x1 convolution over two inputs.
        let weight = StoredTensor {
            shape: vec![2, 2, 1, 1],
            values: vec![1.0, -2.0, 0.5, 4.0],
        };
        let (gamma, beta, mean, var) = ([2.0, 0.5], [0.1, -0.3], [0.25, -1.0], [3.0, 0.0]);
        let eps = 1.0;
        let (w, b) = fold(&weight, &gamma, &beta, &mean, &var, eps);
        // Channel 0: scale 2 / sqrt(4) = 1; channel 1: 0.5 / sqrt(1) = 0.5.
        assert_eq!(w.values, [1.0, -2.0, 0.25, 2.0]);
        assert_eq!(b.values, [0.1 - 0.25, -0.3 + 0.5]);
        // conv(x) then BatchNorm equals the folded convolution at an input point.
        let x = [0.7f64, -1.3];
        for o in 0..2 {
            let conv = weight.values[2 * o] as f64 * x[0] + weight.values[2 * o + 1] as f64 * x[1];
            let bn = gamma[o] as f64 * (conv - mean[o] as f64) / (var[o] as f64 + eps).sqrt()
                + beta[o] as f64;
            let folded = w.values[2 * o] as f64 * x[0]
                + w.values[2 * o + 1] as f64 * x[1]
                + b.values[o] as f64;
            assert!((bn - folded).abs() < 1e-6, "channel {o}: {bn} vs {folded}");
        }
    }
}
