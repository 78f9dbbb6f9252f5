//! Search spaces, architectures and network descriptions for ProxylessNAS, without tensors.
//!
//! This crate describes *what* a network is and *what* a search may choose, and answers
//! questions about cost (parameters, multiply-accumulates) from the description alone. It has
//! no Burn dependency, so other projects can embed it cheaply.
//!
//! - [`SearchSpace`]: a MobileNetV2-style backbone whose choice blocks each pick one
//!   [`OpChoice`] (MBConv with a kernel size and expansion ratio, or [`OpChoice::Zero`],
//!   a skip, where the block has an identity shortcut). Spaces load from TOML; the
//!   paper's ImageNet space and compact spaces for small images are [`presets`].
//! - [`Architecture`]: one choice per choice block, with a compact text form
//!   (`k5e3 k3e6 zero ...`) and JSON.
//! - [`NetSpec`]: a concrete child network, imported from and exported to the official
//!   `net.config` JSON of ProxylessNAS (Cai, Zhu, Han, ICLR 2019).
//! - [`NetCost`]: parameter and multiply-accumulate counts, per block and in total.
//!
//! ```
//! use proxyless_space::{presets, Architecture};
//!
//! let space = presets::load("imagenet").unwrap();
//! assert_eq!(space.choice_blocks().len(), 21);
//! assert_eq!(space.num_arch_params(), 141);
//!
//! let arch = Architecture::widest(&space);
//! let net = arch.to_net_spec(&space);
//! let cost = net.cost(224).unwrap();
//! assert!(cost.params > 1_000_000);
//! ```

mod arch;
mod band;
pub mod bounds;
mod cost;
mod divisible;
mod error;
mod net_config;
mod net_spec;
mod network;
mod op;
pub mod presets;
mod space;
mod tree;
mod tree_space;

pub use arch::Architecture;
pub use band::BandSampler;
pub use cost::{CandidateCosts, ChoiceBlockCost, LayerCost, NetCost, SpaceSummary};
pub use divisible::make_divisible;
pub use error::{Error, Result};
pub use net_spec::{BlockOp, BlockSpec, BnSpec, ConvSpec, LinearSpec, NetSpec};
pub use network::{NetConfig, TREE_NET_SIDE};
pub use op::{MbConvOp, OpChoice};
pub use space::{
    CandidateSpec, ChoiceBlock, FirstBlockSpec, HeadSpec, InputSpec, SearchSpace, StageSpec,
    StemSpec, ZeroRule,
};
pub use tree::{ConvFields, Layer, LayerBase, TreeBlock, TreeNetConfig, TreeNetCost, TreeNode};
pub use tree_space::{
    Backbone, CellSpec, EdgeOp, TREE_PRESETS, TreeChoice, TreeInput, TreeSpace, TreeSpaceSummary,
};

/// Spatial size after a convolution with padding `kernel / 2` (odd kernels), as PyTorch computes it.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize) -> usize {
    let padding = kernel / 2;
    (input + 2 * padding - kernel) / stride + 1
}

/// Whether `kernel` is a usable kernel side: odd, so that padding `kernel / 2` keeps the
/// feature map centred.
pub(crate) fn is_odd_kernel(kernel: usize) -> bool {
    kernel % 2 == 1
}
