//! The search configuration (TOML), with the paper's defaults scaled for small data.

use std::path::PathBuf;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use proxyless_supernet::gradient::CostLoss;
use proxyless_supernet::{AdamSettings, ArchMode};
use proxyless_train::check_shards;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything a search needs to know; a run directory keeps the exact copy it ran with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// The space: a preset name or a path to a TOML file.
    pub space: String,
    /// Seed of every random choice (data order, augmentation, paths, initialisation).
    #[serde(default)]
    pub seed: u64,
    /// The data.
    pub data: DataConfig,
    /// Epochs and logging.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// The weights' optimiser.
    #[serde(default)]
    pub weights: WeightsConfig,
    /// The architecture updates.
    #[serde(default)]
    pub arch: ArchConfig,
    /// The hardware cost and how it enters the loss.
    #[serde(default)]
    pub target: TargetConfig,
    /// Settings of the REINFORCE variant.
    #[serde(default)]
    pub reinforce: ReinforceConfig,
}

pub use proxyless_data::{DatasetKind, FolderOptions};
pub use proxyless_nn::Precision;

/// Where the images come from and how they are batched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The data set.
    pub dataset: DatasetKind,
    /// Its directory (required except for Fashion-MNIST and synthetic data).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Use at most this many training images (a seeded sample), before the held-out split.
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Images held out of the training set for architecture steps and validation.
    pub holdout: usize,
    /// Batch size of weight steps.
    pub batch_size: usize,
    /// Batch size of architecture steps (the paper: the training batch size).
    pub arch_batch_size: usize,
    /// Random crops and flips on training images.
    #[serde(default = "yes")]
    pub augment: bool,
    /// Images per class of a synthetic set.
    #[serde(default = "default_synthetic_per_class")]
    pub synthetic_per_class: usize,
    /// How image folders are streamed, augmented and normalised (`[data.folder]`).
    #[serde(default)]
    pub folder: FolderOptions,
}

fn yes() -> bool {
    true
}

fn default_synthetic_per_class() -> usize {
    64
}

/// Epochs, the start of architecture updates, logging and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Epochs of weight training before any architecture update (the paper: 40).
    pub warmup_epochs: usize,
    /// Epochs of the joint search (the paper: 120).
    pub epochs: usize,
    /// Search epochs without architecture updates at the start (the paper: 1).
    pub arch_delay_epochs: usize,
    /// Log a step line every this many weight steps.
    pub log_every: usize,
    /// Hold-out batches used to validate the derived network after each epoch (0: all).
    pub eval_batches: usize,
    /// Checkpoints kept in the run directory (the newest ones).
    pub keep_checkpoints: usize,
    /// Also checkpoint inside an epoch every this many weight steps (0: only at the end of
    /// an epoch). A search resumed from any checkpoint ends as the uninterrupted one.
    pub checkpoint_every_steps: usize,
    /// Also checkpoint inside an epoch every this many minutes (0: not by time).
    pub checkpoint_every_minutes: f64,
}

impl ScheduleConfig {
    /// When to checkpoint inside an epoch.
    pub fn cadence(&self) -> proxyless_plumbing::Cadence {
        proxyless_plumbing::Cadence {
            every_steps: self.checkpoint_every_steps,
            every_minutes: self.checkpoint_every_minutes,
        }
    }
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            warmup_epochs: 40,
            epochs: 120,
            arch_delay_epochs: 1,
            log_every: 50,
            eval_batches: 0,
            keep_checkpoints: 2,
            checkpoint_every_steps: 0,
            checkpoint_every_minutes: 0.0,
        }
    }
}

/// SGD with Nesterov momentum and a cosine schedule, as the paper trains its supernet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeightsConfig {
    /// Peak learning rate of the search phase (the paper: 0.025 at batch 256).
    pub lr: f64,
    /// Peak learning rate of the warm-up (the paper: 0.05).
    pub warmup_lr: f64,
    /// Momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay on every weight (the paper: 4e-5).
    pub weight_decay: f64,
    /// Label smoothing of the weight steps' cross-entropy (the paper: 0.1).
    pub label_smoothing: f32,
    /// How the supernet's convolutions start: `he_fout` (the paper's code: N(0, 2/(k·k·out)))
    /// or `pytorch` (PyTorch's default, U(±1/√fan_in); an extension).
    pub init: WeightInit,
    /// Precision of the weight steps: `f32`, or `bf16` (mixed precision, an extension: the
    /// convolutions in bfloat16, BatchNorm, the loss and the weights in f32). Architecture
    /// steps and validation stay f32.
    pub precision: Precision,
    /// How the warm-up's weight steps pick their paths: `softmax` (the paper: from
    /// softmax(α), uniform while α is at its start) or `fair` (strict fairness, an extension
    /// after FairNAS: every block runs each candidate once per run of as many steps as it has
    /// candidates). The search phase samples from softmax(α) either way.
    pub warmup_paths: WarmupPaths,
}

