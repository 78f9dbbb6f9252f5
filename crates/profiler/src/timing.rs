//! Timing layers and networks: warm-up, repeated runs, device synchronisation.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_latency::{LatencyEntry, LatencyKey, LatencyTable};
use proxyless_nn::ProxylessNet;
use proxyless_space::{NetSpec, SearchSpace};

use crate::{Measurement, space_layers};

/// How to time: batch size, warm-up runs, timed runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSettings {
    /// Images per forward pass (the paper's mobile tables: 1).
    pub batch: usize,
    /// Untimed runs first (kernel compilation, caches, autotuning).
    pub warmup: usize,
    /// Timed samples.
    pub runs: usize,
    /// Forward passes per sample, queued back to back with one synchronisation at the end;
    /// a sample is their time divided by `group`. On asynchronous GPU backends one
    /// synchronisation costs about as much as a small layer, so timing every layer with its
    /// own would make a table whose sum overestimates a network several times over; grouping
    /// amortises it. On CPU backends, which finish each operation before returning, 1 suffices.
    pub group: usize,
    /// Whole networks measured after the layers to fit the table's whole-network correction
    /// (0: none, the plain sum of the entries).
    pub calibration: usize,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            batch: 1,
            warmup: 20,
            runs: 100,
            group: 1,
            calibration: 12,
        }
    }
}

impl ProfileSettings {
    /// The group size that suits `device`: 10 on asynchronous (GPU) backends, 1 on the CPU
    /// backends.
    pub fn group_for(device: &Device) -> usize {
        if is_asynchronous(device) { 10 } else { 1 }
    }
}

/// Whether `device` queues work and returns before it is done (the CubeCL GPU backends and
/// LibTorch on CUDA), rather than computing each operation when it is called.
pub fn is_asynchronous(device: &Device) -> bool {
    let name = format!("{device:?}");
    !(name.contains("Flex") || name.contains("NdArray") || name.contains("LibTorch(Cpu)"))
}

/// One sample of `forward`: `group` runs back to back, ended when the device has finished its
/// work; milliseconds per run.
fn sample(device: &Device, group: usize, forward: &mut impl FnMut() -> Tensor<2>) -> f64 {
    let start = Instant::now();
    let outputs: Vec<Tensor<2>> = (0..group).map(|_| forward()).collect();
    device.sync().expect("the device finishes its work");
    let ms = start.elapsed().as_secs_f64() * 1e3 / group as f64;
    drop(outputs);
    ms
}

