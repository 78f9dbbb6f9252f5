//! Search spaces as data: a MobileNetV2-style backbone with choice blocks, loaded from TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bounds::{
    MAX_BLOCKS, MAX_CHANNELS, MAX_CLASSES, MAX_DEPTH, MAX_EXPAND, MAX_KERNEL, MAX_RESOLUTION,
    check_at_most, check_parameters, check_positive,
};
use crate::error::{Error, Result, read_to_string};
use crate::net_spec::BnSpec;
use crate::{MbConvOp, OpChoice, conv_output_size, make_divisible};

/// A search space: fixed stem, first block and head around stages of choice blocks.
///
/// The layout follows `SuperProxylessNASNets` of the paper's code: a 3x3 stem convolution,
/// a fixed MBConv1 first block, then stages of choice blocks (only the first block of a stage
/// uses the stage stride), a 1x1 feature-mix convolution, global average pooling and a linear
/// classifier. Widths are scaled by `width_mult` with [`make_divisible`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    /// Short name, used in architecture files and run directories.
    pub name: String,
    /// One line saying what the space is for.
    #[serde(default)]
    pub description: String,
    /// Input image channels and side.
    pub input: InputSpec,
    /// Number of classes of the classifier.
    pub classes: usize,
    /// Width multiplier applied to every width.
    #[serde(default = "one")]
    pub width_mult: f64,
    /// The first convolution.
    pub stem: StemSpec,
    /// The fixed (not searched) first MBConv block.
    pub first_block: FirstBlockSpec,
    /// The stages of choice blocks, in order.
    pub stages: Vec<StageSpec>,
    /// What each choice block may pick.
    pub candidates: CandidateSpec,
    /// Feature mix layer and classifier.
    pub head: HeadSpec,
    /// BatchNorm settings of every layer.
    #[serde(default)]
    pub bn: BnSpec,
}

fn one() -> f64 {
    1.0
}

fn default_stem_kernel() -> usize {
    3
}

fn default_stem_stride() -> usize {
    2
}

fn default_first_kernel() -> usize {
    3
}

fn default_first_expand() -> usize {
    1
}

/// Input images: channels and side length (square).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Channels (3 for colour, 1 for grayscale).
    pub channels: usize,
    /// Side of the square input in pixels.
    pub resolution: usize,
}

/// The first convolution (conv, BN, ReLU6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StemSpec {
    /// Output channels before the width multiplier.
    pub channels: usize,
    /// Kernel side (default 3).
    #[serde(default = "default_stem_kernel")]
    pub kernel_size: usize,
    /// Stride (default 2).
    #[serde(default = "default_stem_stride")]
    pub stride: usize,
}

/// The fixed first block: an MBConv with stride 1 and no shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstBlockSpec {
    /// Output channels before the width multiplier.
    pub channels: usize,
    /// Depthwise kernel side (default 3).
    #[serde(default = "default_first_kernel")]
    pub kernel_size: usize,
    /// Expansion ratio (default 1: no 1x1 expansion).
    #[serde(default = "default_first_expand")]
    pub expand_ratio: usize,
}

/// One stage: `depth` choice blocks of output `width`; the first uses `stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Output channels before the width multiplier.
    pub width: usize,
    /// Number of choice blocks.
    pub depth: usize,
    /// Stride of the first block (1 or 2).
    pub stride: usize,
}

/// Where the Zero (skip) candidate is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZeroRule {
    /// Wherever the block has an identity shortcut (stride 1 and equal widths), as in the paper.
    WhereIdentity,
    /// Nowhere: every block keeps its depth.
    Never,
}

/// The candidate set of every choice block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateSpec {
    /// MBConv candidates, in order (`["k3e3", "k3e6", ...]`).
    pub ops: Vec<MbConvOp>,
    /// Where Zero is added (after the MBConv candidates).
    pub zero: ZeroRule,
}

/// The head: 1x1 feature-mix convolution, pooling, dropout and the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// Output channels of the feature-mix layer; scaled only when `width_mult > 1`.
    pub feature_mix_channels: usize,
    /// Dropout before the classifier.
    #[serde(default)]
    pub dropout: f64,
}

/// One choice block of a space, with its place and shape resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceBlock {
    /// Position among the choice blocks (0-based).
    pub index: usize,
    /// Stage (1-based, as in the label).
    pub stage: usize,
    /// Position inside the stage (1-based, as in the label).
    pub position: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Stride.
    pub stride: usize,
    /// Whether the block has an identity shortcut (stride 1, equal widths).
    pub identity: bool,
    /// What the block may pick, in order: the MBConv candidates, then Zero where allowed.
    pub candidates: Vec<OpChoice>,
}

