//! The cost of a search step against the cost of training one network: time, images per
//! second and peak memory of the child network's training step, the supernet's weight step,
//! the architecture step in each mode and REINFORCE, all on the same batch, as ratios to the
//! child's step measured in the same run.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::{Precision, ProxylessNet};
use proxyless_profiler::Measurement;
use proxyless_space::{Architecture, SearchSpace};
use proxyless_supernet::gradient::Baseline;
use proxyless_supernet::{AdamSettings, ArchMode, ArchParams, Searchable, Supernet};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use proxyless_nn::step::cross_entropy;
use proxyless_search::config::WeightsConfig;

use crate::launches::count_launches;
use proxyless_plumbing::memory::{peak_rss_mib, reset_peak_rss};
use proxyless_supernet::steps::{arch_forward, arch_step, reinforce_step, weight_step};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSettings {
    /// Images per step.
    pub batch: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Rounds over every case, whose timed steps are pooled (each round times `steps` steps).
    pub rounds: usize,
    /// Seed of the architecture, the paths and the batch.
    pub seed: u64,
    /// Precision of the child step and the supernet's weight step (architecture steps and
    /// REINFORCE stay f32, as in a search).
    pub precision: Precision,
}

/// What one case measured, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    /// What was timed.
    pub name: String,
    /// Median step time.
    pub median_ms: f64,
    /// Mean step time.
    pub mean_ms: f64,
    /// `batch / median`.
    pub images_per_second: f64,
    /// Peak resident memory of the process during the case (MiB; Linux only), counted from a
    /// reset just before its batch and model were built.
    pub peak_rss_mib: Option<f64>,
    /// `median_ms` over the child step's.
    pub time_ratio: f64,
    /// `peak_rss_mib` over the child step's.
    pub memory_ratio: Option<f64>,
    /// Kernels launched per step on a CubeCL device (wgpu, vulkan, cuda), where counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launches_per_step: Option<f64>,
    /// The same step's median in PyTorch on the same machine, when measured (the child step
    /// by `reference/bench_torch.py`, the supernet steps by `reference/supernet_torch.py`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pytorch_ms: Option<f64>,
}

/// Every case of one space on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// The space.
    pub space: String,
    /// Input side.
    pub resolution: usize,
    /// Images per step.
    pub batch: usize,
    /// Timed steps per case and round.
    pub steps: usize,
    /// Rounds over every case, pooled.
    pub rounds: usize,
    /// The device.
    pub device: String,
    /// The child network's architecture (also the weight step's path).
    pub architecture: String,
    /// The cases, the child step first.
    pub cases: Vec<CaseReport>,
    /// The same child step in PyTorch on the same machine, when measured.
    pub pytorch: Option<PytorchStep>,
    /// Precision of the child and weight steps.
    pub precision: Precision,
}

/// The child network's training step timed in PyTorch (`reference/bench_torch.py`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PytorchStep {
    /// PyTorch's version.
    pub torch: String,
    /// Intra-op threads.
    pub threads: usize,
    /// Where PyTorch ran: `cpu` or `cuda`.
    #[serde(default = "cpu")]
    pub device: String,
    /// Every timed step (ms).
    #[serde(default)]
    pub times_ms: Vec<f64>,
    /// The step's phases (medians).
    #[serde(default)]
    pub phases: Option<StepPhases>,
    /// Median step time.
    pub median_ms: f64,
    /// Mean step time.
    pub mean_ms: f64,
    /// Peak memory (MiB): on the CPU, the Python process's resident memory, PyTorch's
    /// libraries included; on CUDA, the GPU memory PyTorch allocated during the timed steps.
    pub peak_rss_mib: f64,
}

fn cpu() -> String {
    "cpu".into()
}

