//! `proxyless train`: train a searched network from scratch (or resume a training run).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use proxyless_data::{DatasetKind, FolderOptions};
use proxyless_nn::Precision;
use proxyless_rundir::RunFiles;
use proxyless_search::{SearchConfig, Space};
use proxyless_space::NetConfig;
use proxyless_train::{Checkpoint, TrainConfig, Trainer};

use crate::backend::Backend;
use crate::description::{self, Description};
use crate::output::utc_stamp;

/// Train a network from scratch with the paper's recipe.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A search run directory (its derived network and data set), a net.config, or an
    /// architecture (JSON, or text with --space). Default: the newest search run in `runs/`.
    pub network: Option<String>,
    /// The space of an architecture in text form (preset name or .toml file).
    #[arg(long)]
    pub space: Option<String>,
    /// Training recipe (TOML); the built-in default is `configs/train/fmnist.toml`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data set (default: the search run's, or the recipe's).
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,
    /// Data directory (default: the search run's, or the recipe's).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Epochs (overrides the recipe; with --resume, extends the run).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Train data-parallel on several devices of the backend: a count (`2`) or a list
    /// (`cuda:0,cuda:1`; wgpu and vulkan also take adapters by kind). Every batch is split into
    /// one shard per device, the gradients summed on the first.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Images per step (overrides the recipe).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate (overrides the recipe).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Precision of the training steps: f32, or bf16 (mixed precision: convolutions in
    /// bfloat16, BatchNorm, the loss and the weights in f32; backends with bf16 tensors).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
    /// Train on at most this many images (a seeded sample).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on at most this many test images (a seeded sample).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Training directory to create (default: `runs/train-<UTC time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start from the weights of this checkpoint (fine-tuning; for example one made by
    /// `proxyless import`) instead of a fresh initialisation; its net.config is the network.
    #[arg(long, conflicts_with_all = ["network", "space"])]
    pub init: Option<PathBuf>,
    /// Stop after this many epochs in total (resume later with --resume).
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Also checkpoint inside every epoch after this many steps (overrides the recipe's
    /// `checkpoint.every_steps`); a resumed run continues exactly from any checkpoint.
    #[arg(long)]
    pub checkpoint_every_steps: Option<usize>,
    /// Also checkpoint inside every epoch after this many minutes (`checkpoint.every_minutes`).
    #[arg(long)]
    pub checkpoint_every_minutes: Option<f64>,
    /// Resume the training run in this directory from its newest checkpoint.
    #[arg(long, conflicts_with_all = ["network", "config", "out", "dataset", "data", "init", "checkpoint_every_steps", "checkpoint_every_minutes", "precision"])]
    pub resume: Option<PathBuf>,
}

/// Data sets by their command-line names.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DatasetArg {
    /// Fashion-MNIST idx files.
    FashionMnist,
    /// MNIST idx files.
    Mnist,
    /// CIFAR-10, binary version.
    Cifar10,
    /// Class folders (`train/`, `val/`).
    ImageFolder,
    /// Seeded synthetic patterns.
    Synthetic,
}

impl From<DatasetArg> for DatasetKind {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::FashionMnist => DatasetKind::FashionMnist,
            DatasetArg::Mnist => DatasetKind::Mnist,
            DatasetArg::Cifar10 => DatasetKind::Cifar10,
            DatasetArg::ImageFolder => DatasetKind::ImageFolder,
            DatasetArg::Synthetic => DatasetKind::Synthetic,
        }
    }
}

/// `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// Everything in f32.
    F32,
    /// Mixed precision: convolutions in bfloat16.
    Bf16,
}

impl PrecisionArg {
    /// The value as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Bf16 => Precision::Bf16,
        }
    }
}

impl From<Precision> for PrecisionArg {
    fn from(p: Precision) -> Self {
        match p {
            Precision::F32 => PrecisionArg::F32,
            Precision::Bf16 => PrecisionArg::Bf16,
        }
    }
}

/// Where the network to train came from.
struct Source {
    spec: NetConfig,
    /// The input side of the network's space, when known.
    resolution: Option<usize>,
    /// A search run's data set, directory, input side and how it read image folders.
    data: Option<(DatasetKind, Option<PathBuf>, usize, FolderOptions)>,
    label: String,
}