/// How the warm-up's weight steps pick their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmupPaths {
    /// One candidate per block drawn from softmax(α) (the paper).
    #[default]
    Softmax,
    /// Each candidate once per run of as many steps as the block has candidates (an
    /// extension).
    Fair,
}

/// The supernet's initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightInit {
    /// The paper's `he_fout`.
    #[default]
    HeFout,
    /// PyTorch's (and Burn's) default for convolutions (an extension of the paper).
    Pytorch,
}

impl WeightInit {
    /// The initializer the supernet's convolutions get (`None`: `he_fout`).
    pub fn initializer(self) -> Option<burn::nn::Initializer> {
        match self {
            WeightInit::HeFout => None,
            WeightInit::Pytorch => Some(proxyless_nn::pytorch_default_init()),
        }
    }
}

impl WeightsConfig {
    /// SGD with (Nesterov) momentum and weight decay as configured, with PyTorch's semantics
    /// (no dampening; Burn's default dampening is 0.1).
    pub fn optimizer(&self) -> ModuleOptimizer {
        SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(self.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(self.nesterov),
            ))
            .with_weight_decay(
                (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32)),
            )
            .init()
    }
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self {
            lr: 0.025,
            warmup_lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 4e-5,
            label_smoothing: 0.1,
            init: WeightInit::HeFout,
            precision: Precision::F32,
            warmup_paths: WarmupPaths::Softmax,
        }
    }
}

/// Which algorithm updates α.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchAlgorithm {
    /// ProxylessNAS-G: BinaryConnect gate gradients (mode per [`ArchConfig::mode`]).
    Gradient,
    /// ProxylessNAS-R: REINFORCE with a moving-average baseline.
    Reinforce,
}

/// How and how often α is updated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchConfig {
    /// Gradient (ProxylessNAS-G) or REINFORCE (ProxylessNAS-R).
    pub algorithm: ArchAlgorithm,
    /// Mode of gradient steps: `two`, `full` or `full_v2` (the paper's default).
    pub mode: ArchMode,
    /// An architecture update after every this many weight steps (the paper: 5).
    pub update_every: usize,
    /// Architecture steps per update (the paper: 1).
    pub steps: usize,
    /// Standard deviation of the initial α (the paper: 1e-3).
    pub init_std: f64,
    /// Adam for α.
    pub adam: AdamSettings,
}

impl Default for ArchConfig {
    fn default() -> Self {
        Self {
            algorithm: ArchAlgorithm::Gradient,
            mode: ArchMode::FullV2,
            update_every: 5,
            steps: 1,
            init_std: 1e-3,
            adam: AdamSettings::default(),
        }
    }
}

/// The hardware cost model and the loss form that weighs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetConfig {
    /// `macs` (millions of multiply-accumulates), `none`, a named latency table (`pixel1`),
    /// a path to a YAML table, or `measured` / `measured:<backend>`: a table profiled on the
    /// backend the search runs on (first use; then cached per space and device).
    pub cost: String,
    /// `mul#log` (the paper's default), `add#linear`, `constraint` or `none`. `constraint` is
    /// `add#linear` whose weight λ adapts by dual ascent on the derived architecture's cost:
    /// λ ← max(0, λ + dual_lr · (cost − reference) / reference) after every update, so the
    /// search settles at or under the reference.
    pub loss: String,
    /// The reference (target) cost, in the cost model's unit.
    pub reference: f64,
    /// Scale of `mul#log` (the paper: 0.2).
    pub alpha: f64,
    /// Exponent of `mul#log` (the paper: 0.3).
    pub beta: f64,
    /// Weight of `add#linear` (the paper: 0.1); the starting λ of `constraint`.
    pub lambda: f64,
    /// Step size of the dual ascent on λ in `constraint` mode.
    pub dual_lr: f64,
    /// In `constraint` mode, how far under the reference the derived architecture may end:
    /// the most probable architecture within the reference is raised, one block at a time at
    /// the least cost in probability, until its cost reaches `(1 − margin) · reference` or no
    /// dearer choice fits (the paper's soft losses have no such guarantee).
    pub margin: f64,
    /// With a table file: predict MBConv blocks the table lacks by a linear fit of its entries
    /// on MACs and activation sizes, instead of stopping with an error naming the key.
    pub fallback: bool,
    /// Batch size of a measured table.
    pub batch: usize,
    /// Where measured tables are cached (default: `$PROXYLESS_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/proxyless`, else `~/.cache/proxyless`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
}