impl PytorchStep {
    /// One measurement of several runs of the reference: their times pooled, the largest peak
    /// (and the first run's phases).
    ///
    /// # Panics
    /// If `runs` is empty.
    pub fn pooled(runs: Vec<PytorchStep>) -> PytorchStep {
        let peak = runs.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max);
        let times: Vec<f64> = runs.iter().flat_map(|r| r.times_ms.clone()).collect();
        let first = runs.into_iter().next().expect("at least one run");
        let Some(summary) = Measurement::from_samples(&times) else {
            return first;
        };
        PytorchStep {
            median_ms: summary.median,
            mean_ms: summary.mean,
            peak_rss_mib: peak,
            times_ms: times,
            ..first
        }
    }
}

impl BenchReport {
    /// A Markdown table of the cases; with PyTorch's times, its medians and our ratios to them
    /// in two more columns, and a line on the `full_v2` step against the child step in each.
    pub fn to_markdown(&self) -> String {
        let torch_columns = self.cases.iter().any(|c| c.pytorch_ms.is_some());
        let launch_column = self.cases.iter().any(|c| c.launches_per_step.is_some());
        let mut extra_head = String::new();
        let mut extra_rule = String::new();
        if launch_column {
            extra_head.push_str(" launches / step |");
            extra_rule.push_str(" --- |");
        }
        if torch_columns {
            extra_head.push_str(" PyTorch ms | ours / PyTorch |");
            extra_rule.push_str(" --- | --- |");
        }
        let mut out = format!(
            "`{}` at {}x{}, batch {}, {}{} ({} rounds of {} timed steps; child `{}`)\n\n\
             | step | median ms | images/s | peak RSS MiB | time / child | memory / child |{extra_head}\n\
             | --- | --- | --- | --- | --- | --- |{extra_rule}\n",
            self.space,
            self.resolution,
            self.resolution,
            self.batch,
            self.device,
            match self.precision {
                Precision::F32 => "",
                Precision::Bf16 => ", child and weight steps in bf16",
            },
            self.rounds,
            self.steps,
            self.architecture
        );
        // The optional columns' cells of a row; `None` where the row has no value.
        let launch_cell = |launches: Option<f64>| match (launch_column, launches) {
            (false, _) => String::new(),
            (true, None) => " - |".into(),
            (true, Some(n)) => format!(" {n:.0} |"),
        };
        let torch_cells =
            |ours_and_theirs: Option<(f64, f64)>| match (torch_columns, ours_and_theirs) {
                (false, _) => String::new(),
                (true, None) => " - | - |".into(),
                (true, Some((ours, ms))) => format!(" {ms:.1} | {:.2} |", ours / ms),
            };
        for c in &self.cases {
            let launches = launch_cell(c.launches_per_step);
            let torch = torch_cells(c.pytorch_ms.map(|ms| (c.median_ms, ms)));
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {} | {:.2} | {} |{launches}{torch}\n",
                c.name,
                c.median_ms,
                c.images_per_second,
                c.peak_rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
                c.time_ratio,
                c.memory_ratio.map_or("-".into(), |r| format!("{r:.2}")),
            ));
        }
        if let Some(p) = &self.pytorch {
            let child = self.cases[0].median_ms;
            let padding = launch_cell(None) + &torch_cells(None);
            out.push_str(&format!(
                "| child network step, PyTorch {} ({}) | {:.1} | {:.1} | {:.0} | {:.2} | - |{}\n\n\
                 Our child step takes {:.2}x PyTorch's.\n",
                p.torch,
                match p.device.as_str() {
                    "cpu" => format!("{} threads", p.threads),
                    gpu => format!("{gpu}, GPU memory"),
                },
                p.median_ms,
                self.batch as f64 / (p.median_ms / 1e3),
                p.peak_rss_mib,
                p.median_ms / child,
                padding,
                child / p.median_ms,
            ));
        }
        let case = |c: BenchCase| self.cases.iter().find(|r| r.name == c.name());
        let full_v2 = case(BenchCase::ArchStep(ArchMode::FullV2));
        let weight = case(BenchCase::SupernetWeightStep);
        if let (Some(v2), Some(w), Some(child)) = (full_v2, weight, self.cases.first()) {
            let epoch = |w: f64, v2: f64, child: f64| (w + v2 / UPDATE_EVERY) / child;
            out.push_str(&format!(
                "\nA search epoch with the paper's schedule (a weight step per batch, a full_v2 \
                 architecture step every {UPDATE_EVERY} batches) costs {:.2}x a child network's \
                 training epoch",
                epoch(w.median_ms, v2.median_ms, child.median_ms)
            ));
            match (w.pytorch_ms, v2.pytorch_ms, child.pytorch_ms) {
                (Some(w_torch), Some(v2_torch), Some(child_torch)) => out.push_str(&format!(
                    " (PyTorch: {:.2}x). The full_v2 step takes {:.2}x the child step here, \
                     {:.2}x in PyTorch.\n",
                    epoch(w_torch, v2_torch, child_torch),
                    v2.time_ratio,
                    v2_torch / child_torch
                )),
                _ => out.push_str(".\n"),
            }
        }
        out
    }
}

