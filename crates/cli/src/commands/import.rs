//! `proxyless import`: PyTorch weights under the official names (a `.pth` state dict, an
//! official checkpoint, or safetensors) into a checkpoint that `eval`, `export` and
//! `train --init` read.

use std::path::PathBuf;

use anyhow::{Result, ensure};
use clap::Args;
use proxyless_data::DatasetKind;
use proxyless_space::NetConfig;
use proxyless_train::{Checkpoint, TrainState};

use crate::backend::Backend;
use crate::commands::train::DatasetArg;

/// ImageNet's per-channel mean and standard deviation, which the official models expect.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Import PyTorch weights into a checkpoint.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The network's net.config.
    pub net_config: PathBuf,
    /// The weights: `.pth`/`.pt` (a state dict, or a dict with one under `state_dict`) or
    /// `.safetensors`.
    pub weights: PathBuf,
    /// Checkpoint directory to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Per-channel mean of the input normalisation (default: ImageNet's for 3 channels,
    /// 0.5 otherwise).
    #[arg(long, value_delimiter = ',')]
    pub mean: Option<Vec<f32>>,
    /// Per-channel standard deviation of the normalisation (default: ImageNet's, or 0.5).
    #[arg(long, value_delimiter = ',')]
    pub std: Option<Vec<f32>>,
    /// Input side the network expects.
    #[arg(long, default_value_t = 224)]
    pub resolution: usize,
    /// Data set that `eval` should read by default.
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,
    /// Its directory.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Runs `import` on `backend`.
pub fn run(args: &ImportArgs, backend: Backend) -> Result<()> {
    let device = backend.device()?;
    let spec = NetConfig::from_file(&args.net_config)?;
    let channels = spec.input_channels();
    let resolution = spec.required_side().unwrap_or(args.resolution);
    ensure!(
        args.resolution == 224 || args.resolution == resolution,
        "--resolution {}: this network takes {resolution}x{resolution} images only",
        args.resolution
    );
    let net = proxyless_pytorch::import_network(&args.weights, &spec, &device)?;
    let (mean, std) = match channels {
        3 => (IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec()),
        c => (vec![0.5; c], vec![0.5; c]),
    };
    let mean = args.mean.clone().unwrap_or(mean);
    let std = args.std.clone().unwrap_or(std);
    ensure!(
        mean.len() == channels && std.len() == channels,
        "--mean and --std need {channels} values (the network's input channels)"
    );
    ensure!(
        std.iter().all(|s| *s > 0.0),
        "--std values must be positive"
    );
    let state = TrainState {
        epochs_done: 0,
        steps: 0,
        elapsed_seconds: 0.0,
        dataset: format!("imported from {}", args.weights.display()),
        dataset_kind: args.dataset.map(Into::into),
        dataset_path: args.data.clone(),
        synthetic_per_class: None,
        seed: 0,
        test_limit: None,
        image_shape: [channels, resolution, resolution],
        class_names: match args.dataset {
            Some(kind) => proxyless_data::class_names(kind.into(), args.data.as_deref())?,
            None => None,
        },
        mean,
        std,
        // Image folders are read with the ImageNet convention (256 → 224) the paper's
        // PyTorch weights were evaluated with.
        folder: matches!(args.dataset.map(Into::into), Some(DatasetKind::ImageFolder))
            .then(proxyless_data::FolderOptions::default),
        test: None,
        within_epoch: None,
        logs: None,
        weights_fingerprint: None,
    };
    Checkpoint::write(&args.out, &spec, &net, None, &state)?;
    let blocks = match &spec {
        NetConfig::Mobile(spec) => spec.blocks.len(),
        NetConfig::Tree(net) => net.blocks.len(),
    };
    println!(
        "imported {} into {} ({blocks} blocks)",
        args.weights.display(),
        args.out.display(),
    );
    Ok(())
}
