//! The official `net.config` JSON of ProxylessNAS (`ProxylessNASNets`): import and export.
//!
//! The format is the one the paper's code writes and its released nets use, so a PyTorch user
//! can build our networks with the official code and we can build theirs. Only what the
//! official ImageNet networks use is accepted; anything else (dilation, groups, another
//! activation) is an error naming the field, not silently ignored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, from_json, read_to_string};
use crate::net_spec::{BlockOp, BlockSpec, BnSpec, ConvSpec, LinearSpec, NetSpec};

/// Name of the network class in the official code.
const NET_NAME: &str = "ProxylessNASNets";
const OPS_ORDER: &str = "weight_bn_act";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetConfigJson {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bn: Option<BnSpec>,
    first_conv: ConvLayerJson,
    blocks: Vec<BlockJson>,
    feature_mix_layer: ConvLayerJson,
    classifier: LinearLayerJson,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

fn relu6() -> Option<String> {
    Some("relu6".into())
}

fn ops_order() -> String {
    OPS_ORDER.into()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvLayerJson {
    name: String,
    kernel_size: usize,
    stride: usize,
    #[serde(default = "one")]
    dilation: usize,
    #[serde(default = "one")]
    groups: usize,
    #[serde(default)]
    bias: bool,
    #[serde(default)]
    has_shuffle: bool,
    in_channels: usize,
    out_channels: usize,
    #[serde(default = "yes")]
    use_bn: bool,
    #[serde(default = "relu6")]
    act_func: Option<String>,
    #[serde(default)]
    dropout_rate: f64,
    #[serde(default = "ops_order")]
    ops_order: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearLayerJson {
    name: String,
    in_features: usize,
    out_features: usize,
    #[serde(default = "yes")]
    bias: bool,
    #[serde(default)]
    use_bn: bool,
    #[serde(default)]
    act_func: Option<String>,
    #[serde(default)]
    dropout_rate: f64,
    #[serde(default = "ops_order")]
    ops_order: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockJson {
    name: String,
    mobile_inverted_conv: BlockOpJson,
    shortcut: Option<IdentityJson>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "name", deny_unknown_fields)]
enum BlockOpJson {
    #[serde(rename = "MBInvertedConvLayer")]
    MbConv {
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        expand_ratio: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mid_channels: Option<usize>,
    },
    #[serde(rename = "ZeroLayer")]
    Zero { stride: usize },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityJson {
    name: String,
    in_channels: usize,
    out_channels: usize,
    #[serde(default)]
    use_bn: bool,
    #[serde(default)]
    act_func: Option<String>,
    #[serde(default)]
    dropout_rate: f64,
    #[serde(default = "ops_order")]
    ops_order: String,
}

impl NetSpec {
    /// Parses an official `net.config` JSON text; `origin` names its source in errors.
    pub fn from_net_config_str(text: &str, origin: &str) -> Result<Self> {
        let json: NetConfigJson = from_json(text, origin)?;
        let spec = json.into_spec(origin)?;
        spec.validate(origin)?;
        Ok(spec)
    }

    /// Reads an official `net.config` JSON file.
    pub fn from_net_config_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_net_config_str(&read_to_string(path)?, &path.display().to_string())
    }

    /// Renders the network as an official `net.config` JSON document.
    pub fn to_net_config_json(&self) -> String {
        let json = NetConfigJson::from_spec(self);
        let mut text = serde_json::to_string_pretty(&json).expect("net.config always serialises");
        text.push('\n');
        text
    }
}

fn expect_name(origin: &str, field: &str, got: &str, expected: &str) -> Result<()> {
    if got != expected {
        return Err(Error::invalid(
            origin,
            field,
            format!("expected \"{expected}\", got \"{got}\""),
        ));
    }
    Ok(())
}

impl ConvLayerJson {
    fn into_spec(self, origin: &str, field: &str) -> Result<ConvSpec> {
        let unsupported = |name: &str, expected: &str, got: String| {
            Err(Error::invalid(
                origin,
                format!("{field}.{name}"),
                format!("expected {expected} (the only value supported), got {got}"),
            ))
        };
        expect_name(origin, &format!("{field}.name"), &self.name, "ConvLayer")?;
        if self.dilation != 1 {
            return unsupported("dilation", "1", self.dilation.to_string());
        }
        if self.groups != 1 {
            return unsupported("groups", "1", self.groups.to_string());
        }
        if self.bias {
            return unsupported("bias", "false", "true".into());
        }
        if self.has_shuffle {
            return unsupported("has_shuffle", "false", "true".into());
        }
        if !self.use_bn {
            return unsupported("use_bn", "true", "false".into());
        }
        if self.act_func.as_deref() != Some("relu6") {
            return unsupported("act_func", "\"relu6\"", format!("{:?}", self.act_func));
        }
        if self.dropout_rate != 0.0 {
            return unsupported("dropout_rate", "0", self.dropout_rate.to_string());
        }
        if self.ops_order != OPS_ORDER {
            return unsupported(
                "ops_order",
                "\"weight_bn_act\"",
                format!("\"{}\"", self.ops_order),
            );
        }
        Ok(ConvSpec {
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            kernel_size: self.kernel_size,
            stride: self.stride,
        })
    }

    fn from_spec(spec: &ConvSpec) -> Self {
        Self {
            name: "ConvLayer".into(),
            kernel_size: spec.kernel_size,
            stride: spec.stride,
            dilation: 1,
            groups: 1,
            bias: false,
            has_shuffle: false,
            in_channels: spec.in_channels,
            out_channels: spec.out_channels,
            use_bn: true,
            act_func: relu6(),
            dropout_rate: 0.0,
            ops_order: ops_order(),
        }
    }
}

impl NetConfigJson {
    fn into_spec(self, origin: &str) -> Result<NetSpec> {
        expect_name(origin, "name", &self.name, NET_NAME)?;
        let c = &self.classifier;
        expect_name(origin, "classifier.name", &c.name, "LinearLayer")?;
        if !c.bias || c.use_bn || c.act_func.is_some() {
            return Err(Error::invalid(
                origin,
                "classifier",
                "expected a plain linear layer (bias true, use_bn false, act_func null)",
            ));
        }
        let classifier = LinearSpec {
            in_features: c.in_features,
            out_features: c.out_features,
            dropout: c.dropout_rate,
        };
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.into_iter().enumerate() {
            blocks.push(block.into_spec(origin, i)?);
        }
        Ok(NetSpec {
            first_conv: self.first_conv.into_spec(origin, "first_conv")?,
            blocks,
            feature_mix: self
                .feature_mix_layer
                .into_spec(origin, "feature_mix_layer")?,
            classifier,
            bn: self.bn.unwrap_or_default(),
        })
    }

    fn from_spec(spec: &NetSpec) -> Self {
        Self {
            name: NET_NAME.into(),
            bn: Some(spec.bn),
            first_conv: ConvLayerJson::from_spec(&spec.first_conv),
            blocks: spec.blocks.iter().map(BlockJson::from_spec).collect(),
            feature_mix_layer: ConvLayerJson::from_spec(&spec.feature_mix),
            classifier: LinearLayerJson {
                name: "LinearLayer".into(),
                in_features: spec.classifier.in_features,
                out_features: spec.classifier.out_features,
                bias: true,
                use_bn: false,
                act_func: None,
                dropout_rate: spec.classifier.dropout,
                ops_order: ops_order(),
            },
        }
    }
}

impl BlockJson {
    fn into_spec(self, origin: &str, i: usize) -> Result<BlockSpec> {
        expect_name(
            origin,
            &format!("blocks[{i}].name"),
            &self.name,
            "MobileInvertedResidualBlock",
        )?;
        let shortcut = match &self.shortcut {
            None => None,
            Some(s) => {
                let field = format!("blocks[{i}].shortcut");
                expect_name(origin, &format!("{field}.name"), &s.name, "IdentityLayer")?;
                if s.use_bn || s.act_func.is_some() || s.dropout_rate != 0.0 {
                    return Err(Error::invalid(
                        origin,
                        field,
                        "expected a plain identity (use_bn false, act_func null, dropout_rate 0)",
                    ));
                }
                if s.in_channels != s.out_channels {
                    return Err(Error::invalid(
                        origin,
                        field,
                        format!(
                            "an identity keeps the width, got {} -> {} channels",
                            s.in_channels, s.out_channels
                        ),
                    ));
                }
                Some(s.in_channels)
            }
        };
        let spec = match self.mobile_inverted_conv {
            BlockOpJson::MbConv {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                expand_ratio,
                mid_channels,
            } => BlockSpec {
                in_channels,
                out_channels,
                stride,
                op: BlockOp::MbConv {
                    kernel_size,
                    expand_ratio,
                    mid_channels,
                },
                shortcut: shortcut.is_some(),
            },
            BlockOpJson::Zero { stride } => {
                let Some(channels) = shortcut else {
                    return Err(Error::invalid(
                        origin,
                        format!("blocks[{i}].shortcut"),
                        "a ZeroLayer block needs an identity shortcut (without one its output is all zeros)",
                    ));
                };
                BlockSpec {
                    in_channels: channels,
                    out_channels: channels,
                    stride,
                    op: BlockOp::Zero,
                    shortcut: true,
                }
            }
        };
        if let Some(channels) = shortcut
            && channels != spec.in_channels
        {
            return Err(Error::invalid(
                origin,
                format!("blocks[{i}].shortcut.in_channels"),
                format!(
                    "expected {} (the block's input), got {channels}",
                    spec.in_channels
                ),
            ));
        }
        Ok(spec)
    }

    fn from_spec(spec: &BlockSpec) -> Self {
        let mobile_inverted_conv = match spec.op {
            BlockOp::MbConv {
                kernel_size,
                expand_ratio,
                mid_channels,
            } => BlockOpJson::MbConv {
                in_channels: spec.in_channels,
                out_channels: spec.out_channels,
                kernel_size,
                stride: spec.stride,
                expand_ratio,
                mid_channels,
            },
            BlockOp::Zero => BlockOpJson::Zero {
                stride: spec.stride,
            },
        };
        Self {
            name: "MobileInvertedResidualBlock".into(),
            mobile_inverted_conv,
            shortcut: spec.shortcut.then(|| IdentityJson {
                name: "IdentityLayer".into(),
                in_channels: spec.in_channels,
                out_channels: spec.out_channels,
                use_bn: false,
                act_func: None,
                dropout_rate: 0.0,
                ops_order: ops_order(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOBILE: &str = include_str!("../../../configs/nets/proxyless_mobile.json");

    #[test]
    fn official_mobile_net_imports() {
        let net = NetSpec::from_net_config_str(MOBILE, "proxyless_mobile.json").unwrap();
        assert_eq!(net.first_conv.out_channels, 32);
        assert_eq!(net.blocks.len(), 22);
        assert_eq!(net.classifier.out_features, 1000);
        assert_eq!(
            net.bn,
            BnSpec {
                momentum: 0.1,
                eps: 1e-3
            }
        );
    }

    #[test]
    fn export_round_trips() {
        let net = NetSpec::from_net_config_str(MOBILE, "proxyless_mobile.json").unwrap();
        let text = net.to_net_config_json();
        assert_eq!(NetSpec::from_net_config_str(&text, "export").unwrap(), net);
    }
}