/// Batches per architecture step in the paper's schedule (`grad_update_arch_param_every`).
const UPDATE_EVERY: f64 = 5.0;

/// Times `step` (after `warmup` untimed calls), each call ending with a device sync; with the
/// kernels CubeCL launched per timed step, where counted.
fn time_steps(
    device: &Device,
    settings: &BenchSettings,
    mut step: impl FnMut(),
) -> (Vec<f64>, Option<f64>) {
    let sync = || device.sync().expect("the device finishes its work");
    for _ in 0..settings.warmup {
        step();
        sync();
    }
    let steps = settings.steps.max(1);
    let (times, launches) = count_launches(|| {
        (0..steps)
            .map(|_| {
                let start = Instant::now();
                step();
                sync();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect()
    });
    (times, launches.map(|n| n as f64 / steps as f64))
}

/// A step the bench times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchCase {
    /// The child network's training step: the reference of every ratio.
    ChildStep,
    /// The supernet's weight step on the child's path.
    SupernetWeightStep,
    /// An architecture step in one of the gradient modes.
    ArchStep(ArchMode),
    /// A REINFORCE update of 4 sampled architectures.
    Reinforce,
    /// The child's step again with `proxyless_kernels` switched off: its ratio is what the
    /// kernels save.
    ChildStepBurnOnly,
}

impl BenchCase {
    /// Every case, in the order they run; the child network's step first.
    pub const ALL: [BenchCase; 7] = [
        BenchCase::ChildStep,
        BenchCase::SupernetWeightStep,
        BenchCase::ArchStep(ArchMode::Two),
        BenchCase::ArchStep(ArchMode::Full),
        BenchCase::ArchStep(ArchMode::FullV2),
        BenchCase::Reinforce,
        BenchCase::ChildStepBurnOnly,
    ];

    /// What the report calls it.
    pub fn name(self) -> &'static str {
        match self {
            BenchCase::ChildStep => "child network step",
            BenchCase::SupernetWeightStep => "supernet weight step",
            BenchCase::ArchStep(ArchMode::Two) => "architecture step (two)",
            BenchCase::ArchStep(ArchMode::Full) => "architecture step (full)",
            BenchCase::ArchStep(ArchMode::FullV2) => "architecture step (full_v2)",
            BenchCase::Reinforce => "REINFORCE update (4 samples)",
            BenchCase::ChildStepBurnOnly => "child network step, Burn's ops only",
        }
    }

    /// Whether the PyTorch reference has this step (the child step, the supernet's weight
    /// step and the three gradient modes); its case is then [`key`](Self::key).
    pub fn in_pytorch(self) -> bool {
        matches!(
            self,
            BenchCase::ChildStep | BenchCase::SupernetWeightStep | BenchCase::ArchStep(_)
        )
    }

    /// A short name for the command line (`child`, `arch-full-v2`).
    pub fn key(self) -> &'static str {
        match self {
            BenchCase::ChildStep => "child",
            BenchCase::SupernetWeightStep => "supernet",
            BenchCase::ArchStep(ArchMode::Two) => "arch-two",
            BenchCase::ArchStep(ArchMode::Full) => "arch-full",
            BenchCase::ArchStep(ArchMode::FullV2) => "arch-full-v2",
            BenchCase::Reinforce => "reinforce",
            BenchCase::ChildStepBurnOnly => "child-burn-ops",
        }
    }

    /// The case whose [`key`](Self::key) is `key`.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// What one case measured: its step times (ms) and the process's peak memory (MiB).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CaseTimes {
    /// Timed steps, in milliseconds.
    pub times_ms: Vec<f64>,
    /// Peak resident memory since the case began (Linux), MiB.
    pub peak_rss_mib: Option<f64>,
    /// Kernels launched per timed step on a CubeCL device (wgpu, vulkan, cuda), where counted.
    #[serde(default)]
    pub launches_per_step: Option<f64>,
}

