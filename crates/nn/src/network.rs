//! A built network of either kind the tool trains: [`ProxylessNet`] (MBConv blocks) or
//! [`TreeNet`] (the CIFAR-10 tree cells), behind one forward.

use burn::prelude::*;
use proxyless_space::NetConfig;

use crate::ProxylessNet;
use crate::tree::TreeNet;

/// A network of either kind, built from a [`NetConfig`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Network {
    /// A `ProxylessNASNets`.
    Mobile(ProxylessNet),
    /// A `PyramidTreeNet`.
    Tree(TreeNet),
}

impl From<ProxylessNet> for Network {
    fn from(net: ProxylessNet) -> Self {
        Self::Mobile(net)
    }
}

impl From<TreeNet> for Network {
    fn from(net: TreeNet) -> Self {
        Self::Tree(net)
    }
}

impl Network {
    /// Builds the network `config` describes on `device`, initialised as the paper's code
    /// does. `origin` names the configuration in errors.
    pub fn new(config: &NetConfig, origin: &str, device: &Device) -> proxyless_space::Result<Self> {
        Ok(match config {
            NetConfig::Mobile(spec) => Self::Mobile(ProxylessNet::new(spec, device)),
            NetConfig::Tree(tree) => Self::Tree(TreeNet::new(tree, origin, device)?),
        })
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Mobile(net) => net.forward(x),
            Self::Tree(net) => net.forward(x),
        }
    }

    /// The MBConv network, if it is one.
    pub fn mobile(&self) -> Option<&ProxylessNet> {
        match self {
            Self::Mobile(net) => Some(net),
            Self::Tree(_) => None,
        }
    }

    /// The device of the network's weights.
    pub fn device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .expect("a network has weights")
    }
}