/// Times every function of `forwards` on `device` in interleaved rounds: first `warmup` untimed
/// rounds, then `runs` rounds in which each function gives one sample (see
/// [`ProfileSettings::group`]). Interleaving times each function as it runs inside a network,
/// after other work rather than after itself (caches hold the previous layer's data, the
/// thread pool has just served another operation), and spreads the machine's slow moments over
/// all functions alike instead of over whichever ran then. `progress(done, total)` follows the
/// rounds.
pub fn time_interleaved(
    device: &Device,
    settings: &ProfileSettings,
    forwards: &mut [Box<dyn FnMut() -> Tensor<2> + '_>],
    mut progress: impl FnMut(usize, usize),
) -> Vec<Measurement> {
    let group = settings.group.max(1);
    let total = settings.warmup + settings.runs.max(1);
    for round in 0..settings.warmup {
        for forward in forwards.iter_mut() {
            sample(device, 1, forward);
        }
        progress(round + 1, total);
    }
    let mut samples = vec![Vec::with_capacity(settings.runs); forwards.len()];
    for round in 0..settings.runs.max(1) {
        for (forward, times) in forwards.iter_mut().zip(&mut samples) {
            times.push(sample(device, group, forward));
        }
        progress(settings.warmup + round + 1, total);
    }
    samples
        .iter()
        .map(|s| Measurement::from_samples(s).expect("at least one run"))
        .collect()
}

/// Times every distinct layer of `space` at its resolution on `device` (an inference device:
/// BatchNorm uses running statistics), in interleaved rounds ([`time_interleaved`]);
/// `progress(done, total)` follows the rounds.
pub fn profile_space(
    space: &SearchSpace,
    device: &Device,
    settings: &ProfileSettings,
    progress: impl FnMut(usize, usize),
) -> Vec<(LatencyKey, Measurement)> {
    let layers = space_layers(space, device);
    let times = time_on_random_inputs(
        &layers,
        |(_, _, input)| *input,
        |(_, layer, _), x| layer.forward(x),
        device,
        settings,
        progress,
    );
    layers.iter().map(|(key, _, _)| *key).zip(times).collect()
}

/// Times `forward` of every item of `items` in interleaved rounds ([`time_interleaved`]), each
/// on a random input of its own: `settings.batch` images of `[channels, side]` from `input`.
fn time_on_random_inputs<T>(
    items: &[T],
    input: impl Fn(&T) -> [usize; 2],
    forward: impl Fn(&T, Tensor<4>) -> Tensor<2> + Copy,
    device: &Device,
    settings: &ProfileSettings,
    progress: impl FnMut(usize, usize),
) -> Vec<Measurement> {
    let inputs: Vec<Tensor<4>> = items
        .iter()
        .map(|item| {
            let [channels, side] = input(item);
            Tensor::<4>::random(
                [settings.batch, channels, side, side],
                Distribution::Normal(0.0, 1.0),
                device,
            )
        })
        .collect();
    let mut forwards: Vec<Box<dyn FnMut() -> Tensor<2> + '_>> = items
        .iter()
        .zip(&inputs)
        .map(|(item, x)| {
            Box::new(move || forward(item, x.clone())) as Box<dyn FnMut() -> Tensor<2> + '_>
        })
        .collect();
    time_interleaved(device, settings, &mut forwards, progress)
}

/// Times every distinct layer of `space` on `device` (see [`profile_space`]) into a table in
/// the official format; each entry's `mean` is the trimmed mean of its samples
/// ([`Measurement::trimmed_mean`]). Then, unless `settings.calibration` is 0, measures that
/// many whole networks ([`calibrate`](crate::calibrate)) and fits the table's
/// [`NetworkCorrection`](proxyless_latency::NetworkCorrection) to them. The header records
/// `origin` (backend, build), the device, the machine ([`machine_meta`](crate::machine_meta)),
/// space, resolution, batch, dtype and timing settings. `name` names the table in errors.
pub fn profile_table(
    space: &SearchSpace,
    device: &Device,
    settings: &ProfileSettings,
    origin: &TableOrigin,
    name: &str,
    mut progress: impl FnMut(&str, usize, usize),
) -> LatencyTable {
    let entries = profile_space(space, device, settings, |d, t| progress("layers", d, t))
        .into_iter()
        .map(|(key, m)| {
            let entry = LatencyEntry {
                count: m.count as u64,
                mean: m.trimmed_mean,
                std: m.std,
            };
            (key, entry)
        });
    let meta = [
        ("backend", origin.backend.clone()),
        ("build", origin.build.clone()),
        ("device", format!("{device:?}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(crate::machine_meta())
    .chain(
        [
            ("space", space.name.clone()),
            ("resolution", space.input.resolution.to_string()),
            ("batch", settings.batch.to_string()),
            ("dtype", "f32".to_string()),
            ("warmup", settings.warmup.to_string()),
            ("runs", settings.runs.to_string()),
            ("group", settings.group.to_string()),
            ("order", "interleaved".to_string()),
            ("statistic", "trimmed mean (10% each side)".to_string()),
            ("unit", "ms".to_string()),
            ("date", crate::utc_stamp()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v)),
    )
    .collect();
    let mut table = LatencyTable::from_entries(name, meta, entries);
    if settings.calibration > 0 {
        let correction = crate::calibrate(space, device, settings, &table, |d, t| {
            progress("networks", d, t)
        });
        table.set_correction(correction);
    }
    table
}

/// Where a table is measured: the backend's name and the build of the program measuring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOrigin {
    /// The backend (`flex`, `wgpu`, ...).
    pub backend: String,
    /// The build ([`build_id`](crate::build_id)).
    pub build: String,
}

impl TableOrigin {
    /// A table measured on `backend` by this build.
    pub fn new(backend: &str) -> Self {
        Self {
            backend: backend.to_string(),
            build: crate::build_id(),
        }
    }
}

/// Times a whole network end to end at `resolution` on `device`.
pub fn measure_net(
    spec: &NetSpec,
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
) -> Measurement {
    measure_forward(
        &ProxylessNet::new(spec, device),
        resolution,
        device,
        settings,
    )
}

/// Times the forward pass of `net` (already on `device`, in inference mode) on random
/// images of side `resolution`: for trained or BatchNorm-folded networks.
pub fn measure_forward(
    net: &ProxylessNet,
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
) -> Measurement {
    measure_built_nets(&[net], resolution, device, settings, |_, _| {})
        .pop()
        .expect("one network timed")
}

/// Times whole networks at `resolution` on `device` in interleaved rounds
/// ([`time_interleaved`]), as the table's layers are timed; `progress(done, total)` follows
/// the rounds.
pub fn measure_nets(
    specs: &[NetSpec],
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
    progress: impl FnMut(usize, usize),
) -> Vec<Measurement> {
    let nets: Vec<ProxylessNet> = specs.iter().map(|s| ProxylessNet::new(s, device)).collect();
    let nets: Vec<&ProxylessNet> = nets.iter().collect();
    measure_built_nets(&nets, resolution, device, settings, progress)
}

/// [`measure_nets`] for networks already built on `device` (inference mode).
fn measure_built_nets(
    nets: &[&ProxylessNet],
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
    progress: impl FnMut(usize, usize),
) -> Vec<Measurement> {
    time_on_random_inputs(
        nets,
        |net| [net.first_conv.conv.weight.val().dims()[1], resolution],
        |net, x| net.forward(x),
        device,
        settings,
        progress,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::presets;

    #[test]
    fn profiles_every_candidate_of_a_compact_space() {
        let space = presets::load("fmnist").unwrap();
        let device = Device::default();
        let settings = ProfileSettings {
            batch: 1,
            warmup: 1,
            runs: 2,
            group: 2,
            calibration: 0,
        };
        let mut calls = 0;
        let table = profile_space(&space, &device, &settings, |_, _| calls += 1);
        // 9 choice blocks x 6 MBConv candidates, some positions sharing keys, plus 4 fixed.
        let distinct_positions = 7; // 14x14 16->16 appears once; 7x7 24->24 twice; 4x4 40->40 twice
        assert_eq!(table.len(), distinct_positions * 6 + 4);
        assert_eq!(calls, settings.warmup + settings.runs);
        assert!(table.iter().all(|(_, m)| m.count == 2 && m.mean > 0.0));
    }
}
