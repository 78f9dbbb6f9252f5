//! A concrete child network: every layer's shape, as the official `net.config` describes it.

use serde::{Deserialize, Serialize};

use crate::bounds::{
    MAX_BLOCKS, MAX_CHANNELS, MAX_CLASSES, MAX_EXPAND, MAX_KERNEL, MAX_STRIDE, check_at_most,
    check_parameters,
};
use crate::error::{Error, Result};
use crate::{MbConvOp, OpChoice};

/// BatchNorm settings, in PyTorch's convention (running = (1 - momentum) * running +
/// momentum * batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BnSpec {
    /// Weight of the new batch statistics in the running estimates.
    pub momentum: f64,
    /// Added to the variance for numerical stability.
    pub eps: f64,
}

impl Default for BnSpec {
    /// The paper's values: momentum 0.1, eps 1e-3.
    fn default() -> Self {
        Self {
            momentum: 0.1,
            eps: 1e-3,
        }
    }
}

impl BnSpec {
    pub(crate) fn validate(&self, origin: &str, field: &str) -> Result<()> {
        if !(self.momentum.is_finite() && (0.0..=1.0).contains(&self.momentum)) {
            return Err(Error::invalid(
                origin,
                format!("{field}.momentum"),
                format!("expected a value in [0, 1], got {}", self.momentum),
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::invalid(
                origin,
                format!("{field}.eps"),
                format!("expected a positive value, got {}", self.eps),
            ));
        }
        Ok(())
    }
}

/// A convolution followed by BatchNorm and ReLU6 (the stem and the feature-mix layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel side (odd; padding is `kernel_size / 2`).
    pub kernel_size: usize,
    /// Stride.
    pub stride: usize,
}

/// The final linear layer, with dropout on its input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearSpec {
    /// Input features.
    pub in_features: usize,
    /// Output features (classes).
    pub out_features: usize,
    /// Dropout rate applied to the input.
    pub dropout: f64,
}

/// What a block computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockOp {
    /// An inverted-residual convolution: 1x1 expansion (omitted when `expand_ratio` is 1),
    /// depthwise kxk, linear 1x1 projection, each with BatchNorm.
    MbConv {
        /// Depthwise kernel side.
        kernel_size: usize,
        /// Expansion ratio.
        expand_ratio: usize,
        /// Hidden width when given explicitly; otherwise `round(in * expand_ratio)`.
        mid_channels: Option<usize>,
    },
    /// Nothing: the block's output is its identity shortcut.
    Zero,
}

/// One `MobileInvertedResidualBlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Stride.
    pub stride: usize,
    /// The block's operation.
    pub op: BlockOp,
    /// Whether the input is added to the op's output (identity shortcut).
    pub shortcut: bool,
}

impl BlockSpec {
    /// Hidden width of an MBConv block (`None` for Zero).
    pub fn mid_channels(&self) -> Option<usize> {
        match self.op {
            BlockOp::MbConv {
                expand_ratio,
                mid_channels,
                ..
            } => Some(mid_channels.unwrap_or(self.in_channels * expand_ratio)),
            BlockOp::Zero => None,
        }
    }

    /// The block's op in the compact form of architectures (`k5e3`, `zero`).
    pub fn choice(&self) -> OpChoice {
        match self.op {
            BlockOp::MbConv {
                kernel_size,
                expand_ratio,
                ..
            } => OpChoice::MbConv(MbConvOp::new(kernel_size, expand_ratio)),
            BlockOp::Zero => OpChoice::Zero,
        }
    }
}

/// A whole child network: stem, blocks (the first one fixed), feature mix, classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    /// The first convolution.
    pub first_conv: ConvSpec,
    /// The blocks, including the fixed first block.
    pub blocks: Vec<BlockSpec>,
    /// The 1x1 convolution before pooling.
    pub feature_mix: ConvSpec,
    /// The classifier.
    pub classifier: LinearSpec,
    /// BatchNorm settings of every layer.
    pub bn: BnSpec,
}

impl NetSpec {
    /// Input image channels.
    pub fn input_channels(&self) -> usize {
        self.first_conv.in_channels
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classifier.out_features
    }

