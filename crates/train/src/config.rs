//! The training recipe as a TOML file: data, epochs and the optimiser, with the paper's
//! retraining defaults (Nesterov SGD 0.9, cosine per iteration after a linear warm-up, label
//! smoothing 0.1, weight decay 4e-5 except on BatchNorm).

use std::path::PathBuf;

use burn::module::ParamGroup;
use burn::module::ParamId;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use proxyless_data::{DatasetKind, FolderOptions};
pub use proxyless_nn::Precision;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The recipe of `configs/train/fmnist.toml`, embedded.
pub const DEFAULT_CONFIG: &str = include_str!("../presets/fmnist.toml");

/// A training run's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of initialisation, shuffling and augmentation.
    #[serde(default)]
    pub seed: u64,
    /// Epochs over the training images.
    pub epochs: usize,
    /// The images.
    pub data: TrainDataConfig,
    /// The optimiser and its schedule.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Checkpoints: how many are kept, and when to take one inside an epoch besides the one
    /// at its end. Resuming from any of them is exact.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
}

/// Which checkpoints a training run takes and keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Also checkpoint inside an epoch every this many steps (0: only at its end).
    pub every_steps: usize,
    /// Also checkpoint inside an epoch every this many minutes (0: not by time).
    pub every_minutes: f64,
    /// Checkpoints kept (the newest ones).
    pub keep: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every_steps: 0,
            every_minutes: 0.0,
            keep: 2,
        }
    }
}

impl CheckpointConfig {
    /// When to checkpoint inside an epoch.
    pub fn cadence(&self) -> proxyless_plumbing::Cadence {
        proxyless_plumbing::Cadence {
            every_steps: self.every_steps,
            every_minutes: self.every_minutes,
        }
    }
}

/// Where the images come from and how they are batched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainDataConfig {
    /// The data set.
    pub dataset: DatasetKind,
    /// Its directory (required except for Fashion-MNIST and synthetic data).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Train on at most this many images (a seeded sample).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Evaluate on at most this many test images (a seeded sample).
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Images per training step.
    pub batch_size: usize,
    /// Images per evaluation batch.
    #[serde(default = "default_eval_batch_size")]
    pub eval_batch_size: usize,
    /// Random crops and flips on training images.
    #[serde(default = "yes")]
    pub augment: bool,
    /// Cutout on training images (with `augment`): the side of the square cut out of each
    /// image, set to the mean (0: none; 16 is the usual one for CIFAR-10 at 32x32).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cutout: usize,
    /// Side that image folders are resized to.
    #[serde(default = "default_resolution")]
    pub resolution: usize,
    /// Images per class of a synthetic set.
    #[serde(default = "default_synthetic_per_class")]
    pub synthetic_per_class: usize,
    /// How image folders are streamed, augmented and normalised (`[data.folder]`).
    #[serde(default)]
    pub folder: FolderOptions,
}

/// SGD with momentum, its schedule and regularisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate, reached at the end of the warm-up (the paper: 0.05 at batch 256).
    pub lr: f64,
    /// Epochs of linear warm-up.
    pub warmup_epochs: f64,
    /// Momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Exempt BatchNorm's γ and β from weight decay (the paper's `no_decay_keys = "bn"`).
    pub no_decay_bn: bool,
    /// Label smoothing of the training loss.
    pub label_smoothing: f32,
    /// Dropout before the classifier; `None` keeps the `net.config`'s rate.
    pub dropout: Option<f64>,
    /// Precision of the training steps: `f32`, or `bf16` (mixed precision: the convolutions
    /// in bfloat16, BatchNorm, the loss and the weights in f32). Evaluation stays f32.
    pub precision: Precision,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 0.05,
            warmup_epochs: 1.0,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 4e-5,
            no_decay_bn: true,
            label_smoothing: 0.1,
            dropout: None,
            precision: Precision::F32,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn yes() -> bool {
    true
}
fn default_eval_batch_size() -> usize {
    256
}
fn default_resolution() -> usize {
    224
}
fn default_synthetic_per_class() -> usize {
    64
}

