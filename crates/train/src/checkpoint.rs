//! The training directory and its checkpoints, each complete in itself: the network's
//! `net.config`, its weights, the optimiser state and what evaluation needs (normalisation,
//! classes), written into a temporary folder and renamed into place.
//!
//! ```text
//! OUT/train.toml                 the configuration (resume reads it back)
//! OUT/net.config                 the network trained
//! OUT/metrics.jsonl              one JSON object per epoch
//! OUT/curves.svg                 loss and accuracy per epoch, drawn
//! OUT/checkpoints/epoch-N/       net.config, model.bpk, optimizer.bpk, state.json
//! ```

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use proxyless_data::synthetic::SyntheticConfig;
use proxyless_data::{DatasetKind, FolderOptions, LoadOptions, Normalize};
use proxyless_nn::{Network, ProxylessNet, tree::TreeNet};
use proxyless_space::NetConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use proxyless_plumbing::checkpoints::{checkpoint_name, write_checkpoint};
use proxyless_plumbing::files::write_atomic;
use proxyless_plumbing::{EpochTotals, LogLengths};

const STATE: &str = "state.json";
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const NET_CONFIG: &str = "net.config";

/// A test-set evaluation, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Images evaluated.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Top-1 accuracy in `[0, 1]`.
    pub top1: f64,
    /// Top-5 accuracy in `[0, 1]`.
    pub top5: f64,
}

/// Everything besides the weights that resuming and evaluating need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Seconds of training in all sessions.
    pub elapsed_seconds: f64,
    /// The data set trained on (`fashion-mnist train`).
    pub dataset: String,
    /// Its kind, so evaluation reads the same data set by default.
    #[serde(default)]
    pub dataset_kind: Option<DatasetKind>,
    /// Its directory, if one was given.
    #[serde(default)]
    pub dataset_path: Option<PathBuf>,
    /// Images per class, for a synthetic data set.
    #[serde(default)]
    pub synthetic_per_class: Option<usize>,
    /// The run's seed (a synthetic test split and the test sample derive from it).
    #[serde(default)]
    pub seed: u64,
    /// The test images were a seeded sample of this many.
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// `[channels, height, width]` of the training images.
    pub image_shape: [usize; 3],
    /// The class names in label order, when the data set has them.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    /// Per-channel mean of the normalisation.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the normalisation.
    pub std: Vec<f32>,
    /// How an image folder was read (its test-time crop, decoding), when it was one.
    #[serde(default)]
    pub folder: Option<FolderOptions>,
    /// The last test evaluation.
    pub test: Option<EvalSummary>,
    /// For a checkpoint taken inside an epoch: that epoch's steps done and running sums.
    #[serde(default)]
    pub within_epoch: Option<EpochTotals>,
    /// The fingerprint of the checkpoint's weights (`proxyless_nn::weights_fingerprint`).
    #[serde(default)]
    pub weights_fingerprint: Option<String>,
    /// The length of `metrics.jsonl` when the checkpoint was taken (checkpoints written
    /// before it was recorded cut the file back by epoch instead).
    #[serde(default)]
    pub logs: Option<LogLengths>,
}

impl TrainState {
    /// The normalisation the network was trained with.
    pub fn normalize(&self) -> Normalize {
        Normalize {
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }

    /// The test-time crop images are read with: an image folder's `test_crop` (0.875 by
    /// default), else 1 (the shorter side resized to the input side).
    pub fn test_crop(&self) -> f64 {
        self.folder.as_ref().map_or(1.0, |f| f.test_crop)
    }

    /// The class names recorded at training, or else the built-in names of the data set's
    /// kind (Fashion-MNIST, MNIST, CIFAR-10: checkpoints written before names were recorded).
    pub fn class_names(&self) -> Option<Vec<String>> {
        self.class_names
            .clone()
            .or_else(|| match self.dataset_kind? {
                kind @ (DatasetKind::FashionMnist | DatasetKind::Mnist | DatasetKind::Cifar10) => {
                    proxyless_data::class_names(kind, None).ok().flatten()
                }
                _ => None,
            })
    }
}

/// A saved checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// The network's configuration.
    pub spec: NetConfig,
    /// Its state.
    pub state: TrainState,
}

impl Checkpoint {
    /// How to read the checkpoint's data set again as it was trained on, image folders resized
    /// to `resolution`: a synthetic set is regenerated with the run's seed and shape.
    pub fn load_options(&self, resolution: usize) -> LoadOptions {
        let state = &self.state;
        let [channels, side, _] = state.image_shape;
        LoadOptions {
            resolution,
            channels,
            folder: state.folder.clone().unwrap_or_default(),
            synthetic: SyntheticConfig {
                classes: self.spec.num_classes(),
                channels,
                size: side,
                per_class: state.synthetic_per_class.unwrap_or(64),
                ..Default::default()
            },
            seed: state.seed,
        }
    }