impl ChoiceBlock {
    /// Stable label of the block, for example `stage2.block3`.
    pub fn label(&self) -> String {
        format!("stage{}.block{}", self.stage, self.position)
    }

    /// Index of `op` among the candidates, if it is one.
    pub fn candidate_index(&self, op: OpChoice) -> Option<usize> {
        self.candidates.iter().position(|c| *c == op)
    }
}

impl SearchSpace {
    /// Parses a space from TOML text; `origin` names the text's source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let space: SearchSpace = toml::from_str(text).map_err(|e| Error::Toml {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        space.validate(origin)?;
        Ok(space)
    }

    /// Reads a space from a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_toml_str(&read_to_string(path)?, &path.display().to_string())
    }

    /// Renders the space as TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("a search space always serialises to TOML")
    }

    /// Checks every value; `origin` names the source in errors.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, message: String| Err(Error::invalid(origin, field, message));
        if self.name.trim().is_empty() {
            return bad("name", "expected a non-empty name".into());
        }
        if self.input.channels == 0 {
            return bad(
                "input.channels",
                "expected at least 1 channel, got 0".into(),
            );
        }
        if self.input.resolution == 0 {
            return bad("input.resolution", "expected a positive side, got 0".into());
        }
        if self.classes == 0 {
            return bad("classes", "expected at least 1 class, got 0".into());
        }
        if !(self.width_mult.is_finite() && self.width_mult > 0.0 && self.width_mult <= 64.0) {
            return bad(
                "width_mult",
                format!(
                    "expected a positive number up to 64, got {}",
                    self.width_mult
                ),
            );
        }
        check_at_most(origin, "input.channels", self.input.channels, MAX_CHANNELS)?;
        check_at_most(
            origin,
            "input.resolution",
            self.input.resolution,
            MAX_RESOLUTION,
        )?;
        check_at_most(origin, "classes", self.classes, MAX_CLASSES)?;
        check_at_most(origin, "stem.channels", self.stem.channels, MAX_CHANNELS)?;
        check_at_most(
            origin,
            "first_block.channels",
            self.first_block.channels,
            MAX_CHANNELS,
        )?;
        check_at_most(
            origin,
            "first_block.expand_ratio",
            self.first_block.expand_ratio,
            MAX_EXPAND,
        )?;
        check_at_most(
            origin,
            "head.feature_mix_channels",
            self.head.feature_mix_channels,
            MAX_CHANNELS,
        )?;
        check_kernel(origin, "stem.kernel_size", self.stem.kernel_size)?;
        check_at_most(
            origin,
            "stem.kernel_size",
            self.stem.kernel_size,
            MAX_KERNEL,
        )?;
        check_at_most(
            origin,
            "first_block.kernel_size",
            self.first_block.kernel_size,
            MAX_KERNEL,
        )?;
        check_stride(origin, "stem.stride", self.stem.stride)?;
        check_positive(origin, "stem.channels", self.stem.channels)?;
        check_positive(origin, "first_block.channels", self.first_block.channels)?;
        check_kernel(
            origin,
            "first_block.kernel_size",
            self.first_block.kernel_size,
        )?;
        check_positive(
            origin,
            "first_block.expand_ratio",
            self.first_block.expand_ratio,
        )?;
        if self.stages.is_empty() {
            return bad("stages", "expected at least one stage".into());
        }
        for (i, stage) in self.stages.iter().enumerate() {
            check_positive(origin, &format!("stages[{i}].width"), stage.width)?;
            check_positive(origin, &format!("stages[{i}].depth"), stage.depth)?;
            check_at_most(
                origin,
                &format!("stages[{i}].width"),
                stage.width,
                MAX_CHANNELS,
            )?;
            check_at_most(
                origin,
                &format!("stages[{i}].depth"),
                stage.depth,
                MAX_DEPTH,
            )?;
            check_stride(origin, &format!("stages[{i}].stride"), stage.stride)?;
        }
        let blocks: usize = self.stages.iter().map(|stage| stage.depth).sum();
        check_at_most(origin, "stages (their depths summed)", blocks, MAX_BLOCKS)?;
        if self.candidates.ops.is_empty() {
            return bad("candidates.ops", "expected at least one op".into());
        }
        for (i, op) in self.candidates.ops.iter().enumerate() {
            if self.candidates.ops[..i].contains(op) {
                return bad(
                    &format!("candidates.ops[{i}]"),
                    format!("'{op}' is listed twice"),
                );
            }
        }
        check_positive(
            origin,
            "head.feature_mix_channels",
            self.head.feature_mix_channels,
        )?;
        if !(0.0..1.0).contains(&self.head.dropout) {
            return bad(
                "head.dropout",
                format!("expected a rate in [0, 1), got {}", self.head.dropout),
            );
        }
        self.bn.validate(origin, "bn")?;
        let mut size = conv_output_size(
            self.input.resolution,
            self.stem.kernel_size,
            self.stem.stride,
        );
        for (i, stage) in self.stages.iter().enumerate() {
            if size == 1 && stage.stride > 1 {
                return bad(
                    &format!("stages[{i}].stride"),
                    format!(
                        "the feature map is already 1x1 at this stage (input resolution {})",
                        self.input.resolution
                    ),
                );
            }
            size = conv_output_size(size, 1, stage.stride);
        }
        self.check_scaled_widths(origin)?;
        self.check_supernet_size(origin)
    }

    /// The widths as built, scaled by `width_mult`, and every candidate's expanded middle are
    /// channels too, bounded like those the file states.
    fn check_scaled_widths(&self, origin: &str) -> Result<()> {
        let scaled = |field: &str| format!("{field} (scaled by width_mult {})", self.width_mult);
        check_at_most(
            origin,
            &scaled("stem.channels"),
            self.stem_channels(),
            MAX_CHANNELS,
        )?;
        let first = self.first_block_channels();
        check_at_most(origin, &scaled("first_block.channels"), first, MAX_CHANNELS)?;
        for i in 0..self.stages.len() {
            let field = scaled(&format!("stages[{i}].width"));
            check_at_most(origin, &field, self.stage_channels(i), MAX_CHANNELS)?;
        }
        let mix = self.feature_mix_channels();
        check_at_most(
            origin,
            &scaled("head.feature_mix_channels"),
            mix,
            MAX_CHANNELS,
        )?;
        for block in self.choice_blocks() {
            for op in &block.candidates {
                if let OpChoice::MbConv(op) = op {
                    let field = format!("{} {op} (its expanded middle)", block.label());
                    let middle = block.in_channels * op.expand_ratio;
                    check_at_most(origin, &field, middle, MAX_CHANNELS)?;
                }
            }
        }
        Ok(())
    }

    /// The supernet (every candidate of every block) must hold at most
    /// [`MAX_PARAMETERS`](crate::bounds::MAX_PARAMETERS) weights; counted at a 1x1 input,
    /// where parameters are what they are at any side and no MAC count can overflow.
    fn check_supernet_size(&self, origin: &str) -> Result<()> {
        let summary = self.summary(Some(1))?;
        // The last of equals wins: a block before the fixed layers.
        let largest = std::iter::once(("the fixed layers", summary.fixed_params))
            .chain(
                summary
                    .blocks
                    .iter()
                    .map(|b| (b.label.as_str(), b.supernet_params)),
            )
            .max_by_key(|&(_, params)| params)
            .expect("the fixed layers are always there");
        check_parameters(origin, summary.supernet_params, largest)
    }

    /// Channels after the stem.
    pub fn stem_channels(&self) -> usize {
        make_divisible(self.stem.channels as f64 * self.width_mult, 8)
    }

    /// Channels after the fixed first block.
    pub fn first_block_channels(&self) -> usize {
        make_divisible(self.first_block.channels as f64 * self.width_mult, 8)
    }

    /// Output channels of stage `i` (0-based).
    pub fn stage_channels(&self, i: usize) -> usize {
        make_divisible(self.stages[i].width as f64 * self.width_mult, 8)
    }

    /// Channels of the feature-mix layer: scaled only when the width multiplier exceeds 1.
    pub fn feature_mix_channels(&self) -> usize {
        if self.width_mult > 1.0 {
            make_divisible(self.head.feature_mix_channels as f64 * self.width_mult, 8)
        } else {
            self.head.feature_mix_channels
        }
    }

    /// The choice blocks in order, with shapes and candidates resolved.
    pub fn choice_blocks(&self) -> Vec<ChoiceBlock> {
        let mut blocks = Vec::new();
        let mut in_channels = self.first_block_channels();
        for (s, stage) in self.stages.iter().enumerate() {
            let out_channels = self.stage_channels(s);
            for position in 0..stage.depth {
                let stride = if position == 0 { stage.stride } else { 1 };
                let identity = stride == 1 && in_channels == out_channels;
                let mut candidates: Vec<OpChoice> = self
                    .candidates
                    .ops
                    .iter()
                    .map(|op| OpChoice::MbConv(*op))
                    .collect();
                if identity && self.candidates.zero == ZeroRule::WhereIdentity {
                    candidates.push(OpChoice::Zero);
                }
                blocks.push(ChoiceBlock {
                    index: blocks.len(),
                    stage: s + 1,
                    position: position + 1,
                    in_channels,
                    out_channels,
                    stride,
                    identity,
                    candidates,
                });
                in_channels = out_channels;
            }
        }
        blocks
    }

    /// Number of architecture parameters (one logit per candidate per block).
    pub fn num_arch_params(&self) -> usize {
        self.choice_blocks()
            .iter()
            .map(|b| b.candidates.len())
            .sum()
    }

    /// Number of distinct architectures, as a float (it overflows integers quickly).
    pub fn num_architectures(&self) -> f64 {
        self.choice_blocks()
            .iter()
            .map(|b| b.candidates.len() as f64)
            .product()
    }
}