impl Default for TargetConfig {
    fn default() -> Self {
        Self {
            cost: "none".into(),
            loss: "mul#log".into(),
            reference: 80.0,
            alpha: 0.2,
            beta: 0.3,
            lambda: 0.1,
            dual_lr: 0.5,
            margin: 0.05,
            fallback: false,
            batch: 1,
            cache_dir: None,
        }
    }
}

impl TargetConfig {
    /// Whether a hardware cost is configured.
    pub fn has_cost(&self) -> bool {
        self.cost != "none"
    }

    /// Whether the cost is a constraint met by dual ascent on its weight.
    pub fn is_constraint(&self) -> bool {
        self.has_cost() && self.loss == "constraint"
    }

    /// The loss form, checked.
    pub fn cost_loss(&self, origin: &str) -> Result<CostLoss> {
        if !self.has_cost() {
            return Ok(CostLoss::None);
        }
        match self.loss.as_str() {
            "none" => Ok(CostLoss::None),
            "mul#log" => {
                if self.reference.is_nan() || self.reference <= 1.0 {
                    return Err(Error::config(
                        origin,
                        format!(
                            "target.reference: mul#log divides by ln(reference), so it needs a reference above 1, got {}",
                            self.reference
                        ),
                    ));
                }
                Ok(CostLoss::MulLog {
                    alpha: self.alpha,
                    beta: self.beta,
                    reference: self.reference,
                })
            }
            "add#linear" | "constraint" => {
                if self.reference.is_nan() || self.reference <= 0.0 {
                    return Err(Error::config(
                        origin,
                        format!(
                            "target.reference: expected a positive cost, got {}",
                            self.reference
                        ),
                    ));
                }
                Ok(CostLoss::AddLinear {
                    lambda: self.lambda,
                    reference: self.reference,
                })
            }
            other => Err(Error::config(
                origin,
                format!(
                    "target.loss: expected \"mul#log\", \"add#linear\", \"constraint\" or \"none\", got \"{other}\""
                ),
            )),
        }
    }
}

/// Settings of ProxylessNAS-R.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReinforceConfig {
    /// Architectures sampled per update (the paper: 10).
    pub samples: usize,
    /// Weight of a new mean reward in the baseline (the paper: 0.99).
    pub baseline_decay: f64,
    /// Exponent w of the reward `acc · (reference / cost)^w` (the paper: 0.1).
    pub tradeoff: f64,
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        Self {
            samples: 10,
            baseline_decay: 0.99,
            tradeoff: 0.1,
        }
    }
}

/// The default search: the `fmnist` space on Fashion-MNIST, sized to finish in minutes on a
/// 2-core CPU.
pub const DEFAULT_CONFIG: &str = include_str!("../presets/fmnist.toml");

impl SearchConfig {
    /// Whether a data-parallel search on `devices` devices can split every weight batch and
    /// every held-out batch (see [`check_shards`]).
    pub fn check_devices(&self, devices: usize) -> Result<()> {
        let data = &self.data;
        for (batch, key) in [
            (data.batch_size, "data.batch_size"),
            (data.arch_batch_size, "data.arch_batch_size"),
        ] {
            check_shards(devices, batch, key).map_err(|message| Error::Config {
                origin: "--devices".into(),
                message,
            })?;
        }
        Ok(())
    }