/// Refuses more devices than images in a batch of `batch` (`key`: its configuration key):
/// every device of a data-parallel run needs a shard of every batch.
pub fn check_shards(devices: usize, batch: usize, key: &str) -> std::result::Result<(), String> {
    if devices > batch {
        return Err(format!(
            "{devices} devices for batches of {batch} images ({key}): every device needs a shard"
        ));
    }
    Ok(())
}

impl TrainConfig {
    /// Whether a data-parallel run on `devices` devices can split every batch (see
    /// [`check_shards`]).
    pub fn check_devices(&self, devices: usize) -> Result<()> {
        check_shards(devices, self.data.batch_size, "data.batch_size")
            .map_err(|message| Error::config("--devices", message))
    }

    /// Parses and checks a configuration; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let config: Self =
            toml::from_str(text).map_err(|e| Error::config(origin, e.to_string()))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads and checks a configuration file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The embedded default recipe (`configs/train/fmnist.toml`).
    pub fn default_recipe() -> Self {
        Self::from_toml_str(DEFAULT_CONFIG, "configs/train/fmnist.toml")
            .expect("the embedded recipe is valid")
    }

    /// The configuration as TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("the configuration serialises")
    }

    /// Checks every value, naming the key of the first bad one.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::config(origin, format!("{key}: {why}")));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.data.batch_size == 0 || self.data.eval_batch_size == 0 {
            return bad("data.batch_size", "batch sizes must be at least 1");
        }
        if self.data.train_limit == Some(0) || self.data.test_limit == Some(0) {
            return bad("data.train_limit", "limits must be at least 1 image");
        }
        let o = &self.optim;
        if o.lr.is_nan() || o.lr <= 0.0 || o.lr.is_infinite() {
            return bad("optim.lr", "must be a positive number");
        }
        if !(0.0..=self.epochs as f64).contains(&o.warmup_epochs) {
            return bad("optim.warmup_epochs", "must lie between 0 and epochs");
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad("optim.momentum", "must lie in [0, 1)");
        }
        if o.weight_decay.is_nan() || o.weight_decay < 0.0 {
            return bad("optim.weight_decay", "must not be negative");
        }
        if !(0.0..1.0).contains(&o.label_smoothing) {
            return bad("optim.label_smoothing", "must lie in [0, 1)");
        }
        if o.dropout.is_some_and(|d| !(0.0..1.0).contains(&d)) {
            return bad("optim.dropout", "must lie in [0, 1)");
        }
        let minutes = self.checkpoint.every_minutes;
        if !(minutes.is_finite() && minutes >= 0.0) {
            return bad(
                "checkpoint.every_minutes",
                "must be 0 (off) or a positive number of minutes",
            );
        }
        if self.checkpoint.keep == 0 {
            return bad("checkpoint.keep", "must keep at least 1 checkpoint");
        }
        Ok(())
    }
}

impl OptimConfig {
    /// SGD with PyTorch's semantics (no dampening; Burn's default is 0.1): weight decay on
    /// every parameter except those of `no_decay` (BatchNorm's, when so configured).
    pub fn optimizer(&self, no_decay: Vec<ParamId>) -> ModuleOptimizer {
        let sgd = |decay: f64| {
            SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                        .with_nesterov(self.nesterov),
                ))
                .with_weight_decay((decay > 0.0).then(|| WeightDecayConfig::new(decay as f32)))
        };
        let optim = sgd(self.weight_decay).init();
        if self.no_decay_bn && self.weight_decay > 0.0 && !no_decay.is_empty() {
            optim.with_group(ParamGroup::from_ids(no_decay), sgd(0.0).build(), None)
        } else {
            optim
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_recipe_is_valid() {
        let c = TrainConfig::default_recipe();
        assert_eq!(c.data.dataset, DatasetKind::FashionMnist);
        let again = TrainConfig::from_toml_str(&c.to_toml_string(), "again").unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn bad_values_name_their_key_and_file() {
        let text =
            "epochs = 2\n[data]\ndataset = \"synthetic\"\nbatch_size = 8\n[optim]\nlr = -1\n";
        let err = TrainConfig::from_toml_str(text, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml: optim.lr"), "{err}");
        let err = TrainConfig::from_toml_str("epochs = 2\n[data]\ndataset = \"x\"", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml") && err.contains("unknown variant"),
            "{err}"
        );
    }
}
