//! The paper's CIFAR-10 network, `PyramidTreeNet`, as Burn modules built from its `net.config`
//! ([`proxyless_space::TreeNetConfig`]): PyramidNet residual blocks whose cells are trees of
//! nodes with searched edges. Field names are the official ones, so parameter paths line up
//! with the PyTorch state dict once Burn's block variant (`Transition`, `Residual`) is left out
//! and BatchNorm's `gamma`/`beta` are read as `weight`/`bias`.
//!
//! ```
//! use burn::prelude::*;
//! use proxyless_nn::tree::TreeNet;
//! use proxyless_space::TreeNetConfig;
//!
//! # let text = include_str!("../../../../configs/nets/proxyless_cifar.json");
//! let config = TreeNetConfig::from_json_str(text, "proxyless_cifar.json").unwrap();
//! let device = Device::default();
//! let net = TreeNet::new(&config, "proxyless_cifar.json", &device).unwrap();
//! # assert_eq!(proxyless_nn::count_trainable(&net), 5_731_530);
//! ```

mod layer;
mod net;
mod node;

pub use layer::{
    Activation, LayerPlan, Op, TreeLayer, TreeLinear, WeightOp, batch_norm_layer, shuffle_channels,
};
pub use net::{ResidualTreeBlock, TransitionBlock, TreeNet, TreeNetBlock, add_padded_shortcut};
pub use node::{Merge, NodePlan, Split, TreeCell};
/// BatchNorm as the tree layers run it (the training forward through the Flex kernels where
/// they apply).
pub use proxyless_kernels::batch_norm;

#[cfg(test)]
mod tests;