    /// Opens a checkpoint directory, or the newest checkpoint of a training directory.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = if path.join(STATE).is_file() {
            path.to_path_buf()
        } else if path.join("checkpoints").is_dir() {
            newest(&path.join("checkpoints"))?.ok_or_else(|| {
                Error::file(path, "holds no complete checkpoint (checkpoints/ is empty)")
            })?
        } else {
            return Err(Error::file(
                path,
                "is neither a checkpoint (no state.json) nor a training directory (no checkpoints/)",
            ));
        };
        let state_path = dir.join(STATE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::file(&state_path, e))?;
        let state: TrainState = serde_json::from_str(&text)
            .map_err(|e| Error::file(&state_path, format!("not a training state: {e}")))?;
        let spec = NetConfig::from_file(dir.join(NET_CONFIG))?;
        Ok(Self { dir, spec, state })
    }

    /// The network with the checkpoint's weights, on `device`.
    /// (The file holds the record of the network itself, `ProxylessNet` or `TreeNet`, so
    /// checkpoints of MBConv nets read as they always have.)
    pub fn load_net(&self, device: &Device) -> Result<Network> {
        let path = self.dir.join(MODEL);
        let failed = |e| {
            Error::file(
                &path,
                format!("cannot load the network (a checkpoint of another net.config?): {e}"),
            )
        };
        Ok(match &self.spec {
            NetConfig::Mobile(spec) => Network::Mobile(
                ProxylessNet::new(spec, device)
                    .try_load_file(&path)
                    .map_err(failed)?,
            ),
            NetConfig::Tree(config) => {
                let origin = self.dir.join(NET_CONFIG).display().to_string();
                Network::Tree(
                    TreeNet::new(config, &origin, device)?
                        .try_load_file(&path)
                        .map_err(failed)?,
                )
            }
        })
    }

    /// Loads the optimiser state into `optim`.
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let path = self.dir.join(OPTIMIZER);
        optim
            .load(&path)
            .map_err(|e| Error::file(&path, format!("cannot load the optimiser state: {e}")))
    }

    /// Saves a checkpoint into `checkpoints/epoch-N` of `train_dir` (N = epochs done; with
    /// `-step-S` for one taken inside an epoch) and keeps the newest `keep`.
    pub fn save(
        train_dir: &Path,
        spec: &NetConfig,
        net: &Network,
        optim: &ModuleOptimizer,
        state: &TrainState,
        keep: usize,
    ) -> Result<PathBuf> {
        let checkpoints = train_dir.join("checkpoints");
        let name = checkpoint_name(state.epochs_done, state.within_epoch.map(|t| t.steps));
        let fin = checkpoints.join(name);
        Self::write(&fin, spec, net, Some(optim), state)?;
        let mut all = complete(&checkpoints)?;
        while all.len() > keep.max(1) {
            let _ = std::fs::remove_dir_all(all.remove(0));
        }
        Ok(fin)
    }

    /// Writes a checkpoint directory `dir`: into a temporary sibling, flushed to disk, then
    /// renamed into place (replacing an older `dir`), so a checkpoint is either complete or
    /// absent, even after a crash.
    /// Without an optimiser the checkpoint serves evaluation, export and fine-tuning, not
    /// resuming.
    pub fn write(
        dir: &Path,
        spec: &NetConfig,
        net: &Network,
        optim: Option<&ModuleOptimizer>,
        state: &TrainState,
    ) -> Result<()> {
        // The fingerprint settles the BatchNorm statistics first (`settle_running_stats`), so
        // the weights saved below hold the last step's update too.
        let mut state = state.clone();
        state.weights_fingerprint = Some(proxyless_nn::weights_fingerprint(net));
        write_checkpoint(dir, |tmp| {
            let file = |name: &str| tmp.join(name).display().to_string();
            match net {
                Network::Mobile(net) => net.clone().save_file(tmp.join(MODEL)),
                Network::Tree(net) => net.clone().save_file(tmp.join(MODEL)),
            }
            .map_err(|e| format!("{}: {e}", file(MODEL)))?;
            if let Some(optim) = optim {
                optim
                    .save(tmp.join(OPTIMIZER))
                    .map_err(|e| format!("{}: {e}", file(OPTIMIZER)))?;
            }
            let json = serde_json::to_vec_pretty(&state).expect("the state serialises");
            write_atomic(&tmp.join(STATE), &json).map_err(|e| format!("{}: {e}", file(STATE)))?;
            write_atomic(&tmp.join(NET_CONFIG), spec.to_json().as_bytes())
                .map_err(|e| format!("{}: {e}", file(NET_CONFIG)))
        })
        .map_err(|e| Error::file(dir, e))
    }
}

/// Complete checkpoints of a `checkpoints/` folder, oldest first.
fn complete(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(proxyless_plumbing::files::epoch_checkpoints(dir, STATE))
}

fn newest(dir: &Path) -> Result<Option<PathBuf>> {
    Ok(complete(dir)?.pop())
}
