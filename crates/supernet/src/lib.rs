//! ProxylessNAS supernets on Burn (Cai, Zhu, Han, ICLR 2019): binarized paths over choice
//! blocks, so that training the supernet costs about what training one network costs.
//!
//! - [`Candidate`] and [`ChoiceBlock`]: a block that runs one of several candidate modules;
//!   any Burn model can hold choice blocks over its own candidates (see [`Searchable`]).
//! - [`Paths`]: which candidate each block runs in one forward pass: one sampled path
//!   (weight steps, REINFORCE), or the gated paths of an architecture step in the modes
//!   `two`, `full` and `full_v2` ([`ArchMode`]), which record what the BinaryConnect gate
//!   gradients ∂L/∂g_j = ⟨o_j, ∂L/∂y⟩ need.
//! - [`ArchParams`]: the architecture parameters α, kept on the host apart from the weights,
//!   with their own Adam, the sampling rules of the paper, the rescale of mode `two`, argmax
//!   derivation and entropy.
//! - [`gradient`]: the formulas that turn gate gradients, the expected-latency term and
//!   REINFORCE rewards into α gradients.
//! - [`Supernet`]: the supernet of a [`SearchSpace`](proxyless_space::SearchSpace);
//!   [`TreeSupernet`]: that of a tree-cell [`TreeSpace`](proxyless_space::TreeSpace).
//! - [`steps`]: one weight step, architecture step (ProxylessNAS-G), REINFORCE update
//!   (ProxylessNAS-R) or evaluation of any [`Searchable`] model, given its batches and the
//!   weights' optimiser: with these a Burn project searches its own model.
//!
//! The supernet knows nothing of data sets, schedules or run directories: the search driver
//! combines them.

mod arch_params;
mod candidate;
mod choice_block;
pub mod gradient;
mod paths;
pub mod steps;
mod supernet;
mod tree_supernet;

pub use arch_params::{AdamSettings, ArchMode, ArchParams};
pub use candidate::Candidate;
pub use choice_block::ChoiceBlock;
pub use paths::{BlockPath, GateGradients, Paths, PathsKind};
pub use supernet::Supernet;
pub use tree_supernet::{SuperNode, SuperTreeBlock, TreeSupernet};

use burn::prelude::*;

/// A Burn model whose choice blocks a search can drive.
///
/// Implement it for a model that holds [`ChoiceBlock`]s: report which candidates are Zero
/// (cost-free skips) in every block, in a fixed block order, and forward with the [`Paths`]
/// of a step, giving block `i` its index when calling [`ChoiceBlock::forward`].
pub trait Searchable: Module {
    /// For every choice block in order, for every candidate, whether it is the Zero op.
    fn zero_candidates(&self) -> Vec<Vec<bool>>;

    /// Class logits `[batch, classes]` of images `[batch, channels, height, width]` along
    /// `paths`.
    fn forward_paths(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2>;
}