impl CaseTimes {
    /// Adds another measurement of the same case: the times pooled, the larger peak, the mean
    /// launches per step (rounds time as many steps each).
    pub fn merge(&mut self, other: CaseTimes) {
        let steps = |t: &CaseTimes| t.times_ms.len() as f64;
        self.launches_per_step = match (self.launches_per_step, other.launches_per_step) {
            (Some(a), Some(b)) => {
                Some((a * steps(self) + b * steps(&other)) / (steps(self) + steps(&other)))
            }
            (a, b) => a.or(b),
        };
        self.times_ms.extend(other.times_ms);
        self.peak_rss_mib = match (self.peak_rss_mib, other.peak_rss_mib) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The child architecture of a run: drawn from `seed`, with its candidate indices.
fn child(space: &SearchSpace, seed: u64) -> (Architecture, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let arch = Architecture::random(space, &mut rng);
    let choices = arch.indices(space);
    (arch, choices)
}

/// The batch every case steps on: normal images and labels cycling through the classes.
fn bench_batch(
    space: &SearchSpace,
    settings: &BenchSettings,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let shape = [
        settings.batch,
        space.input.channels,
        space.input.resolution,
        space.input.resolution,
    ];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let labels: Vec<i64> = (0..settings.batch)
        .map(|i| (i % space.classes) as i64)
        .collect();
    (x, Tensor::<1, Int>::from_ints(labels.as_slice(), device))
}

/// A supernet of `space` on `device` and its α, initialised as a search does.
fn supernet_and_alpha(
    space: &SearchSpace,
    device: &Device,
    rng: &mut StdRng,
) -> (Supernet, ArchParams) {
    let net = Supernet::new(space, device);
    let params = ArchParams::new(net.zero_candidates(), 1e-3, AdamSettings::default(), rng);
    (net, params)
}

/// Runs `case` for `space` at its resolution on `device` (an inference device; the steps use
/// its autodiff version). For a peak memory of the case alone, run each case in a fresh
/// process (as `proxyless bench` does): memory freed by one case can stay resident in the
/// process.
pub fn run_case(
    space: &SearchSpace,
    device: &Device,
    settings: &BenchSettings,
    case: BenchCase,
) -> CaseTimes {
    let device_ad = device.clone().autodiff();
    device_ad.seed(settings.seed);
    let (arch, choices) = child(space, settings.seed);
    let mut rng = StdRng::seed_from_u64(settings.seed + 1);
    let resettable = reset_peak_rss();
    let (x, y) = bench_batch(space, settings, &device_ad);
    let batch = || (x.clone(), y.clone());
    // The batch of the child and weight steps, in the settings' precision.
    let images = settings.precision.images(x.clone());
    let weights = WeightsConfig::default();
    let times = match case {
        BenchCase::ChildStep | BenchCase::ChildStepBurnOnly => {
            proxyless_kernels::set_enabled(case == BenchCase::ChildStep);
            let mut net = Some(ProxylessNet::new(&arch.to_net_spec(space), &device_ad));
            let mut optim = weights.optimizer();
            time_steps(device, settings, || {
                let model = net.take().expect("the model is put back after each step");
                let logits = model.forward(images.clone());
                let loss = cross_entropy(logits, y.clone(), 0.1);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                net = Some(optim.step(0.05, model, grads));
            })
        }
        BenchCase::SupernetWeightStep => {
            let mut net = Some(Supernet::new(space, &device_ad));
            let mut optim = weights.optimizer();
            time_steps(device, settings, || {
                let model = net.take().expect("the model is put back after each step");
                let weights_batch = (images.clone(), y.clone());
                let (model, _) = weight_step(model, &mut optim, 0.05, &choices, weights_batch, 0.1);
                net = Some(model);
            })
        }
        BenchCase::ArchStep(mode) => {
            let (net, mut params) = supernet_and_alpha(space, &device_ad, &mut rng);
            time_steps(device, settings, || {
                arch_step(&net, &mut params, mode, None, batch(), &mut rng);
            })
        }
        BenchCase::Reinforce => {
            let (net, mut params) = supernet_and_alpha(space, &device_ad, &mut rng);
            let mut baseline = Baseline::new(0.99);
            time_steps(device, settings, || {
                reinforce_step(
                    &net,
                    &mut params,
                    &mut baseline,
                    None,
                    0.0,
                    4,
                    batch(),
                    &mut rng,
                );
            })
        }
    };
    let (times_ms, launches_per_step) = times;
    CaseTimes {
        times_ms,
        peak_rss_mib: resettable.then(peak_rss_mib).flatten(),
        launches_per_step,
    }
}

/// The child network's training step split into its phases: median milliseconds of the
/// forward pass with the loss, the backward pass, and the optimiser's update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct StepPhases {
    /// Forward pass and loss.
    pub forward_ms: f64,
    /// Backward pass.
    pub backward_ms: f64,
    /// The optimiser's update of every weight.
    pub optimizer_ms: f64,
}

/// Times the phases of the child network's step ([`BenchCase::ChildStep`]: the same network,
/// batch and optimiser), each phase ending with a device sync.
pub fn child_step_phases(
    space: &SearchSpace,
    device: &Device,
    settings: &BenchSettings,
) -> StepPhases {
    let device_ad = device.clone().autodiff();
    device_ad.seed(settings.seed);
    let (arch, _) = child(space, settings.seed);
    let (x, y) = bench_batch(space, settings, &device_ad);
    let mut net = Some(ProxylessNet::new(&arch.to_net_spec(space), &device_ad));
    let mut optim = WeightsConfig::default().optimizer();
    let sync = || device.sync().expect("the device finishes its work");
    let mut phases = [Vec::new(), Vec::new(), Vec::new()];
    for step in 0..settings.warmup + settings.steps.max(1) {
        let model = net.take().expect("the model is put back after each step");
        let start = Instant::now();
        let loss = cross_entropy(model.forward(x.clone()), y.clone(), 0.1);
        sync();
        let forward = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync();
        let backward = Instant::now();
        net = Some(optim.step(0.05, model, grads));
        sync();
        if step >= settings.warmup {
            record_phases(&mut phases, &[start, forward, backward, Instant::now()]);
        }
    }
    let [forward_ms, backward_ms, optimizer_ms] = medians(phases);
    StepPhases {
        forward_ms,
        backward_ms,
        optimizer_ms,
    }
}

/// Appends to `phases[k]` the milliseconds between `marks[k]` and `marks[k + 1]`.
fn record_phases<const N: usize>(phases: &mut [Vec<f64>; N], marks: &[Instant]) {
    debug_assert_eq!(marks.len(), N + 1, "one mark more than phases");
    for (phase, pair) in phases.iter_mut().zip(marks.windows(2)) {
        phase.push((pair[1] - pair[0]).as_secs_f64() * 1e3);
    }
}

/// The median of every phase's times.
fn medians<const N: usize>(phases: [Vec<f64>; N]) -> [f64; N] {
    phases.map(|t| {
        Measurement::from_samples(&t)
            .expect("at least one timed step")
            .median
    })
}

/// The `full_v2` architecture step split into its phases (medians, ms): the forward pass with
/// the loss (the active paths, weights untracked, a probe per block), the backward pass (input
/// gradients only), the gate gradients (every other candidate recomputed without gradients,
/// the inner products, one read to the host), and α's update on the host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct ArchStepPhases {
    /// Forward pass and loss.
    pub forward_ms: f64,
    /// Backward pass.
    pub backward_ms: f64,
    /// Recomputing the candidates and reading the gate gradients.
    pub gates_ms: f64,
    /// α's gradient and Adam update.
    pub update_ms: f64,
}

