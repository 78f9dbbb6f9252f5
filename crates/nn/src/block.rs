//! One block of the backbone: an MBConv or a skip, with an optional identity shortcut.

use burn::prelude::*;
use proxyless_space::{BlockOp, BlockSpec, BnSpec};

use crate::{MbConv, MbConvConfig};

/// The paper's `MobileInvertedResidualBlock`.
///
/// - op present, no shortcut: `op(x)`;
/// - op present, shortcut: `op(x) + x`;
/// - no op (a Zero block, which always has a shortcut): `x`.
#[derive(Module, Debug)]
pub struct MobileInvertedBlock {
    /// The MBConv, or `None` for a Zero (skip) block.
    pub mobile_inverted_conv: Option<MbConv>,
    /// Whether the input is added to the op's output.
    pub shortcut: bool,
}

impl MobileInvertedBlock {
    /// Builds the block a [`BlockSpec`] describes; the spec must be valid
    /// ([`NetSpec::validate`](proxyless_space::NetSpec::validate)).
    pub fn new(spec: &BlockSpec, bn: &BnSpec, device: &Device) -> Self {
        Self::with_initializer(spec, bn, None, device)
    }

    /// [`new`](Self::new) with the convolutions initialised by `initializer` (`None`: the
    /// paper's `he_fout`).
    pub fn with_initializer(
        spec: &BlockSpec,
        bn: &BnSpec,
        initializer: Option<burn::nn::Initializer>,
        device: &Device,
    ) -> Self {
        let op = match spec.op {
            BlockOp::MbConv {
                kernel_size,
                expand_ratio,
                ..
            } => Some(
                MbConvConfig::new(
                    spec.in_channels,
                    spec.out_channels,
                    kernel_size,
                    spec.mid_channels().unwrap_or(spec.in_channels),
                )
                .with_stride(spec.stride)
                .with_expand(expand_ratio != 1)
                .with_bn_momentum(bn.momentum)
                .with_bn_eps(bn.eps)
                .with_initializer(initializer)
                .init(device),
            ),
            BlockOp::Zero => None,
        };
        Self {
            mobile_inverted_conv: op,
            shortcut: spec.shortcut,
        }
    }

    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, ceil(height / stride), ceil(width / stride)]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.mobile_inverted_conv {
            None => x,
            Some(op) if self.shortcut => op.forward(x.clone()) + x,
            Some(op) => op.forward(x),
        }
    }

    /// Folds every BatchNorm of the op into its convolution, for inference.
    pub fn fold_batch_norm(self) -> Self {
        Self {
            mobile_inverted_conv: self.mobile_inverted_conv.map(MbConv::fold_batch_norm),
            shortcut: self.shortcut,
        }
    }
}