    /// Parses a configuration; `origin` names its source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let value: toml::Table = toml::from_str(text).map_err(|e| {
            Error::config(
                origin,
                format!("invalid TOML: {}", e.to_string().trim_end()),
            )
        })?;
        Self::from_table(value, origin)
    }

    /// Parses a configuration after applying `key.path=value` overrides (values in TOML
    /// syntax; bare words are taken as strings).
    pub fn from_toml_with_overrides(
        text: &str,
        origin: &str,
        overrides: &[String],
    ) -> Result<Self> {
        Self::from_table(table_with_overrides(text, origin, overrides)?, origin)
    }

    fn from_table(table: toml::Table, origin: &str) -> Result<Self> {
        let config: SearchConfig = table.try_into().map_err(|e: toml::de::Error| {
            Error::config(origin, e.to_string().trim_end().to_string())
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Renders the configuration as TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("configurations serialise")
    }

    /// Checks the values that parsing cannot.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad =
            |key: &str, message: String| Err(Error::config(origin, format!("{key}: {message}")));
        let d = &self.data;
        if d.batch_size == 0 || d.arch_batch_size == 0 {
            return bad("data.batch_size", "batch sizes must be positive".into());
        }
        if d.holdout == 0 {
            return bad(
                "data.holdout",
                "architecture steps need held-out images; got 0".into(),
            );
        }
        if self.schedule.epochs == 0 {
            return bad(
                "schedule.epochs",
                "expected at least one search epoch".into(),
            );
        }
        let minutes = self.schedule.checkpoint_every_minutes;
        if !(minutes.is_finite() && minutes >= 0.0) {
            return bad(
                "schedule.checkpoint_every_minutes",
                format!("expected 0 (off) or a positive number of minutes; got {minutes}"),
            );
        }
        if self.arch.update_every == 0 || self.arch.steps == 0 {
            return bad(
                "arch.update_every",
                "expected positive update_every and steps".into(),
            );
        }
        if self.reinforce.samples == 0 {
            return bad("reinforce.samples", "expected at least one sample".into());
        }
        if !(self.weights.lr > 0.0 && self.weights.warmup_lr > 0.0) {
            return bad("weights.lr", "learning rates must be positive".into());
        }
        if !(0.0..1.0).contains(&self.weights.label_smoothing) {
            return bad(
                "weights.label_smoothing",
                format!(
                    "expected a value in [0, 1), got {}",
                    self.weights.label_smoothing
                ),
            );
        }
        self.target.cost_loss(origin)?;
        if !(0.0..1.0).contains(&self.target.margin) {
            return bad(
                "target.margin",
                format!("expected a value in [0, 1), got {}", self.target.margin),
            );
        }
        if self.target.is_constraint() && self.arch.algorithm != ArchAlgorithm::Gradient {
            return bad(
                "target.loss",
                "\"constraint\" adapts the weight of the gradient algorithm's cost term; REINFORCE uses target.reference in its reward".into(),
            );
        }
        Ok(())
    }
}

/// The TOML `text` (from `origin`) as a table with `key.path=value` overrides applied
/// ([`apply_override`]): what configurations with `--set` parse.
pub fn table_with_overrides(text: &str, origin: &str, overrides: &[String]) -> Result<toml::Table> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        Error::config(
            origin,
            format!("invalid TOML: {}", e.to_string().trim_end()),
        )
    })?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    Ok(table)
}

/// Applies one `a.b.c=value` override (`--set`) to a TOML table: the value is read as TOML
/// (`3`, `true`, `"text"`, `[0, 1]`), else taken as a string (`he_fout`, `mul#log`).
pub fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let Some((path, raw)) = item.split_once('=') else {
        return Err(Error::config(
            "arguments",
            format!("--set {item}: expected key=value, for example schedule.epochs=3"),
        ));
    };
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let keys: Vec<&str> = path.trim().split('.').collect();
    let mut current = table;
    for key in &keys[..keys.len() - 1] {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            Error::config("arguments", format!("--set {item}: '{key}' is not a table"))
        })?;
    }
    current.insert(keys[keys.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_parses() {
        let c = SearchConfig::from_toml_str(DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.space, "fmnist");
        assert_eq!(c.data.dataset, DatasetKind::FashionMnist);
        assert_eq!(c.weights.init, WeightInit::Pytorch);
        // A configuration that says nothing of the initialisation gets the paper's.
        let text = DEFAULT_CONFIG.replace("init = \"pytorch\"\n", "");
        let plain = SearchConfig::from_toml_str(&text, "plain").unwrap();
        assert_eq!(plain.weights.init, WeightInit::HeFout);
        assert!(plain.weights.init.initializer().is_none());
        let err = SearchConfig::from_toml_with_overrides(
            DEFAULT_CONFIG,
            "d",
            &["weights.init=\"xavier\"".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("xavier") && err.contains("he_fout"), "{err}");
    }

    #[test]
    fn overrides_reach_nested_keys_and_are_validated() {
        let c = SearchConfig::from_toml_with_overrides(
            DEFAULT_CONFIG,
            "default",
            &[
                "schedule.epochs=7".into(),
                "arch.mode=two".into(),
                "target.cost=pixel1".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.schedule.epochs, 7);
        assert_eq!(c.arch.mode, ArchMode::Two);
        assert_eq!(c.target.cost, "pixel1");
        let err = SearchConfig::from_toml_with_overrides(
            DEFAULT_CONFIG,
            "d",
            &["data.batch_size=0".into()],
        )
        .unwrap_err();
        assert!(err.to_string().contains("data.batch_size"), "{err}");
        let err = SearchConfig::from_toml_with_overrides(
            DEFAULT_CONFIG,
            "d",
            &["arch.mode=three".into()],
        )
        .unwrap_err();
        assert!(err.to_string().contains("three"), "{err}");
    }
}
