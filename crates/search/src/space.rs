//! What a search searches: an MBConv space ([`SearchSpace`], its [`Supernet`]) or a tree-cell
//! space ([`TreeSpace`], its [`TreeSupernet`]), behind one interface for the driver: name and
//! input, costs, the supernet, and the derived network in words, as JSON and as `net.config`.

use std::path::Path;

use burn::nn::Initializer;
use burn::prelude::*;
use proxyless_space::{Architecture, NetConfig, SearchSpace, TREE_PRESETS, TreeSpace, presets};
use proxyless_supernet::{Paths, Searchable, Supernet, TreeSupernet};

use crate::error::Result;

/// A search space of either kind.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Space {
    /// MBConv choice blocks (`imagenet`, `fmnist`, `cifar10`, or a TOML file).
    Mobile(SearchSpace),
    /// Tree-structured cells (`cifar-tree`, `cifar-tree-compact`, or a TOML file with a
    /// `[cell]` table).
    Tree(TreeSpace),
}

/// The image input a space takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceInput {
    /// Channels.
    pub channels: usize,
    /// Side.
    pub resolution: usize,
    /// Classes.
    pub classes: usize,
}

impl Space {
    /// A preset name or a TOML file of either kind.
    pub fn resolve(name_or_path: &str) -> Result<Self> {
        if let Some(space) = TreeSpace::preset(name_or_path) {
            return Ok(Self::Tree(space));
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml")
            && let Ok(text) = std::fs::read_to_string(path)
            && TreeSpace::describes(&text)
        {
            return Ok(Self::Tree(TreeSpace::from_toml_str(
                &text,
                &path.display().to_string(),
            )?));
        }
        presets::resolve(name_or_path)
            .map(Self::Mobile)
            .map_err(|e| match e {
                proxyless_space::Error::Invalid { message, .. }
                    if message.starts_with("unknown preset") =>
                {
                    proxyless_space::Error::invalid(
                        "arguments",
                        "space",
                        format!("{message} (tree-cell spaces: {})", TREE_PRESETS.join(", ")),
                    )
                    .into()
                }
                e => e.into(),
            })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            Self::Mobile(s) => &s.name,
            Self::Tree(s) => &s.name,
        }
    }

    /// The images it takes.
    pub fn input(&self) -> SpaceInput {
        match self {
            Self::Mobile(s) => SpaceInput {
                channels: s.input.channels,
                resolution: s.input.resolution,
                classes: s.classes,
            },
            Self::Tree(s) => SpaceInput {
                channels: s.input.channels,
                resolution: s.input.resolution,
                classes: s.input.classes,
            },
        }
    }

    /// The space as TOML.
    pub fn to_toml_string(&self) -> String {
        match self {
            Self::Mobile(s) => s.to_toml_string(),
            Self::Tree(s) => s.to_toml_string(),
        }
    }

    /// The architecture `choices` in words.
    pub fn text(&self, choices: &[usize]) -> String {
        match self {
            Self::Mobile(s) => architecture(s, choices).to_text(s),
            Self::Tree(s) => s.to_text(choices),
        }
    }

    /// The architecture `choices` as JSON (`final/architecture.json`).
    pub fn architecture_json(&self, choices: &[usize]) -> String {
        match self {
            Self::Mobile(s) => architecture(s, choices).to_json(s),
            Self::Tree(s) => {
                let json = serde_json::json!({
                    "space": s.name,
                    "choices": choices,
                    "architecture": s.to_text(choices),
                });
                serde_json::to_string_pretty(&json).expect("JSON serialises") + "\n"
            }
        }
    }

    /// The network of `choices`.
    pub fn net_config(&self, choices: &[usize]) -> Result<NetConfig> {
        Ok(match self {
            Self::Mobile(s) => NetConfig::Mobile(architecture(s, choices).to_net_spec(s)),
            Self::Tree(s) => NetConfig::Tree(s.net_config(choices, "derived")?),
        })
    }

    /// The supernet on `device`; `initializer` sets the MBConv supernet's convolutions (the
    /// tree supernet keeps the paper's `he_fout`).
    pub fn supernet(&self, initializer: Option<Initializer>, device: &Device) -> SuperModel {
        match self {
            Self::Mobile(s) => {
                SuperModel::Mobile(Supernet::with_initializer(s, initializer, device))
            }
            Self::Tree(s) => SuperModel::Tree(TreeSupernet::new(s, device)),
        }
    }
}

fn architecture(space: &SearchSpace, choices: &[usize]) -> Architecture {
    Architecture::from_indices(space, choices, "derived").expect("argmax picks candidates")
}

/// The supernet of a [`Space`]. Checkpoints hold the record of the supernet itself, so those
/// of MBConv searches read as they always have.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum SuperModel {
    /// The supernet of an MBConv space.
    Mobile(Supernet),
    /// The supernet of a tree-cell space.
    Tree(TreeSupernet),
}

impl SuperModel {
    /// Saves the supernet's weights to `path` (Burn's file recorder).
    pub fn save_file(&self, path: &Path) -> std::result::Result<(), String> {
        match self {
            Self::Mobile(m) => m.clone().save_file(path),
            Self::Tree(m) => m.clone().save_file(path),
        }
        .map_err(|e| e.to_string())
    }

    /// Loads weights saved by [`save_file`](Self::save_file) into this supernet.
    pub fn load_file(self, path: &Path) -> std::result::Result<Self, String> {
        match self {
            Self::Mobile(m) => m.try_load_file(path).map(Self::Mobile),
            Self::Tree(m) => m.try_load_file(path).map(Self::Tree),
        }
        .map_err(|e| e.to_string())
    }
}

impl Searchable for SuperModel {
    fn zero_candidates(&self) -> Vec<Vec<bool>> {
        match self {
            Self::Mobile(m) => m.zero_candidates(),
            Self::Tree(m) => m.zero_candidates(),
        }
    }

    fn forward_paths(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        match self {
            Self::Mobile(m) => m.forward_paths(x, paths),
            Self::Tree(m) => m.forward_paths(x, paths),
        }
    }
}
