//! `proxyless export`: a checkpoint as PyTorch loads it (`net.config` and safetensors under
//! the official names) and as an ONNX model (BatchNorm folded, and kept), plus the network
//! with BatchNorm folded for Burn; batch-1 latency of each on this machine: Burn on the
//! backend, the ONNX models in ONNX Runtime when Python has it.

use std::path::PathBuf;

use anyhow::{Result, ensure};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Args;
use proxyless_nn::Network;
use proxyless_nn::tree::TreeNet;
use proxyless_profiler::{ProfileSettings, measure_forward};
use proxyless_space::NetConfig;
use proxyless_train::Checkpoint;

use crate::backend::Backend;
use crate::output::write_atomic;

/// A format `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `net.config` and `weights.safetensors`, as the official PyTorch code loads them.
    Pytorch,
    /// `model.onnx` (BatchNorm folded) and `model-bn.onnx` (BatchNorm kept), opset 13.
    Onnx,
}

/// Export a checkpoint for PyTorch and for deployment.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A checkpoint directory, or a training directory (its newest checkpoint).
    pub checkpoint: PathBuf,
    /// Directory to write (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Input side for the latency measurement (default: the training images').
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Timed batch-1 runs per network (0: no latency measurement).
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Formats to write, comma-separated (default: both).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ExportFormat::Pytorch, ExportFormat::Onnx])]
    pub format: Vec<ExportFormat>,
}

/// How images are brought to the input side, in words.
fn resize_rule(test_crop: f64) -> String {
    if test_crop == 1.0 {
        "shorter side to the input side, centre crop".into()
    } else {
        format!("shorter side to input side / {test_crop}, centre crop of the input side")
    }
}

/// What `predict` and users need to feed the exported network: input shape, normalisation,
/// resizing, the data set and its class names.
fn preprocessing(checkpoint: &Checkpoint, resolution: usize) -> serde_json::Value {
    let state = &checkpoint.state;
    let channels = state.image_shape[0];
    serde_json::json!({
        "input": [channels, resolution, resolution],
        "scale": "pixels / 255",
        "mean": state.mean,
        "std": state.std,
        "resize": resize_rule(state.test_crop()),
        "test_crop": state.test_crop(),
        "trained_on": state.dataset,
        "class_names": state.class_names(),
    })
}

/// `export` of a `PyramidTreeNet` checkpoint: the PyTorch files and the preprocessing (the
/// ONNX writer and BatchNorm folding cover MBConv networks only).
fn export_tree_net(args: &ExportArgs, checkpoint: &Checkpoint, net: &TreeNet) -> Result<()> {
    let NetConfig::Tree(config) = &checkpoint.spec else {
        unreachable!("a tree network comes from a tree net.config");
    };
    ensure!(
        args.format.contains(&ExportFormat::Pytorch),
        "{}: a PyramidTreeNet exports for PyTorch (--format pytorch); the ONNX writer covers \
         MBConv networks (ProxylessNASNets) only",
        checkpoint.dir.display()
    );
    let side = checkpoint.state.image_shape[1];
    ensure!(
        args.resolution.is_none_or(|r| r == side),
        "--resolution: a PyramidTreeNet takes {side}x{side} images only"
    );
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    let exported = proxyless_pytorch::export_tree(net, config, &args.out)?;
    write_atomic(
        &args.out.join("preprocessing.json"),
        serde_json::to_string_pretty(&preprocessing(checkpoint, side))?.as_bytes(),
    )?;
    println!("net.config: {}", exported.net_config.display());
    println!(
        "weights (PyTorch state dict): {}",
        exported.weights.display()
    );
    if args.format.contains(&ExportFormat::Onnx) {
        println!("ONNX: not written (the ONNX writer covers MBConv networks only)");
    }
    Ok(())
}

