//! The supernet of a search space: fixed stem, first block and head around choice blocks
//! over the space's MBConv candidates and Zero.

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear};
use burn::prelude::*;
use proxyless_nn::{
    ConvBnAct, MbConv, MbConvConfig, MobileInvertedBlock, classifier, conv_layer_with,
    pool_and_classify,
};
use proxyless_space::{Architecture, OpChoice, SearchSpace};

use crate::{ChoiceBlock, Paths, Searchable};

/// The paper's `SuperProxylessNASNets`: every choice block holds all its candidates.
///
/// Parameter paths follow the official model where they can (`first_conv`, `blocks.0`,
/// `feature_mix_layer`, `classifier`); choice blocks are `choice_blocks.B.candidates.J`.
#[derive(Module, Debug)]
pub struct Supernet {
    /// The first convolution.
    pub first_conv: ConvBnAct,
    /// The fixed first block.
    pub first_block: MobileInvertedBlock,
    /// The choice blocks, in the space's order.
    pub choice_blocks: Vec<ChoiceBlock<Option<MbConv>>>,
    /// The 1x1 convolution before pooling.
    pub feature_mix_layer: ConvBnAct,
    /// Dropout on the classifier's input.
    pub dropout: Dropout,
    /// The classifier.
    pub classifier: Linear,
}

impl Supernet {
    /// Builds the supernet of `space` on `device`, initialised as the paper's code does.
    pub fn new(space: &SearchSpace, device: &Device) -> Self {
        Self::with_initializer(space, None, device)
    }

    /// [`new`](Self::new) with every convolution initialised by `initializer` (`None`: the
    /// paper's `he_fout`; the classifier keeps the paper's U(±1/√fan_in) either way).
    pub fn with_initializer(
        space: &SearchSpace,
        initializer: Option<Initializer>,
        device: &Device,
    ) -> Self {
        // The fixed layers are those of any architecture's network.
        let spec = Architecture::widest(space).to_net_spec(space);
        let bn = spec.bn;
        let choice_blocks = space
            .choice_blocks()
            .iter()
            .map(|block| {
                let candidates = block
                    .candidates
                    .iter()
                    .map(|op| match op {
                        OpChoice::Zero => None,
                        OpChoice::MbConv(op) => Some(
                            MbConvConfig::new(
                                block.in_channels,
                                block.out_channels,
                                op.kernel_size,
                                block.in_channels * op.expand_ratio,
                            )
                            .with_stride(block.stride)
                            .with_expand(op.expand_ratio != 1)
                            .with_bn_momentum(bn.momentum)
                            .with_bn_eps(bn.eps)
                            .with_initializer(initializer.clone())
                            .init(device),
                        ),
                    })
                    .collect();
                ChoiceBlock::new(candidates, block.identity)
            })
            .collect();
        Self {
            first_conv: conv_layer_with(&spec.first_conv, &bn, initializer.clone(), device),
            first_block: MobileInvertedBlock::with_initializer(
                &spec.blocks[0],
                &bn,
                initializer.clone(),
                device,
            ),
            choice_blocks,
            feature_mix_layer: conv_layer_with(&spec.feature_mix, &bn, initializer, device),
            dropout: DropoutConfig::new(spec.classifier.dropout).init(),
            classifier: classifier(&spec.classifier, device),
        }
    }

    /// Class logits along `paths`.
    ///
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        let mut x = self.first_block.forward(self.first_conv.forward(x));
        for (i, block) in self.choice_blocks.iter().enumerate() {
            x = block.forward(x, paths, i);
        }
        let x = self.feature_mix_layer.forward(x);
        pool_and_classify(x, &self.dropout, &self.classifier)
    }
}

impl Searchable for Supernet {
    fn zero_candidates(&self) -> Vec<Vec<bool>> {
        self.choice_blocks
            .iter()
            .map(|b| b.zero_candidates::<4>())
            .collect()
    }

    fn forward_paths(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        self.forward(x, paths)
    }
}
