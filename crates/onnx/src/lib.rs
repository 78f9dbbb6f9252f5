//! ProxylessNAS networks as ONNX models, for ONNX Runtime, TensorRT and the converters to
//! TF-Lite and CoreML.
//!
//! A network is written from its [`NetSpec`] and its weights under the official PyTorch names
//! (a [`StateDict`], as `proxyless-pytorch` reads and writes them), opset 13: `Conv` (with the
//! BatchNorm folded in, or followed by `BatchNormalization`), `Clip` for ReLU6, `Add` for the
//! shortcuts, `GlobalAveragePool`, `Flatten` and `Gemm`. The batch dimension is free
//! (`batch`); the input is `input` `[batch, C, H, W]`, already normalised as the metadata
//! says (`proxyless.mean`, `proxyless.std`, `proxyless.scale`), and the output `logits`
//! `[batch, classes]`.
//!
//! The protobuf messages are declared with `prost` (the field numbers of `onnx.proto`) and
//! encoded by it: the crates that ship ONNX's generated messages either pin an old
//! `protobuf` runtime (`onnx-protobuf`), bring a second Burn (`onnx-ir`, Burn's next release)
//! or a 2020 `prost` (`onnx-pb`).
//!
//! ```
//! use burn::prelude::*;
//! use proxyless_nn::ProxylessNet;
//! use proxyless_pytorch::StateDict;
//! use proxyless_space::{presets, Architecture};
//!
//! let device = Device::default();
//! let space = presets::load("fmnist").unwrap();
//! let spec = Architecture::widest(&space).to_net_spec(&space);
//! let weights = StateDict::from_net(&ProxylessNet::new(&spec, &device)).unwrap();
//! let model = proxyless_onnx::to_onnx(&spec, &weights, &proxyless_onnx::OnnxOptions::new(28)).unwrap();
//! assert_eq!(model.graph.unwrap().output[0].name, "logits");
//! ```

mod error;
mod graph;
pub mod proto;
pub mod runtime;

use std::path::Path;

use prost::Message;
use proxyless_pytorch::StateDict;
use proxyless_space::NetSpec;

pub use error::{Error, Result};

use crate::proto::{
    Dimension, DimensionValue, FLOAT, GraphProto, ModelProto, OperatorSetIdProto,
    StringStringEntryProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};

/// The operator set the models use: 13 is read by ONNX Runtime, TensorRT 8+, `onnx2tf` and
/// `coremltools`, and has every operator a ProxylessNAS network needs.
pub const OPSET: i64 = 13;
/// The IR version that goes with [`OPSET`].
pub const IR_VERSION: i64 = 7;
/// Name of the model's input.
pub const INPUT: &str = "input";
/// Name of the model's output.
pub const OUTPUT: &str = "logits";

/// How to write a model.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxOptions {
    /// Height and width of the input images.
    pub resolution: usize,
    /// Fold every BatchNorm into its convolution (`Conv` with bias) instead of keeping
    /// `BatchNormalization` nodes.
    pub fold_batch_norm: bool,
    /// `key = value` pairs for the model's metadata (preprocessing, class names, provenance).
    pub metadata: Vec<(String, String)>,
}

impl OnnxOptions {
    /// Folded BatchNorms, no metadata, `resolution` x `resolution` images.
    pub fn new(resolution: usize) -> Self {
        Self {
            resolution,
            fold_batch_norm: true,
            metadata: Vec::new(),
        }
    }
}

/// The ONNX model of the network `spec` with `weights` (official PyTorch names, BatchNorms not
/// folded, as [`StateDict::from_net`] gives them).
pub fn to_onnx(spec: &NetSpec, weights: &StateDict, options: &OnnxOptions) -> Result<ModelProto> {
    let mut builder = graph::GraphBuilder::new(weights, spec.bn.eps, options.fold_batch_norm);
    let logits = builder.network(spec, INPUT)?;
    let side = options.resolution as i64;
    let graph = GraphProto {
        node: builder.nodes,
        name: "proxyless".into(),
        initializer: builder.initializers,
        doc_string: String::new(),
        input: vec![value_info(
            INPUT,
            &[
                None,
                Some(spec.input_channels() as i64),
                Some(side),
                Some(side),
            ],
        )],
        output: vec![value_info(
            &logits,
            &[None, Some(spec.num_classes() as i64)],
        )],
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "proxyless".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: "A ProxylessNAS network".into(),
        graph: Some(graph),
        metadata_props: options
            .metadata
            .iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    })
}

