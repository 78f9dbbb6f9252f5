//! The search loop: warm-up epochs of weight steps, then weight steps alternating with
//! architecture updates on held-out data, validation of the derived network after every
//! epoch, checkpoints, and the final architecture.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use proxyless_latency::{CostModel, LatencyTable};
use proxyless_plumbing::checkpoints::step_seed;
use proxyless_plumbing::{CadenceClock, EpochTotals, LogLengths, memory};
use proxyless_profiler::{ProfileSettings, backend_label, here, measure_net, measured_table};
use proxyless_report::{draw_network, draw_tree_net};
use proxyless_rundir::{AlphaLine, MemoryLine, MetricLine, RunFiles, Summary};
use proxyless_space::{CandidateCosts, NetConfig, NetSpec, SearchSpace};
use proxyless_supernet::gradient::{Baseline, CostLoss, expected_cost};
use proxyless_supernet::{ArchParams, Searchable};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tracing::{info, warn};

use crate::config::{ArchAlgorithm, SearchConfig, WarmupPaths};
use crate::data::{SearchData, load_train};
use crate::error::{Error, Result};
use crate::run_dir::{RunDir, SearchState};
use crate::space::{Space, SuperModel};
use proxyless_nn::parallel::{Shard, seed_devices};
use proxyless_plumbing::progress::Progress;
use proxyless_supernet::steps::{
    PendingStats, arch_step_sharded, evaluate, reinforce_step_sharded, weight_step_sharded,
};
use proxyless_train::steps::{batch_shards, batch_tensors, read_pending};

/// What a finished search found.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The derived architecture (argmax of every block): a candidate index per choice block.
    pub choices: Vec<usize>,
    /// Its network.
    pub net_config: NetConfig,
    /// Its compact text form.
    pub text: String,
    /// Cost of the derived architecture, with the unit, if a cost model is configured.
    pub cost: Option<(f64, String)>,
    /// Accuracy of the derived network (inherited supernet weights) on the held-out images.
    pub holdout_accuracy: f64,
    /// The derived network's latency measured end to end on the search's own device at the
    /// table's batch (ms), when the cost is a latency table.
    pub measured_latency_ms: Option<f64>,
    /// Wall time of the search in seconds, over all sessions of the run.
    pub seconds: f64,
}

/// A search in progress, ready to run or resume.
pub struct Search {
    config: SearchConfig,
    space: Space,
    run: RunDir,
    device: Device,
    /// The devices of a data-parallel search, `device` first; `[device]` otherwise.
    devices: Vec<Device>,
    model: SuperModel,
    optim: ModuleOptimizer,
    state: SearchState,
    data: SearchData,
    costs: Option<(CandidateCosts, CostLoss)>,
    /// The batch of the latency table the cost comes from; `None` when the cost is no latency.
    latency_batch: Option<usize>,
    /// The derived architecture and its held-out accuracy from the last end of epoch, which
    /// nothing has changed since when the search finishes.
    last_validation: Option<(Vec<usize>, f64)>,
    progress: Progress,
    /// Stop (with a checkpoint) once this many weight steps are done in all.
    step_limit: Option<u64>,
}

/// What each seed derived from a search's seed is for. The numbers are part of every recorded
/// search result: changing one changes the results of every seed.
mod purpose {
    /// The order and augmentation of an epoch's training batches.
    pub const WEIGHT_BATCHES: u64 = 0;
    /// The paths sampled for weight steps and architecture steps.
    pub const PATHS: u64 = 1;
    /// The order of an epoch's held-out batches for architecture steps.
    pub const HELD_OUT: u64 = 2;
    /// Further passes over the held-out batches: this plus the pass (1, 2, ...).
    pub const HELD_OUT_AGAIN: u64 = 3;
    /// The initial α (with the epoch `usize::MAX`, apart from every epoch's seeds).
    pub const ALPHA_INIT: u64 = 7;
    /// The orders of the warm-up's fair paths (`weights.warmup_paths = "fair"`), per block
    /// and run.
    pub const FAIR_ORDERS: u64 = 8;
    /// The paths and gates of an epoch's architecture updates, one stream per update.
    pub const ARCH_UPDATES: u64 = 1 << 32;
    /// The device's generator (dropout), reseeded before every weight step and update.
    pub const DEVICE: u64 = (1 << 32) + 1;
}

/// Reads the `pending` weight steps (each with its step and learning rate) into `totals`; a
/// loss that is not finite stops the search, naming its step.
fn read_into(
    pending: &mut Vec<(PendingStats, (usize, f64))>,
    totals: &mut EpochTotals,
    epoch: usize,
) -> Result<()> {
    read_pending(pending, totals).map_err(|(loss, (i, lr))| {
        Error::Diverged(format!(
            "loss {loss} at epoch {epoch}, step {i} (learning rate {lr:.4})"
        ))
    })
}