/// Times the phases of the `full_v2` architecture step ([`BenchCase::ArchStep`]: the same
/// supernet, batch and sampling as [`run_case`]), each phase ending with a device sync.
pub fn full_v2_phases(
    space: &SearchSpace,
    device: &Device,
    settings: &BenchSettings,
) -> ArchStepPhases {
    use proxyless_supernet::Paths;
    use proxyless_supernet::gradient::arch_step_grads;
    let device_ad = device.clone().autodiff();
    device_ad.seed(settings.seed);
    let mut rng = StdRng::seed_from_u64(settings.seed + 1);
    let (x, y) = bench_batch(space, settings, &device_ad);
    let (net, mut params) = supernet_and_alpha(space, &device_ad, &mut rng);
    let sync = || device.sync().expect("the device finishes its work");
    let mut phases = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for step in 0..settings.warmup + settings.steps.max(1) {
        let start = Instant::now();
        let sampled = params.sample_arch(ArchMode::FullV2, &mut rng);
        let paths = Paths::arch(sampled.clone(), ArchMode::FullV2);
        let logits = arch_forward(&net, x.clone(), &paths);
        let loss = cross_entropy(logits, y.clone(), 0.0);
        let _ = loss.clone().into_scalar::<f64>();
        let forward = Instant::now();
        let grads = loss.backward();
        sync();
        let backward = Instant::now();
        let gates = paths.gate_gradients(&grads);
        let gated = Instant::now();
        let alpha_grads = arch_step_grads(&params, &sampled, &gates, 1.0, None);
        params.apply_grads(&alpha_grads);
        if step >= settings.warmup {
            record_phases(
                &mut phases,
                &[start, forward, backward, gated, Instant::now()],
            );
        }
    }
    let [forward_ms, backward_ms, gates_ms, update_ms] = medians(phases);
    ArchStepPhases {
        forward_ms,
        backward_ms,
        gates_ms,
        update_ms,
    }
}