fn check_kernel(origin: &str, field: &str, value: usize) -> Result<()> {
    if !crate::is_odd_kernel(value) {
        return Err(Error::invalid(
            origin,
            field,
            format!("expected an odd kernel size, got {value}"),
        ));
    }
    Ok(())
}

fn check_stride(origin: &str, field: &str, value: usize) -> Result<()> {
    if !(value == 1 || value == 2) {
        return Err(Error::invalid(
            origin,
            field,
            format!("expected stride 1 or 2, got {value}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn imagenet_space_has_the_papers_shape() {
        let space = presets::load("imagenet").unwrap();
        let blocks = space.choice_blocks();
        assert_eq!(blocks.len(), 21);
        // 6 blocks without Zero (the first of each stage), 15 with it: 6*6 + 15*7.
        assert_eq!(blocks.iter().filter(|b| b.identity).count(), 15);
        assert_eq!(space.num_arch_params(), 141);
        let size = space.num_architectures();
        assert!((size / (6f64.powi(6) * 7f64.powi(15)) - 1.0).abs() < 1e-12);
        assert_eq!(blocks[0].label(), "stage1.block1");
        assert_eq!((blocks[0].in_channels, blocks[0].out_channels), (16, 24));
        // The stride-1 block 80 -> 96 has no identity and so no Zero.
        let b = &blocks[12];
        assert_eq!((b.in_channels, b.out_channels, b.stride), (80, 96, 1));
        assert!(!b.identity && !b.candidates.contains(&OpChoice::Zero));
    }

    #[test]
    fn width_multiplier_scales_every_width() {
        let mut space = presets::load("imagenet").unwrap();
        space.width_mult = 1.4;
        assert_eq!(space.stem_channels(), 48);
        assert_eq!(space.first_block_channels(), 24);
        assert_eq!(space.stage_channels(5), 448);
        assert_eq!(space.feature_mix_channels(), 1792);
        space.width_mult = 0.5;
        assert_eq!(space.feature_mix_channels(), 1280);
    }

    #[test]
    fn sizes_beyond_any_network_are_refused() {
        let text = presets::load("fmnist").unwrap().to_toml_string();
        let huge = text.replacen("depth = 1", "depth = 14294967296", 1);
        let err = SearchSpace::from_toml_str(&huge, "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.toml") && err.contains("depth") && err.contains("at most 256"),
            "{err}"
        );
        let wide = text.replacen("channels = 1", "channels = 100000", 1);
        assert!(SearchSpace::from_toml_str(&wide, "s.toml").is_err());
        // Every width within its bound, scaled beyond it.
        let mut space = presets::load("fmnist").unwrap();
        space.width_mult = 64.0;
        space.stages[0].width = 2000;
        let err = SearchSpace::from_toml_str(&space.to_toml_string(), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("scaled by width_mult 64"), "{err}");
        // Every width within its bound, the supernet beyond any network: named with the
        // block that holds the most weights.
        let mut space = presets::load("fmnist").unwrap();
        space.width_mult = 64.0;
        let err = SearchSpace::from_toml_str(&space.to_toml_string(), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.toml") && err.contains("stage") && err.contains("at most 1073741824"),
            "{err}"
        );
        // Many stages of bounded depth: their sum is bounded too.
        let mut space = presets::load("fmnist").unwrap();
        let stage = space.stages[1];
        space.stages = vec![stage; 4000];
        space.stages.iter_mut().for_each(|s| s.stride = 1);
        let err = SearchSpace::from_toml_str(&space.to_toml_string(), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("depths summed") && err.contains("at most 4096"),
            "{err}"
        );
    }

    #[test]
    fn toml_round_trips() {
        for name in presets::NAMES {
            let space = presets::load(name).unwrap();
            let text = space.to_toml_string();
            assert_eq!(
                SearchSpace::from_toml_str(&text, "round trip").unwrap(),
                space
            );
        }
    }
}