/// Writes `model` to `path` atomically (a temporary file renamed into place).
pub fn write(model: &ModelProto, path: &Path) -> Result<()> {
    proxyless_plumbing::write_atomic(path, &model.encode_to_vec()).map_err(|error| Error::Io {
        path: path.display().to_string(),
        error,
    })
}

/// Reads a model written by [`write`] (or any ONNX file: the fields this crate does not
/// declare are skipped).
pub fn read(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.display().to_string(),
        error,
    })?;
    ModelProto::decode(bytes.as_slice())
        .map_err(|e| Error::Unsupported(format!("{}: not an ONNX model: {e}", path.display())))
}

/// A float tensor's name, type and shape (`None`: the free `batch` dimension).
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => DimensionValue::DimValue(*n),
                None => DimensionValue::DimParam("batch".into()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        doc_string: String::new(),
    }
}

/// A key of [`OnnxOptions::metadata`] in the `proxyless.` namespace.
pub fn metadata_key(name: &str) -> String {
    format!("proxyless.{name}")
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use proxyless_nn::ProxylessNet;
    use proxyless_space::{Architecture, presets};

    use super::*;

    fn fmnist_net(arch: &str) -> (NetSpec, StateDict) {
        let space = presets::load("fmnist").unwrap();
        let spec = Architecture::parse(arch, &space, "test")
            .unwrap()
            .to_net_spec(&space);
        let net = ProxylessNet::new(&spec, &Device::default());
        (spec, StateDict::from_net(&net).unwrap())
    }

    #[test]
    fn a_written_model_reads_back_whole_with_its_metadata() {
        let (spec, weights) = fmnist_net("k5e3 zero | k3e6 zero zero | k7e3 zero zero | k3e3");
        let options = OnnxOptions {
            metadata: vec![(metadata_key("mean"), "[0.28]".into())],
            ..OnnxOptions::new(28)
        };
        let model = to_onnx(&spec, &weights, &options).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        write(&model, &path).unwrap();
        assert_eq!(read(&path).unwrap(), model);
        let graph = model.graph.unwrap();
        // Zero blocks with their shortcut vanish: 3 MBConv blocks and the fixed first block,
        // the stem and the feature mix hold every convolution.
        let ops = |op: &str| graph.node.iter().filter(|n| n.op_type == op).count();
        assert_eq!(ops("BatchNormalization"), 0);
        let mbconvs = spec
            .blocks
            .iter()
            .filter(|b| matches!(b.op, proxyless_space::BlockOp::MbConv { .. }))
            .count();
        let expansions = weights
            .tensors
            .keys()
            .filter(|k| k.ends_with("inverted_bottleneck.conv.weight"))
            .count();
        assert_eq!(ops("Conv"), 2 + 2 * mbconvs + expansions);
        assert_eq!(graph.input[0].name, INPUT);
        assert_eq!(model.metadata_props[0].key, "proxyless.mean");
        let unfolded = OnnxOptions {
            fold_batch_norm: false,
            ..OnnxOptions::new(28)
        };
        let graph = to_onnx(&spec, &weights, &unfolded).unwrap().graph.unwrap();
        let bns = graph
            .node
            .iter()
            .filter(|n| n.op_type == "BatchNormalization")
            .count();
        assert_eq!(bns, 2 + 2 * mbconvs + expansions);
    }

    #[test]
    fn missing_weights_and_unreadable_files_are_named() {
        let (spec, mut weights) = fmnist_net("k3e3 zero | k3e3 zero zero | k3e3 zero zero | k3e3");
        weights.tensors.remove("feature_mix_layer.bn.running_var");
        let err = to_onnx(&spec, &weights, &OnnxOptions::new(28)).unwrap_err();
        assert!(
            err.to_string().contains("feature_mix_layer.bn.running_var"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.onnx");
        std::fs::write(&path, [0xff, 0xff, 0xff]).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("bad.onnx: not an ONNX model"), "{err}");
    }
}