/// An unusable list of devices (the `--devices` argument).
fn devices_error(message: String) -> Error {
    Error::Config {
        origin: "--devices".into(),
        message,
    }
}

/// A seed for one purpose of one epoch, derived from the run's seed.
fn seed_for(seed: u64, epoch: usize, purpose: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (epoch as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ purpose.wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// The configured hardware cost, resolved: per-candidate costs, the loss that weighs them, the
/// table profiled on the search's own device (for `measured`), and the batch a latency table
/// was measured at (its header's, else `target.batch`), at which the derived network is timed.
struct ResolvedCost {
    candidates: CandidateCosts,
    loss: CostLoss,
    measured: Option<LatencyTable>,
    latency_batch: Option<usize>,
}

/// Resolves the configured cost model into per-candidate costs of `space`.
/// A measured table (`measured` or `measured:<backend>`) is profiled on `device` and also kept
/// in the run directory as `latency-table.yaml`. A table measured elsewhere (another backend,
/// build or machine) and a target outside the space's range are reported as warnings.
fn candidate_costs(
    config: &SearchConfig,
    space: &Space,
    origin: &str,
    device: &Device,
) -> Result<Option<ResolvedCost>> {
    if !config.target.has_cost() {
        return Ok(None);
    }
    let space = match space {
        Space::Mobile(space) => space,
        Space::Tree(tree) => return tree_costs(config, tree, origin).map(Some),
    };
    let cost = config.target.cost.as_str();
    let inference = device.clone().inner();
    let (model, measured) = match cost {
        "macs" => (CostModel::Macs, None),
        measured if measured == "measured" || measured.starts_with("measured:") => {
            let table = measured_table(
                space,
                &inference,
                config.target.batch,
                config.target.cache_dir.as_deref(),
            )?;
            (CostModel::Table(table.clone()), Some(table))
        }
        table => {
            let table = LatencyTable::resolve(table)?;
            let place = here(backend_label(&inference));
            for line in table.differences_from(&place) {
                warn!("{line}: predictions describe where the table was measured");
            }
            let table = if config.target.fallback {
                table.with_fitted_fallback()?
            } else {
                table
            };
            (CostModel::Table(table), None)
        }
    };
    let latency_batch = match &model {
        CostModel::Macs => None,
        CostModel::Table(table) => Some(
            table
                .meta_value("batch")
                .and_then(|b| b.parse().ok())
                .unwrap_or(config.target.batch),
        ),
    };
    let candidates = model.candidate_costs(space)?;
    let loss = defined_cost_loss(config, &candidates, origin)?;
    if let Some(line) = target_outside_range(&candidates, config.target.reference) {
        warn!("{origin}: {line}");
    }
    Ok(Some(ResolvedCost {
        candidates,
        loss,
        measured,
        latency_batch,
    }))
}

/// The costs of a tree-cell space: multiply-accumulates (its edges have no latency-table keys).
fn tree_costs(
    config: &SearchConfig,
    tree: &proxyless_space::TreeSpace,
    origin: &str,
) -> Result<ResolvedCost> {
    if config.target.cost != "macs" {
        return Err(Error::config(
            origin,
            format!(
                "target.cost = \"{}\": a tree-cell space ({}) is searched against \"macs\" \
                 (latency tables key MBConv blocks)",
                config.target.cost, tree.name
            ),
        ));
    }
    let candidates = tree.candidate_costs();
    let loss = defined_cost_loss(config, &candidates, origin)?;
    if let Some(line) = target_outside_range(&candidates, config.target.reference) {
        warn!("{origin}: {line}");
    }
    Ok(ResolvedCost {
        candidates,
        loss,
        measured: None,
        latency_batch: None,
    })
}

/// The per-candidate costs the search of `config` weighs (MACs, a latency table, or the table
/// measured on `device`, from the cache when it was measured before); `None` when the search
/// has no cost target. Studies use it to draw other architectures of the same cost.
pub fn search_costs(
    config: &SearchConfig,
    origin: &str,
    device: &Device,
) -> Result<Option<CandidateCosts>> {
    let space = Space::resolve(&config.space)?;
    Ok(candidate_costs(config, &space, origin, device)?.map(|c| c.candidates))
}

/// `mul#log` weighs the loss by (ln E[cost] / ln reference)^β: zero at an expected cost of 1,
/// a loss the search minimises by driving E[cost] there, and no real value below (a negative
/// base under a fractional power). Refused, naming the space's range, when the cheapest
/// architecture costs 1 or less, rather than a NaN loss after the first epoch.
fn defined_cost_loss(
    config: &SearchConfig,
    costs: &CandidateCosts,
    origin: &str,
) -> Result<CostLoss> {
    let loss = config.target.cost_loss(origin)?;
    check_loss_defined(&loss, costs, origin)?;
    Ok(loss)
}

/// The check of [`defined_cost_loss`].
fn check_loss_defined(loss: &CostLoss, costs: &CandidateCosts, origin: &str) -> Result<()> {
    let low = costs.of(&costs.cheapest());
    if !matches!(loss, CostLoss::MulLog { .. }) || low > 1.0 {
        return Ok(());
    }
    let (high, unit) = (costs.of(&costs.dearest()), &costs.unit);
    Err(Error::config(
        origin,
        format!(
            "target.loss = \"mul#log\" takes ln of the expected cost, which must stay above 1 \
             {unit}, but architectures of this space cost {low:.4} to {high:.4} {unit}: use \
             target.loss = \"add#linear\" or \"constraint\""
        ),
    ))
}

/// A line saying so when `target` lies outside the cheapest-to-dearest range of `costs`: no
/// architecture of the space can meet it, and the search will end at one end of the range.
pub fn target_outside_range(costs: &CandidateCosts, target: f64) -> Option<String> {
    let (low, high) = (costs.of(&costs.cheapest()), costs.of(&costs.dearest()));
    let unit = &costs.unit;
    if target > high {
        Some(format!(
            "target.reference {target} {unit} is above the dearest architecture of the space \
             ({high:.4} {unit}; range {low:.4} to {high:.4}): the search can only derive one \
             at most {high:.4} {unit}"
        ))
    } else if target < low {
        Some(format!(
            "target.reference {target} {unit} is below the cheapest architecture of the space \
             ({low:.4} {unit}; range {low:.4} to {high:.4}): no architecture meets it"
        ))
    } else {
        None
    }
}

/// The state of a search before its first step: α ~ N(0, init_std) from the run's seed.
fn fresh_state(config: &SearchConfig, model: &SuperModel) -> SearchState {
    let mut rng = StdRng::seed_from_u64(seed_for(config.seed, usize::MAX, purpose::ALPHA_INIT));
    SearchState {
        epochs_done: 0,
        weight_steps: 0,
        arch_updates: 0,
        arch: ArchParams::new(
            model.zero_candidates(),
            config.arch.init_std,
            config.arch.adam,
            &mut rng,
        ),
        baseline: Baseline::new(config.reinforce.baseline_decay),
        cost_weight: config.target.lambda,
        elapsed_seconds: 0.0,
        within_epoch: None,
        logs: None,
    }
}

/// What a new and a resumed search both build from their configuration before the run
/// directory is touched: the space, the costs, the data, and a freshly initialised supernet on
/// the autodiff version of `device`.
struct Prepared {
    space: Space,
    costs: Option<(CandidateCosts, CostLoss)>,
    measured: Option<LatencyTable>,
    latency_batch: Option<usize>,
    data: SearchData,
    device: Device,
    model: SuperModel,
}

impl Prepared {
    fn new(config: &SearchConfig, origin: &str, device: &Device) -> Result<Self> {
        let space = Space::resolve(&config.space)?;
        config
            .weights
            .precision
            .check(device)
            .map_err(|why| Error::config(origin, format!("weights.precision = \"bf16\": {why}")))?;
        let costs = candidate_costs(config, &space, origin, device)?;
        let set = load_train(&config.data, &space, config.seed)?;
        let data = SearchData::new(&set, &config.data, config.seed)?;
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = space.supernet(config.weights.init.initializer(), &device);
        let (costs, measured, latency_batch) = match costs {
            Some(c) => (Some((c.candidates, c.loss)), c.measured, c.latency_batch),
            None => (None, None, None),
        };
        Ok(Self {
            space,
            costs,
            measured,
            latency_batch,
            data,
            device,
            model,
        })
    }
}

/// The learning rate of step `t` of a phase of `total` steps: a cosine from `peak` to zero,
/// per step, without warm-up (each phase, warm-up and search, has its own).
fn cosine_lr(peak: f64, t: usize, total: usize) -> f64 {
    0.5 * peak * (1.0 + (std::f64::consts::PI * t as f64 / total as f64).cos())
}

/// The held-out batches of an epoch's architecture updates, in a shuffled order drawn from
/// the run's seed; when they run out, a new pass in a new order begins.
struct HeldOutBatches {
    loader: proxyless_data::Loader,
    batches: proxyless_data::Batches,
    seed: u64,
    epoch: usize,
    passes: u64,
}

impl HeldOutBatches {
    /// The epoch's held-out batches after the first `consumed` of them.
    fn new(held_out: &proxyless_data::Loader, seed: u64, epoch: usize, consumed: usize) -> Self {
        let per_pass = held_out.num_batches().max(1);
        let passes = (consumed / per_pass) as u64;
        Self {
            loader: held_out.clone(),
            batches: held_out.epoch_from(Self::pass_seed(seed, epoch, passes), consumed % per_pass),
            seed,
            epoch,
            passes,
        }
    }

    /// The seed of pass `pass` (0, 1, ...) over the held-out batches in `epoch`.
    fn pass_seed(seed: u64, epoch: usize, pass: u64) -> u64 {
        match pass {
            0 => seed_for(seed, epoch, purpose::HELD_OUT),
            p => seed_for(seed, epoch, purpose::HELD_OUT_AGAIN + p),
        }
    }

    /// The next held-out batch (an image that cannot be read is an error).
    fn next(&mut self) -> Result<proxyless_data::Batch> {
        if let Some(batch) = self.batches.next() {
            return Ok(batch?);
        }
        self.passes += 1;
        self.batches = self
            .loader
            .epoch(Self::pass_seed(self.seed, self.epoch, self.passes));
        Ok(self.batches.next().expect("the held-out set has a batch")?)
    }
}

impl Search {
    /// Prepares a new search writing into `out` (created; it must not hold another run).
    pub fn create(config: SearchConfig, out: &Path, device: &Device, quiet: bool) -> Result<Self> {
        Self::create_from(config, "config", out, device, quiet)
    }

    /// [`Search::create`], its configuration errors naming `origin` (the file it came from).
    pub fn create_from(
        config: SearchConfig,
        origin: &str,
        out: &Path,
        device: &Device,
        quiet: bool,
    ) -> Result<Self> {
        config.validate(origin)?;
        let p = Prepared::new(&config, origin, device)?;
        let run = RunDir::create(out)?;
        let files = run.files();
        files.write(&files.config(), config.to_toml_string().as_bytes())?;
        files.write(&files.space(), p.space.to_toml_string().as_bytes())?;
        if let Some(table) = &p.measured {
            files.write(&files.latency_table(), table.to_yaml().as_bytes())?;
        }
        let state = fresh_state(&config, &p.model);
        info!(run = %out.display(), space = %p.space.name(), "search created");
        Ok(Self {
            optim: config.weights.optimizer(),
            config,
            space: p.space,
            run,
            devices: vec![p.device.clone()],
            device: p.device,
            model: p.model,
            state,
            data: p.data,
            costs: p.costs,
            latency_batch: p.latency_batch,
            last_validation: None,
            progress: Progress::new(quiet),
            step_limit: None,
        })
    }

    /// Reopens the run in `dir` at its newest checkpoint (or from the start if it has none),
    /// with the configuration it was created with.
    pub fn resume(dir: &Path, device: &Device, quiet: bool) -> Result<Self> {
        let run = RunDir::open(dir)?;
        let config_path = run.files().config();
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| Error::file(&config_path, e))?;
        let origin = config_path.display().to_string();
        let config = SearchConfig::from_toml_str(&text, &origin)?;
        let p = Prepared::new(&config, &origin, device)?;
        let fresh = p.model;
        let optim = config.weights.optimizer();
        let (model, optim, state) = match run.load_latest(fresh.clone(), optim.clone())? {
            Some(loaded) => loaded,
            None => {
                let state = fresh_state(&config, &fresh);
                (fresh, optim, state)
            }
        };
        match &state.logs {
            Some(logs) => logs
                .restore(run.path())
                .map_err(|e| Error::file(run.path(), e))?,
            None => run.files().truncate_to_epochs(state.epochs_done)?,
        }
        info!(run = %dir.display(), epochs_done = state.epochs_done, "search resumed");
        Ok(Self {
            config,
            space: p.space,
            run,
            devices: vec![p.device.clone()],
            device: p.device,
            model,
            optim,
            state,
            data: p.data,
            costs: p.costs,
            latency_batch: p.latency_batch,
            last_validation: None,
            progress: Progress::new(quiet),
            step_limit: None,
        })
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        self.run.path()
    }

    /// The architecture parameters as they stand.
    pub fn arch(&self) -> &ArchParams {
        &self.state.arch
    }

    /// Searches data-parallel on `devices`, the first being the device the search was created
    /// or resumed on (it holds the supernet, the optimiser state and the validation): every
    /// weight step's batch and every architecture step's held-out batch is split into one
    /// shard per device, each device running the same sampled paths on its shard (see
    /// [`proxyless_nn::parallel`]). More devices than images in a batch is an error.
    pub fn with_devices(mut self, devices: &[Device]) -> Result<Self> {
        let Some(first) = devices.first() else {
            return Err(devices_error("no device given".into()));
        };
        if first.clone().without_autodiff() != self.device.clone().without_autodiff() {
            return Err(devices_error(format!(
                "the first device ({first:?}) must be the search's own ({:?})",
                self.device
            )));
        }
        self.config.check_devices(devices.len())?;
        self.devices = devices
            .iter()
            .map(|d| d.clone().without_autodiff().autodiff())
            .collect();
        Ok(self)
    }

    /// Stops the run, with a checkpoint it resumes from, once `steps` weight steps are done in
    /// all (a few steps of a large search, to try it; a run cut into pieces).
    pub fn stop_after_steps(mut self, steps: u64) -> Self {
        self.step_limit = Some(steps);
        self
    }

    /// Whether the step limit is reached.
    fn step_limit_reached(&self) -> bool {
        self.step_limit
            .is_some_and(|n| self.state.weight_steps >= n)
    }

    /// Runs the remaining epochs, or stops after `stop_after` epochs in total (to interrupt a
    /// run on purpose) or at the step limit; returns the outcome when every epoch is done.
    pub fn run(mut self, stop_after: Option<usize>) -> Result<Option<SearchOutcome>> {
        let schedule = self.config.schedule.clone();
        let total = schedule.warmup_epochs + schedule.epochs;
        while self.state.epochs_done < total {
            if stop_after.is_some_and(|n| self.state.epochs_done >= n) || self.step_limit_reached()
            {
                return Ok(None);
            }
            let measured = memory::reset_peak_rss();
            let Some(totals) = self.epoch(self.state.epochs_done)? else {
                return Ok(None);
            };
            self.state.epochs_done += 1;
            self.end_of_epoch(totals.seconds)?;
            if let (true, Some(peak), Some(now)) =
                (measured, memory::peak_rss_mib(), memory::rss_mib())
            {
                self.run.files().append_memory(&MemoryLine {
                    epoch: self.state.epochs_done - 1,
                    peak_rss_mib: peak,
                    rss_mib: now,
                })?;
            }
        }
        Ok(Some(self.finish()?))
    }

    /// Runs epoch `epoch` from where its checkpoint left it (the start, or the steps in
    /// `state.within_epoch`), checkpointing inside it as the schedule says; returns its totals,
    /// or `None` when the step limit stopped it (after a checkpoint).
    fn epoch(&mut self, epoch: usize) -> Result<Option<EpochTotals>> {
        let s = self.config.schedule.clone();
        let warm = epoch < s.warmup_epochs;
        let (phase_epoch, phase_len, peak) = if warm {
            (epoch, s.warmup_epochs, self.config.weights.warmup_lr)
        } else {
            (epoch - s.warmup_epochs, s.epochs, self.config.weights.lr)
        };
        let arch_on = !warm && phase_epoch >= s.arch_delay_epochs;
        let steps = self.data.train.num_batches();
        let label = if warm {
            format!("warm-up {}/{}", epoch + 1, s.warmup_epochs)
        } else {
            format!("search {}/{}", phase_epoch + 1, s.epochs)
        };
        let mut totals = self.state.within_epoch.take().unwrap_or_default();
        let first = totals.steps;
        let bar = self.progress.epoch(&label, steps);
        bar.inc(first as u64);
        let seed = self.config.seed;
        let update_every = self.config.arch.update_every;
        let consumed = if arch_on {
            first / update_every * self.config.arch.steps
        } else {
            0
        };
        let mut held_out = HeldOutBatches::new(&self.data.arch, seed, epoch, consumed);
        let mut clock = CadenceClock::new(s.cadence());
        let mut pending = Vec::new();
        let batches = self
            .data
            .train
            .epoch_from(seed_for(seed, epoch, purpose::WEIGHT_BATCHES), first);
        for (i, batch) in (first..).zip(batches) {
            let batch = batch?;
            let lr = cosine_lr(peak, phase_epoch * steps + i, phase_len * steps);
            let active = if warm && self.config.weights.warmup_paths == WarmupPaths::Fair {
                let orders = seed_for(seed, 0, purpose::FAIR_ORDERS);
                self.state.arch.fair_paths(epoch * steps + i, |b, run| {
                    step_seed(step_seed(orders, b), run)
                })
            } else {
                let mut rng =
                    StdRng::seed_from_u64(step_seed(seed_for(seed, epoch, purpose::PATHS), i));
                self.state.arch.sample_paths(&mut rng)
            };
            seed_devices(
                &self.devices,
                step_seed(seed_for(seed, epoch, purpose::DEVICE), 2 * i),
            );
            let precision = self.config.weights.precision;
            let shards = batch_shards(&batch, &self.devices)
                .into_iter()
                .map(|(x, y)| (precision.images(x), y))
                .collect();
            let model = self.model.clone();
            let (model, stats) = weight_step_sharded(
                model,
                &mut self.optim,
                lr,
                &active,
                shards,
                self.config.weights.label_smoothing,
            );
            self.model = model;
            pending.push((stats, (i, lr)));
            self.state.weight_steps += 1;
            let update = arch_on && (i + 1) % update_every == 0;
            let log = (i + 1) % s.log_every.max(1) == 0;
            let due = clock.checkpoint_due(&mut totals, i + 1 == steps);
            let stop = self.step_limit_reached();
            // The loss and accuracy stay on the device until something needs them: an
            // architecture step (which reads its own results anyway), a log line, a checkpoint.
            if update || log || due || stop || i + 1 == steps {
                read_into(&mut pending, &mut totals, epoch)?;
            }
            if update {
                let mut rng = StdRng::seed_from_u64(step_seed(
                    seed_for(seed, epoch, purpose::ARCH_UPDATES),
                    i,
                ));
                seed_devices(
                    &self.devices,
                    step_seed(seed_for(seed, epoch, purpose::DEVICE), 2 * i + 1),
                );
                for _ in 0..self.config.arch.steps {
                    let batch = held_out.next()?;
                    self.arch_update(epoch, batch_shards(&batch, &self.devices), &mut rng)?;
                }
            }
            if log {
                self.log_step(epoch, lr, &totals)?;
                bar.set_message(format!(
                    "loss {:.3} acc {:.3} H {:.3}",
                    totals.loss(),
                    totals.accuracy(),
                    self.state.arch.mean_entropy()
                ));
            }
            bar.inc(1);
            if due {
                self.checkpoint_within(epoch, totals)?;
            }
            if stop {
                bar.finish_and_clear();
                clock.credit(&mut totals);
                self.checkpoint_within(epoch, totals)?;
                return Ok(None);
            }
        }
        read_into(&mut pending, &mut totals, epoch)?;
        bar.finish_and_clear();
        clock.credit(&mut totals);
        self.state.elapsed_seconds += totals.seconds;
        self.run.files().append_metric(&MetricLine::Train {
            epoch,
            phase: if warm { "warmup" } else { "search" }.into(),
            loss: totals.loss(),
            accuracy: totals.accuracy(),
        })?;
        Ok(Some(totals))
    }

    fn log_step(&self, epoch: usize, lr: f64, totals: &EpochTotals) -> Result<()> {
        Ok(self.run.files().append_metric(&MetricLine::Step {
            epoch,
            step: self.state.weight_steps,
            lr,
            loss: totals.loss(),
            accuracy: totals.accuracy(),
            entropy: self.state.arch.mean_entropy(),
        })?)
    }

    /// A checkpoint inside epoch `epoch` after `totals.steps` of its steps.
    fn checkpoint_within(&mut self, epoch: usize, totals: EpochTotals) -> Result<()> {
        let mut state = self.state.clone();
        state.within_epoch = Some(totals);
        self.save_checkpoint(state)?;
        info!(epoch, steps = totals.steps, "checkpoint inside the epoch");
        Ok(())
    }

    /// Saves `state` with the weights, the optimiser and the logs' lengths as they stand.
    fn save_checkpoint(&self, mut state: SearchState) -> Result<()> {
        state.logs = Some(LogLengths::measure(self.run.path(), &RunFiles::LOGS));
        self.run.save_checkpoint(
            &self.model,
            &self.optim,
            &state,
            self.config.schedule.keep_checkpoints,
        )?;
        Ok(())
    }

    fn arch_update(&mut self, epoch: usize, shards: Vec<Shard>, rng: &mut StdRng) -> Result<()> {
        let arch = &self.config.arch;
        let line = match arch.algorithm {
            ArchAlgorithm::Gradient => {
                let target = &self.config.target;
                let costs = self.costs.as_ref().map(|(c, form)| match form {
                    CostLoss::AddLinear { reference, .. } if target.is_constraint() => (
                        c,
                        CostLoss::AddLinear {
                            lambda: self.state.cost_weight,
                            reference: *reference,
                        },
                    ),
                    _ => (c, *form),
                });
                let stats = arch_step_sharded(
                    &self.model,
                    &mut self.state.arch,
                    arch.mode,
                    costs,
                    shards,
                    rng,
                );
                if !stats.loss.is_finite() {
                    return Err(Error::Diverged(format!(
                        "architecture loss {} at epoch {epoch}",
                        stats.loss
                    )));
                }
                if let (true, Some((c, _))) = (target.is_constraint(), &self.costs) {
                    // Dual ascent on the derived architecture's cost.
                    let derived = c.of(&self.state.arch.argmax());
                    let violation = (derived - target.reference) / target.reference;
                    self.state.cost_weight =
                        (self.state.cost_weight + target.dual_lr * violation).max(0.0);
                }
                MetricLine::Arch {
                    epoch,
                    update: self.state.arch_updates,
                    ce: stats.ce,
                    expected_cost: stats.cost,
                    loss: stats.loss,
                    cost_weight: target.is_constraint().then_some(self.state.cost_weight),
                }
            }
            ArchAlgorithm::Reinforce => {
                let reference = self.config.target.reference;
                let costs = self.costs.as_ref().map(|(c, _)| (c, reference));
                let r = &self.config.reinforce;
                let stats = reinforce_step_sharded(
                    &self.model,
                    &mut self.state.arch,
                    &mut self.state.baseline,
                    costs,
                    r.tradeoff,
                    r.samples,
                    shards,
                    rng,
                );
                MetricLine::Reinforce {
                    epoch,
                    update: self.state.arch_updates,
                    mean_reward: stats.mean_reward,
                    baseline: stats.baseline,
                    mean_accuracy: stats.mean_accuracy,
                }
            }
        };
        self.state.arch_updates += 1;
        Ok(self.run.files().append_metric(&line)?)
    }

    /// The derived architecture: the argmax of every block or, in `constraint` mode, the most
    /// probable architecture within the target, raised toward it (see `target.margin`).
    fn derived(&self) -> Vec<usize> {
        let target = &self.config.target;
        match &self.costs {
            Some((c, _)) if target.is_constraint() => {
                let arch = &self.state.arch;
                match arch.argmax_under(c, target.reference) {
                    Some(choice) => arch.fill_under(
                        choice,
                        c,
                        target.reference,
                        (1.0 - target.margin) * target.reference,
                    ),
                    None => arch.argmax(),
                }
            }
            _ => self.state.arch.argmax(),
        }
    }

    /// The derived architecture's choices and its network's accuracy on the held-out images.
    fn validate(&self) -> Result<(Vec<usize>, f64)> {
        let active = self.derived();
        let accuracy = self.inherited_accuracy(&active)?;
        Ok((active, accuracy))
    }

    /// The accuracy on the held-out images of the network along `choices` (a candidate
    /// index per choice block) with the supernet's weights as they stand: the one-shot
    /// estimate of how good that architecture is. BatchNorm uses batch statistics, as the
    /// search validates its derived network.
    pub fn inherited_accuracy(&self, choices: &[usize]) -> Result<f64> {
        let limit = match self.config.schedule.eval_batches {
            0 => usize::MAX,
            n => n,
        };
        let device = self.device.clone();
        let mut unreadable = None;
        let batches = self
            .data
            .holdout
            .epoch(0)
            .take(limit)
            .map_while(|b| match b {
                Ok(b) => Some(batch_tensors(&b, &device)),
                Err(e) => {
                    unreadable = Some(e);
                    None
                }
            });
        // Without gradient tracking: a forward on the autodiff device keeps what a backward
        // would need until a backward comes, and evaluating many networks in a row without
        // one (a study) held 24 GB. BatchNorm still uses batch statistics.
        let model = self.model.clone().no_grad();
        let stats = evaluate(&model, choices, batches);
        if let Some(e) = unreadable {
            return Err(e.into());
        }
        Ok(stats.correct as f64 / stats.total.max(1) as f64)
    }

    fn end_of_epoch(&mut self, seconds: f64) -> Result<()> {
        let epoch = self.state.epochs_done - 1;
        let (active, accuracy) = self.validate()?;
        self.last_validation = Some((active.clone(), accuracy));
        let text = self.space.text(&active);
        let (expected, derived) = match &self.costs {
            Some((c, _)) => (
                Some(expected_cost(&self.state.arch, c, None).0),
                Some(c.of(&active)),
            ),
            None => (None, None),
        };
        let files = self.run.files();
        files.append_metric(&MetricLine::Epoch {
            epoch,
            holdout_accuracy: accuracy,
            entropy: self.state.arch.mean_entropy(),
            expected_cost: expected,
            derived_cost: derived,
            architecture: text.clone(),
            seconds,
        })?;
        files.append_alpha(&AlphaLine {
            epoch,
            alpha: self.state.arch.alpha().to_vec(),
            probs: self.state.arch.probs(),
            entropy: self.state.arch.entropy(),
        })?;
        self.save_checkpoint(self.state.clone())?;
        info!(epoch, accuracy, architecture = %text, "epoch done");
        if !self.progress.is_quiet() {
            let cost = match (derived, &self.costs) {
                (Some(d), Some((c, _))) => format!(", {d:.3} {}", c.unit),
                _ => String::new(),
            };
            eprintln!(
                "epoch {:>3}: held-out accuracy {:.4}, entropy {:.3}{cost}: {text}",
                epoch + 1,
                accuracy,
                self.state.arch.mean_entropy()
            );
        }
        Ok(())
    }

    fn finish(mut self) -> Result<SearchOutcome> {
        let (active, accuracy) = match self.last_validation.take() {
            Some(done) => done,
            None => self.validate()?,
        };
        let text = self.space.text(&active);
        let net = self.space.net_config(&active)?;
        let resolution = self.space.input().resolution;
        let (params, macs) = match &net {
            NetConfig::Mobile(spec) => {
                let cost = spec.cost(resolution)?;
                (cost.params, cost.macs)
            }
            NetConfig::Tree(tree) => {
                let cost = tree.cost(resolution, "derived")?;
                (cost.params, cost.macs)
            }
        };
        let cost = self
            .costs
            .as_ref()
            .map(|(c, _)| (c.of(&active), c.unit.clone()));
        let files = self.run.files();
        files.write(
            &files.final_architecture_text(),
            format!("{text}\n").as_bytes(),
        )?;
        files.write(
            &files.final_architecture_json(),
            self.space.architecture_json(&active).as_bytes(),
        )?;
        files.write(&files.final_net_config(), net.to_json().as_bytes())?;
        let mut measured_latency_ms = None;
        let title = format!("{}: {text}", self.space.name());
        let drawn = match (&net, &self.space) {
            (NetConfig::Mobile(spec), Space::Mobile(space)) => {
                measured_latency_ms = self.measure_latency(&cost, spec, space);
                draw_network(spec, space.input.resolution, &title)
            }
            (NetConfig::Tree(tree), _) => draw_tree_net(tree, &title),
            _ => Err("the network is not of the space's kind".into()),
        };
        if let Ok(svg) = drawn {
            files.write(&files.final_architecture_svg(), svg.as_bytes())?;
        }
        let summary = Summary {
            space: self.space.name().to_string(),
            architecture: text.clone(),
            cost: cost.as_ref().map(|c| c.0),
            cost_unit: cost.as_ref().map(|c| c.1.clone()),
            measured_latency_ms,
            expected_cost: self
                .costs
                .as_ref()
                .map(|(c, _)| expected_cost(&self.state.arch, c, None).0),
            params,
            macs,
            holdout_accuracy: accuracy,
            epochs: self.state.epochs_done,
            weight_steps: self.state.weight_steps,
            arch_updates: self.state.arch_updates,
            seconds: self.state.elapsed_seconds,
            target: self
                .config
                .target
                .has_cost()
                .then_some(self.config.target.reference),
            target_mode: self.config.target.loss.clone(),
            weights_fingerprint: Some(proxyless_nn::weights_fingerprint(&self.model)),
        };
        self.run.files().write_summary(&summary)?;
        Ok(SearchOutcome {
            run_dir: self.run.path().to_path_buf(),
            choices: active,
            net_config: net,
            text,
            cost,
            holdout_accuracy: accuracy,
            measured_latency_ms,
            seconds: self.state.elapsed_seconds,
        })
    }

    /// When the cost is a latency table, the derived network `net` timed end to end on the
    /// search's own device at the table's batch (20 warm-up and 100 timed rounds, as `latency
    /// measure`), to set beside the table's prediction `cost`.
    fn measure_latency(
        &self,
        cost: &Option<(f64, String)>,
        net: &NetSpec,
        space: &SearchSpace,
    ) -> Option<f64> {
        let batch = self.latency_batch?;
        let predicted = cost.as_ref().map(|c| c.0);
        let device = self.device.clone().inner();
        let settings = ProfileSettings {
            batch,
            warmup: 20,
            runs: 100,
            group: ProfileSettings::group_for(&device),
            calibration: 0,
        };
        let m = measure_net(net, space.input.resolution, &device, &settings);
        info!(
            predicted_ms = ?predicted,
            measured_ms = m.trimmed_mean,
            "the derived network timed on this device"
        );
        Some(m.trimmed_mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_outside_the_range_are_named_with_the_range() {
        let costs = CandidateCosts {
            unit: "ms".into(),
            fixed: 1.0,
            blocks: vec![vec![0.5, 2.0], vec![0.0, 1.0]],
        };
        // Range: 1.5 (0.5 + 0.0 + 1) to 4.0 (2.0 + 1.0 + 1).
        assert!(target_outside_range(&costs, 2.5).is_none());
        let above = target_outside_range(&costs, 10.0).unwrap();
        assert!(
            above.contains("above the dearest") && above.contains("range 1.5000 to 4.0000"),
            "{above}"
        );
        let below = target_outside_range(&costs, 1.0).unwrap();
        assert!(below.contains("below the cheapest"), "{below}");
    }

    #[test]
    fn mul_log_is_refused_where_the_log_of_a_cost_is_not_positive() {
        let mul_log = CostLoss::MulLog {
            alpha: 0.2,
            beta: 0.6,
            reference: 3.0,
        };
        let costs = |fixed: f64| CandidateCosts {
            unit: "MMACs".into(),
            fixed,
            blocks: vec![vec![0.5, 2.0]],
        };
        // Cheapest 1.5: every expected cost is above 1.
        check_loss_defined(&mul_log, &costs(1.0), "s.toml").unwrap();
        // Cheapest 0.6: refused, naming the range and the other losses.
        let error = check_loss_defined(&mul_log, &costs(0.1), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("s.toml") && error.contains("0.6000 to 2.1000 MMACs"),
            "{error}"
        );
        assert!(error.contains("add#linear"), "{error}");
        // Cheapest exactly 1: ln 1 = 0, a zero loss weight; refused too.
        assert!(check_loss_defined(&mul_log, &costs(0.5), "s.toml").is_err());
        // The other losses have no logarithm.
        let linear = CostLoss::AddLinear {
            lambda: 0.1,
            reference: 3.0,
        };
        check_loss_defined(&linear, &costs(0.1), "s.toml").unwrap();
    }
}