/// A Markdown table of the `full_v2` step by phase, beside the child step's phases (`child`:
/// its forward with the loss, backward and update) and its whole median.
pub fn full_v2_phase_table(full_v2: &ArchStepPhases, child: &StepPhases, steps: usize) -> String {
    let child_total = child.forward_ms + child.backward_ms + child.optimizer_ms;
    let total = full_v2.forward_ms + full_v2.backward_ms + full_v2.gates_ms + full_v2.update_ms;
    format!(
        "The full_v2 architecture step by phase (medians of {steps} steps), beside the child \
         step's:\n\n\
         | phase | full_v2 ms | child step ms |\n| --- | --- | --- |\n\
         | forward and loss | {:.1} | {:.1} |\n\
         | backward | {:.1} | {:.1} |\n\
         | other candidates recomputed, gate gradients read | {:.1} | - |\n\
         | update (α on the host; the child's weights) | {:.1} | {:.1} |\n\
         | step | {total:.1} ({:.2}x) | {child_total:.1} |\n",
        full_v2.forward_ms,
        child.forward_ms,
        full_v2.backward_ms,
        child.backward_ms,
        full_v2.gates_ms,
        full_v2.update_ms,
        child.optimizer_ms,
        total / child_total,
    )
}

/// A Markdown table of the child step by phase (forward with the loss, backward, optimiser
/// update, the whole step): ours, and PyTorch's with the ratio where given. `steps` is how
/// many steps the medians are of.
pub fn phase_table(ours: &StepPhases, theirs: Option<&StepPhases>, steps: usize) -> String {
    let mut out = format!(
        "The whole child step by phase (medians of {steps} steps):\n\n\
         | phase | ours ms | PyTorch ms | ours / PyTorch |\n| --- | --- | --- | --- |\n"
    );
    let rows = |p: &StepPhases| {
        [
            p.forward_ms,
            p.backward_ms,
            p.optimizer_ms,
            p.forward_ms + p.backward_ms + p.optimizer_ms,
        ]
    };
    let names = ["forward and loss", "backward", "optimiser update", "step"];
    let theirs = theirs.map(rows);
    for (i, (name, ms)) in names.iter().zip(rows(ours)).enumerate() {
        let (torch, ratio) = match theirs {
            Some(t) => (format!("{:.1}", t[i]), format!("{:.2}", ms / t[i])),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!("| {name} | {ms:.1} | {torch} | {ratio} |\n"));
    }
    out
}