    /// Checks that shapes chain and that every block is one this project can build;
    /// `origin` names the source in errors. Field names follow the `net.config` format.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: String, message: String| Err(Error::invalid(origin, field, message));
        check_conv(origin, "first_conv", &self.first_conv)?;
        check_conv(origin, "feature_mix_layer", &self.feature_mix)?;
        self.bn.validate(origin, "bn")?;
        check_at_most(origin, "blocks", self.blocks.len(), MAX_BLOCKS)?;
        let mut channels = self.first_conv.out_channels;
        for (i, block) in self.blocks.iter().enumerate() {
            let field = |name: &str| format!("blocks[{i}].{name}");
            check_at_most(
                origin,
                &field("out_channels"),
                block.out_channels,
                MAX_CHANNELS,
            )?;
            check_at_most(origin, &field("stride"), block.stride, MAX_STRIDE)?;
            if block.in_channels != channels {
                return bad(
                    field("in_channels"),
                    format!(
                        "expected {channels} (the previous layer's output), got {}",
                        block.in_channels
                    ),
                );
            }
            if block.out_channels == 0 {
                return bad(
                    field("out_channels"),
                    "expected a positive integer, got 0".into(),
                );
            }
            if block.stride == 0 {
                return bad(field("stride"), "expected a positive stride, got 0".into());
            }
            if block.shortcut && !(block.stride == 1 && block.in_channels == block.out_channels) {
                return bad(
                    field("shortcut"),
                    format!(
                        "an identity shortcut needs stride 1 and equal widths, got stride {} and {} -> {} channels",
                        block.stride, block.in_channels, block.out_channels
                    ),
                );
            }
            match block.op {
                BlockOp::MbConv {
                    kernel_size,
                    expand_ratio,
                    mid_channels,
                } => {
                    let conv = |name: &str| format!("blocks[{i}].mobile_inverted_conv.{name}");
                    if !crate::is_odd_kernel(kernel_size) {
                        return bad(
                            conv("kernel_size"),
                            format!("expected an odd kernel size, got {kernel_size}"),
                        );
                    }
                    if expand_ratio == 0 {
                        return bad(conv("expand_ratio"), "expected at least 1, got 0".into());
                    }
                    check_at_most(origin, &conv("kernel_size"), kernel_size, MAX_KERNEL)?;
                    check_at_most(origin, &conv("expand_ratio"), expand_ratio, MAX_EXPAND)?;
                    // in_channels <= MAX_CHANNELS (the previous layer's output) and the ratio
                    // <= MAX_EXPAND: the product cannot overflow.
                    let mid = mid_channels.unwrap_or(block.in_channels * expand_ratio);
                    check_at_most(origin, &conv("mid_channels"), mid, MAX_CHANNELS)?;
                    if mid_channels == Some(0) {
                        return bad(
                            conv("mid_channels"),
                            "expected a positive integer, got 0".into(),
                        );
                    }
                    if expand_ratio == 1 && mid_channels.is_some_and(|m| m != block.in_channels) {
                        return bad(
                            conv("mid_channels"),
                            format!(
                                "with expand_ratio 1 there is no expansion, so mid_channels must equal in_channels ({}), got {}",
                                block.in_channels,
                                mid_channels.unwrap_or_default()
                            ),
                        );
                    }
                }
                BlockOp::Zero if !block.shortcut => {
                    return bad(
                        field("shortcut"),
                        "a ZeroLayer block needs an identity shortcut (without one its output is all zeros)".into(),
                    );
                }
                BlockOp::Zero => {}
            }
            channels = block.out_channels;
        }
        if self.feature_mix.in_channels != channels {
            return bad(
                "feature_mix_layer.in_channels".into(),
                format!(
                    "expected {channels} (the last block's output), got {}",
                    self.feature_mix.in_channels
                ),
            );
        }
        if self.classifier.in_features != self.feature_mix.out_channels {
            return bad(
                "classifier.in_features".into(),
                format!(
                    "expected {} (the feature mix layer's output), got {}",
                    self.feature_mix.out_channels, self.classifier.in_features
                ),
            );
        }
        if self.classifier.out_features == 0 {
            return bad(
                "classifier.out_features".into(),
                "expected at least 1 class, got 0".into(),
            );
        }
        check_at_most(
            origin,
            "classifier.out_features",
            self.classifier.out_features,
            MAX_CLASSES,
        )?;
        if !(0.0..1.0).contains(&self.classifier.dropout) {
            return bad(
                "classifier.dropout_rate".into(),
                format!("expected a rate in [0, 1), got {}", self.classifier.dropout),
            );
        }
        // Every size is bounded now; parameters do not depend on the input side, and at 1x1
        // no MAC count can overflow.
        let cost = self.cost(1)?;
        let largest = cost
            .layers
            .iter()
            .max_by_key(|layer| layer.params)
            .map(|layer| (layer.name.as_str(), layer.params))
            .expect("a network has a first conv");
        check_parameters(origin, cost.params, largest)
    }
}

fn check_conv(origin: &str, name: &str, conv: &ConvSpec) -> Result<()> {
    let bad = |field: &str, message: String| {
        Err(Error::invalid(origin, format!("{name}.{field}"), message))
    };
    if conv.in_channels == 0 {
        return bad("in_channels", "expected a positive integer, got 0".into());
    }
    if conv.out_channels == 0 {
        return bad("out_channels", "expected a positive integer, got 0".into());
    }
    if !crate::is_odd_kernel(conv.kernel_size) {
        return bad(
            "kernel_size",
            format!("expected an odd kernel size, got {}", conv.kernel_size),
        );
    }
    if conv.stride == 0 {
        return bad("stride", "expected a positive stride, got 0".into());
    }
    check_at_most(
        origin,
        &format!("{name}.in_channels"),
        conv.in_channels,
        MAX_CHANNELS,
    )?;
    check_at_most(
        origin,
        &format!("{name}.out_channels"),
        conv.out_channels,
        MAX_CHANNELS,
    )?;
    check_at_most(
        origin,
        &format!("{name}.kernel_size"),
        conv.kernel_size,
        MAX_KERNEL,
    )?;
    check_at_most(origin, &format!("{name}.stride"), conv.stride, MAX_STRIDE)
}