/// Runs `train` on `backend`.
pub fn run(args: &TrainArgs, backend: Backend, quiet: bool) -> Result<()> {
    let devices = crate::devices::parse(backend, args.devices.as_deref())?;
    let device = devices[0].clone();
    let trainer = match &args.resume {
        Some(dir) => Trainer::resume(dir, args.epochs, &device, quiet)?,
        None => {
            let init = args.init.as_deref().map(Checkpoint::open).transpose()?;
            let source = match &init {
                Some(c) => Source {
                    spec: c.spec.clone(),
                    resolution: Some(c.state.image_shape[1]),
                    data: None,
                    label: format!("{} (fine-tuning)", c.dir.display()),
                },
                None => source(args)?,
            };
            let mut config = match &args.config {
                Some(path) => TrainConfig::from_file(path)?,
                None => TrainConfig::default_recipe(),
            };
            if let Some((kind, path, resolution, folder)) = source.data {
                config.data.dataset = kind;
                config.data.path = path;
                config.data.resolution = resolution;
                // A recipe of the user's says how to read folders; else as the search did.
                if args.config.is_none() {
                    config.data.folder = folder;
                }
            }
            if let Some(side) = source.resolution {
                config.data.resolution = side;
            }
            if let Some(kind) = args.dataset {
                config.data.dataset = kind.into();
            }
            if let Some(path) = &args.data {
                config.data.path = Some(path.clone());
            }
            config.epochs = args.epochs.unwrap_or(config.epochs);
            config.data.batch_size = args.batch_size.unwrap_or(config.data.batch_size);
            config.optim.lr = args.lr.unwrap_or(config.optim.lr);
            if let Some(p) = args.precision {
                config.optim.precision = p.into();
            }
            config.data.train_limit = args.train_limit.or(config.data.train_limit);
            config.data.test_limit = args.test_limit.or(config.data.test_limit);
            if let Some(n) = args.checkpoint_every_steps {
                config.checkpoint.every_steps = n;
            }
            if let Some(m) = args.checkpoint_every_minutes {
                config.checkpoint.every_minutes = m;
            }
            config.validate("arguments")?;
            // Before the run directory exists: a refused list writes nothing.
            config.check_devices(devices.len())?;
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(format!("train-{}", utc_stamp())));
            if !quiet {
                eprintln!(
                    "training {} on {backend} into {}",
                    source.label,
                    out.display()
                );
            }
            let trainer = Trainer::new(source.spec, config, &out, &device, quiet)?;
            match init {
                Some(c) => trainer.with_initial_weights(c.load_net(&device)?),
                None => trainer,
            }
        }
    };
    let trainer = trainer.with_devices(&devices)?;
    let dir = trainer.dir().to_path_buf();
    let trainer = match args.stop_after {
        Some(n) => trainer.stop_after(n),
        None => trainer,
    };
    let outcome = trainer.run()?;
    println!(
        "test top-1 {:.4}, top-5 {:.4}, loss {:.4} after {} epochs ({:.0} s)",
        outcome.test.top1, outcome.test.top5, outcome.test.loss, outcome.epochs, outcome.seconds
    );
    println!("checkpoint: {}", outcome.checkpoint.display());
    println!("curves: {}", dir.join("curves.svg").display());
    Ok(())
}

fn source(args: &TrainArgs) -> Result<Source> {
    let target = match &args.network {
        Some(t) => PathBuf::from(t),
        None => newest_search_run(Path::new("runs"))?,
    };
    if target.is_dir() {
        return search_run(&target);
    }
    let description = description::read(&target.display().to_string(), args.space.as_deref())?;
    let resolution = description.default_resolution();
    let refusal = description.not_buildable();
    let (spec, resolution) = match description {
        // An architecture knows its space's input side; a net.config does not.
        Description::Net { spec, arch, .. } => (spec.into(), arch.is_some().then_some(resolution)),
        // A tree network takes CIFAR-10's 32x32 images only.
        Description::TreeNet(net) => (net.into(), Some(resolution)),
        Description::Space(_) | Description::TreeSpace(_) => {
            bail!("{}: {}", target.display(), refusal.unwrap_or_default())
        }
    };
    Ok(Source {
        spec,
        resolution,
        data: None,
        label: target.display().to_string(),
    })
}

/// The derived network of a search run, with its data set.
fn search_run(dir: &Path) -> Result<Source> {
    let files = RunFiles::new(dir);
    let net_config = files.final_net_config();
    if !net_config.is_file() {
        bail!(
            "{}: not a finished search run (no final/net.config)",
            dir.display()
        );
    }
    let spec = NetConfig::from_file(&net_config)?;
    let config_path = files.config();
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let config =
        SearchConfig::from_toml_with_overrides(&text, &config_path.display().to_string(), &[])?;
    // The space by its name, else as the run wrote it (a space file moved since).
    let space_copy = files.space().display().to_string();
    let resolution = Space::resolve(&config.space)
        .or_else(|_| Space::resolve(&space_copy))?
        .input()
        .resolution;
    Ok(Source {
        spec,
        resolution: Some(resolution),
        data: Some((
            config.data.dataset,
            config.data.path,
            resolution,
            config.data.folder,
        )),
        label: format!("the network of {}", dir.display()),
    })
}

/// The most recently finished search run under `runs`.
fn newest_search_run(runs: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(runs).with_context(|| {
        format!(
            "{}: no search runs here; give a network, or run `cargo xtask search` first",
            runs.display()
        )
    })?;
    entries
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            let modified = RunFiles::new(&p)
                .final_net_config()
                .metadata()
                .ok()?
                .modified()
                .ok()?;
            Some((modified, p))
        })
        .max()
        .map(|(_, p)| p)
        .with_context(|| {
            format!(
                "{}: no finished search run (with final/net.config); give a network, or run \
                 `cargo xtask search` first",
                runs.display()
            )
        })
}
