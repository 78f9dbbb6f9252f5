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

use crate::memory::{peak_rss_mib, reset_peak_rss};
use proxyless_supernet::steps::{arch_step, reinforce_step, weight_step};

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
    /// A Markdown table of the cases.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "`{}` at {}x{}, batch {}, {}{} ({} rounds of {} timed steps; child `{}`)\n\n\
             | step | median ms | images/s | peak RSS MiB | time / child | memory / child |\n\
             | --- | --- | --- | --- | --- | --- |\n",
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
        for c in &self.cases {
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {} | {:.2} | {} |\n",
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
            out.push_str(&format!(
                "| child network step, PyTorch {} ({}) | {:.1} | {:.1} | {:.0} | {:.2} | - |\n\n\
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
                child / p.median_ms,
            ));
        }
        out
    }
}

/// Times `step` (after `warmup` untimed calls), each call ending with a device sync.
fn time_steps(device: &Device, settings: &BenchSettings, mut step: impl FnMut()) -> Vec<f64> {
    let sync = || device.sync().expect("the device finishes its work");
    for _ in 0..settings.warmup {
        step();
        sync();
    }
    (0..settings.steps.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            sync();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect()
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
}

impl CaseTimes {
    /// Adds another measurement of the same case: the times pooled, the larger peak.
    pub fn merge(&mut self, other: CaseTimes) {
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
    CaseTimes {
        times_ms: times,
        peak_rss_mib: resettable.then(peak_rss_mib).flatten(),
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
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            phases[0].push(ms(start, forward));
            phases[1].push(ms(forward, backward));
            phases[2].push(ms(backward, Instant::now()));
        }
    }
    let [forward_ms, backward_ms, optimizer_ms] = phases.map(|t| {
        Measurement::from_samples(&t)
            .expect("at least one timed step")
            .median
    });
    StepPhases {
        forward_ms,
        backward_ms,
        optimizer_ms,
    }
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
        for (times, peak) in [(vec![1.0, 2.0], Some(10.0)), (vec![9.0], Some(12.0))] {
            merged.merge(CaseTimes {
                times_ms: times,
                peak_rss_mib: peak,
            });
        }
        assert_eq!(merged.times_ms, [1.0, 2.0, 9.0]);
        assert_eq!(merged.peak_rss_mib, Some(12.0));

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
    }
}
