//! Backend-free Burn modules for ProxylessNAS child networks.
//!
//! The modules take the backend from the [`Device`](burn::tensor::Device) they are created on:
//! the same code runs on `flex`, `ndarray`, `wgpu`, `cuda` or `tch`, picked by the caller.
//!
//! - [`ConvBnAct`]: convolution, BatchNorm and optional ReLU6 (the paper's `ConvLayer`);
//! - [`MbConv`]: the inverted-residual convolution (`MBInvertedConvLayer`);
//! - [`MobileInvertedBlock`]: an MBConv or a skip, with an optional identity shortcut;
//! - [`ProxylessNet`]: a whole child network built from a [`NetSpec`](proxyless_space::NetSpec);
//! - [`step`]: one optimiser step on a classification loss, shared by training and search;
//! - [`parallel`]: the same step split over several devices (data parallelism);
//! - [`tree`]: the paper's CIFAR-10 network (`PyramidTreeNet`), tree-structured cells.
//!
//! Initialisation follows the paper's code (`he_fout`): convolution weights are drawn from
//! N(0, 2 / (k·k·out_channels)), BatchNorm starts at γ = 1, β = 0, the classifier's weights
//! from U(±1/√fan_in) with a zero bias.
//!
//! ```
//! use burn::prelude::*;
//! use proxyless_nn::ProxylessNet;
//! use proxyless_space::{presets, Architecture};
//!
//! let device = Device::default();
//! let space = presets::load("fmnist").unwrap();
//! let spec = Architecture::widest(&space).to_net_spec(&space);
//! let net = ProxylessNet::new(&spec, &device);
//! let logits = net.forward(Tensor::zeros([2, 1, 28, 28], &device));
//! assert_eq!(logits.dims(), [2, 10]);
//! ```

mod block;
mod conv_bn_act;
mod mbconv;
mod net;
mod network;
pub mod parallel;
mod params;
mod precision;
pub mod step;
pub mod tree;

pub use block::MobileInvertedBlock;
pub use conv_bn_act::{ConvBnAct, ConvBnActConfig};
pub use mbconv::{MbConv, MbConvConfig};
pub use net::{
    ProxylessNet, classifier, conv_layer, conv_layer_with, pool_and_classify, pytorch_default_init,
};
pub use network::Network;
pub use params::{
    count_buffers, count_trainable, float_bits, settle_running_stats, weights_fingerprint,
};
pub use precision::Precision;
