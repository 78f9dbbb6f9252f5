//! The distinct layers a space can contain, each with its table key and a module to time.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use proxyless_latency::{LatencyKey, net_keys};
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

/// Every distinct (key, layer, input shape `[channels, side]`) that an architecture of `space`
/// at its resolution can contain: the fixed layers (stem, first block, feature mix, logits)
/// and every MBConv candidate of every choice block. Layers sharing a key appear once.
pub fn space_layers(
    space: &SearchSpace,
    device: &Device,
) -> Vec<(LatencyKey, MeasuredLayer, [usize; 2])> {
    let resolution = space.input.resolution;
    let widest = Architecture::widest(space).to_net_spec(space);
    let keys = net_keys(&widest, resolution);
    let bn = widest.bn;
    let mut out: Vec<(LatencyKey, MeasuredLayer, [usize; 2])> = Vec::new();
    let mut push = |key: LatencyKey, layer: MeasuredLayer, input: [usize; 2]| {
        if !out.iter().any(|(k, _, _)| *k == key) {
            out.push((key, layer, input));
        }
    };
    let last = keys.len() - 1;
    push(
        keys[0],
        MeasuredLayer::Conv(conv_layer(&widest.first_conv, &bn, device)),
        [widest.first_conv.in_channels, resolution],
    );
    let first_in = match keys[1] {
        LatencyKey::Block { input, .. } => input,
        _ => unreachable!("the second key is the first block"),
    };
    push(
        keys[1],
        MeasuredLayer::Block(MobileInvertedBlock::new(&widest.blocks[0], &bn, device)),
        [first_in[2], first_in[0]],
    );
    for (block, key) in space.choice_blocks().iter().zip(&keys[2..last - 1]) {
        let LatencyKey::Block {
            input,
            output,
            stride,
            idskip,
            ..
        } = *key
        else {
            unreachable!("choice block keys are block keys")
        };
        for op in block.candidates.iter().filter_map(|c| c.mbconv()) {
            let spec = BlockSpec {
                in_channels: block.in_channels,
                out_channels: block.out_channels,
                stride,
                op: BlockOp::MbConv {
                    kernel_size: op.kernel_size,
                    expand_ratio: op.expand_ratio,
                    mid_channels: None,
                },
                shortcut: idskip,
            };
            let key = LatencyKey::Block {
                input,
                output,
                expand: op.expand_ratio,
                kernel: op.kernel_size,
                stride,
                idskip,
            };
            push(
                key,
                MeasuredLayer::Block(MobileInvertedBlock::new(&spec, &bn, device)),
                [input[2], input[0]],
            );
        }
    }
    let mix_in = match keys[last - 1] {
        LatencyKey::FeatureMix { input, .. } => input,
        _ => unreachable!("the feature mix precedes the logits"),
    };
    push(
        keys[last - 1],
        MeasuredLayer::Conv(conv_layer(&widest.feature_mix, &bn, device)),
        [mix_in[2], mix_in[0]],
    );
    let logits_in = match keys[last] {
        LatencyKey::Logits { input, .. } => input,
        _ => unreachable!("the last key is the logits"),
    };
    push(
        keys[last],
        MeasuredLayer::Logits(
            DropoutConfig::new(0.0).init(),
            classifier(&widest.classifier, device),
        ),
        [logits_in[2], logits_in[0]],
    );
    out
}