/// The report of `space` from the measurements of every case, in [`BenchCase::ALL`] order.
pub fn summarize(
    space: &SearchSpace,
    device: &Device,
    settings: &BenchSettings,
    measured: &[CaseTimes],
) -> BenchReport {
    let summary = |t: &[f64]| Measurement::from_samples(t).expect("every case times a step");
    let child_ms = summary(&measured[0].times_ms).median;
    let child_peak = measured[0].peak_rss_mib;
    let cases = BenchCase::ALL
        .iter()
        .zip(measured)
        .map(|(case, m)| {
            let times = summary(&m.times_ms);
            let ms = times.median;
            CaseReport {
                name: case.name().to_string(),
                median_ms: ms,
                mean_ms: times.mean,
                images_per_second: settings.batch as f64 / (ms / 1e3),
                peak_rss_mib: m.peak_rss_mib,
                time_ratio: ms / child_ms,
                memory_ratio: m.peak_rss_mib.zip(child_peak).map(|(p, c)| p / c),
                launches_per_step: m.launches_per_step,
                pytorch_ms: None,
            }
        })
        .collect();
    BenchReport {
        precision: settings.precision,
        space: space.name.clone(),
        resolution: space.input.resolution,
        batch: settings.batch,
        steps: settings.steps,
        rounds: settings.rounds,
        device: format!("{device:?}"),
        architecture: child(space, settings.seed).0.to_text(space),
        cases,
        pytorch: None,
    }
}

/// The child architecture of a bench run, as text.
pub fn child_text(space: &SearchSpace, settings: &BenchSettings) -> String {
    child(space, settings.seed).0.to_text(space)
}

/// The supernet of a bench run for the PyTorch reference (`reference/supernet_torch.py`): the
/// child's `net.config` (`net`: its fixed layers, and the weight step's path), every choice
/// block's candidates as `net.config` blocks in the supernet's order (`candidates`), and the
/// child's candidate of every block (`active`).
pub fn supernet_spec_json(space: &SearchSpace, settings: &BenchSettings) -> String {
    let (arch, choices) = child(space, settings.seed);
    let config = |arch: &Architecture| -> serde_json::Value {
        serde_json::from_str(&arch.to_net_spec(space).to_net_config_json())
            .expect("a net.config is JSON")
    };
    let candidates: Vec<Vec<serde_json::Value>> = space
        .choice_blocks()
        .iter()
        .enumerate()
        .map(|(b, block)| {
            (0..block.candidates.len())
                .map(|j| {
                    let mut indices = choices.clone();
                    indices[b] = j;
                    let arch = Architecture::from_indices(space, &indices, "the bench's supernet")
                        .expect("every index names a candidate of its block");
                    // Block 0 is the fixed first block.
                    config(&arch)["blocks"][b + 1].clone()
                })
                .collect()
        })
        .collect();
    serde_json::json!({ "net": config(&arch), "candidates": candidates, "active": choices })
        .to_string()
}

