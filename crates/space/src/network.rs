//! A `net.config` of either kind the tool trains: a MobileNetV2-style `ProxylessNASNets`
//! ([`NetSpec`]) or the CIFAR-10 `PyramidTreeNet` ([`TreeNetConfig`]), told apart by the
//! file's `name`.

use std::path::Path;

use serde_json::Number;

use crate::error::{Result, read_to_string};
use crate::tree::{Layer, TreeBlock};
use crate::{NetSpec, TreeNetConfig};

/// The input side of a `PyramidTreeNet`: its classifier takes the flattened features of
/// 32x32 images (CIFAR-10's side, the only one the format was released for).
pub const TREE_NET_SIDE: usize = 32;

/// A network configuration of either kind.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum NetConfig {
    /// A `ProxylessNASNets` (MBConv blocks).
    Mobile(NetSpec),
    /// A `PyramidTreeNet` (tree-structured cells).
    Tree(TreeNetConfig),
}

impl NetConfig {
    /// Parses a `net.config` text of either kind; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self> {
        let name = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str().map(String::from)));
        if name.as_deref() == Some("PyramidTreeNet") {
            TreeNetConfig::from_json_str(text, origin).map(Self::Tree)
        } else {
            NetSpec::from_net_config_str(text, origin).map(Self::Mobile)
        }
    }

    /// Reads a `net.config` file of either kind.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json_str(&read_to_string(path)?, &path.display().to_string())
    }

    /// The JSON text, as the official code writes it.
    pub fn to_json(&self) -> String {
        match self {
            Self::Mobile(spec) => spec.to_net_config_json(),
            Self::Tree(net) => net.to_json_string(),
        }
    }

    /// The MBConv network, if it is one.
    pub fn mobile(&self) -> Option<&NetSpec> {
        match self {
            Self::Mobile(spec) => Some(spec),
            Self::Tree(_) => None,
        }
    }

    /// Input image channels.
    pub fn input_channels(&self) -> usize {
        match self {
            Self::Mobile(spec) => spec.input_channels(),
            Self::Tree(net) => first_layer(net).map_or(3, |layer| match layer {
                Layer::LinearLayer { in_features, .. } => *in_features,
                layer => layer.base().map_or(3, |base| base.in_channels),
            }),
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::Mobile(spec) => spec.num_classes(),
            Self::Tree(net) => match &net.classifier {
                Layer::LinearLayer { out_features, .. } => *out_features,
                _ => 0,
            },
        }
    }

    /// The input side the network requires, if it requires one (a tree net's classifier takes
    /// flattened features; MBConv nets pool globally and take any side).
    pub fn required_side(&self) -> Option<usize> {
        match self {
            Self::Mobile(_) => None,
            Self::Tree(_) => Some(TREE_NET_SIDE),
        }
    }

    /// The dropout rate before the classifier.
    pub fn classifier_dropout(&self) -> f64 {
        match self {
            Self::Mobile(spec) => spec.classifier.dropout,
            Self::Tree(net) => match &net.classifier {
                Layer::LinearLayer { dropout_rate, .. } => dropout_rate.as_f64().unwrap_or(0.0),
                _ => 0.0,
            },
        }
    }

    /// Sets the dropout rate before the classifier (a training recipe's `optim.dropout`).
    pub fn set_classifier_dropout(&mut self, rate: f64) {
        match self {
            Self::Mobile(spec) => spec.classifier.dropout = rate,
            Self::Tree(net) => {
                // The same rate keeps its JSON form (`0` stays `0`, not `0.0`).
                if let Layer::LinearLayer { dropout_rate, .. } = &mut net.classifier
                    && dropout_rate.as_f64() != Some(rate)
                {
                    *dropout_rate = Number::from_f64(rate).unwrap_or_else(|| 0.into());
                }
            }
        }
    }
}

impl From<NetSpec> for NetConfig {
    fn from(spec: NetSpec) -> Self {
        Self::Mobile(spec)
    }
}

impl From<TreeNetConfig> for NetConfig {
    fn from(net: TreeNetConfig) -> Self {
        Self::Tree(net)
    }
}

fn first_layer(net: &TreeNetConfig) -> Option<&Layer> {
    match net.blocks.first()? {
        TreeBlock::TransitionBlock { layers } => layers.first(),
        TreeBlock::ResidualTreeBlock { in_bottle, .. } => Some(in_bottle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_kind_is_read_by_its_name() {
        let cifar = include_str!("../../../configs/nets/proxyless_cifar.json");
        let tree = NetConfig::from_json_str(cifar, "cifar").unwrap();
        assert!(matches!(tree, NetConfig::Tree(_)));
        assert_eq!(
            (
                tree.input_channels(),
                tree.num_classes(),
                tree.required_side()
            ),
            (3, 10, Some(32))
        );
        let again = NetConfig::from_json_str(&tree.to_json(), "again").unwrap();
        assert_eq!(again, tree);
        let mut with_dropout = tree.clone();
        with_dropout.set_classifier_dropout(0.25);
        assert_eq!(with_dropout.classifier_dropout(), 0.25);

        let gpu = include_str!("../../../configs/nets/proxyless_gpu.json");
        let mobile = NetConfig::from_json_str(gpu, "gpu").unwrap();
        assert_eq!((mobile.num_classes(), mobile.required_side()), (1000, None));
        assert!(mobile.mobile().is_some() && tree.mobile().is_none());
        let err = NetConfig::from_json_str("{\"name\": \"PyramidTreeNet\"}", "x.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.json"), "{err}");
    }
}
