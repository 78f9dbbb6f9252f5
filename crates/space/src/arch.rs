//! Architectures: one choice per choice block of a space, as compact text or JSON.

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, from_json};
use crate::net_spec::{BlockOp, BlockSpec, ConvSpec, LinearSpec, NetSpec};
use crate::{ChoiceBlock, OpChoice, SearchSpace};

/// One choice per choice block of a [`SearchSpace`].
///
/// The text form lists the choices in order, separated by spaces, with `|` between stages:
/// `k3e3 k3e6 zero zero | k5e6 ...`. Parsing accepts the separators or leaves them out, but
/// where they are given they must fall on stage boundaries.
///
/// ```
/// use proxyless_space::{presets, Architecture};
///
/// let space = presets::load("fmnist").unwrap();
/// let arch = Architecture::widest(&space);
/// let text = arch.to_text(&space);
/// assert_eq!(Architecture::parse(&text, &space, "example").unwrap(), arch);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Architecture {
    choices: Vec<OpChoice>,
}

/// The JSON form: the space's name and a label -> choice map.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchitectureJson {
    space: String,
    choices: BTreeMap<String, OpChoice>,
}

/// Only the space's name of an architecture JSON document.
#[derive(Debug, Deserialize)]
struct SpaceNameJson {
    space: String,
}

impl Architecture {
    /// Checks `choices` against the space: one per choice block, each among its candidates.
    pub fn new(space: &SearchSpace, choices: Vec<OpChoice>, origin: &str) -> Result<Self> {
        let blocks = space.choice_blocks();
        if choices.len() != blocks.len() {
            return Err(Error::invalid(
                origin,
                "choices",
                format!(
                    "space '{}' has {} choice blocks, got {} choices",
                    space.name,
                    blocks.len(),
                    choices.len()
                ),
            ));
        }
        for (block, choice) in blocks.iter().zip(&choices) {
            check_candidate(block, *choice, origin, &block.label())?;
        }
        Ok(Self { choices })
    }

    /// The architecture that picks candidate `indices[b]` of every choice block `b` (the
    /// supernet's and the cost tables' numbering).
    pub fn from_indices(space: &SearchSpace, indices: &[usize], origin: &str) -> Result<Self> {
        let blocks = space.choice_blocks();
        let mut choices = Vec::with_capacity(indices.len());
        for (block, &j) in blocks.iter().zip(indices) {
            let choice = block.candidates.get(j).copied().ok_or_else(|| {
                Error::invalid(
                    origin,
                    block.label(),
                    format!("candidate {j} of {}", block.candidates.len()),
                )
            })?;
            choices.push(choice);
        }
        if indices.len() != blocks.len() {
            choices.clear();
        }
        Self::new(space, choices, origin)
    }

    /// The choices in block order.
    pub fn choices(&self) -> &[OpChoice] {
        &self.choices
    }

    /// The candidate index of every choice block (the inverse of
    /// [`from_indices`](Self::from_indices)); `space` must be the space the architecture was
    /// made for.
    pub fn indices(&self, space: &SearchSpace) -> Vec<usize> {
        space
            .choice_blocks()
            .iter()
            .zip(&self.choices)
            .map(|(b, &op)| {
                b.candidate_index(op)
                    .expect("an architecture only picks candidates of its space")
            })
            .collect()
    }

    /// The architecture taking, in every block, the candidate with the most weights
    /// (largest expansion, then largest kernel).
    pub fn widest(space: &SearchSpace) -> Self {
        let choices = space
            .choice_blocks()
            .iter()
            .map(|b| {
                *b.candidates
                    .iter()
                    .max_by_key(|op| op.mbconv().map(|m| (m.expand_ratio, m.kernel_size)))
                    .expect("validated spaces have candidates")
            })
            .collect();
        Self { choices }
    }

    /// An architecture drawn uniformly, each block independently.
    pub fn random(space: &SearchSpace, rng: &mut impl Rng) -> Self {
        let choices = space
            .choice_blocks()
            .iter()
            .map(|b| {
                *b.candidates
                    .choose(rng)
                    .expect("validated spaces have candidates")
            })
            .collect();
        Self { choices }
    }

    /// The compact text form, with `|` between stages.
    pub fn to_text(&self, space: &SearchSpace) -> String {
        let mut text = String::new();
        for (block, choice) in space.choice_blocks().iter().zip(&self.choices) {
            if block.index > 0 {
                text.push_str(if block.position == 1 { " | " } else { " " });
            }
            text.push_str(&choice.to_string());
        }
        text
    }

