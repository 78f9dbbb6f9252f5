//! The distinct layers a space can contain, each with its table key and a module to time.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use proxyless_latency::{LatencyKey, SpaceKeys};
use proxyless_nn::{ConvBnAct, MobileInvertedBlock, classifier, conv_layer, pool_and_classify};
use proxyless_space::{Architecture, BlockOp, BlockSpec, SearchSpace};

/// A layer to time, built from a space's description (a few dozen per space, so the size
/// difference of the variants does not matter).
#[allow(clippy::large_enum_variant)]
pub enum MeasuredLayer {
    /// The stem or the feature-mix layer.
    Conv(ConvBnAct),
    /// One MBConv block with its shortcut.
    Block(MobileInvertedBlock),
    /// Pooling, dropout and classifier.
    Logits(Dropout, Linear),
}

impl MeasuredLayer {
    /// Runs the layer once.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            MeasuredLayer::Conv(c) => c.forward(x).flatten(1, 3),
            MeasuredLayer::Block(b) => b.forward(x).flatten(1, 3),
            MeasuredLayer::Logits(d, l) => pool_and_classify(x, d, l),
        }
    }
}

/// The block a table key describes (the key holds every shape the block needs).
fn block_of(key: &LatencyKey) -> Option<BlockSpec> {
    let LatencyKey::Block {
        input,
        output,
        expand,
        kernel,
        stride,
        idskip,
    } = *key
    else {
        return None;
    };
    Some(BlockSpec {
        in_channels: input[2],
        out_channels: output[2],
        stride,
        op: BlockOp::MbConv {
            kernel_size: kernel,
            expand_ratio: expand,
            mid_channels: None,
        },
        shortcut: idskip,
    })
}

/// Input `[channels, side]` of the layer a key describes.
fn input_of(key: &LatencyKey) -> [usize; 2] {
    let (LatencyKey::Stem { input, .. }
    | LatencyKey::Block { input, .. }
    | LatencyKey::FeatureMix { input, .. }
    | LatencyKey::Logits { input, .. }) = key;
    [input[2], input[0]]
}

/// Every distinct (key, layer, input shape `[channels, side]`) that an architecture of `space`
/// at its resolution can contain: the fixed layers (stem, first block, feature mix, logits)
/// and every MBConv candidate of every choice block. Layers sharing a key appear once.
pub fn space_layers(
    space: &SearchSpace,
    device: &Device,
) -> Vec<(LatencyKey, MeasuredLayer, [usize; 2])> {
    let widest = Architecture::widest(space).to_net_spec(space);
    let bn = widest.bn;
    let keys = SpaceKeys::of(space);
    let candidates = keys.blocks.iter().flatten().flatten();
    let mut out: Vec<(LatencyKey, MeasuredLayer, [usize; 2])> = Vec::new();
    for key in keys.fixed.iter().chain(candidates) {
        if out.iter().any(|(k, _, _)| k == key) {
            continue;
        }
        let layer = match key {
            LatencyKey::Stem { .. } => {
                MeasuredLayer::Conv(conv_layer(&widest.first_conv, &bn, device))
            }
            LatencyKey::FeatureMix { .. } => {
                MeasuredLayer::Conv(conv_layer(&widest.feature_mix, &bn, device))
            }
            LatencyKey::Logits { .. } => MeasuredLayer::Logits(
                DropoutConfig::new(0.0).init(),
                classifier(&widest.classifier, device),
            ),
            LatencyKey::Block { .. } => {
                let spec = block_of(key).expect("a block key describes a block");
                MeasuredLayer::Block(MobileInvertedBlock::new(&spec, &bn, device))
            }
        };
        out.push((*key, layer, input_of(key)));
    }
    out
}