/// Runs `export` on `backend`.
pub fn run(args: &ExportArgs, backend: Backend) -> Result<()> {
    let device = backend.device()?;
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let net = match checkpoint.load_net(&device)? {
        Network::Mobile(net) => net,
        Network::Tree(net) => return export_tree_net(args, &checkpoint, &net),
    };
    let spec = checkpoint
        .spec
        .mobile()
        .expect("the checkpoint of an MBConv network");
    let state = &checkpoint.state;
    let [channels, side, _] = state.image_shape;
    let resolution = args.resolution.unwrap_or(side);
    let preprocessing = preprocessing(&checkpoint, resolution);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    let pytorch = args
        .format
        .contains(&ExportFormat::Pytorch)
        .then(|| proxyless_pytorch::export(&net, spec, &args.out))
        .transpose()?;
    let onnx = args
        .format
        .contains(&ExportFormat::Onnx)
        .then(|| write_onnx(&net, spec, &preprocessing, resolution, &args.out))
        .transpose()?;
    let preprocessing_path = args.out.join("preprocessing.json");
    write_atomic(
        &preprocessing_path,
        serde_json::to_string_pretty(&preprocessing)?.as_bytes(),
    )?;

    // BatchNorm folded into the convolutions: the same logits, fewer operations.
    let folded = net.clone().fold_batch_norm();
    let x = Tensor::<4>::random(
        [4, channels, resolution, resolution],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let reference = net.forward(x.clone());
    let scale = reference.clone().abs().max().into_scalar::<f64>().max(1.0);
    let fold_error = (folded.forward(x) - reference)
        .abs()
        .max()
        .into_scalar::<f64>()
        / scale;
    ensure!(
        fold_error < 1e-4,
        "folding the BatchNorms changed the logits by {fold_error:.2e} (relative); not exported"
    );
    let folded_path = args.out.join("model-folded.bpk");
    folded
        .clone()
        .save_file(&folded_path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e:?}", folded_path.display()))?;

    let threads = proxyless_profiler::cpu_threads();
    let runtime = onnx.as_ref().filter(|_| args.runs > 0).and_then(|files| {
        let Some(python) = proxyless_onnx::runtime::python() else {
            println!("ONNX Runtime latency: skipped (Python cannot import onnx and onnxruntime)");
            return None;
        };
        let time = |path: &PathBuf| {
            proxyless_onnx::runtime::latency(&python, path, threads, args.runs)
                .map_err(|e| println!("ONNX Runtime latency: {e}"))
                .ok()
        };
        Some((time(&files.folded)?, time(&files.unfolded)?))
    });
    let latency = (args.runs > 0).then(|| {
        let settings = ProfileSettings {
            batch: 1,
            warmup: 5,
            runs: args.runs,
            group: ProfileSettings::group_for(&device),
            calibration: 0,
        };
        (
            measure_forward(&net, resolution, &device, &settings),
            measure_forward(&folded, resolution, &device, &settings),
        )
    });
    let mut report = serde_json::json!({
        "checkpoint": checkpoint.dir,
        "backend": backend.name(),
        "resolution": resolution,
        "fold_max_relative_error": fold_error,
    });
    if let Some(exported) = &pytorch {
        println!("net.config: {}", exported.net_config.display());
        println!(
            "weights (PyTorch state dict): {}",
            exported.weights.display()
        );
    }
    if let Some(files) = &onnx {
        println!(
            "ONNX (opset {}): {} (BatchNorm folded), {} (BatchNorm kept)",
            proxyless_onnx::OPSET,
            files.folded.display(),
            files.unfolded.display()
        );
    }
    println!("BatchNorm folded (Burn): {}", folded_path.display());
    println!("folded logits differ by {fold_error:.2e} (relative)");
    if let Some((bn, fused)) = latency {
        println!(
            "batch-1 latency on {backend} at {resolution}x{resolution}: {:.3} ms with BatchNorm, \
             {:.3} ms folded ({:.2}x), medians of {} runs",
            bn.median,
            fused.median,
            bn.median / fused.median,
            args.runs
        );
        report["latency_ms"] = serde_json::json!({
            "with_batch_norm": {"median": bn.median, "mean": bn.mean, "std": bn.std},
            "folded": {"median": fused.median, "mean": fused.mean, "std": fused.std},
            "runs": args.runs,
        });
    }
    if let Some((folded, unfolded)) = &runtime {
        println!(
            "batch-1 latency in ONNX Runtime {} (CPU, {threads} threads): {:.3} ms with \
             BatchNorm, {:.3} ms folded",
            folded.version, unfolded.median_ms, folded.median_ms
        );
        report["onnx_runtime_latency_ms"] = serde_json::json!({
            "with_batch_norm": {"median": unfolded.median_ms, "mean": unfolded.mean_ms},
            "folded": {"median": folded.median_ms, "mean": folded.mean_ms},
            "threads": threads,
            "runs": args.runs,
            "onnxruntime": folded.version,
        });
    }
    write_atomic(
        &args.out.join("deployment.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    Ok(())
}

/// The two ONNX files of an export.
struct OnnxFiles {
    folded: PathBuf,
    unfolded: PathBuf,
}

/// Writes `model.onnx` (BatchNorm folded) and `model-bn.onnx` (kept) with the preprocessing,
/// class names and architecture in their metadata.
fn write_onnx(
    net: &proxyless_nn::ProxylessNet,
    spec: &proxyless_space::NetSpec,
    preprocessing: &serde_json::Value,
    resolution: usize,
    dir: &std::path::Path,
) -> Result<OnnxFiles> {
    use proxyless_onnx::{OnnxOptions, metadata_key};
    let weights = proxyless_pytorch::StateDict::from_net(net)?;
    let mut metadata: Vec<(String, String)> = preprocessing
        .as_object()
        .expect("the preprocessing is an object")
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (metadata_key(k), text)
        })
        .collect();
    metadata.push((metadata_key("input_name"), proxyless_onnx::INPUT.into()));
    metadata.push((metadata_key("output_name"), proxyless_onnx::OUTPUT.into()));
    metadata.push((metadata_key("net_config"), spec.to_net_config_json()));
    let files = OnnxFiles {
        folded: dir.join("model.onnx"),
        unfolded: dir.join("model-bn.onnx"),
    };
    for (fold, path) in [(true, &files.folded), (false, &files.unfolded)] {
        let options = OnnxOptions {
            resolution,
            fold_batch_norm: fold,
            metadata: metadata.clone(),
        };
        proxyless_onnx::write(&proxyless_onnx::to_onnx(spec, &weights, &options)?, path)?;
    }
    Ok(files)
}