    /// Parses the compact text form; `origin` names its source in errors.
    pub fn parse(text: &str, space: &SearchSpace, origin: &str) -> Result<Self> {
        let blocks = space.choice_blocks();
        let mut choices = Vec::with_capacity(blocks.len());
        let mut after_separator = false;
        for (n, token) in text.split_whitespace().enumerate() {
            let field = format!("token {} ('{token}')", n + 1);
            if token == "|" {
                let at_boundary = blocks
                    .get(choices.len())
                    .is_some_and(|b| b.position == 1 && b.index > 0);
                if !at_boundary || after_separator {
                    return Err(Error::invalid(
                        origin,
                        field,
                        format!(
                            "a stage separator must stand between stages, found one after {} choices",
                            choices.len()
                        ),
                    ));
                }
                after_separator = true;
                continue;
            }
            after_separator = false;
            let choice: OpChoice = token
                .parse()
                .map_err(|e: crate::op::ParseOpError| Error::invalid(origin, &field, e.0))?;
            let Some(block) = blocks.get(choices.len()) else {
                return Err(Error::invalid(
                    origin,
                    field,
                    format!(
                        "space '{}' has only {} choice blocks",
                        space.name,
                        blocks.len()
                    ),
                ));
            };
            check_candidate(block, choice, origin, &field)?;
            choices.push(choice);
        }
        if choices.len() != blocks.len() {
            return Err(Error::invalid(
                origin,
                "choices",
                format!(
                    "space '{}' has {} choice blocks, got {} choices",
                    space.name,
                    blocks.len(),
                    choices.len()
                ),
            ));
        }
        Ok(Self { choices })
    }

    /// The JSON form: `{"space": NAME, "choices": {"stage1.block1": "k3e6", ...}}`.
    pub fn to_json(&self, space: &SearchSpace) -> String {
        let json = ArchitectureJson {
            space: space.name.clone(),
            choices: space
                .choice_blocks()
                .iter()
                .zip(&self.choices)
                .map(|(b, c)| (b.label(), *c))
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&json).expect("architectures serialise");
        text.push('\n');
        text
    }

    /// The name of the space an architecture JSON document was made for.
    pub fn json_space_name(text: &str, origin: &str) -> Result<String> {
        Ok(from_json::<SpaceNameJson>(text, origin)?.space)
    }

    /// Parses the JSON form; the document must name `space` and cover each of its blocks.
    pub fn from_json_str(text: &str, space: &SearchSpace, origin: &str) -> Result<Self> {
        let json: ArchitectureJson = from_json(text, origin)?;
        if json.space != space.name {
            return Err(Error::invalid(
                origin,
                "space",
                format!(
                    "the architecture is for space '{}', not '{}'",
                    json.space, space.name
                ),
            ));
        }
        let blocks = space.choice_blocks();
        let mut choices = Vec::with_capacity(blocks.len());
        for block in &blocks {
            let label = block.label();
            let Some(choice) = json.choices.get(&label) else {
                return Err(Error::invalid(
                    origin,
                    format!("choices.{label}"),
                    "missing: every choice block needs a choice",
                ));
            };
            check_candidate(block, *choice, origin, &format!("choices.{label}"))?;
            choices.push(*choice);
        }
        if let Some(unknown) = json
            .choices
            .keys()
            .find(|k| !blocks.iter().any(|b| &b.label() == *k))
        {
            return Err(Error::invalid(
                origin,
                format!("choices.{unknown}"),
                format!("space '{}' has no block of that name", space.name),
            ));
        }
        Ok(Self { choices })
    }

    /// The child network this architecture picks from the space.
    pub fn to_net_spec(&self, space: &SearchSpace) -> NetSpec {
        let stem = space.stem_channels();
        let first = space.first_block_channels();
        let mut blocks = vec![BlockSpec {
            in_channels: stem,
            out_channels: first,
            stride: 1,
            op: BlockOp::MbConv {
                kernel_size: space.first_block.kernel_size,
                expand_ratio: space.first_block.expand_ratio,
                mid_channels: None,
            },
            shortcut: false,
        }];
        for (block, choice) in space.choice_blocks().iter().zip(&self.choices) {
            blocks.push(block_spec(block, *choice));
        }
        let last = space.stage_channels(space.stages.len() - 1);
        let mix = space.feature_mix_channels();
        NetSpec {
            first_conv: ConvSpec {
                in_channels: space.input.channels,
                out_channels: stem,
                kernel_size: space.stem.kernel_size,
                stride: space.stem.stride,
            },
            blocks,
            feature_mix: ConvSpec {
                in_channels: last,
                out_channels: mix,
                kernel_size: 1,
                stride: 1,
            },
            classifier: LinearSpec {
                in_features: mix,
                out_features: space.classes,
                dropout: space.head.dropout,
            },
            bn: space.bn,
        }
    }