/// The child network of a bench run as a `net.config`, for the PyTorch reference.
pub fn child_net_config(space: &SearchSpace, settings: &BenchSettings) -> String {
    child(space, settings.seed)
        .0
        .to_net_spec(space)
        .to_net_config_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pool_their_times_and_keep_the_largest_peak() {
        let mut merged = CaseTimes::default();
        let rounds = [
            (vec![1.0, 2.0], Some(10.0), Some(100.0)),
            (vec![9.0], Some(12.0), Some(40.0)),
        ];
        for (times, peak, launches) in rounds {
            merged.merge(CaseTimes {
                times_ms: times,
                peak_rss_mib: peak,
                launches_per_step: launches,
            });
        }
        assert_eq!(merged.times_ms, [1.0, 2.0, 9.0]);
        assert_eq!(merged.peak_rss_mib, Some(12.0));
        // Two steps at 100 launches and one at 40: 240 launches in three steps.
        assert_eq!(merged.launches_per_step, Some(80.0));

        let run = |times: Vec<f64>, peak: f64| PytorchStep {
            torch: "2.9.0".into(),
            threads: 2,
            device: "cpu".into(),
            median_ms: times[0],
            mean_ms: times[0],
            times_ms: times,
            peak_rss_mib: peak,
            phases: None,
        };
        let pooled = PytorchStep::pooled(vec![run(vec![4.0, 1.0], 700.0), run(vec![3.0], 650.0)]);
        assert_eq!(pooled.times_ms, [4.0, 1.0, 3.0]);
        assert_eq!(pooled.median_ms, 3.0);
        assert!((pooled.mean_ms - 8.0 / 3.0).abs() < 1e-12);
        assert_eq!(pooled.peak_rss_mib, 700.0);
    }

    #[test]
    fn every_case_has_a_unique_key_that_finds_it() {
        for case in BenchCase::ALL {
            assert_eq!(BenchCase::from_key(case.key()), Some(case));
        }
        assert_eq!(BenchCase::from_key("none"), None);
        assert_eq!(BenchCase::ALL[0], BenchCase::ChildStep);
    }

    #[test]
    fn the_pytorch_supernet_description_lists_every_candidate_of_every_block() {
        let space = proxyless_space::presets::load("fmnist").expect("the fmnist space");
        let settings = BenchSettings {
            batch: 4,
            warmup: 0,
            steps: 1,
            rounds: 1,
            seed: 3,
            precision: Precision::F32,
        };
        let spec: serde_json::Value =
            serde_json::from_str(&supernet_spec_json(&space, &settings)).expect("JSON");
        let blocks = space.choice_blocks();
        let candidates = spec["candidates"].as_array().expect("candidates");
        assert_eq!(candidates.len(), blocks.len());
        let (_, choices) = child(&space, settings.seed);
        let net_blocks = spec["net"]["blocks"]
            .as_array()
            .expect("the child's blocks");
        for (b, block) in blocks.iter().enumerate() {
            let options = candidates[b].as_array().expect("a block's candidates");
            assert_eq!(options.len(), block.candidates.len());
            assert_eq!(spec["active"][b], choices[b]);
            // The child's block is its active candidate.
            assert_eq!(options[choices[b]], net_blocks[b + 1]);
            for (option, op) in options.iter().zip(&block.candidates) {
                let name = option["mobile_inverted_conv"]["name"].as_str();
                let zero = op.mbconv().is_none();
                assert_eq!(name == Some("ZeroLayer"), zero, "{option}");
            }
        }
    }

    #[test]
    fn the_child_step_splits_into_three_timed_phases() {
        let space = proxyless_space::presets::load("fmnist").expect("the fmnist space");
        let settings = BenchSettings {
            batch: 4,
            warmup: 0,
            steps: 2,
            rounds: 1,
            seed: 0,
            precision: Precision::F32,
        };
        let phases = child_step_phases(&space, &Device::flex(), &settings);
        for ms in [phases.forward_ms, phases.backward_ms, phases.optimizer_ms] {
            assert!(ms.is_finite() && ms > 0.0, "{phases:?}");
        }
        let v2 = full_v2_phases(&space, &Device::flex(), &settings);
        for ms in [v2.forward_ms, v2.backward_ms, v2.gates_ms, v2.update_ms] {
            assert!(ms.is_finite() && ms >= 0.0, "{v2:?}");
        }
        assert!(v2.gates_ms > 0.0, "the recomputation takes time: {v2:?}");
        let table = full_v2_phase_table(&v2, &phases, 2);
        assert_eq!(table.lines().filter(|l| l.starts_with("| ")).count(), 7);
    }
}
