//! `proxyless export`: a checkpoint as PyTorch loads it (`net.config` and safetensors under
//! the official names), plus the network with BatchNorm folded for deployment and its batch-1
//! latency on the backend.

use std::path::PathBuf;

use anyhow::{Result, ensure};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Args;
use proxyless_profiler::{ProfileSettings, measure_forward};
use proxyless_train::Checkpoint;

use crate::backend::Backend;
use crate::output::write_atomic;

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
}

/// Runs `export` on `backend`.
pub fn run(args: &ExportArgs, backend: Backend) -> Result<()> {
    let device = backend.device()?;
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let spec = &checkpoint.spec;
    let net = checkpoint.load_net(&device)?;
    let exported = proxyless_pytorch::export(&net, spec, &args.out)?;
    let state = &checkpoint.state;
    let [channels, side, _] = state.image_shape;
    let resolution = args.resolution.unwrap_or(side);
    let preprocessing = serde_json::json!({
        "input": [channels, resolution, resolution],
        "scale": "pixels / 255",
        "mean": state.mean,
        "std": state.std,
        "trained_on": state.dataset,
    });
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
    println!("net.config: {}", exported.net_config.display());
    println!(
        "weights (PyTorch state dict): {}",
        exported.weights.display()
    );
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
    write_atomic(
        &args.out.join("deployment.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    Ok(())
}