    /// Recovers the architecture of a network built from `space`: every fixed layer and every
    /// block's shape must be the space's. `origin` names the network's source in errors.
    pub fn from_net_spec(net: &NetSpec, space: &SearchSpace, origin: &str) -> Result<Self> {
        let blocks = space.choice_blocks();
        let mismatch = |field: String, what: &str| {
            Error::invalid(
                origin,
                field,
                format!("does not match space '{}': {what}", space.name),
            )
        };
        if net.blocks.len() != blocks.len() + 1 {
            return Err(mismatch(
                "blocks".into(),
                &format!(
                    "expected {} blocks (the first block and {} choice blocks), got {}",
                    blocks.len() + 1,
                    blocks.len(),
                    net.blocks.len()
                ),
            ));
        }
        let mut choices = Vec::with_capacity(blocks.len());
        for (block, spec) in blocks.iter().zip(&net.blocks[1..]) {
            let choice = spec.choice();
            let field = format!("blocks[{}]", block.index + 1);
            check_candidate(block, choice, origin, &field)?;
            if *spec != block_spec(block, choice) {
                return Err(mismatch(
                    field,
                    &format!(
                        "expected {} -> {} channels, stride {}{}",
                        block.in_channels,
                        block.out_channels,
                        block.stride,
                        if block.identity {
                            ", identity shortcut"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            choices.push(choice);
        }
        let arch = Self { choices };
        let mut rebuilt = arch.to_net_spec(space);
        // Dropout and BatchNorm settings belong to training, not to the architecture.
        rebuilt.classifier.dropout = net.classifier.dropout;
        rebuilt.bn = net.bn;
        if rebuilt.first_conv != net.first_conv {
            return Err(mismatch("first_conv".into(), "different stem"));
        }
        if rebuilt.blocks[0] != net.blocks[0] {
            return Err(mismatch("blocks[0]".into(), "different first block"));
        }
        if rebuilt.feature_mix != net.feature_mix || rebuilt.classifier != net.classifier {
            return Err(mismatch("feature_mix_layer".into(), "different head"));
        }
        Ok(arch)
    }
}

/// The block that `choice` makes of `block`.
pub(crate) fn block_spec(block: &ChoiceBlock, choice: OpChoice) -> BlockSpec {
    BlockSpec {
        in_channels: block.in_channels,
        out_channels: block.out_channels,
        stride: block.stride,
        op: match choice {
            OpChoice::MbConv(op) => BlockOp::MbConv {
                kernel_size: op.kernel_size,
                expand_ratio: op.expand_ratio,
                mid_channels: None,
            },
            OpChoice::Zero => BlockOp::Zero,
        },
        shortcut: block.identity,
    }
}

fn check_candidate(block: &ChoiceBlock, choice: OpChoice, origin: &str, field: &str) -> Result<()> {
    if block.candidate_index(choice).is_none() {
        let allowed: Vec<String> = block.candidates.iter().map(|c| c.to_string()).collect();
        let why = if choice.is_zero() {
            " (zero needs an identity shortcut: stride 1 and equal widths)"
        } else {
            ""
        };
        return Err(Error::invalid(
            origin,
            field,
            format!(
                "'{choice}' is not a candidate of {}{why}; expected one of {}",
                block.label(),
                allowed.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn text_and_json_round_trip_for_random_architectures() {
        let mut rng = StdRng::seed_from_u64(7);
        for name in presets::NAMES {
            let space = presets::load(name).unwrap();
            for _ in 0..20 {
                let arch = Architecture::random(&space, &mut rng);
                let text = arch.to_text(&space);
                assert_eq!(Architecture::parse(&text, &space, "t").unwrap(), arch);
                let plain = text.replace(" |", "");
                assert_eq!(Architecture::parse(&plain, &space, "t").unwrap(), arch);
                let indices = arch.indices(&space);
                assert_eq!(
                    Architecture::from_indices(&space, &indices, "i").unwrap(),
                    arch
                );
                let json = arch.to_json(&space);
                assert_eq!(
                    Architecture::from_json_str(&json, &space, "j").unwrap(),
                    arch
                );
                let net = arch.to_net_spec(&space);
                net.validate("net").unwrap();
                assert_eq!(
                    Architecture::from_net_spec(&net, &space, "n").unwrap(),
                    arch
                );
            }
        }
    }

    #[test]
    fn misplaced_separator_is_rejected() {
        let space = presets::load("imagenet").unwrap();
        let text = Architecture::widest(&space).to_text(&space);
        let moved = text.replacen(" | ", " ", 1).replacen(" ", " | ", 1);
        let err = Architecture::parse(&moved, &space, "arch.txt").unwrap_err();
        assert!(err.to_string().contains("stage separator"), "{err}");
    }

    #[test]
    fn zero_where_not_allowed_is_rejected() {
        let space = presets::load("imagenet").unwrap();
        let text = Architecture::widest(&space).to_text(&space);
        let bad = text.replacen("k7e6", "zero", 1);
        let err = Architecture::parse(&bad, &space, "arch.txt").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("arch.txt: token 1 ('zero')"), "{msg}");
        assert!(msg.contains("identity shortcut"), "{msg}");
    }
}
